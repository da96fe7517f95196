package main

import (
	"flag"
	"io"
	"strconv"
	"strings"

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
                     [--segments 0,0,1,...] [--prefix N] [--seed N]

Prints the dependence picture in the format of "masklab mask": exactly Q lines of K
characters, '#' where output position q (row) depends on input position k (column),
'.' where it provably does not. The audit is exact: it differentiates each output
position's logits with respect to every input embedding of an actual model; a masked
position contributes an exact zero. Rows are decoder positions; columns are decoder
inputs (--what self) or source tokens (--what cross, seq2seq and lstm). With L layers
of self mask M a Transformer decoder shows (I|M)^L: the residual path keeps each
position's own input. An LSTM decoder is causal by construction and takes no --self.
Example: masklab audit --self "causal & doc" --q 6 --segments 0,0,0,1,1,2 --layers 2`,
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
	_, err = io.WriteString(stdout, mask.ASCII(dep))
	return err
}
