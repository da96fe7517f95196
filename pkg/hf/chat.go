package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/ardanlabs/jinja"
	"github.com/masklab/masklab/datasets"
)

// ChatTemplateFile is the file in which newer checkpoints keep their chat template
// (older ones keep it in tokenizer_config.json's "chat_template").
const ChatTemplateFile = "chat_template.jinja"

// ChatML is the built-in fallback chat template (task.chat_template: chatml): the ChatML
// layout that transformers used as its default template and that Qwen's templates keep,
// without their default system message.
const ChatML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// ChatTemplate is a checkpoint's chat template: the Jinja program that turns a
// conversation ({"role", "content"} messages) into the text its model was trained on, run
// as transformers' apply_chat_template runs it (trim_blocks and lstrip_blocks, the
// variables messages, add_generation_prompt and the special tokens bos_token, eos_token,
// pad_token, unk_token, and raise_exception) through github.com/ardanlabs/jinja, checked
// against Python's jinja2 on the real templates of Qwen2.5, Qwen3, Llama-3, Llama-3.1 and
// Mistral (testdata/chat). strftime_now formats a fixed date, 26 July 2024 (Llama 3.1's
// own default date_string), so that the same data gives the same ids on every day.
//
// It implements datasets.ChatTemplate: RenderChat also finds the supervised spans of a
// conversation, which is what TRL's assistant_only_loss and completion_only_loss train on.
type ChatTemplate struct {
	// Source is the template's Jinja text, and Origin where it came from (a file name or
	// "chatml").
	Source, Origin string

	tmpl    *jinja.Template
	vars    map[string]jinja.Value
	special []string // the special tokens' texts, longest first: where assistant turns end
}

// NewChatTemplate compiles a chat template. tok (nil: none) gives the special-token
// variables and the special tokens that end an assistant turn. A construct the Go
// implementation cannot parse is an error quoting it; use a simpler template (a .jinja
// file, or chatml) in task.chat_template then.
func NewChatTemplate(source, origin string, tok *Tokenizer) (*ChatTemplate, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("hf: the chat template of %s cannot be compiled (%v): set task.chat_template to chatml or to a simpler .jinja file", origin, err)
	}
	ct := &ChatTemplate{Source: source, Origin: origin, tmpl: t, vars: map[string]jinja.Value{}}
	if tok != nil {
		for _, s := range []struct {
			name string
			id   int32
		}{{"bos_token", tok.Special.BOS}, {"eos_token", tok.Special.EOS}, {"pad_token", tok.Special.PAD}, {"unk_token", tok.Special.UNK}} {
			if s.id >= 0 {
				ct.vars[s.name] = jinja.NewString(tok.Token(s.id))
			}
		}
		for _, a := range tok.added {
			if a.Special && a.Content != "" {
				ct.special = append(ct.special, a.Content) // tok.added is longest first
			}
		}
	}
	ct.vars["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := "raise_exception() without a message"
		if len(args) > 0 && args[0].IsString() {
			msg = args[0].AsString()
		} else if len(args) > 0 {
			msg = args[0].String()
		}
		return jinja.Undefined(), &templateRaised{msg}
	})
	date := time.Date(2024, time.July, 26, 0, 0, 0, 0, time.UTC)
	ct.vars["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), fmt.Errorf("strftime_now wants one format string")
		}
		return jinja.NewString(strftime(date, args[0].AsString())), nil
	})
	return ct, nil
}

// errNoChatTemplate is wrapped by LoadChatTemplate's error for a checkpoint without one.
var errNoChatTemplate = errors.New("no chat template")

// templateRaised is the error of a template's raise_exception(message).
type templateRaised struct{ msg string }

func (e *templateRaised) Error() string { return "the template raised: " + e.msg }

// LoadChatTemplate returns the chat template of the checkpoint in dir: chat_template.jinja
// when present (transformers gives it precedence), else tokenizer_config.json's
// "chat_template" (a string, or a list of {"name", "template"} of which "default" is
// taken). tok gives the special tokens. A checkpoint without one is an error that says
// what to do (a base model has none: set task.chat_template).
func LoadChatTemplate(dir string, tok *Tokenizer) (*ChatTemplate, error) {
	path := filepath.Join(dir, ChatTemplateFile)
	if b, err := os.ReadFile(path); err == nil {
		return NewChatTemplate(string(b), path, tok)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %w", err)
	}
	cpath := filepath.Join(dir, TokenizerConfigFile)
	b, err := os.ReadFile(cpath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("hf: %s: %w", cpath, err)
		}
	}
	src, err := templateSource(cfg.ChatTemplate)
	if err != nil {
		return nil, fmt.Errorf("hf: %s: chat_template: %w", cpath, err)
	}
	if src == "" {
		return nil, fmt.Errorf("hf: %s has no chat template (no %s, no \"chat_template\" in %s; base models have none): set task.chat_template to chatml or to a .jinja file: %w", dir, ChatTemplateFile, TokenizerConfigFile, errNoChatTemplate)
	}
	return NewChatTemplate(src, cpath, tok)
}

// templateSource reads tokenizer_config.json's chat_template: a string, or a list of
// named templates ("default" is the one apply_chat_template uses without a name).
func templateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("want a string or a list of {\"name\", \"template\"}: %v", err)
	}
	var names []string
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
		names = append(names, n.Name)
	}
	return "", fmt.Errorf("no template named \"default\" among %q", names)
}

// ChatTemplate returns the checkpoint's chat template (LoadChatTemplate with its
// tokenizer).
func (ck *Checkpoint) ChatTemplate() (*ChatTemplate, error) {
	tok, err := ck.Tokenizer()
	if err != nil {
		return nil, err
	}
	return LoadChatTemplate(ck.Dir, tok)
}

// Render renders a conversation as apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...) does. Each message is a JSON object (its fields, such as
// tool_calls or reasoning_content, in their order); extra holds further variables
// (enable_thinking, tools, date_string, ...). A raise_exception in the template is an
// error with its message.
func (ct *ChatTemplate) Render(messages []json.RawMessage, addGenerationPrompt bool, extra map[string]any) (string, error) {
	vars := make(map[string]jinja.Value, len(ct.vars)+3+len(extra))
	for k, v := range ct.vars {
		vars[k] = v
	}
	for k, v := range extra {
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("hf: chat template variable %s: %w", k, err)
		}
		if vars[k], err = jsonValue(b); err != nil {
			return "", fmt.Errorf("hf: chat template variable %s: %w", k, err)
		}
	}
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages {
		v, err := jsonValue(m)
		if err != nil {
			return "", fmt.Errorf("hf: message %d: %w", i, err)
		}
		msgs[i] = v
	}
	vars["messages"] = jinja.NewList(msgs)
	vars["add_generation_prompt"] = jinja.NewBool(addGenerationPrompt)
	out, err := ct.tmpl.RenderValues(vars)
	if err != nil {
		return "", fmt.Errorf("hf: chat template %s: %w", ct.Origin, err)
	}
	return out, nil
}

// RenderChat renders a conversation for training and finds its supervised byte spans
// (datasets.ChatTemplate), its tools (c.Tools) passed as the template's tools variable.
// With c.PromptMessages = 0 (chat records), every assistant
// message is supervised: its turn from where the generation prompt ends (the text of
// messages[:i] rendered with add_generation_prompt) through the special token that ends
// it (<|im_end|>, <|eot_id|>, </s>: as TRL's assistant masks, the template's text after
// it, such as ChatML's newline, is not). The end is where the rendering of messages[:i+1]
// ends, whitespace trimmed, when the whole conversation's text begins with it; otherwise
// (Qwen3 renders the last turn with a <think> block it drops from earlier turns) the end
// of the first special token after the turn starts. With PromptMessages = k > 0 (the
// conversational prompt/completion form), the one span is everything after the prompt
// messages rendered with add_generation_prompt, as TRL's completion_only_loss.
//
// On Llama 3's template these are exactly the ranges TRL's generation-tagged copy marks
// (llama3_training.jinja); TRL's Qwen2.5 copy also marks the newline before the content,
// which the generation prompt holds, and the one after <|im_end|>, which generation never
// reaches (TestChatSpansMatchTRL): here a turn is what the model generates after the
// generation prompt, through its stop token.
//
// A template that renders a prefix of the conversation as other text than the start of
// the whole (so that no span can be found) is an error naming the message.
func (ct *ChatTemplate) RenderChat(c *datasets.Conversation) (string, []datasets.Span, error) {
	msgs, promptMessages := c.Messages, c.PromptMessages
	raw := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		raw[i] = m.JSON()
	}
	var extra map[string]any
	if c.Tools != nil {
		extra = map[string]any{"tools": c.Tools}
	}
	full, err := ct.Render(raw, false, extra)
	if err != nil {
		return "", nil, err
	}
	prefix := func(i int) (int, error) {
		p, err := ct.Render(raw[:i], true, extra)
		if err != nil {
			return 0, err
		}
		if !strings.HasPrefix(full, p) {
			return 0, fmt.Errorf("hf: chat template %s: the conversation's first %d messages with the generation prompt render as %q, which the whole conversation does not begin with: the template is not prefix-stable, so the span of message %d cannot be found", ct.Origin, i, clip(p[commonPrefix(p, full):]), i)
		}
		return len(p), nil
	}
	if promptMessages > 0 {
		start, err := prefix(promptMessages)
		if err != nil {
			return "", nil, err
		}
		return full, []datasets.Span{{Start: start, End: len(full)}}, nil
	}
	var spans []datasets.Span
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		start, err := prefix(i)
		if err != nil {
			return "", nil, err
		}
		end := -1
		if turn, err := ct.Render(raw[:i+1], false, extra); err == nil && strings.HasPrefix(full, turn) {
			end = len(strings.TrimRightFunc(turn, unicode.IsSpace))
		} else {
			for j := start; j < len(full) && end < 0; j++ {
				for _, s := range ct.special {
					if strings.HasPrefix(full[j:], s) {
						end = j + len(s)
						break
					}
				}
			}
		}
		if end < start {
			return "", nil, fmt.Errorf("hf: chat template %s: the end of assistant message %d cannot be found (its rendering alone is not a prefix of the conversation's, and no special token follows it)", ct.Origin, i)
		}
		spans = append(spans, datasets.Span{Start: start, End: end})
	}
	return full, spans, nil
}

// jsonValue converts JSON to a template value, keeping the order of object keys (as
// Python's dicts do, which tojson shows).
func jsonValue(b []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Undefined(), err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Undefined(), fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				d.AsDict().Set(k.(string), v)
			}
			_, err := dec.Token() // '}'
			return d, err
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, v)
			}
			_, err := dec.Token() // ']'
			return jinja.NewList(items), err
		}
		return jinja.Undefined(), fmt.Errorf("unexpected %v", t)
	default:
		return jinja.FromGoValue(t), nil
	}
}

// strftime formats t with the C directives chat templates use (%d %b %B %Y %m %y %H %M
// %S %A %a %j %%); others are kept as written.
func strftime(t time.Time, f string) string {
	var sb strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			sb.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'd':
			fmt.Fprintf(&sb, "%02d", t.Day())
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&sb, "%d", t.Year())
		case 'y':
			fmt.Fprintf(&sb, "%02d", t.Year()%100)
		case 'b':
			sb.WriteString(t.Month().String()[:3])
		case 'B':
			sb.WriteString(t.Month().String())
		case 'a':
			sb.WriteString(t.Weekday().String()[:3])
		case 'A':
			sb.WriteString(t.Weekday().String())
		case 'H':
			fmt.Fprintf(&sb, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&sb, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&sb, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&sb, "%03d", t.YearDay())
		case '%':
			sb.WriteByte('%')
		default:
			sb.WriteByte('%')
			sb.WriteByte(f[i])
		}
	}
	return sb.String()
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// clip shortens text for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return s
}
