package hf

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ardanlabs/jinja"
	"github.com/masklab/masklab/datasets"
)

type chatConversation struct {
	Name     string            `json:"name"`
	Messages []json.RawMessage `json:"messages"`
	Tools    json.RawMessage   `json:"tools"`
}

// readChatTools returns the tools of the conversations of testdata/chat that have them.
func readChatTools(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "conversations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var convs []chatConversation
	if err := json.Unmarshal(b, &convs); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, c := range convs {
		if c.Tools != nil {
			out[c.Name] = c.Tools
		}
	}
	return out
}

func readChatConversations(t *testing.T) map[string][]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "conversations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var convs []chatConversation
	if err := json.Unmarshal(b, &convs); err != nil {
		t.Fatal(err)
	}
	out := map[string][]json.RawMessage{}
	for _, c := range convs {
		out[c.Name] = c.Messages
	}
	return out
}

func readChatTemplate(t *testing.T, name string, tok *Tokenizer) *ChatTemplate {
	t.Helper()
	path := filepath.Join("testdata", "chat", name+".jinja")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := NewChatTemplate(string(src), path, tok)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// chatSpecial are the special-token variables render.py gives each template.
var chatSpecial = map[string]map[string]any{
	"qwen2.5":      {"eos_token": "<|im_end|>"},
	"qwen3":        {"eos_token": "<|im_end|>"},
	"llama3":       {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
	"llama3.1":     {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
	"mistral-v0.1": {"bos_token": "<s>", "eos_token": "</s>"},
	"mistral-nemo": {"bos_token": "<s>", "eos_token": "</s>"},
}

// The real chat templates of Qwen2.5, Qwen3, Llama 3, Llama 3.1 and two Mistrals render
// every conversation of testdata/chat exactly as Python's jinja2 does under transformers'
// settings (rendered.json, written by render.py), with and without the generation prompt;
// the conversations their templates refuse (raise_exception) are errors with the
// template's message.
func TestChatTemplateMatchesJinja2(t *testing.T) {
	convs := readChatConversations(t)
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "rendered.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Template, Conversation string
		AddGenerationPrompt    bool   `json:"add_generation_prompt"`
		Text                   string `json:"text"`
		Error                  string `json:"error"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 84 {
		t.Fatalf("%d renderings in rendered.json, want 84", len(cases))
	}
	tools := readChatTools(t)
	templates := map[string]*ChatTemplate{}
	raised := 0
	for _, c := range cases {
		ct := templates[c.Template]
		if ct == nil {
			ct = readChatTemplate(t, c.Template, nil)
			templates[c.Template] = ct
		}
		vars := maps.Clone(chatSpecial[c.Template])
		if tl, ok := tools[c.Conversation]; ok {
			vars["tools"] = tl
		}
		got, err := ct.Render(convs[c.Conversation], c.AddGenerationPrompt, vars)
		name := c.Template + "/" + c.Conversation
		if c.AddGenerationPrompt {
			name += "+gen"
		}
		switch {
		case c.Error != "":
			var r *templateRaised
			if err == nil || !errors.As(err, &r) || r.msg != c.Error {
				t.Errorf("%s: error %v, want the template's raise_exception(%q)", name, err, c.Error)
			}
			raised++
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case got != c.Text:
			t.Errorf("%s:\n got %q\nwant %q", name, got, c.Text)
		}
	}
	if raised != 10 {
		t.Errorf("%d renderings raised, want 10", raised)
	}
}

// huggingface.js's test records what transformers renders for these templates on its own
// data (tools, tool calls, enable_thinking): the Go rendering gives the same text, JSON
// objects keeping their key order through tojson.
func TestChatTemplateRendersHuggingFaceExpectations(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Template string                     `json:"template"`
		Data     map[string]json.RawMessage `json:"data"`
		Target   string                     `json:"target"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		ct := readChatTemplate(t, c.Template, nil)
		var msgs []json.RawMessage
		if err := json.Unmarshal(c.Data["messages"], &msgs); err != nil {
			t.Fatal(err)
		}
		var gen bool
		extra := map[string]any{}
		for k, v := range c.Data {
			switch k {
			case "messages":
			case "add_generation_prompt":
				gen = string(v) == "true"
			default:
				extra[k] = v
			}
		}
		got, err := ct.Render(msgs, gen, extra)
		if err != nil {
			t.Errorf("%s: %v", c.Template, err)
		} else if got != c.Target {
			t.Errorf("%s:\n got %q\nwant %q", c.Template, got, c.Target)
		}
	}
}

// Assistant-only spans: in every multi-turn conversation each assistant turn's span is
// its content (as the template writes it) and the special token that ends the turn,
// nothing else: not the role header, not the newline after <|im_end|>, not the user
// turns. Qwen3, which drops the <think> block of earlier turns and writes an empty one
// in the last, still gets one span per turn, ending at <|im_end|>.
func TestChatSpansAreAssistantTurns(t *testing.T) {
	qwen, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	llama, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", "llama3"))
	if err != nil {
		t.Fatal(err)
	}
	conv := []datasets.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "床前明月光的下一句？"},
		{Role: "assistant", Content: "疑是地上霜。"},
		{Role: "user", Content: "Author?"},
		{Role: "assistant", Content: "Li Bai."},
	}
	for _, c := range []struct {
		template string
		tok      *Tokenizer
		want     []string
	}{
		{"qwen2.5", qwen, []string{"疑是地上霜。<|im_end|>", "Li Bai.<|im_end|>"}},
		{"qwen3", qwen, []string{"疑是地上霜。<|im_end|>", "<think>\n\n</think>\n\nLi Bai.<|im_end|>"}},
		{"llama3", llama, []string{"疑是地上霜。<|eot_id|>", "Li Bai.<|eot_id|>"}},
		{"llama3.1", llama, []string{"疑是地上霜。<|eot_id|>", "Li Bai.<|eot_id|>"}},
		{"mistral-nemo", nil, []string{"疑是地上霜。</s>", "Li Bai.</s>"}},
	} {
		ct := readChatTemplate(t, c.template, c.tok)
		msgs := conv
		if c.tok == nil {
			ct.vars["bos_token"], ct.vars["eos_token"] = jinja.NewString("<s>"), jinja.NewString("</s>")
			ct.special = []string{"</s>"}
			msgs = conv[1:] // Mistral Nemo moves the system message into the last user turn
		}
		text, spans, err := ct.RenderChat(&datasets.Conversation{Messages: msgs})
		if err != nil {
			t.Errorf("%s: %v", c.template, err)
			continue
		}
		var got []string
		for _, s := range spans {
			got = append(got, text[s.Start:s.End])
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: spans %q, want %q\n(text %q)", c.template, got, c.want, text)
		}
	}

	// The conversational prompt/completion form: everything after the prompt's generation
	// prompt, the template's trailing newline included (TRL's completion mask).
	ct := readChatTemplate(t, "qwen2.5", qwen)
	text, spans, err := ct.RenderChat(&datasets.Conversation{Messages: conv[:3], PromptMessages: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1 || text[spans[0].Start:spans[0].End] != "疑是地上霜。<|im_end|>\n" {
		t.Errorf("completion spans %v of %q", spans, text)
	}
}

// A checkpoint's template comes from chat_template.jinja before tokenizer_config.json
// (also in its list-of-named-templates form); a base model without one, a template the Go
// implementation cannot parse, and one that is not prefix-stable are clear errors.
func TestChatTemplateLoadingAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(TokenizerConfigFile, `{"eos_token": "</s>"}`)
	if _, err := LoadChatTemplate(dir, nil); err == nil || !strings.Contains(err.Error(), "has no chat template") || !strings.Contains(err.Error(), "task.chat_template") {
		t.Errorf("no template: %v", err)
	}
	write(TokenizerConfigFile, `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ messages[0].content }}"}]}`)
	ct, err := LoadChatTemplate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ct.Render([]json.RawMessage{[]byte(`{"role":"user","content":"named"}`)}, false, nil); err != nil || got != "named" {
		t.Errorf("named default template: %q, %v", got, err)
	}
	write(ChatTemplateFile, "{{ messages[0].role }}")
	if ct, err = LoadChatTemplate(dir, nil); err != nil || ct.Origin != filepath.Join(dir, ChatTemplateFile) {
		t.Fatalf("chat_template.jinja: %v, %v", ct, err)
	}
	if _, err := NewChatTemplate("{% for m in messages %}{{ m.content }", "bad.jinja", nil); err == nil || !strings.Contains(err.Error(), "bad.jinja") || !strings.Contains(err.Error(), "cannot be compiled") {
		t.Errorf("unparsable template: %v", err)
	}
	// Not prefix-stable: Mistral Nemo writes the system message into the last user turn,
	// so the text before an earlier assistant turn changes with what follows it.
	ct = readChatTemplate(t, "mistral-nemo", nil)
	_, _, err = ct.RenderChat(&datasets.Conversation{Messages: []datasets.Message{{Role: "system", Content: "S"}, {Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}, {Role: "assistant", Content: "d"}}})
	if err == nil || !strings.Contains(err.Error(), "not prefix-stable") || !strings.Contains(err.Error(), "message 2") {
		t.Errorf("unstable template: %v", err)
	}
}

// Chat ids through a task: encoding the rendered text piece by piece between the spans
// gives the same ids as encoding it whole (no token straddles a span boundary, on the
// multi-turn conversations of testdata/chat, Chinese included), the template's leading
// BOS is dropped (a batch puts it first) and, with Llama 3 Instruct's EOS <|eot_id|>, the
// final one too: the last span then reaches the EOS label the batch adds.
func TestChatTokensThroughTask(t *testing.T) {
	convs := readChatConversations(t)
	var lines []string
	for _, name := range []string{"system-multiturn", "chinese", "thinking"} {
		b, err := json.Marshal(map[string]any{"messages": convs[name]})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "chat.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err := datasets.Load("jsonl:"+path, datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ template, tokenizer, eos string }{
		{"qwen2.5", "qwen3", "<|im_end|>"},
		{"qwen3", "qwen3", "<|im_end|>"},
		{"llama3", "llama3", "<|eot_id|>"},
	} {
		tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", c.tokenizer))
		if err != nil {
			t.Fatal(err)
		}
		ct := readChatTemplate(t, c.template, tok)
		eos, _ := tok.TokenID(c.eos)
		bos := eos
		if tok.Special.BOS >= 0 {
			bos = tok.Special.BOS
		}
		v, err := datasets.NewCodecVocab(tok.Vocab, func(id int) string { return tok.Token(int32(id)) }, tok, int(eos), int(bos), int(eos), -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		nt, err := task.WithCodec(v.WithChatTemplate(ct), 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range slices.Concat(nt.Train, nt.Valid, nt.Test) {
			text, _, err := ct.RenderChat(e.Chat)
			if err != nil {
				t.Fatal(err)
			}
			whole := tok.EncodePlain(text)
			if c.template == "llama3" {
				if whole[0] != bos || whole[len(whole)-1] != eos {
					t.Fatalf("%s: the text does not start with BOS and end with EOS", c.template)
				}
				whole = whole[1 : len(whole)-1]
			}
			if !slices.Equal(e.Target, whole) {
				t.Errorf("%s %s: piecewise ids differ from the whole text's:\n%v\n%v", c.template, e.Origin, e.Target, whole)
			}
			var sup []int32
			for p := range len(e.Target) + 1 {
				if e.Supervised(p) {
					if p == len(e.Target) {
						sup = append(sup, eos) // the batch's EOS label
					} else {
						sup = append(sup, e.Target[p])
					}
				}
			}
			var want string
			for i, m := range e.Chat.Messages {
				if m.Role == "assistant" {
					content := m.Content
					switch c.template {
					case "qwen3": // the last turn shows its reasoning (maybe empty), earlier ones lose it
						reasoning := ""
						if before, after, ok := strings.Cut(content, "</think>"); ok {
							content = strings.TrimLeft(after, "\n")
							reasoning = strings.Trim(before[strings.LastIndex(before, "<think>")+len("<think>"):], "\n")
						}
						if i == len(e.Chat.Messages)-1 {
							content = "<think>\n" + reasoning + "\n</think>\n\n" + content
						}
					case "llama3":
						content = strings.TrimSpace(content)
					}
					want += content + c.eos
				}
			}
			if got := tok.Decode(sup); got != want {
				t.Errorf("%s %s: supervised %q, want %q", c.template, e.Origin, got, want)
			}
		}
	}
}

// Against TRL: its generation-tagged training copies of the Llama 3 and Qwen2.5 templates
// (trl/chat_templates, rendered by render.py with transformers' AssistantTracker, as
// assistant_only_loss does) render the same text as the originals (in Python and in Go),
// and mark as assistant
// exactly the spans RenderChat finds on the originals for Llama 3; for Qwen2.5 TRL's
// copy also marks the newline before the content (which the generation prompt already
// holds) and the one after <|im_end|> (which generation never reaches): one byte on each
// side, nothing else.
func TestChatSpansMatchTRL(t *testing.T) {
	convs := readChatConversations(t)
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "trl_spans.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Template         string   `json:"template"`
		TrainingTemplate string   `json:"training_template"`
		Conversation     string   `json:"conversation"`
		Spans            [][2]int `json:"spans"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 12 {
		t.Fatalf("%d TRL masks, want 12", len(cases))
	}
	tools := readChatTools(t)
	for _, c := range cases {
		ct := readChatTemplate(t, c.Template, nil)
		for k, v := range chatSpecial[c.Template] {
			ct.vars[k] = jinja.NewString(v.(string))
		}
		var msgs []datasets.Message
		for _, raw := range convs[c.Conversation] {
			var m datasets.Message
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			m.Raw = raw
			msgs = append(msgs, m)
		}
		text, spans, err := ct.RenderChat(&datasets.Conversation{Messages: msgs, Tools: tools[c.Conversation]})
		if err != nil {
			t.Errorf("%s/%s: %v", c.Template, c.Conversation, err)
			continue
		}
		// The Go implementation runs {% generation %} blocks as their body.
		training := readChatTemplate(t, c.TrainingTemplate, nil)
		vars := maps.Clone(chatSpecial[c.Template])
		if tl, ok := tools[c.Conversation]; ok {
			vars["tools"] = tl
		}
		if tt, err := training.Render(convs[c.Conversation], false, vars); err != nil || tt != text {
			t.Errorf("%s: %q, %v; want the original's text", c.TrainingTemplate, tt, err)
		}
		var got [][2]int
		for _, s := range spans {
			if c.Template == "qwen2.5" {
				s.Start, s.End = s.Start-1, s.End+1
			}
			got = append(got, [2]int{s.Start, s.End})
		}
		if !slices.Equal(got, c.Spans) {
			t.Errorf("%s/%s: spans %v, TRL's %v in %q", c.Template, c.Conversation, got, c.Spans, text)
		}
		if c.Template == "qwen2.5" {
			for _, s := range c.Spans {
				if text[s[0]] != '\n' || text[s[1]-1] != '\n' {
					t.Errorf("%s/%s: TRL's span %q is not ours with a newline on each side", c.Template, c.Conversation, text[s[0]:s[1]])
				}
			}
		}
	}
}
