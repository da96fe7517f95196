// Package check is the pipeline linter behind "masklab check": it builds the batches a
// run would train on and reports, by stable name, the silent mask bugs found in them.
package check

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/experiments"
)

// The check names: stable, for Options.Allow, a sweep's check: {allow: [...]} and the
// JSON output. A wrong mask rarely crashes: the loss still falls and the model is quietly
// worse. Config builds the real batches of a run config (experiments.Config.Batches: the
// task or user file, packing, corrupted decoder inputs, loss weights, segment ids and
// positions, the parsed masks), evaluates the attention masks on them on the host with
// the graph code training uses, and reports:
//
//   - zero-supervision: documents (as they sit in a row) or batches with no trained
//     token, e.g. a completion marker that never matches, or a completion cut from its
//     prompt by concat packing; per-document and per-batch counts, the prompt's share;
//   - degenerate-loss-mask: loss weights all zero, or all one although masks.loss asks
//     for a prompt/completion distinction (an LM task has no prompts);
//   - cross-document: in packed rows, a token that can see another document, from the
//     mask over the model's layers and, with Options.Model, measured on the actual model
//     by pkg/layers' exact dependency audit;
//   - future-leakage: a trained position that can see a later token of its document;
//   - positions: position ids that do not restart at each document of a packed row;
//   - fully-masked-rows: query rows with no allowed key (a valid token that attends to
//     nothing fails; padding rows and all-padding batch rows are named), and, with
//     Options.Model, that the model gives them zero attention and finite gradients;
//   - padding-attended: valid queries that attend to padding keys (a warning);
//   - causal-alignment: which alignment a causal mask has where query and key lengths
//     differ (top-left causal, bottom-right causal_br).
//
// A failed check makes Report.OK false unless Options.Allow names it (status Allowed).
// Sweep checks every cell of a sweep file, whose check: {allow: [...]} section declares
// what an ablation does on purpose.
const (
	ZeroSupervision    = "zero-supervision"
	DegenerateLossMask = "degenerate-loss-mask"
	CrossDocument      = "cross-document"
	FutureLeakage      = "future-leakage"
	Positions          = "positions"
	FullyMaskedRows    = "fully-masked-rows"
	PaddingAttended    = "padding-attended"
	CausalAlignment    = "causal-alignment"
)

// Names lists every check, in the order reports list them.
var Names = []string{ZeroSupervision, DegenerateLossMask, CrossDocument, FutureLeakage, Positions,
	FullyMaskedRows, PaddingAttended, CausalAlignment}

// Status is the outcome of one check.
type Status string

// The statuses. Only Fail makes a report fail; Allowed is a failure that Options.Allow
// (or the sweep file) declares intended.
const (
	Pass    Status = "pass"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Allowed Status = "allowed"
)

// Result is one check's outcome.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report is what Config and Batches find. Its JSON form is what "masklab check --json"
// prints: {"ok": ..., "checks": [{"name", "status", "detail"}, ...]}.
type Report struct {
	OK     bool     `json:"ok"`
	Checks []Result `json:"checks"`
	// Scope says what was checked, e.g. "task reverse (seq2seq), 4 train batches of 32 rows".
	Scope string `json:"scope,omitempty"`
	// Example is one batch row token by token, for a picture (nil without batches).
	Example *Example `json:"-"`
}

// Result returns the result of the named check (ok false when there is none).
func (r *Report) Result(name string) (Result, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Result{}, false
}

// Failed lists the names of the failed checks.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.Name)
		}
	}
	return out
}

// DefaultBatches is how many batches Config builds when Options.Batches is 0.
const DefaultBatches = 4

// Options choose what is checked.
type Options struct {
	// Batches is the number of batches built and checked (0 = DefaultBatches).
	Batches int
	// Split is the split they come from: "train" (the default: the first training
	// steps) or "valid"/"test" (in order, as evaluation reads them).
	Split string
	// Allow names checks whose failure is intended; they report Allowed.
	Allow []string
	// Model also runs the actual model (randomly initialised): the exact dependency
	// audit of a packed row (cross-document), and a forward and backward pass over rows
	// with fully masked attention rows (zero attention, finite loss and gradients).
	Model bool
}

// ValidateAllow returns an error naming the first unknown check name of an allow list,
// with the closest known one.
func ValidateAllow(names []string) error {
	for _, n := range names {
		if !contains(Names, n) {
			msg := fmt.Sprintf("unknown check %q (known: %s)", n, strings.Join(Names, ", "))
			if near := textutil.Closest(n, Names); near != "" {
				msg = fmt.Sprintf("unknown check %q (did you mean %q?; known: %s)", n, near, strings.Join(Names, ", "))
			}
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}

// Config checks a run config: it builds opts.Batches batches of opts.Split as the run
// would (experiments.Config.Batches) and checks them (Batches).
func Config(cfg *experiments.Config, opts Options) (*Report, error) {
	if err := ValidateAllow(opts.Allow); err != nil {
		return nil, err
	}
	n := opts.Batches
	if n <= 0 {
		n = DefaultBatches
	}
	split := opts.Split
	if split == "" {
		split = "train"
	}
	bs, err := cfg.Batches(split, n)
	if err != nil {
		return nil, err
	}
	opts.Split = split
	return Batches(bs, cfg.Seed, opts)
}

// Batches checks batches already built (experiments.Config.Batches, possibly edited to
// test a broken pipeline); seed seeds the model of Options.Model and random masks.
func Batches(bs *experiments.Batches, seed int64, opts Options) (*Report, error) {
	if err := ValidateAllow(opts.Allow); err != nil {
		return nil, err
	}
	if len(bs.List) == 0 {
		return nil, fmt.Errorf("check: no batches to check")
	}
	a, err := analyze(bs, seed, opts)
	if err != nil {
		return nil, err
	}
	r := &Report{OK: true, Checks: a.results, Example: a.example}
	b0 := bs.List[0]
	split := opts.Split
	if split == "" {
		split = b0.Split
	}
	batches := "batches"
	if len(bs.List) == 1 {
		batches = "batch"
	}
	r.Scope = fmt.Sprintf("task %s (%s), %d %s %s of %d rows", bs.Task.Name, bs.Task.Kind, len(bs.List), split, batches, b0.B)
	if t := bs.Task; t.Truncated > 0 || t.TooLong > 0 {
		r.Scope += fmt.Sprintf("; task.max_len cut %d prompts from the left and dropped %d examples whose supervised tokens alone would not fit", t.Truncated, t.TooLong)
	}
	for i := range r.Checks {
		c := &r.Checks[i]
		if c.Status == Fail && contains(opts.Allow, c.Name) {
			c.Status = Allowed
			c.Detail += " (allowed)"
		}
		if c.Status == Fail {
			r.OK = false
		}
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
