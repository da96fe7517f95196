package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// chatML renders ChatML and marks each assistant turn's content and <|im_end|> (or, with
// promptMessages, all that follows the prompt's generation prompt): a stand-in for a
// checkpoint's template (pkg/hf runs the real ones).
type chatML struct{}

func (chatML) RenderChat(c *Conversation) (string, []Span, error) {
	msgs, promptMessages := c.Messages, c.PromptMessages
	var sb strings.Builder
	var spans []Span
	for i, m := range msgs {
		if promptMessages > 0 && i == promptMessages {
			spans = append(spans, Span{Start: sb.Len() + len("<|im_start|>assistant\n")})
		}
		sb.WriteString("<|im_start|>" + m.Role + "\n")
		start := sb.Len()
		sb.WriteString(m.Content + "<|im_end|>")
		if promptMessages == 0 && m.Role == "assistant" {
			spans = append(spans, Span{start, sb.Len()})
		}
		sb.WriteString("\n")
	}
	if promptMessages > 0 {
		spans[0].End = sb.Len()
	}
	return sb.String(), spans, nil
}

func writeChatFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// supervisedLabels returns the labels of row r of a batch whose Prompt flag is 0, as
// text through v.
func supervisedLabels(b Batch, r int) (sup, prompt []int32) {
	for p := range int(b.TgtLen[r]) {
		if b.Prompt[r*b.T+p] == 0 {
			sup = append(sup, b.Tgt[r*b.T+p])
		} else {
			prompt = append(prompt, b.Tgt[r*b.T+p])
		}
	}
	return sup, prompt
}

// A chat file with masklab's own vocabulary: each message is its role, ":" and its
// content, messages separated by SEP; the labels of a batch are prompt everywhere but on
// the assistant messages' contents and the SEP (or final EOS) that ends each.
func TestChatJSONLOwnVocabulary(t *testing.T) {
	path := writeChatFile(t,
		`{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}, {"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}`)
	task, err := Load("jsonl:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	exs := slices.Concat(task.Train, task.Valid, task.Test)
	if task.Kind != SFT || len(exs) != 1 {
		t.Fatalf("kind %s, %d examples", task.Kind, len(exs))
	}
	e := exs[0]
	v := task.Vocab
	var words []string
	for _, id := range e.Target {
		words = append(words, v.Token(int(id)))
	}
	want := "system : be brief <sep> user : hi <sep> assistant : hello there <sep> user : bye <sep> assistant : ciao"
	if got := strings.Join(words, " "); got != want {
		t.Fatalf("target %q\nwant   %q", got, want)
	}
	if len(e.Chat.Messages) != 5 || e.Chat.PromptMessages != 0 || e.PromptLen != 11 || !slices.Equal(e.Spans, []Span{{11, 14}, {20, 22}}) {
		t.Fatalf("messages %d, prompt messages %d, prompt len %d, spans %v", len(e.Chat.Messages), e.Chat.PromptMessages, e.PromptLen, e.Spans)
	}
	split := "train"
	if len(task.Train) == 0 {
		split = "valid"
		if len(task.Valid) == 0 {
			split = "test"
		}
	}
	b, err := task.Batch(split, 1, 0, 0, BatchOptions{InOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	sup, _ := supervisedLabels(b, 0)
	if got := tokensOf(v, sup); got != "hello there <sep> ciao <eos>" {
		t.Errorf("supervised labels %q", got)
	}
	if e.SourceText != "system: be brief\nuser: hi" || e.TargetText != "assistant: hello there\nuser: bye\nassistant: ciao" {
		t.Errorf("texts %q | %q", e.SourceText, e.TargetText)
	}
}

// tokensOf joins the tokens of ids with spaces.
func tokensOf(v *Vocab, ids []int32) string {
	var s []string
	for _, id := range ids {
		s = append(s, v.Token(int(id)))
	}
	return strings.Join(s, " ")
}

// With a codec vocabulary and its chat template, a conversation is rendered, encoded
// piece by piece between its spans, and its batch labels are supervised exactly on the
// assistant turns (content and <|im_end|>); the conversational prompt/completion form is
// supervised on all that follows its prompt's generation prompt.
func TestChatWithCodecTemplate(t *testing.T) {
	v, err := NewCodecVocab(270, func(id int) string { return map[int]string{1: "<s>", 2: "</s>"}[id] }, byteCodec{}, 2, 1, 2, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	chat := writeChatFile(t,
		`{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6", "extra": [1]}]}`)
	conv := writeChatFile(t,
		`{"prompt": [{"role": "user", "content": "2+2?"}], "completion": [{"role": "assistant", "content": "4"}]}`)
	for _, c := range []struct {
		path      string
		sup, rest string
	}{
		{chat, "4<|im_end|>6<|im_end|>", "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n\n"},
		{conv, "4<|im_end|>\n", "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"},
	} {
		task, err := Load("jsonl:"+c.path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := task.WithCodec(v, 0, 0, 0); err == nil || !strings.Contains(err.Error(), "chat_template") {
			t.Errorf("no chat template: %v", err)
		}
		nt, err := task.WithCodec(v.WithChatTemplate(chatML{}), 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		split := "train"
		if len(nt.Train) == 0 {
			split = "valid"
			if len(nt.Valid) == 0 {
				split = "test"
			}
		}
		b, err := nt.Batch(split, 1, 0, 0, BatchOptions{InOrder: true})
		if err != nil {
			t.Fatal(err)
		}
		sup, rest := supervisedLabels(b, 0)
		if got := (byteCodec{}).Decode(sup); got != c.sup {
			t.Errorf("%s: supervised %q, want %q", filepath.Base(c.path), got, c.sup)
		}
		if len(rest) == 0 || rest[len(rest)-1] != 2 { // the EOS after the final newline is prompt
			t.Errorf("last prompt label %d, want EOS", rest[len(rest)-1])
		}
		if got := (byteCodec{}).Decode(rest[:len(rest)-1]); got != c.rest {
			t.Errorf("%s: prompt labels %q, want %q", filepath.Base(c.path), got, c.rest)
		}
	}
}

// The maximum length: an SFT example of more ids loses prompt ids from the left (counted
// in Truncated); one whose completion would be cut is dropped and counted in TooLong and
// Dropped; an LM document is dropped.
func TestTruncateCompletionRule(t *testing.T) {
	v, err := NewCodecVocab(270, func(id int) string { return map[int]string{1: "<s>", 2: "</s>"}[id] }, byteCodec{}, 2, 1, 2, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	path := writeChatFile(t,
		`{"prompt": "a long prompt: ", "completion": "ok"}`,
		`{"prompt": "p", "completion": "a completion too long"}`,
		`{"prompt": "short: ", "completion": "yes"}`)
	task, err := Load("jsonl:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := task.WithCodec(v, 10, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if nt.Truncated != 1 || nt.TooLong != 1 || nt.Dropped != 1 {
		t.Errorf("truncated %d, too long %d, dropped %d; want 1, 1, 1", nt.Truncated, nt.TooLong, nt.Dropped)
	}
	for _, e := range slices.Concat(nt.Train, nt.Valid, nt.Test) {
		if len(e.Target) > 10 {
			t.Errorf("%q: %d ids", e.SourceText, len(e.Target))
		}
		got := byteCodec{}.Decode(e.Target)
		switch e.TargetText {
		case "ok":
			if got != "prompt: ok" || e.PromptLen != 8 {
				t.Errorf("truncated: %q, prompt %d", got, e.PromptLen)
			}
		case "yes":
			if got != "short: yes" || e.PromptLen != 7 {
				t.Errorf("fitting: %q, prompt %d", got, e.PromptLen)
			}
		default:
			t.Errorf("kept %q", e.TargetText)
		}
	}
	// A conversation: the spans move with the cut, the first turn's prompt is cut.
	e := Example{Target: []int32{1, 2, 3, 4, 5, 6, 7}, PromptLen: 3, Spans: []Span{{3, 4}, {6, 8}}}
	cut, ok := truncateLeft(&e, 5)
	if !ok || cut != 2 || !slices.Equal(e.Target, []int32{3, 4, 5, 6, 7}) || e.PromptLen != 1 || !slices.Equal(e.Spans, []Span{{1, 2}, {4, 6}}) {
		t.Errorf("conversation cut %d ok %v: %v prompt %d spans %v", cut, ok, e.Target, e.PromptLen, e.Spans)
	}
	e = Example{Target: []int32{1, 2, 3, 4, 5, 6, 7}, PromptLen: 1, Spans: []Span{{1, 2}, {6, 8}}}
	if _, ok := truncateLeft(&e, 5); ok {
		t.Errorf("cut into the first assistant turn")
	}
	if _, err := task.WithCodec(v, 1, 0, 0); err == nil || !strings.Contains(err.Error(), "completion alone would not fit") {
		t.Errorf("nothing fits: %v", err)
	}
}

// Bad chat records are errors naming the file, line and field.
func TestChatJSONLErrors(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"messages": [{"role": "user", "content": "hi"}]}`, `without an "assistant" message`},
		{`{"messages": []}`, "empty list of messages"},
		{`{"messages": "hi"}`, "must be a list"},
		{`{"messages": [{"content": "hi"}]}`, `messages[0] has no "role"`},
		{`{"messages": [{"role": "user", "content": [{"type": "text"}]}, {"role": "assistant", "content": "x"}]}`, `"content" must be a string`},
		{`{"prompt": [{"role": "user", "content": "hi"}], "completion": "x"}`, "both be strings or both lists"},
		{`{"messages": [{"role": "assistant", "content": "x"}], "text": "y"}`, "want {"},
		{`{"messages": [{"role": "assistant", "content": "x"}], "tools": {"name": "f"}}`, `"tools" must be a list`},
	} {
		path := writeChatFile(t, c.line)
		_, err := Load("jsonl:"+path, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "chat.jsonl:1") {
			t.Errorf("%s: error %v, want %q", c.line, err, c.want)
		}
	}
	path := writeChatFile(t, `{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": null}], "tools": [{"type": "function"}]}`)
	task, err := Load("jsonl:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := slices.Concat(task.Train, task.Valid, task.Test)[0]
	if string(e.Chat.Tools) != `[{"type": "function"}]` || string(e.Chat.Messages[1].Raw) != `{"role": "assistant", "content": "b", "tool_calls": null}` {
		t.Errorf("tools %s, message %s: want them as the file has them", e.Chat.Tools, e.Chat.Messages[1].Raw)
	}
	path = writeChatFile(t, `{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}`, `{"prompt": "a", "completion": "b"}`)
	if _, err := Load("jsonl:"+path, Options{}); err == nil || !strings.Contains(err.Error(), `a {"prompt", "completion"} record in a file of {"messages"} records`) {
		t.Errorf("mixed records: %v", err)
	}
}
