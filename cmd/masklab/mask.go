package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
	"github.com/masklab/masklab/pkg/plots"
)

func init() {
	register(&command{
		name:    "mask",
		summary: "draw an attention mask (self, cross) for one example, or show a loss mask's per-token weights",
		usage: `mask SPEC [--kind self|cross] [--q N] [--k N] [--qlen N] [--klen N] [--prefix N]
                    [--segments 0,0,1,...] [--seed N] [--eval] [--heads H --head I]
                    [--format ascii|png|svg|pdf] [--out FILE]
       masklab mask SPEC --plan [--block N] [--doc-len N] [--q N] ... (as above)
       masklab mask [SPEC] --score SCORE [--heads H] [--head I] [--q N] ... (as above)
       masklab mask --kind loss SPEC --text TEXT [--prompt-len N] [--pad-to T]

SPEC examples: "causal & doc", "pad & band(2)", "!(causal | window(1))", "plw(0.1)".
ascii prints exactly Q lines of K characters: '#' where the query (row) may attend to
the key (column), '.' where it may not. Random atoms (random(p), keydrop(p)) are drawn
from --seed as in a training step; --eval shows them off, as at evaluation. A mask that
reads segment ids or a prefix length (doc, prefix) needs --segments or --prefix; lengths
default to all valid.

--score draws a score modification (soft mask: a bias added to the attention scores
before the softmax, as masks.score in a config) per head, on the mask SPEC (default
full): ascii prints each head's values ('.' where SPEC forbids the pair), png/svg/pdf
one heatmap per head (or --head's) on one colour scale. A learned table (t5) is drawn
as each pair's bucket (its row of the table); softcap transforms scores rather than
adding to them, so on zero scores it shows 0.
Example: masklab mask causal --score alibi --heads 4 --q 8 --format png --out alibi.png

--plan shows how attention with SPEC runs on the example (--q defaults to 512 there):
whether the mask is a union of key intervals per query row, and if so the block grid of
sparse-aware attention, one line per block of --block queries (default 64), one
character per block of --block keys: '#' computed (the tile holds an allowed pair),
'.' skipped. It ends with the fraction of tiles skipped and the path chosen (sparse when at least
40% of the tiles are skipped). --doc-len N gives segment ids of documents of N positions
(packed sequences), instead of --segments.
Example: masklab mask "causal & doc" --plan --q 512 --doc-len 60
Names: ` + namesLine(mask.KindSelf) + `; loss: ` + namesLine(mask.KindLoss) + `; score: ` + namesLine(mask.KindScore) + `.`,
		run: runMask,
	})
}

func namesLine(k mask.Kind) string {
	var parts []string
	for _, i := range mask.Infos(k) {
		parts = append(parts, i.Usage())
	}
	return strings.Join(parts, ", ")
}

func runMask(args []string, stdout, stderr io.Writer) error {
	c := commands["mask"]
	fs := newFlags(c, stderr)
	kindFlag := fs.String("kind", "self", "kind of spec: self, cross (attention masks), loss, or score (as --score on the full mask)")
	q := fs.Int("q", 8, "number of queries (rows)")
	k := fs.Int("k", 0, "number of keys (columns); default --q")
	qlen := fs.Int("qlen", 0, "valid query length, >= 1 (default --q)")
	klen := fs.Int("klen", 0, "valid key length, >= 1 (default --k)")
	prefix := fs.Int("prefix", 0, "prefix length for prefix-LM masks")
	segments := fs.String("segments", "", "segment (document) id of each position, comma-separated, e.g. 0,0,1,1 (needs q == k)")
	seed := fs.Uint64("seed", 0, "seed for random atoms")
	eval := fs.Bool("eval", false, "evaluation mode: random atoms allow everything")
	heads := fs.Int("heads", 1, "number of heads")
	head := fs.Int("head", 0, "which head to draw (for per-head masks)")
	format := fs.String("format", "ascii", "output format: ascii, png, svg or pdf")
	out := fs.String("out", "", "output file (required for png, svg and pdf; ascii goes to stdout when empty)")
	text := fs.String("text", "", "loss kind: the target text (one token per CJK character, words otherwise)")
	promptLen := fs.Int("prompt-len", 0, "loss kind: number of prompt tokens at the start of the target")
	padTo := fs.Int("pad-to", 0, "loss kind: padded target length (default the number of tokens)")
	plan := fs.Bool("plan", false, "show the block-sparse attention plan of SPEC on the example instead of its picture")
	block := fs.Int("block", layers.DefaultSparseBQ, "--plan: block size (queries and keys)")
	docLen := fs.Int("doc-len", 0, "segment ids of packed documents of N positions each (instead of --segments)")
	scoreSpec := fs.String("score", "", "a score modification to draw per head on the mask SPEC (e.g. alibi, t5(32, 128), alibi + softcap(30))")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["score"] && len(pos) == 0 {
		pos = []string{"full"}
	}
	if len(pos) != 1 {
		return usageError("want exactly one SPEC argument, got %d (%q); quote specs with spaces", len(pos), pos)
	}
	spec := pos[0]
	kind, err := mask.ParseKind(*kindFlag)
	if err != nil {
		return usageError("--kind: %v", err)
	}
	if kind == mask.KindScore { // "--kind score SPEC" draws SPEC on the full mask
		if set["score"] {
			return usageError("--kind score takes the score modification as SPEC; --score draws one on an attention mask SPEC")
		}
		*scoreSpec, spec, kind, set["score"] = spec, "full", mask.KindSelf, true
	}
	if set["score"] && kind != mask.KindSelf {
		return usageError("--score modifies decoder self-attention: it takes --kind self, not %s", kind)
	}
	switch kind {
	case mask.KindLoss:
		for _, n := range []string{"q", "k", "qlen", "klen", "prefix", "segments", "seed", "eval", "heads", "head", "format", "out"} {
			if set[n] {
				return usageError("--%s does not apply to --kind loss", n)
			}
		}
		return showLoss(stdout, spec, *text, *promptLen, *padTo, set["pad-to"])
	case mask.KindInput:
		return usageError("--kind input: use \"masklab corrupt SPEC --text ...\" for decoder-input corruption")
	}
	for _, n := range []string{"text", "prompt-len", "pad-to"} {
		if set[n] {
			return usageError("--%s applies only to --kind loss", n)
		}
	}

	var m mask.Attention
	if kind == mask.KindCross {
		m, err = mask.ParseCross(spec)
	} else {
		m, err = mask.ParseAttention(spec)
	}
	if err != nil {
		return usageError("%v", err)
	}
	if set["doc-len"] {
		if set["segments"] {
			return usageError("give --segments or --doc-len, not both")
		}
		if *docLen < 1 {
			return usageError("--doc-len must be >= 1, got %d", *docLen)
		}
		if set["plan"] && !set["q"] {
			*q = planQ
		}
		if set["k"] && *k != *q {
			return usageError("--doc-len needs --q == --k (one id per position for queries and keys), got q=%d k=%d", *q, *k)
		}
		ids := make([]string, *q)
		for i := range ids {
			ids[i] = strconv.Itoa(i / *docLen)
		}
		*segments, set["segments"] = strings.Join(ids, ","), true
	}
	if err := checkNeeds(strconv.Quote(spec), m, set); err != nil {
		return err
	}
	if *plan {
		for _, n := range []string{"score", "format", "out", "heads", "head", "seed", "eval"} {
			if set[n] {
				return usageError("--%s does not apply to --plan", n)
			}
		}
		if !set["q"] {
			*q = planQ
		}
	}
	// Unset sizes take their defaults; a size given explicitly must be positive.
	for _, n := range []struct {
		name string
		v    *int
	}{{"k", k}, {"qlen", qlen}, {"klen", klen}} {
		if !set[n.name] {
			*n.v = -1
		} else if *n.v < 1 {
			return usageError("--%s must be >= 1, got %d", n.name, *n.v)
		}
	}
	if *k < 0 {
		*k = 0
	}
	ex, err := exampleFromFlags(*q, *k, *qlen, *klen, *prefix, *segments, *heads, *head)
	if err != nil {
		return err
	}
	if *plan {
		return showPlan(stdout, m, ex, *block)
	}
	var score mask.Score
	if set["score"] {
		if score, err = mask.ParseScore(*scoreSpec); err != nil {
			return usageError("--score: %v", err)
		}
	}
	if !m.PerHead() && !score.PerHead() {
		// Every head is the same: evaluate one, whatever --heads says.
		ex.Heads, *head = 1, 0
	}
	if cells := ex.Q * ex.K * ex.Heads; cells > maxCells {
		return usageError("--q %d x --k %d x %d heads is %d cells; a picture is at most %d (4096 x 4096)", ex.Q, ex.K, ex.Heads, cells, maxCells)
	}
	ex.Seed = *seed
	ex.Training = !*eval
	switch *format {
	case "ascii", "png", "svg", "pdf":
	default:
		return usageError("--format must be ascii, png, svg or pdf, got %q", *format)
	}
	if *format != "ascii" && *out == "" {
		return usageError("--format %s needs --out FILE", *format)
	}

	grid, err := m.Grid(ex)
	if err != nil {
		return err
	}
	if set["score"] {
		heads := []int{*head}
		if !set["head"] {
			heads = heads[:0]
			for h := range ex.Heads {
				heads = append(heads, h)
			}
		}
		return showScore(stdout, score, m, ex, grid, heads, *format, *out)
	}
	g := grid[*head]
	if *format == "ascii" {
		if *out == "" {
			_, err := io.WriteString(stdout, mask.ASCII(g))
			return err
		}
		return os.WriteFile(*out, []byte(mask.ASCII(g)), 0o644)
	}
	rows := make([]string, ex.Q)
	for i := range rows {
		rows[i] = strconv.Itoa(i)
	}
	cols := make([]string, ex.K)
	for i := range cols {
		cols[i] = strconv.Itoa(i)
	}
	title := m.String()
	if kind == mask.KindCross {
		title = "cross: " + title
	}
	return writeMaskImage(title, g, rows, cols, *format, *out)
}

// maxCells bounds the size of a picture (queries x keys x heads evaluated), so that a
// typo such as --q 100000 is refused at once instead of exhausting memory.
const maxCells = 4096 * 4096

// exampleFromFlags checks the sizes and side data and builds the example to draw.
func exampleFromFlags(q, k, qlen, klen, prefix int, segments string, heads, head int) (mask.Example, error) {
	var ex mask.Example
	if q <= 0 {
		return ex, usageError("--q must be > 0, got %d", q)
	}
	if k == 0 {
		k = q
	}
	if k < 0 {
		return ex, usageError("--k must be > 0, got %d", k)
	}
	if q > 4096 || k > 4096 {
		return ex, usageError("--q and --k must be at most 4096 for a picture, got q=%d k=%d", q, k)
	}
	if qlen < 0 {
		qlen = q
	}
	if klen < 0 {
		klen = k
	}
	if qlen > q {
		return ex, usageError("--qlen %d is longer than --q %d", qlen, q)
	}
	if klen > k {
		return ex, usageError("--klen %d is longer than --k %d", klen, k)
	}
	if prefix < 0 || prefix > q {
		return ex, usageError("--prefix %d outside 0..%d (the query length)", prefix, q)
	}
	if heads < 1 || heads > 64 {
		return ex, usageError("--heads must be in 1..64, got %d", heads)
	}
	if head < 0 || head >= heads {
		return ex, usageError("--head %d outside 0..%d", head, heads-1)
	}
	ex = mask.Example{Q: q, K: k, QueryLen: qlen, KeyLen: klen, PrefixLen: prefix, Heads: heads}
	if segments != "" {
		if q != k {
			return ex, usageError("--segments needs --q == --k (one id per position for queries and keys), got q=%d k=%d", q, k)
		}
		ids, err := parseSegments(segments)
		if err != nil {
			return ex, err
		}
		if len(ids) != q {
			return ex, usageError("--segments has %d ids, want one per position (%d)", len(ids), q)
		}
		ex.Segments = ids
	}
	// Zero valid lengths would read as "full" in mask.Example; an empty example is not a picture.
	if qlen == 0 || klen == 0 {
		return ex, usageError("--qlen and --klen must be > 0, got qlen=%d klen=%d", qlen, klen)
	}
	return ex, nil
}

// parseSegments parses --segments: comma-separated integer segment ids.
func parseSegments(s string) ([]int, error) {
	var ids []int
	for i, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, usageError("--segments: id %d is %q, not an integer", i+1, p)
		}
		ids = append(ids, v)
	}
	return ids, nil
}

// showLoss prints a loss strategy's per-token weights for one target text.
func showLoss(stdout io.Writer, spec, text string, promptLen, padTo int, padSet bool) error {
	l, err := mask.ParseLoss(spec)
	if err != nil {
		return usageError("%v", err)
	}
	toks := tokenize(text)
	if len(toks) == 0 {
		return usageError("--kind loss needs --text with at least one token")
	}
	if promptLen < 0 || promptLen > len(toks) {
		return usageError("--prompt-len %d outside 0..%d (the number of tokens)", promptLen, len(toks))
	}
	t := len(toks)
	if padSet {
		if padTo < len(toks) || padTo > 4096 {
			return usageError("--pad-to %d outside %d..4096", padTo, len(toks))
		}
		t = padTo
	}
	w := l.Weights(t, len(toks), promptLen)
	var sum float64
	for _, x := range w {
		sum += float64(x)
	}
	fmt.Fprintf(stdout, "loss %s: loss = sum(w*l)/sum(w); %d tokens, prompt %d, sum(w) = %s\n",
		l, len(toks), promptLen, strconv.FormatFloat(sum, 'g', 6, 64))
	fmt.Fprintf(stdout, "pos\tweight\trole\ttoken\n")
	for i, x := range w {
		tok, role := datasets.PadToken, "pad"
		if i < len(toks) {
			tok, role = toks[i], "completion"
			if i < promptLen {
				role = "prompt"
			}
		}
		fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\n", i, strconv.FormatFloat(float64(x), 'g', 6, 32), role, tok)
	}
	return nil
}

// tokenize splits text the way masklab's datasets do (one token per CJK character,
// words otherwise).
func tokenize(text string) []string { return datasets.Tokenize(text) }

// showScore draws a score modification on the mask (grid, per head) for the given heads:
// ascii prints each head's values under a "# head h of H" line ('.' where the mask
// forbids the pair); png, svg and pdf draw one heatmap per head on one colour scale.
func showScore(stdout io.Writer, score mask.Score, m mask.Attention, ex mask.Example, grid [][][]bool, heads []int, format, out string) error {
	v, err := score.View(ex)
	if err != nil {
		return err
	}
	maskOf := func(h int) [][]bool { return grid[min(h, len(grid)-1)] }
	note := ""
	switch {
	case v.Learned:
		note = " (learned: each pair shows its bucket, the row of the table)"
	case v.Transform:
		note = " (a transform of the scores, shown on zero scores)"
	}
	title := fmt.Sprintf("%s on %s", v.Spec, m)
	if format == "ascii" {
		var b strings.Builder
		for _, h := range heads {
			fmt.Fprintf(&b, "# head %d of %d: %s%s\n", h, ex.Heads, title, note)
			b.WriteString(mask.ScoreASCII(v.Values[h], maskOf(h)))
		}
		if out == "" {
			_, err := io.WriteString(stdout, b.String())
			return err
		}
		return os.WriteFile(out, []byte(b.String()), 0o644)
	}
	var values [][][]float64
	var titles []string
	for _, h := range heads {
		values = append(values, v.Values[h])
		titles = append(titles, fmt.Sprintf("head %d", h))
	}
	if m.PerHead() && len(heads) > 1 {
		// The heatmaps of one figure share one mask.
		return usageError("--score on a mask that differs between heads: draw one head at a time with --head")
	}
	fig, err := plots.ScoreHeads(title+note, values, maskOf(heads[0]), titles, min(len(values), 4))
	if err != nil {
		return err
	}
	return writeFigure(fig, fig.SizeFor(plots.DoubleColumn.Width), format, out)
}

// planQ is --q's default with --plan: long enough for blocks to matter.
const planQ = 512

// showPlan prints how sparse-aware attention would run mask m on the example: the block
// grid of query blocks by key blocks, what it skips and the path PlanSparse chooses.
func showPlan(stdout io.Writer, m mask.Attention, ex mask.Example, block int) error {
	if block < 1 || block > 4096 {
		return usageError("--block must be in 1..4096, got %d", block)
	}
	side := mask.HostSide{B: 1, Q: ex.Q, K: ex.K,
		QueryLen: []int32{int32(ex.QueryLen)}, KeyLen: []int32{int32(ex.KeyLen)}, PrefixLen: []int32{int32(ex.PrefixLen)}}
	if ex.Segments != nil {
		for _, id := range ex.Segments {
			side.QuerySeg = append(side.QuerySeg, int32(id))
		}
	} else {
		side.QuerySeg = make([]int32, ex.Q) // one segment, as the picture's default
	}
	opts := layers.SparseOptions{BQ: block, BK: block}
	always := opts
	always.MinSkipped = -1
	p, dense, err := layers.PlanSparse(m, side, always)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plan %q: Q=%d K=%d\n", m.String(), ex.Q, ex.K)
	if p == nil {
		fmt.Fprintf(stdout, "dense path: %s\n", dense)
		return nil
	}
	b := p.Blocks
	fmt.Fprintf(stdout, "key intervals per query row: %d; blocks of %d queries x %d keys: %d x %d tiles\n", p.Rows.N, b.BQ, b.BK, b.NQ, b.NK)
	io.WriteString(stdout, b.Grid(0))
	fmt.Fprintf(stdout, "tiles: %d with an allowed pair, %d computed (padded to a multiple of %d) of %d: %.1f%% skipped\n",
		b.Needed, b.Computed, mask.TileQuantum(b.Needed), b.Dense(), 100*b.Skipped())
	fmt.Fprintf(stdout, "pairs: %d allowed of %d (%.1f%%)\n", b.Pairs, int64(ex.Q)*int64(ex.K), 100*float64(b.Pairs)/float64(int64(ex.Q)*int64(ex.K)))
	chosen, why, err := layers.PlanSparse(m, side, opts)
	switch {
	case err != nil:
		return err
	case chosen != nil:
		fmt.Fprintf(stdout, "path: sparse (skips at least %.0f%% of the tiles)\n", 100*layers.DefaultMinSkipped)
	default:
		fmt.Fprintf(stdout, "path: dense (%s)\n", why)
	}
	return nil
}
