package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

func init() {
	register(&command{
		name:    "audit",
		summary: "measure which inputs really influence which outputs of a randomly initialised model (catches leaking masks)",
		usage: `audit [--model decoder|seq2seq|lstm] [--self SPEC] [--cross SPEC] [--enc SPEC]
                     [--layers N] [--what self|cross] [--q N] [--k N] [--klen N]
                     [--segments 0,0,1,...] [--prefix N] [--seed N] [--expect SPEC]
                     [--score SCORE]

Prints the dependence picture in the format of "masklab mask": exactly Q lines of K
characters, '#' where output position q (row) depends on input position k (column),
'.' where it provably does not. The audit is exact: it differentiates each output
position's logits with respect to every input embedding of an actual model; a masked
position contributes an exact zero. Rows are decoder positions; columns are decoder
inputs (--what self) or source tokens (--what cross, seq2seq and lstm). With L layers
of self mask M a Transformer decoder shows (I|M)^L: the residual path keeps each
position's own input. An LSTM decoder is causal by construction and takes no --self.
Example: masklab audit --self "causal & doc" --q 6 --segments 0,0,0,1,1,2 --layers 2

--expect SPEC makes the audit a check: SPEC is the mask the measured dependence must
stay within, end to end (so with L layers of window(w), expect window(L*w); the
diagonal is always seen). After the picture and a blank line, stdout lists every leak
-- a (query, key) the model depends on that SPEC forbids -- and then, as information
only, the pairs SPEC allows that the model does not see; the exit status is 1 when
there is a leak. A mask that reads segment ids or a prefix length (doc, prefix) needs
--segments or --prefix: there is no silent default.
Example: masklab audit --self "!causal" --expect causal

--score SCORE adds a score modification (masks.score: alibi, t5(32, 128), softcap(50),
...) to the decoder self-attention. A finite score modification only reweights the
pairs the mask allows, so it leaves the dependence as it is: a masked pair stays
exactly independent.`,
		run: runAudit,
	})
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	c := commands["audit"]
	fs := newFlags(c, stderr)
	kind := fs.String("model", layers.KindDecoder, "model: decoder (decoder-only LM), seq2seq (Transformer encoder-decoder) or lstm")
	self := fs.String("self", "", "decoder self-attention mask (default causal; not for lstm)")
	cross := fs.String("cross", "", "cross-attention mask (seq2seq, lstm; default pad)")
	enc := fs.String("enc", "", "encoder self-attention mask (seq2seq; default pad)")
	nLayers := fs.Int("layers", 1, "number of layers (decoder, and encoder for seq2seq and lstm), 1..8")
	what := fs.String("what", layers.AuditSelf, "columns: self (decoder inputs) or cross (source tokens)")
	q := fs.Int("q", 8, "decoder positions (rows), 1.."+strconv.Itoa(layers.MaxAuditSize))
	k := fs.Int("k", 0, "columns: source positions for --what cross (default --q); must equal --q for self")
	klen := fs.Int("klen", 0, "valid length of the columns' sequence (decoder inputs or source; default all)")
	segments := fs.String("segments", "", "document id of each decoder position, comma-separated, e.g. 0,0,1,1")
	prefix := fs.Int("prefix", 0, "prefix length for prefix-LM masks")
	seed := fs.Int64("seed", 1, "initialisation seed")
	expectSpec := fs.String("expect", "", "the mask the dependence must stay within (e.g. causal): list every (query, key) leaking past it, exit 1 if any")
	scoreSpec := fs.String("score", "", "score modification of the decoder self-attention, e.g. alibi or t5(32, 128) (not for lstm)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("audit takes no arguments, got %q (masks go in --self, --cross, --enc)", pos)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	a := layers.Audit{Kind: *kind, Layers: *nLayers, What: *what, Q: *q, K: *k, KeyLen: *klen, Prefix: *prefix, Seed: *seed}
	if *nLayers < 1 {
		return usageError("--layers must be in 1..8, got %d", *nLayers)
	}
	if set["klen"] && *klen <= 0 {
		return usageError("--klen must be > 0, got %d", *klen)
	}
	for _, m := range []struct {
		flag, spec string
		parse      func(string) (mask.Attention, error)
		dst        *mask.Attention
	}{
		{"self", *self, mask.ParseAttention, &a.Self},
		{"cross", *cross, mask.ParseCross, &a.Cross},
		{"enc", *enc, mask.ParseAttention, &a.Enc},
	} {
		if !set[m.flag] {
			continue
		}
		if *m.dst, err = m.parse(m.spec); err != nil {
			return usageError("--%s: %v", m.flag, err)
		}
		if err := checkNeeds(fmt.Sprintf("--%s %q", m.flag, m.spec), *m.dst, set); err != nil {
			return err
		}
	}
	var expect mask.Attention
	if set["expect"] {
		parse := mask.ParseAttention
		if *what == layers.AuditCross {
			parse = mask.ParseCross
		}
		if expect, err = parse(*expectSpec); err != nil {
			return usageError("--expect: %v", err)
		}
		if err := checkNeeds(fmt.Sprintf("--expect %q", *expectSpec), expect, set); err != nil {
			return err
		}
		if expect.PerHead() {
			return usageError("--expect %q differs between heads; the audit measures the union of the heads: expect a mask shared by all heads", *expectSpec)
		}
	}
	if set["score"] {
		if a.Score, err = mask.ParseScore(*scoreSpec); err != nil {
			return usageError("--score: %v", err)
		}
	}
	if set["cross"] && *kind == layers.KindDecoder {
		return usageError("--cross: a decoder-only model has no cross-attention (use --model seq2seq or lstm)")
	}
	if set["enc"] && *kind != layers.KindSeq2Seq {
		return usageError("--enc: only the seq2seq model has an encoder self-attention mask")
	}
	if *segments != "" {
		if a.Segments, err = parseSegments(*segments); err != nil {
			return err
		}
	}
	if err := a.Check(); err != nil {
		return usageError("%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "layers: "), "audit: "))
	}

	be, err := backend.New(backend.Resolve("", ""))
	if err != nil {
		return err
	}
	dep, err := a.Run(be)
	if err != nil {
		return err
	}
	if _, err = io.WriteString(stdout, mask.ASCII(dep)); err != nil || expect.IsZero() {
		return err
	}

	// The expectation on the audit's example: the same sizes, valid length, prefix and
	// segments (for self columns; cross columns are source positions), random atoms off.
	ex := mask.Example{Q: a.Q, K: len(dep[0]), KeyLen: *klen, PrefixLen: *prefix}
	if *what != layers.AuditCross {
		ex.QueryLen = *klen // the decoder inputs are the columns: queries past klen are padding too
		ex.Segments = a.Segments
	}
	grid, err := expect.GridOn(be, ex)
	if err != nil {
		return fmt.Errorf("--expect: %w", err)
	}
	leaks, unseen := compareDependence(dep, grid[0])
	spec := expect.String()
	fmt.Fprintln(stdout)
	if n := countPairs(leaks); n == 0 {
		fmt.Fprintf(stdout, "expect %s: no leaks: every dependence of the model is allowed\n", spec)
	} else {
		fmt.Fprintf(stdout, "expect %s: %d leak%s: the model depends on these (query, key) pairs, which %s forbids:\n",
			spec, n, textutil.Plural(n), spec)
		writePairs(stdout, leaks)
	}
	if n := countPairs(unseen); n > 0 {
		fmt.Fprintf(stdout, "expect %s: %d pair%s allowed but not seen (information, not leaks: the model uses less than %s allows):\n",
			spec, n, textutil.Plural(n), spec)
		writePairs(stdout, unseen)
	}
	if n := countPairs(leaks); n > 0 {
		return fmt.Errorf("%d (query, key) pair%s leak past --expect %q (listed on stdout)", n, textutil.Plural(n), spec)
	}
	return nil
}

// compareDependence returns, for each query row, the keys the model depends on that
// the expectation forbids (leaks) and the keys it allows that the model does not see.
func compareDependence(dep, expect [][]bool) (leaks, unseen [][]int) {
	leaks, unseen = make([][]int, len(dep)), make([][]int, len(dep))
	for q, row := range dep {
		for k, d := range row {
			switch {
			case d && !expect[q][k]:
				leaks[q] = append(leaks[q], k)
			case !d && expect[q][k]:
				unseen[q] = append(unseen[q], k)
			}
		}
	}
	return leaks, unseen
}

func countPairs(rows [][]int) int {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	return n
}

// writePairs lists (query, key) pairs one query per line: "  query 2: keys 0, 1".
func writePairs(w io.Writer, rows [][]int) {
	for q, keys := range rows {
		if len(keys) == 0 {
			continue
		}
		ks := make([]string, len(keys))
		for i, k := range keys {
			ks[i] = strconv.Itoa(k)
		}
		fmt.Fprintf(w, "  query %d: key%s %s\n", q, textutil.Plural(len(keys)), strings.Join(ks, ", "))
	}
}

// checkNeeds refuses a mask that reads side data the command line does not give, where
// the default would quietly make it another mask: segment ids (one document: "causal &
// doc" is then plain causal) or a prefix length (0: "prefix" is then causal). Lengths
// keep their default, all valid, which is what an unpadded example is. what names the
// mask as the user gave it, e.g. `--self "causal & doc"`.
func checkNeeds(what string, m mask.Attention, set map[string]bool) error {
	for _, n := range m.Needs() {
		switch {
		case n == mask.NeedSegments && !set["segments"]:
			return usageError("%s reads segment ids: give --segments, a document id per position (e.g. --segments 0,0,0,1,1,2); "+
				"without it every position would be one document", what)
		case n == mask.NeedPrefix && !set["prefix"]:
			return usageError("%s reads a prefix length: give --prefix N; without it the prefix would be 0", what)
		}
	}
	return nil
}
