package datasets

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Message is one turn of a conversation: chat records ({"messages": [...]}) and TRL's
// conversational prompt/completion records ({"prompt": [...], "completion": [...]}).
type Message struct {
	Role, Content string
	// Raw is the message's JSON object as the file has it, other fields (tool_calls,
	// reasoning_content, name) included and in their order; nil: role and content only.
	Raw json.RawMessage
}

// JSON returns the message as a JSON object: Raw when set.
func (m Message) JSON() json.RawMessage {
	if m.Raw != nil {
		return m.Raw
	}
	b, _ := json.Marshal(struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}{m.Role, m.Content})
	return b
}

// Conversation is a chat example's data: its messages, the number of them that are the
// prompt (0 for chat records: every assistant message is supervised; k > 0 for TRL's
// conversational prompt/completion records) and the record's "tools" (function schemas
// that templates such as Qwen's and Llama 3.1's write into the system prompt; nil: none).
type Conversation struct {
	Messages       []Message
	PromptMessages int
	Tools          json.RawMessage
}

// Span is a half-open range [Start, End) of positions: bytes of a rendered text, or label
// positions of an Example's Target (where position len(Target) is the EOS label a Batch
// adds after it).
type Span struct{ Start, End int }

// ChatTemplate renders a conversation as a pretrained model's chat template does and says
// which of its text is supervised. pkg/hf's ChatTemplate implements it with a checkpoint's
// own Jinja template.
type ChatTemplate interface {
	// RenderChat returns the conversation's text and its supervised byte spans, in order
	// and disjoint: with PromptMessages = 0 every assistant turn (its content and the
	// token that ends it; TRL's assistant_only_loss), with PromptMessages = k > 0 all the
	// text after the first k messages and the generation prompt (TRL's
	// completion_only_loss on conversational prompt/completion records).
	RenderChat(c *Conversation) (text string, spans []Span, err error)
}

// WithChatTemplate returns a copy of the codec vocabulary v whose tasks render their
// conversations with ct ([Task.WithCodec]); nil removes it.
func (v *Vocab) WithChatTemplate(ct ChatTemplate) *Vocab {
	c := *v
	c.chat = ct
	return &c
}

// ChatTemplate returns the chat template of a codec vocabulary (nil: none).
func (v *Vocab) ChatTemplate() ChatTemplate { return v.chat }

// IsChat reports whether the example is a conversation (Chat set).
func (e *Example) IsChat() bool { return e.Chat != nil }

// Supervised reports whether label position p of the example is supervised (completion):
// inside one of its Spans, or, for an example without Spans, p >= PromptLen.
func (e *Example) Supervised(p int) bool {
	if e.Spans == nil {
		return p >= e.PromptLen
	}
	for _, s := range e.Spans {
		if p < s.Start {
			return false
		}
		if p < s.End {
			return true
		}
	}
	return false
}

// parseMessages reads a JSON list of {"role", "content"} objects (content a string;
// other fields kept in Raw). what names the field for errors.
func parseMessages(at, what string, raw json.RawMessage) ([]Message, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: %q must be a list of {\"role\", \"content\"} messages: %v", at, what, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: %q is an empty list of messages", at, what)
	}
	msgs := make([]Message, len(list))
	for i, r := range list {
		var m struct {
			Role    *string         `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(r, &m); err != nil {
			return nil, fmt.Errorf("%s: %s[%d] is not a {\"role\", \"content\"} object: %v", at, what, i, err)
		}
		if m.Role == nil || *m.Role == "" {
			return nil, fmt.Errorf("%s: %s[%d] has no \"role\"", at, what, i)
		}
		var content string
		if len(m.Content) > 0 && string(m.Content) != "null" {
			if err := json.Unmarshal(m.Content, &content); err != nil {
				return nil, fmt.Errorf("%s: %s[%d] (%s): \"content\" must be a string (multimodal content lists are not supported), got %s", at, what, i, *m.Role, clip(string(m.Content)))
			}
		}
		msgs[i] = Message{Role: *m.Role, Content: content, Raw: slices.Clip(r)}
	}
	return msgs, nil
}

// plainTranscript is the conversation as text, one "role: content" line per message
// (keys, the texts of examples, and the own-vocabulary rendering).
func plainTranscript(msgs []Message) string {
	var sb strings.Builder
	for i, m := range msgs {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(m.Role)
		sb.WriteString(": ")
		sb.WriteString(m.Content)
	}
	return sb.String()
}

// internChat encodes a conversation with masklab's own tokenizer, which has no chat
// template: each message is its role, ":", and its content's tokens, messages separated
// by SEP (chatSEP here, the task's SEP id once encoded). The supervised spans are each
// assistant message's content and the SEP after it (the end of its turn; for the last
// message the EOS a batch adds), or with promptMessages > 0 everything after the first
// promptMessages messages' SEP.
func internChat(in *interner, msgs []Message, promptMessages int) ([]int32, []Span) {
	var ids []int32
	var spans []Span
	for i, m := range msgs {
		if i > 0 {
			ids = append(ids, chatSEP)
		}
		if promptMessages > 0 && i == promptMessages {
			spans = append(spans, Span{Start: len(ids)})
		}
		ids = in.tokenize(ids, m.Role+":")
		if promptMessages == 0 && m.Role == "assistant" {
			spans = append(spans, Span{Start: len(ids)})
		}
		ids = in.tokenize(ids, m.Content)
		if promptMessages == 0 && m.Role == "assistant" {
			spans[len(spans)-1].End = len(ids) + 1 // through the SEP or EOS that follows
		}
	}
	if promptMessages > 0 {
		spans[0].End = len(ids) + 1
	}
	return ids, spans
}

// chatSEP stands for SEP in the interned tokens of a conversation (internChat).
const chatSEP = -1

// encodeChat renders a conversation with ct and encodes it with the codec of v: the text
// is cut at the span boundaries and each piece encoded on its own (as prompt and
// completion are; so no token straddles a boundary), and the token spans follow the
// pieces. A leading BOS id is dropped and a trailing EOS id too (a Batch puts them
// back: BOS as the first decoder input, EOS as the last label, which a span that reached
// the end then covers). A conversation with no supervised token is an error.
func encodeChat(v *Vocab, ct ChatTemplate, e *Example) ([]int32, []Span, error) {
	text, spans, err := ct.RenderChat(e.Chat)
	if err != nil {
		return nil, nil, err
	}
	var ids []int32
	var out []Span
	pos := 0
	for _, s := range spans {
		if s.Start < pos || s.End < s.Start || s.End > len(text) {
			return nil, nil, fmt.Errorf("chat template: spans %v out of order for a text of %d bytes", spans, len(text))
		}
		ids = append(ids, v.codec.EncodePlain(text[pos:s.Start])...)
		start := len(ids)
		ids = append(ids, v.codec.EncodePlain(text[s.Start:s.End])...)
		if len(ids) > start {
			out = append(out, Span{start, len(ids)})
		}
		pos = s.End
	}
	ids = append(ids, v.codec.EncodePlain(text[pos:])...)
	if len(ids) > 0 && v.BOS >= 0 && ids[0] == int32(v.BOS) {
		ids = ids[1:]
		for i := range out {
			out[i].Start, out[i].End = max(out[i].Start-1, 0), out[i].End-1
		}
	}
	if n := len(ids); n > 0 && ids[n-1] == int32(v.EOS) {
		ids = ids[:n-1] // a span ending with it now ends at the EOS label: the same position
	}
	out = slices.DeleteFunc(out, func(s Span) bool { return s.End <= s.Start })
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("no supervised token (no assistant text)")
	}
	return ids, out, nil
}

// truncateLeft applies the maximum length rule to an encoded SFT example (Target ids,
// PromptLen, Spans; label positions): one of more than maxLen ids loses its first ids,
// which must all be prompt (before the first supervised position); ok is false when that
// would cut supervised ids (the example is then dropped and counted, never trained on
// nothing). cut is the number of ids removed.
func truncateLeft(e *Example, maxLen int) (cut int, ok bool) {
	if maxLen <= 0 || len(e.Target) <= maxLen {
		return 0, true
	}
	cut = len(e.Target) - maxLen
	first := e.PromptLen
	if e.Spans != nil {
		first = e.Spans[0].Start
	}
	if cut > first {
		return cut, false
	}
	e.Target = e.Target[cut:]
	e.PromptLen -= cut
	if e.Spans != nil {
		sp := make([]Span, len(e.Spans))
		for i, s := range e.Spans {
			sp[i] = Span{s.Start - cut, s.End - cut}
		}
		e.Spans = sp
	}
	return cut, true
}
