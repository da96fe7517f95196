package main

import (
	"bytes"
	"strings"
	"testing"
)

// runAuditCLI runs "masklab audit ARGS" in-process and returns its exit code, stdout and stderr.
func runAuditCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"audit"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAuditCLIPictures(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		// The packed example: block-diagonal causal, at any depth.
		{[]string{"--self", "causal & doc", "--q", "6", "--segments", "0,0,0,1,1,2", "--layers", "2"},
			"#.....\n##....\n###...\n...#..\n...##.\n.....#\n"},
		// A missing causal mask leaks the future: full dependence.
		{[]string{"--self", "full", "--q", "4"}, "####\n####\n####\n####\n"},
		// Two layers of a one-step sliding window see two steps back.
		{[]string{"--self", "causal & window(1)", "--q", "5", "--layers", "2"},
			"#....\n##...\n###..\n.###.\n..###\n"},
		// Cross pad: no output depends on the padded source columns 3 and 4.
		{[]string{"--model", "seq2seq", "--what", "cross", "--q", "3", "--k", "5", "--klen", "3"},
			"###..\n###..\n###..\n"},
		{[]string{"--model", "lstm", "--q", "4"}, "#...\n##..\n###.\n####\n"},
		{[]string{"--model", "lstm", "--what", "cross", "--cross", "full", "--q", "2", "--k", "4", "--klen", "2"},
			"####\n####\n"},
	} {
		code, out, errOut := runAuditCLI(tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("masklab audit %q: exit %d, stdout\n%s(stderr %q), want\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestAuditCLIErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--self", "causl"}, `did you mean "causal"`},
		{[]string{"--cross", "pad &"}, "--cross"},
		{[]string{"--model", "rnn"}, "model must be"},
		{[]string{"--model", "lstm", "--self", "full"}, "causal by construction"},
		{[]string{"--cross", "pad"}, "no cross-attention"},
		{[]string{"--enc", "pad"}, "only the seq2seq"},
		{[]string{"--what", "cross"}, "no source"},
		{[]string{"--what", "both", "--model", "seq2seq"}, "what must be"},
		{[]string{"--q", "100"}, "q and k must be"},
		{[]string{"--q", "4", "--k", "5"}, "k must equal q"},
		{[]string{"--q", "4", "--klen", "0"}, "--klen must be > 0"},
		{[]string{"--q", "4", "--klen", "9"}, "klen 9"},
		{[]string{"--q", "4", "--segments", "0,1"}, "segment"},
		{[]string{"--q", "4", "--segments", "0,a,1,1"}, "not an integer"},
		{[]string{"--q", "4", "--prefix", "7"}, "prefix 7"},
		{[]string{"--layers", "0"}, "layers must be"},
		{[]string{"--layers", "9"}, "layers must be"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"causal"}, "takes no arguments"},
	} {
		code, out, errOut := runAuditCLI(tc.args...)
		if code == 0 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("masklab audit %q: exit %d, stdout %q, stderr %q; want a non-zero exit and an error containing %q",
				tc.args, code, out, errOut, tc.want)
			continue
		}
		if lines := strings.Count(strings.TrimRight(errOut, "\n"), "\n"); lines != 0 && tc.want != "bogus" {
			t.Errorf("masklab audit %q: error is %d lines, want one: %q", tc.args, lines+1, errOut)
		}
	}
	if code, _, _ := runAuditCLI("--help"); code != 0 {
		t.Errorf("masklab audit --help: exit %d, want 0", code)
	}
}

// --expect turns the audit into a check: every (query, key) the model depends on that
// the expected mask forbids is a leak, listed on stdout after the picture, and the exit
// status is 1. Pairs the expectation allows that the model does not see are listed too,
// as information: they do not fail the check.
func TestAuditExpect(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		// The case: a model without its causal mask leaks the future.
		{[]string{"--self", "!causal", "--q", "4", "--expect", "causal"}, 1,
			"####\n.###\n..##\n...#\n\n" +
				"expect causal: 6 leaks: the model depends on these (query, key) pairs, which causal forbids:\n" +
				"  query 0: keys 1, 2, 3\n  query 1: keys 2, 3\n  query 2: key 3\n" +
				"expect causal: 6 pairs allowed but not seen (information, not leaks: the model uses less than causal allows):\n" +
				"  query 1: key 0\n  query 2: keys 0, 1\n  query 3: keys 0, 1, 2\n"},
		{[]string{"--self", "causal", "--q", "3", "--expect", "causal"}, 0,
			"#..\n##.\n###\n\nexpect causal: no leaks: every dependence of the model is allowed\n"},
		// Packing without the document mask leaks across documents...
		{[]string{"--self", "causal", "--q", "4", "--segments", "0,0,1,1", "--expect", "causal & doc"}, 1,
			"#...\n##..\n###.\n####\n\n" +
				"expect causal & doc: 4 leaks: the model depends on these (query, key) pairs, which causal & doc forbids:\n" +
				"  query 2: keys 0, 1\n  query 3: keys 0, 1\n"},
		// ... and with it does not, at any depth.
		{[]string{"--self", "causal & doc", "--q", "6", "--segments", "0,0,0,1,1,2", "--layers", "3", "--expect", "causal&doc"}, 0,
			"#.....\n##....\n###...\n...#..\n...##.\n.....#\n\nexpect causal & doc: no leaks: every dependence of the model is allowed\n"},
		// The expectation is end to end: two layers of a one-step window see two steps back.
		{[]string{"--self", "causal & window(1)", "--q", "4", "--layers", "2", "--expect", "causal & window(1)"}, 1,
			"#...\n##..\n###.\n.###\n\n" +
				"expect causal & window(1): 2 leaks: the model depends on these (query, key) pairs, which causal & window(1) forbids:\n" +
				"  query 2: key 0\n  query 3: key 1\n"},
		// Cross-attention: the padded source columns must stay unseen.
		{[]string{"--model", "seq2seq", "--what", "cross", "--cross", "full", "--q", "2", "--k", "3", "--klen", "2", "--expect", "pad"}, 1,
			"###\n###\n\n" +
				"expect pad: 2 leaks: the model depends on these (query, key) pairs, which pad forbids:\n" +
				"  query 0: key 2\n  query 1: key 2\n"},
	} {
		code, out, errOut := runAuditCLI(tc.args...)
		if code != tc.code || out != tc.out {
			t.Errorf("masklab audit %q: exit %d (want %d), stdout\n%s(stderr %q), want\n%s", tc.args, code, tc.code, out, errOut, tc.out)
			continue
		}
		if tc.code != 0 && (!strings.Contains(errOut, "--expect") || !strings.Contains(errOut, "leak") || strings.Count(errOut, "\n") != 1) {
			t.Errorf("masklab audit %q: stderr %q, want one line naming the leaks and --expect", tc.args, errOut)
		}
		if tc.code == 0 && errOut != "" {
			t.Errorf("masklab audit %q: stderr %q, want none", tc.args, errOut)
		}
	}
}

// A mask that reads segment ids or a prefix length is not audited with a silent default
// (one document, prefix 0: plain causal); the missing flag is named.
func TestAuditNeedsSideData(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--self", "causal & doc", "--q", "4"}, []string{`--self "causal & doc" reads segment ids`, "--segments"}},
		{[]string{"--self", "prefix", "--q", "4"}, []string{`--self "prefix" reads a prefix length`, "--prefix"}},
		{[]string{"--expect", "causal & doc", "--q", "4"}, []string{`--expect "causal & doc"`, "--segments"}},
		{[]string{"--model", "seq2seq", "--enc", "prefix", "--q", "4"}, []string{`--enc "prefix"`, "--prefix"}},
		{[]string{"--expect", "causl"}, []string{"--expect", `did you mean "causal"`}},
	} {
		code, out, errOut := runAuditCLI(tc.args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("masklab audit %q: exit %d, stdout %q, stderr %q; want exit 2 and one line", tc.args, code, out, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("masklab audit %q: stderr %q lacks %q", tc.args, errOut, w)
			}
		}
	}
	// Given explicitly, the same values are fine, even when they equal the defaults.
	if code, out, errOut := runAuditCLI("--self", "prefix", "--q", "3", "--prefix", "0"); code != 0 || out != "#..\n##.\n###\n" {
		t.Errorf("masklab audit --self prefix --prefix 0: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := runAuditCLI("--self", "causal & doc", "--q", "2", "--segments", "0,0"); code != 0 || out != "#.\n##\n" {
		t.Errorf("masklab audit --self 'causal & doc' --segments 0,0: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
