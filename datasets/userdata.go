package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() {
	register("tsv", "user file (Options.Path or \"tsv:PATH\"): one \"source<TAB>target\" pair per line (seq2seq)", userTask("tsv", parseTSV))
	register("jsonl", "user file (Options.Path or \"jsonl:PATH\"): one JSON object per line, {\"prompt\",\"completion\"} (sft) or {\"text\"} (lm)", userTask("jsonl", parseJSONL))
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

// jsonLine is one JSONL record; pointers tell a missing field from an empty one.
type jsonLine struct {
	Prompt     *string `json:"prompt"`
	Completion *string `json:"completion"`
	Text       *string `json:"text"`
}

// parseJSONL reads one JSON object per line: all {"prompt","completion"} (SFT) or all
// {"text"} (LM); other fields are ignored. Blank lines are skipped; anything else that
// is not such an object is an error naming the file and line.
func parseJSONL(name string, data []byte) (Kind, []rawExample, *interner, error) {
	in := newInterner()
	var raws []rawExample
	var kind Kind
	firstAt := ""
	err := lines(data, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		at := name + ":" + strconv.Itoa(n)
		var j jsonLine
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&j); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return fmt.Errorf("%s: field %q must be a string, got a JSON %s", at, te.Field, te.Value)
			}
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%s: not valid JSON at character %d: %v", at, se.Offset, err)
			}
			return fmt.Errorf("%s: not a JSON object: %v", at, err)
		}
		if dec.More() {
			return fmt.Errorf("%s: more than one JSON value on the line", at)
		}
		var k Kind
		switch {
		case j.Text != nil && j.Prompt == nil && j.Completion == nil:
			k = LM
		case j.Text == nil && j.Prompt != nil && j.Completion != nil:
			k = SFT
		default:
			return fmt.Errorf("%s: want {\"prompt\": ..., \"completion\": ...} or {\"text\": ...}, got %q", at, clip(line))
		}
		if kind == "" {
			kind, firstAt = k, at
		} else if k != kind {
			return fmt.Errorf("%s: a %s record in a file of %s records (first at %s)", at, k, kind, firstAt)
		}
		var r rawExample
		r.origin = at
		if k == LM {
			r.key, r.tgtText, r.tgt = *j.Text, *j.Text, in.tokenize(nil, *j.Text)
			if len(r.tgt) == 0 {
				return fmt.Errorf("%s: empty \"text\" (no tokens)", at)
			}
		} else {
			r.key, r.srcText, r.tgtText = *j.Prompt, *j.Prompt, *j.Completion
			r.prompt, r.tgt = in.tokenize(nil, *j.Prompt), in.tokenize(nil, *j.Completion)
			if len(r.prompt) == 0 {
				return fmt.Errorf("%s: empty \"prompt\" (no tokens)", at)
			}
			if len(r.tgt) == 0 {
				return fmt.Errorf("%s: empty \"completion\" (no tokens)", at)
			}
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
	return kind, raws, in, nil
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
