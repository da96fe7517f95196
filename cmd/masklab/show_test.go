package main

// The mask display against the datasets package's tokenizer and special tokens: here,
// where both are imported anyway, so that pkg/mask takes them as plain values even in
// its tests.

import (
	"strings"
	"testing"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/mask"
)

func TestShowCorruption(t *testing.T) {
	target := datasets.Tokenize("我是一个程序员")
	if len(target) != 7 {
		t.Fatalf("Tokenize(我是一个程序员) = %q, want 7 tokens", target)
	}
	for _, tc := range []struct {
		spec   string
		hidden string // '#' hidden, '.' visible, over <bos> + target
	}{
		{"none", "........"},
		{"full", ".#######"},
		{"partial(2)", ".#.#.#.#"},
		{"interactive(keep, \"我 程\")", "..###.##"},
		{"interactive(keep, \"我程\")", "..###.##"}, // split by the datasets tokenizer, as in training
	} {
		c, err := mask.ParseCorruption(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		v, err := mask.ShowCorruption(c, target, nil, nil, showTokens, 1, 0, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		var got strings.Builder
		for i, h := range v.Hidden {
			if h {
				got.WriteByte('#')
				if v.Corrupted[i] != datasets.MaskToken {
					t.Errorf("%s: hidden position %d shows %q, want %q", tc.spec, i, v.Corrupted[i], datasets.MaskToken)
				}
			} else {
				got.WriteByte('.')
				if v.Corrupted[i] != v.Tokens[i] {
					t.Errorf("%s: visible position %d shows %q, want %q", tc.spec, i, v.Corrupted[i], v.Tokens[i])
				}
			}
		}
		if got.String() != tc.hidden {
			t.Errorf("%s: hidden %s, want %s", tc.spec, got.String(), tc.hidden)
		}
		if v.Tokens[0] != datasets.BosToken {
			t.Errorf("%s: first token %q, want %q", tc.spec, v.Tokens[0], datasets.BosToken)
		}
	}
	// Word dropout replaces with UNK; the copy rule hides only tokens of the source.
	c, _ := mask.ParseCorruption("drop(1)")
	v, err := mask.ShowCorruption(c, target, nil, nil, showTokens, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Corrupted[1] != datasets.UnkToken {
		t.Errorf("drop(1): position 1 shows %q, want %q", v.Corrupted[1], datasets.UnkToken)
	}
	c, _ = mask.ParseCorruption("interactive(copy, 1)")
	v, err = mask.ShowCorruption(c, target, datasets.Tokenize("程序"), nil, showTokens, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range v.Tokens {
		if want := tok == "程" || tok == "序"; v.Hidden[i] != want {
			t.Errorf("interactive(copy, 1) with source 程序: position %d (%s) hidden=%v, want %v", i, tok, v.Hidden[i], want)
		}
	}
	if _, err := mask.ShowCorruption(c, nil, nil, nil, showTokens, 1, 0, 0); err == nil {
		t.Error("empty target: no error")
	}
}

// The zero ShowTokens names the special tokens exactly as the datasets package does.
func TestShowTokensDefaultsMatchDatasets(t *testing.T) {
	c, err := mask.ParseCorruption("full")
	if err != nil {
		t.Fatal(err)
	}
	v, err := mask.ShowCorruption(c, []string{"我"}, nil, nil, mask.ShowTokens{}, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tokens[0] != datasets.BosToken || v.Corrupted[1] != datasets.MaskToken {
		t.Errorf("zero ShowTokens: %q %q, want %q %q", v.Tokens[0], v.Corrupted[1], datasets.BosToken, datasets.MaskToken)
	}
	d, _ := mask.ParseCorruption("drop(1)")
	if v, _ := mask.ShowCorruption(d, []string{"我"}, nil, nil, mask.ShowTokens{}, 1, 0, 0); v.Corrupted[1] != datasets.UnkToken {
		t.Errorf("zero ShowTokens: drop shows %q, want %q", v.Corrupted[1], datasets.UnkToken)
	}
}
