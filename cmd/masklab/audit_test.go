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
