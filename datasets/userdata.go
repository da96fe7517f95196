package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() {
	register("tsv", "user file (Options.Path or \"tsv:PATH\"): one \"source<TAB>target\" pair per line (seq2seq)", userTask("tsv", parseTSV))
	register("jsonl", "user file (Options.Path or \"jsonl:PATH\"): one JSON object per line, {\"prompt\",\"completion\"} (sft; strings, or lists of messages), {\"messages\":[{\"role\",\"content\"}]} (sft, chat) or {\"text\"} (lm)", userTask("jsonl", parseJSONL))
}

// userTask loads a user file of the named format with its parser.
func userTask(name string, parse func(path string, data []byte) (Kind, []rawExample, *interner, error)) func(Options) (*Task, error) {
	return func(o Options) (*Task, error) {
		data, err := readUserFile(name, o.Path)
		if err != nil {
			return nil, err
		}
		kind, raws, in, err := parse(o.Path, data)
		if err != nil {
			return nil, err
		}
		return buildTextTask(name, kind, raws, in, o)
	}
}

func readUserFile(task, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("task %q needs a file: set Options.Path or use %q", task, task+":PATH")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", task, err)
	}
	return data, nil
}

// lines calls f with each line of data (1-based numbers, without the newline and a
// trailing \r); lines that are empty or only whitespace are passed too, f decides.
func lines(data []byte, f func(n int, line string) error) error {
	n := 0
	for len(data) > 0 {
		n++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if err := f(n, string(line)); err != nil {
			return err
		}
	}
	return nil
}

// parseTSV reads "source<TAB>target" lines. Blank lines are allowed and skipped; a
// line with another number of fields, an empty field after trimming, or invalid UTF-8
// is an error naming the file and line. An optional first line "source<TAB>target"
// is a header.
func parseTSV(name string, data []byte) (Kind, []rawExample, *interner, error) {
	in := newInterner()
	var raws []rawExample
	err := lines(data, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		at := name + ":" + strconv.Itoa(n)
		if !utf8.ValidString(line) {
			return fmt.Errorf("%s: invalid UTF-8", at)
		}
		f := strings.Split(line, "\t")
		if len(f) != 2 {
			return fmt.Errorf("%s: want 2 tab-separated fields (source, target), got %d in %q", at, len(f), clip(line))
		}
		src, tgt := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		if n == 1 && strings.EqualFold(src, "source") && strings.EqualFold(tgt, "target") {
			return nil
		}
		r := rawExample{key: src, origin: at, srcText: src, tgtText: tgt, src: in.tokenize(nil, src), tgt: in.tokenize(nil, tgt)}
		if len(r.src) == 0 {
			return fmt.Errorf("%s: empty source (no tokens) in %q", at, clip(line))
		}
		if len(r.tgt) == 0 {
			return fmt.Errorf("%s: empty target (no tokens) in %q", at, clip(line))
		}
		raws = append(raws, r)
		return nil
	})
	if err != nil {
		return "", nil, nil, err
	}
	if len(raws) == 0 {
		return "", nil, nil, fmt.Errorf("%s: no examples (the file is empty or blank)", name)
	}
	return Seq2Seq, raws, in, nil
}

// jsonLine is one JSONL record; nil fields are missing ones. Prompt and completion are
// strings, or lists of messages (TRL's conversational form).
type jsonLine struct {
	Prompt     json.RawMessage `json:"prompt"`
	Completion json.RawMessage `json:"completion"`
	Text       json.RawMessage `json:"text"`
	Messages   json.RawMessage `json:"messages"`
	Tools      json.RawMessage `json:"tools"`
}

// Record kinds of a JSONL file (one kind per file).
const (
	recText   = "{\"text\"}"
	recPC     = "{\"prompt\", \"completion\"}"
	recChat   = "{\"messages\"}"
	recConvPC = "conversational {\"prompt\", \"completion\"}"
)

// parseJSONL reads one JSON object per line, all of one kind: {"prompt","completion"}
// strings (SFT), {"text"} (LM), {"messages": [{"role","content"}, ...]} (chat: SFT whose
// supervised spans are the assistant messages) or {"prompt": [messages], "completion":
// [messages]} (TRL's conversational prompt/completion: SFT whose completion is the
// completion messages), either with an optional "tools" list (function schemas, passed
// to the chat template as TRL passes its "tools" column); other fields are ignored. Blank lines are skipped; anything else
// that is not such an object is an error naming the file and line. Conversations are
// kept as Example.Messages; with masklab's own vocabulary each message is encoded as its
// role, ":" and its content, messages separated by SEP (a checkpoint's tokenizer renders
// them with its chat template instead: Task.WithCodec).
func parseJSONL(name string, data []byte) (Kind, []rawExample, *interner, error) {
	in := newInterner()
	var raws []rawExample
	var kind string
	firstAt := ""
	err := lines(data, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		at := name + ":" + strconv.Itoa(n)
		var j jsonLine
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&j); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%s: not valid JSON at character %d: %v", at, se.Offset, err)
			}
			return fmt.Errorf("%s: not a JSON object: %v", at, err)
		}
		if dec.More() {
			return fmt.Errorf("%s: more than one JSON value on the line", at)
		}
		has := func(r json.RawMessage) bool { return len(r) > 0 && string(r) != "null" }
		isList := func(r json.RawMessage) bool { return len(r) > 0 && r[0] == '[' }
		var k string
		switch {
		case has(j.Text) && !has(j.Prompt) && !has(j.Completion) && !has(j.Messages):
			k = recText
		case has(j.Messages) && !has(j.Prompt) && !has(j.Completion) && !has(j.Text):
			k = recChat
		case has(j.Prompt) && has(j.Completion) && !has(j.Text) && !has(j.Messages):
			k = recPC
			if isList(j.Prompt) || isList(j.Completion) {
				k = recConvPC
			}
		default:
			return fmt.Errorf("%s: want {\"prompt\": ..., \"completion\": ...}, {\"messages\": [...]} or {\"text\": ...}, got %q", at, clip(line))
		}
		if kind == "" {
			kind, firstAt = k, at
		} else if k != kind {
			return fmt.Errorf("%s: a %s record in a file of %s records (first at %s)", at, k, kind, firstAt)
		}
		str := func(field string, r json.RawMessage) (string, error) {
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return "", fmt.Errorf("%s: field %q must be a string, got a JSON %s (%s)", at, field, jsonKind(r), clip(string(r)))
			}
			return s, nil
		}
		r := rawExample{origin: at}
		switch k {
		case recText:
			text, err := str("text", j.Text)
			if err != nil {
				return err
			}
			r.key, r.tgtText, r.tgt = text, text, in.tokenize(nil, text)
			if len(r.tgt) == 0 {
				return fmt.Errorf("%s: empty \"text\" (no tokens)", at)
			}
		case recPC:
			prompt, err := str("prompt", j.Prompt)
			if err != nil {
				return err
			}
			completion, err := str("completion", j.Completion)
			if err != nil {
				return err
			}
			r.key, r.srcText, r.tgtText = prompt, prompt, completion
			r.prompt, r.tgt = in.tokenize(nil, prompt), in.tokenize(nil, completion)
			if len(r.prompt) == 0 {
				return fmt.Errorf("%s: empty \"prompt\" (no tokens)", at)
			}
			if len(r.tgt) == 0 {
				return fmt.Errorf("%s: empty \"completion\" (no tokens)", at)
			}
		case recChat:
			msgs, err := parseMessages(at, "messages", j.Messages)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(msgs, func(m Message) bool { return m.Role == "assistant" }) {
				return fmt.Errorf("%s: a conversation without an \"assistant\" message has nothing to train on", at)
			}
			tools, err := parseTools(at, j.Tools)
			if err != nil {
				return err
			}
			r.setChat(in, &Conversation{Messages: msgs, Tools: tools})
		case recConvPC:
			if !isList(j.Prompt) || !isList(j.Completion) {
				return fmt.Errorf("%s: \"prompt\" and \"completion\" must both be strings or both lists of messages", at)
			}
			p, err := parseMessages(at, "prompt", j.Prompt)
			if err != nil {
				return err
			}
			c, err := parseMessages(at, "completion", j.Completion)
			if err != nil {
				return err
			}
			tools, err := parseTools(at, j.Tools)
			if err != nil {
				return err
			}
			r.setChat(in, &Conversation{Messages: append(p, c...), PromptMessages: len(p), Tools: tools})
		}
		raws = append(raws, r)
		return nil
	})
	if err != nil {
		return "", nil, nil, err
	}
	if len(raws) == 0 {
		return "", nil, nil, fmt.Errorf("%s: no examples (the file is empty or blank)", name)
	}
	if kind == recText {
		return LM, raws, in, nil
	}
	return SFT, raws, in, nil
}

// parseTools checks a record's "tools": absent or null (nil), else a JSON list (of
// function schemas; the chat template reads them).
func parseTools(at string, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: \"tools\" must be a list of function schemas, got %s", at, clip(string(raw)))
	}
	return slices.Clip(raw), nil
}

// setChat makes r a conversation: c, its own-vocabulary encoding (internChat), its
// texts (the transcript before the first supervised message as the source, the rest as
// the target) and its key (the whole transcript).
func (r *rawExample) setChat(in *interner, c *Conversation) {
	msgs := c.Messages
	r.chat = c
	r.tgt, r.spans = internChat(in, msgs, c.PromptMessages)
	first := c.PromptMessages
	if first == 0 {
		first = slices.IndexFunc(msgs, func(m Message) bool { return m.Role == "assistant" })
	}
	r.key = plainTranscript(msgs)
	r.srcText, r.tgtText = plainTranscript(msgs[:first]), plainTranscript(msgs[first:])
}

// jsonKind names the kind of a JSON value as encoding/json's errors do.
func jsonKind(r json.RawMessage) string {
	switch r[0] {
	case '[':
		return "array"
	case '{':
		return "object"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// clip shortens a line for an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	i := 77
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
