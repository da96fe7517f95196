package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/mask"
)

func init() {
	register(&command{
		name:    "corrupt",
		summary: "show what a decoder-input corruption strategy does to one tokenized example",
		usage: `corrupt SPEC --text TEXT [--source TEXT] [--seed N] [--step N] [--corpus FILE]

SPEC is an input strategy: ` + namesLine(mask.KindInput) + `.
The decoder input is <bos> followed by the tokens of --text (one token per CJK
character, words otherwise); BOS is never hidden. Hidden tokens are shown in [brackets]
and replaced by <mask> (or <unk> for drop) in the corrupted input. interactive(copy, p)
reads --source; interactive(freq, f) counts token frequencies in --corpus (a text file,
one example per line; default: --text and --source themselves).`,
		run: runCorrupt,
	})
}

func runCorrupt(args []string, stdout, stderr io.Writer) error {
	c := commands["corrupt"]
	fs := newFlags(c, stderr)
	text := fs.String("text", "", "the target text whose decoder input is corrupted")
	source := fs.String("source", "", "the example's source text (for interactive(copy, p))")
	seed := fs.Uint64("seed", 0, "run seed")
	step := fs.Int("step", 0, "training step (schedules ramp over it)")
	index := fs.Int("index", 0, "the example's index in its batch (part of its random stream)")
	corpusFile := fs.String("corpus", "", "text file for token frequencies (interactive(freq, f))")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one SPEC argument, got %d (%q); quote specs with spaces", len(pos), pos)
	}
	cor, err := mask.ParseCorruption(pos[0])
	if err != nil {
		return usageError("%v", err)
	}
	if *step < 0 {
		return usageError("--step must be >= 0, got %d", *step)
	}
	if *index < 0 {
		return usageError("--index must be >= 0, got %d", *index)
	}
	toks := tokenize(*text)
	if len(toks) == 0 {
		return usageError("--text must have at least one token")
	}
	src := tokenize(*source)

	var corpusToks []string
	if *corpusFile != "" {
		f, err := os.Open(*corpusFile)
		if err != nil {
			return fmt.Errorf("--corpus: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			corpusToks = append(corpusToks, tokenize(sc.Text())...)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("--corpus %s: %w", *corpusFile, err)
		}
	}
	v, err := mask.ShowCorruption(cor, toks, src, corpusToks, showTokens, *seed, *step, *index)
	if err != nil {
		return usageError("%v", err)
	}
	var marked, where []string
	for p, t := range v.Tokens {
		if v.Hidden[p] {
			marked = append(marked, "["+t+"]")
			where = append(where, fmt.Sprint(p))
		} else {
			marked = append(marked, t)
		}
	}
	fmt.Fprintf(stdout, "input %s (seed %d, step %d): %d of %d positions after <bos> hidden", cor, *seed, *step, len(where), len(v.Tokens)-1)
	if len(where) > 0 {
		fmt.Fprintf(stdout, " (positions %s)", strings.Join(where, ", "))
	}
	fmt.Fprintln(stdout)
	if len(src) > 0 {
		fmt.Fprintf(stdout, "source:    %s\n", strings.Join(src, " "))
	}
	fmt.Fprintf(stdout, "tokens:    %s\n", strings.Join(marked, " "))
	fmt.Fprintf(stdout, "corrupted: %s\n", strings.Join(v.Corrupted, " "))
	return nil
}

// showTokens gives pictures of input corruption the text tasks' special tokens and tokenizer.
var showTokens = mask.ShowTokens{BOS: datasets.BosToken, Mask: datasets.MaskToken, Unk: datasets.UnkToken, Split: datasets.Tokenize}
