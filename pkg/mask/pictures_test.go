package mask

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The example the package doc's pictures of input and loss strategies use.
var (
	picTarget = strings.Fields("我 是 一 个 程 序 员")
	picSource = strings.Fields("程 序 员")
)

// inputPicture renders what an input strategy does to the doc's example: the decoder
// input with hidden positions in brackets.
func inputPicture(t *testing.T, spec string) string {
	t.Helper()
	c, err := ParseCorruption(spec)
	if err != nil {
		t.Fatalf("%q: %v", spec, err)
	}
	v, err := ShowCorruption(c, picTarget, picSource, nil, ShowTokens{}, 0, 0, 0)
	if err != nil {
		t.Fatalf("%q: %v", spec, err)
	}
	parts := make([]string, len(v.Tokens))
	for i, tok := range v.Tokens {
		parts[i] = tok
		if v.Hidden[i] {
			parts[i] = "[" + tok + "]"
		}
	}
	return strings.Join(parts, " ")
}

// lossPicture renders a loss strategy's weights on the doc's example: 7 tokens, the
// first 3 the prompt, padded to 9.
func lossPicture(t *testing.T, spec string) string {
	t.Helper()
	l, err := ParseLoss(spec)
	if err != nil {
		t.Fatalf("%q: %v", spec, err)
	}
	var parts []string
	for _, w := range l.Weights(9, 7, 3) {
		parts = append(parts, strconv.FormatFloat(float64(w), 'g', 3, 32))
	}
	return strings.Join(parts, " ")
}

// TestDocPictures checks the pictures of input and loss strategies in the package doc
// against what the strategies do, and that every built-in input and loss strategy has
// one (the attention masks' pictures are in their own doc comments, see TestPictures).
func TestDocPictures(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^//\t(input|loss) +(\S+(?: \S+)*?)  +(<bos> .*|[0-9.]+(?: [0-9.]+)*)$`)
	seen := map[string]bool{}
	n := 0
	for _, l := range strings.Split(string(doc), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		kind, spec, want := m[1], m[2], strings.TrimSpace(m[3])
		var got string
		if kind == "input" {
			got = inputPicture(t, spec)
		} else {
			got = lossPicture(t, spec)
		}
		if got != want {
			t.Errorf("doc.go's picture of %s %s:\n has %s\nwant %s", kind, spec, want, got)
		}
		name, _, _ := strings.Cut(spec, "(")
		seen[kind+" "+name] = true
		n++
	}
	if n == 0 {
		t.Fatal("no pictures found in doc.go")
	}
	for _, k := range []Kind{KindInput, KindLoss} {
		for _, name := range Names(k) {
			if !strings.HasPrefix(name, "test_") && !seen[string(k)+" "+name] {
				t.Errorf("doc.go has no picture of %s %s; for example:\n%s", k, name, docPictureLine(t, k, name))
			}
		}
	}
}

func docPictureLine(t *testing.T, k Kind, spec string) string {
	if k == KindInput {
		return fmt.Sprintf("//\tinput %-32s %s", spec, inputPicture(t, spec))
	}
	return fmt.Sprintf("//\tloss  %-32s %s", spec, lossPicture(t, spec))
}
