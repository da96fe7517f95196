package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs masklab in-process and returns its exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMaskExample(t *testing.T) {
	code, out, errs := runCLI("mask", "causal & doc", "--q", "6", "--segments", "0,0,0,1,1,2")
	want := "#.....\n##....\n###...\n...#..\n...##.\n.....#\n"
	if code != 0 || out != want || errs != "" {
		t.Fatalf("code %d\nstdout:\n%s\nstderr: %s\nwant stdout:\n%s", code, out, errs, want)
	}
}

func TestMaskASCIIShapes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mask", "causal", "--q", "3", "--k", "5"}, "#....\n##...\n###..\n"},
		{[]string{"mask", "causal_br", "--q", "3", "--k", "5"}, "###..\n####.\n#####\n"},
		{[]string{"mask", "pad & qpad", "--q", "3", "--qlen", "2", "--klen", "2"}, "##.\n##.\n...\n"},
		{[]string{"mask", "prefix", "--q", "4", "--prefix", "2"}, "##..\n##..\n###.\n####\n"},
		{[]string{"mask", "--kind", "cross", "band(0)", "--q", "2", "--k", "4"}, "#...\n..#.\n"},
		{[]string{"mask", "window(1)", "--q", "3", "--kind=self"}, "##.\n###\n.##\n"},
		{[]string{"mask", "random(1)", "--q", "2", "--eval"}, "##\n##\n"},
		{[]string{"mask", "random(1)", "--q", "2"}, "..\n..\n"},
	} {
		code, out, errs := runCLI(tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%q: code %d, stdout:\n%s\nstderr: %s\nwant:\n%s", tc.args, code, out, errs, tc.want)
		}
	}
	// Random atoms follow --seed.
	_, a, _ := runCLI("mask", "random(0.5)", "--q", "8", "--seed", "1")
	_, b, _ := runCLI("mask", "random(0.5)", "--q", "8", "--seed", "1")
	_, c, _ := runCLI("mask", "random(0.5)", "--q", "8", "--seed", "2")
	if a != b || a == c || len(strings.Split(strings.TrimSpace(a), "\n")) != 8 {
		t.Errorf("random(0.5) by seed: %q %q %q", a, b, c)
	}
}

func TestMaskOutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.txt")
	code, out, errs := runCLI("mask", "causal", "--q", "2", "--out", path)
	data, _ := os.ReadFile(path)
	if code != 0 || out != "" || string(data) != "#.\n##\n" {
		t.Errorf("--out: code %d stdout %q stderr %q file %q", code, out, errs, data)
	}
}

func TestMaskImages(t *testing.T) {
	dir := t.TempDir()
	for format, magic := range map[string]string{"png": "\x89PNG", "svg": "<svg", "pdf": "%PDF"} {
		path := filepath.Join(dir, "m."+format)
		code, out, errs := runCLI("mask", "causal & doc", "--q", "6", "--segments", "0,0,0,1,1,2", "--format", format, "--out", path)
		if code != 0 || out != "" {
			t.Errorf("--format %s: code %d, stdout %q, stderr %q", format, code, out, errs)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data[:min(len(data), 300)]), magic) {
			t.Errorf("--format %s wrote %d bytes not starting like %q (%v)", format, len(data), magic, err)
		}
	}
}

func TestMaskErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mask", "causl & doc", "--q", "6"}, `did you mean "causal"`},
		{[]string{"mask", "window(-1)"}, "window: w must be >= 0, got -1"},
		{[]string{"mask", "causal & doc", "--q", "6", "--segments", "0,0,1"}, "--segments has 3 ids, want one per position (6)"},
		{[]string{"mask", "doc", "--q", "3", "--segments", "0,x,1"}, `id 2 is "x"`},
		{[]string{"mask", "doc", "--q", "3", "--k", "4", "--segments", "0,0,1"}, "--segments needs --q == --k"},
		{[]string{"mask", "prefix", "--q", "4", "--prefix", "5"}, "--prefix 5 outside 0..4"},
		{[]string{"mask", "causal", "--q", "4", "--qlen", "5"}, "--qlen 5 is longer than --q 4"},
		{[]string{"mask", "causal", "--q", "4", "--klen", "7"}, "--klen 7 is longer than --k 4"},
		{[]string{"mask", "causal", "--q", "0"}, "--q must be > 0, got 0"},
		{[]string{"mask", "causal", "--q", "-3"}, "--q must be > 0, got -3"},
		{[]string{"mask", "causal", "--format", "gif"}, `--format must be ascii, png, svg or pdf, got "gif"`},
		{[]string{"mask", "causal", "--format", "png"}, "--format png needs --out FILE"},
		{[]string{"mask"}, "want exactly one SPEC argument, got 0"},
		{[]string{"mask", "causal", "pad"}, "want exactly one SPEC argument, got 2"},
		{[]string{"mask", "causal", "--kind", "nope"}, `unknown kind "nope"`},
		{[]string{"mask", "causal", "--kind", "input"}, "masklab corrupt"},
		{[]string{"mask", "causal", "--text", "x"}, "--text applies only to --kind loss"},
		{[]string{"mask", "causal", "--q", "x"}, "invalid value"},
		{[]string{"mask", "causal", "--nope"}, "flag provided but not defined"},
		{[]string{"mask", "causal", "--heads", "2", "--head", "2"}, "--head 2 outside 0..1"},
		{[]string{"mask", "--kind", "loss", "plw(2)", "--text", "我是"}, "plw: w must be in [0, 1], got 2"},
		{[]string{"mask", "--kind", "loss", "all", "--text", "我是", "--prompt-len", "3"}, "--prompt-len 3 outside 0..2"},
		{[]string{"mask", "--kind", "loss", "all"}, "needs --text"},
		{[]string{"mask", "--kind", "loss", "all", "--text", "x", "--q", "3"}, "--q does not apply to --kind loss"},
		{[]string{"mask", "--kind", "loss", "causal", "--text", "x"}, "known loss names: all, completion"},
		{[]string{"mask", "causal", "--qlen", "-5"}, "--qlen must be >= 1, got -5"},
		{[]string{"mask", "causal", "--klen", "0"}, "--klen must be >= 1, got 0"},
		{[]string{"mask", "causal", "--k", "0"}, "--k must be >= 1, got 0"},
		{[]string{"mask", "causal", "--q", "100000"}, "at most 4096"},
		{[]string{"mask", "", "--q", "3"}, "empty spec"},
		{[]string{"mask", "   ", "--q", "3"}, "empty spec"},
		{[]string{"mask", "causal & 程序员"}, "unexpected character '程'"},
		{[]string{"mask", "causal", "--format", "jpg"}, `got "jpg"`},
		{[]string{"mask", "causal", "--format", "png", "--out", "/nonexistent-dir/x.png"}, "cannot write /nonexistent-dir/x.png: no such file or directory"},
	} {
		code, out, errs := runCLI(tc.args...)
		lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
		if code == 0 || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want non-zero, empty stdout, stderr containing %q", tc.args, code, out, errs, tc.want)
		}
		// One line of error, bad flags included (no usage dump after it).
		if len(lines) != 1 {
			t.Errorf("%q: %d lines on stderr:\n%s", tc.args, len(lines), errs)
		}
		if strings.Contains(errs, "goroutine") || strings.Contains(errs, "panic") {
			t.Errorf("%q: panic trace:\n%s", tc.args, errs)
		}
	}
	if code, out, _ := runCLI("mask", "--help"); code != 0 || out != "" {
		t.Errorf("mask --help: code %d", code)
	}
}

func TestMaskLoss(t *testing.T) {
	code, out, errs := runCLI("mask", "--kind", "loss", "plw(0.1)", "--text", "我是一个程序员", "--prompt-len", "2", "--pad-to", "8")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	want := []string{
		"loss plw(0.1): loss = sum(w*l)/sum(w); 7 tokens, prompt 2, sum(w) = 5.2",
		"pos\tweight\trole\ttoken",
		"0\t0.1\tprompt\t我",
		"1\t0.1\tprompt\t是",
		"2\t1\tcompletion\t一",
		"3\t1\tcompletion\t个",
		"4\t1\tcompletion\t程",
		"5\t1\tcompletion\t序",
		"6\t1\tcompletion\t员",
		"7\t0\tpad\t<pad>",
	}
	if got := strings.Split(strings.TrimRight(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	_, out, _ = runCLI("mask", "--kind", "loss", "completion", "--text", "to be or not", "--prompt-len", "2")
	if !strings.Contains(out, "0\t0\tprompt\tto\n") || !strings.Contains(out, "3\t1\tcompletion\tnot\n") || !strings.Contains(out, "sum(w) = 2") {
		t.Errorf("completion on words:\n%s", out)
	}
}

// TestMaskStdoutClean runs the command in a fresh process (this test binary, re-executed)
// so that the Go backend is created inside it: GoMLX's notice "Go backend: parallelism
// set to -1" must not reach stdout, which holds only the picture.
func TestMaskStdoutClean(t *testing.T) {
	if os.Getenv("MASKLAB_TEST_SUBPROCESS") == "1" {
		args := os.Args
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMaskStdoutClean$", "--", "mask", "causal & doc", "--q", "6", "--segments", "0,0,0,1,1,2")
	cmd.Env = append(os.Environ(), "MASKLAB_TEST_SUBPROCESS=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if want := "#.....\n##....\n###...\n...#..\n...##.\n.....#\n"; out.String() != want {
		t.Errorf("stdout of a fresh process:\n%q\nwant\n%q", out.String(), want)
	}
}

// Like the audit, "masklab mask" does not draw a document or prefix-LM mask with a
// silent default (one document, prefix 0) that turns it into another mask.
func TestMaskNeedsSideData(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"mask", "causal & doc", "--q", "4"}, []string{`"causal & doc" reads segment ids`, "--segments"}},
		{[]string{"mask", "prefix", "--q", "4"}, []string{`"prefix" reads a prefix length`, "--prefix"}},
		{[]string{"mask", "--kind", "cross", "!doc", "--q", "4"}, []string{"--segments"}},
	} {
		code, out, errs := runCLI(tc.args...)
		if code != 2 || out != "" || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one line", tc.args, code, out, errs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%q: stderr %q lacks %q", tc.args, errs, w)
			}
		}
	}
	// Lengths keep their documented default (all valid): pad without --klen is full.
	if code, out, errs := runCLI("mask", "pad", "--q", "2"); code != 0 || out != "##\n##\n" {
		t.Errorf("mask pad: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, errs := runCLI("mask", "prefix", "--q", "3", "--prefix", "0"); code != 0 || out != "#..\n##.\n###\n" {
		t.Errorf("mask prefix --prefix 0: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// mask --score draws a score modification per head on the mask; the help names every
// atom, the sink and the score names among them.
func TestMaskScore(t *testing.T) {
	code, out, errs := runCLI("mask", "causal", "--score", "alibi", "--heads", "2", "--q", "3")
	// Two heads: slopes 2^-4 and 2^-8.
	want := "# head 0 of 2: alibi on causal\n      0       .       .\n-0.0625       0       .\n -0.125 -0.0625       0\n" +
		"# head 1 of 2: alibi on causal\n        0         .         .\n-0.003906         0         .\n-0.007812 -0.003906         0\n"
	if code != 0 || out != want || errs != "" {
		t.Errorf("mask causal --score alibi --heads 2 --q 3: code %d\n%s\nstderr %s\nwant:\n%s", code, out, errs, want)
	}
	code, out, _ = runCLI("mask", "--score", "t5(8, 16)", "--q", "6", "--head", "0")
	if code != 0 || !strings.HasPrefix(out, "# head 0 of 1: t5(8, 16) on full (learned") || !strings.HasSuffix(out, "4 4 3 2 1 0\n") {
		t.Errorf("mask --score t5(8, 16): code %d\n%s", code, out)
	}
	code, out, _ = runCLI("mask", "causal & (window(1) | sink(1))", "--score", "softcap(3)", "--q", "4")
	if code != 0 || !strings.Contains(out, "a transform of the scores") || !strings.HasSuffix(out, "0 . . .\n0 0 . .\n0 0 0 .\n0 . 0 0\n") {
		t.Errorf("mask ... --score softcap(3): code %d\n%s", code, out)
	}
	if _, k, _ := runCLI("mask", "--kind", "score", "alibi", "--q", "3"); !strings.HasPrefix(k, "# head 0 of 1: alibi on full\n        0 -0.003906 -0.007812\n") {
		t.Errorf("mask --kind score alibi:\n%s", k)
	}
	path := filepath.Join(t.TempDir(), "alibi.png")
	if code, _, errs := runCLI("mask", "causal", "--score", "alibi", "--heads", "4", "--q", "8", "--format", "png", "--out", path); code != 0 {
		t.Errorf("png: code %d, %s", code, errs)
	} else if data, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
		t.Errorf("png: %d bytes, %v", len(data), err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mask", "--score", "alibbi"}, `did you mean "alibi"`},
		{[]string{"mask", "--kind", "cross", "pad", "--score", "alibi"}, "--score modifies decoder self-attention"},
		{[]string{"mask", "--kind", "loss", "all", "--score", "alibi", "--text", "x"}, "--score modifies decoder self-attention"},
	} {
		if code, _, errs := runCLI(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: code %d, stderr %q, want %q", tc.args, code, errs, tc.want)
		}
	}
	_, _, help := runCLI("mask", "--help")
	for _, name := range []string{"sink(n)", "window(w)", "score: alibi", "softcap(c)", "t5(buckets, max_distance[, bidirectional])"} {
		if !strings.Contains(help, name) {
			t.Errorf("mask --help lacks %q", name)
		}
	}
}

// audit --score: a finite score modification leaves the dependence as the mask makes it.
func TestAuditScore(t *testing.T) {
	args := []string{"audit", "--self", "causal & (window(1) | sink(1))", "--q", "6", "--layers", "1"}
	_, base, _ := runCLI(args...)
	code, out, errs := runCLI(append(args, "--score", "alibi + t5(8, 16) + softcap(2)", "--expect", "causal & (window(1) | sink(1))")...)
	if code != 0 || !strings.HasPrefix(out, base) || !strings.Contains(out, "no leaks") {
		t.Errorf("audit --score: code %d\n%s\nstderr %s\nwithout --score:\n%s", code, out, errs, base)
	}
	if code, _, errs := runCLI("audit", "--model", "lstm", "--score", "alibi"); code != 2 || !strings.Contains(errs, "no self-attention") {
		t.Errorf("audit --model lstm --score alibi: code %d, %s", code, errs)
	}
}

// --plan draws the block grid of sparse-aware attention and the path chosen.
func TestMaskPlan(t *testing.T) {
	code, out, errs := runCLI("mask", "causal & doc", "--plan", "--q", "512", "--doc-len", "60")
	want := `plan "causal & doc": Q=512 K=512
key intervals per query row: 1; blocks of 64 queries x 64 keys: 8 x 8 tiles
#.......
##......
.##.....
..##....
...##...
....##..
.....##.
......##
tiles: 15 with an allowed pair, 15 computed (padded to a multiple of 1) of 64: 76.6% skipped
pairs: 15168 allowed of 262144 (5.8%)
path: sparse (skips at least 40% of the tiles)
`
	if code != 0 || out != want || errs != "" {
		t.Fatalf("code %d\nstdout:\n%s\nstderr: %s\nwant stdout:\n%s", code, out, errs, want)
	}
	code, out, _ = runCLI("mask", "causal & random(0.1)", "--plan")
	if code != 0 || !strings.Contains(out, "dense path: ") || !strings.Contains(out, "Q=512") {
		t.Fatalf("random mask: code %d, stdout %q", code, out)
	}
	code, _, errs = runCLI("mask", "doc", "--plan", "--doc-len", "0")
	if code == 0 || !strings.Contains(errs, "--doc-len must be >= 1") {
		t.Fatalf("--doc-len 0: code %d, stderr %q", code, errs)
	}
}
