package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/masklab/masklab/pkg/check"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/plots"
)

func init() {
	register(&command{
		name:    "check",
		summary: "check a run config or every cell of a sweep for silent mask bugs before training (supervision, leakage, rows)",
		usage: `check FILE... [--batches N] [--split train|valid|test] [--allow NAME ...] [--json]
                     [--model=false] [--png FILE] [--color auto|always|never] [--set key=value ...]

FILE is a run config (or a run directory), or a sweep file, whose every cell is checked
(its first seed). The batches training would see are built -- task or user file,
packing, corrupted decoder inputs, loss weights, segment ids and positions -- and the
masks are evaluated on them with the graph code training uses. The checks, by name:

  zero-supervision      documents or batches with no trained token (a completion marker
                        that never matches, a completion cut off by concat packing)
  degenerate-loss-mask  loss weights all 0, or all 1 although masks.loss asks for a
                        prompt/completion split
  cross-document        a token of a packed row that can see another document (from the
                        mask over the layers; with --model, also measured on the model
                        by the exact dependency audit)
  future-leakage        a trained position that can see a later token of its document
  positions             position ids that do not restart with each packed document
  fully-masked-rows     query rows that allow no key (a valid token: failure), all-padding
                        rows; with --model, the model's zero weights and finite gradients
  padding-attended      valid queries attending to padding keys (warning)
  causal-alignment      top-left (causal) or bottom-right (causal_br) alignment where
                        query and key lengths differ

The exit status is 1 when a check fails, unless --allow NAME (or, in a sweep file,
check: {allow: [NAME]}) declares it intended; it is then reported as allowed.
--json prints {"ok": bool, "checks": [{"name", "status", "detail"}]} (a sweep adds
"cells"). Below the checks, one example row is drawn token by token by role (prompt,
completion, trained, ignored, padding, document boundary): coloured on a terminal,
with markers otherwise; --png FILE draws it as a figure.
Example: masklab check sweeps/05-packing.yaml`,
		run: runCheck,
	})
}

// listFlag collects repeated, comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	c := commands["check"]
	fs := newFlags(c, stderr)
	batches := fs.Int("batches", check.DefaultBatches, "batches built and checked per config or cell")
	split := fs.String("split", "train", "split the batches come from: train (the first training steps), valid or test")
	var allow listFlag
	fs.Var(&allow, "allow", "a check whose failure is intended, reported as allowed (repeatable; comma-separated)")
	asJSON := fs.Bool("json", false, `print {"ok": bool, "checks": [{"name", "status", "detail"}]} (one line per FILE)`)
	useModel := fs.Bool("model", true, "also run the randomly initialised model: the exact audit of a packed row, a pass over fully masked rows")
	png := fs.String("png", "", "draw the example row to this PNG (or .svg, .pdf) file")
	colorMode := fs.String("color", "auto", "colour the example: auto (when stdout is a terminal), always or never")
	var sets setFlags
	fs.Var(&sets, "set", "override a config key (of every cell of a sweep), e.g. --set task.packing=first-fit (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("want a run config or sweep FILE")
	}
	if *batches < 1 {
		return usageError("--batches must be >= 1, got %d", *batches)
	}
	switch *split {
	case "train", "valid", "test":
	default:
		return usageError("--split %q: want train, valid or test", *split)
	}
	if err := check.ValidateAllow(allow); err != nil {
		return usageError("--allow: %v", err)
	}
	colour := false
	switch *colorMode {
	case "always":
		colour = true
	case "never":
	case "auto":
		f, ok := stdout.(*os.File)
		colour = ok && term.IsTerminal(int(f.Fd()))
	default:
		return usageError("--color %q: want auto, always or never", *colorMode)
	}
	if *png != "" && len(pos) > 1 {
		return usageError("--png draws one example: give one FILE")
	}
	opts := check.Options{Batches: *batches, Split: *split, Allow: allow, Model: *useModel}
	var failed []string
	for _, path := range pos {
		ok, example, err := checkFile(path, sets, opts, *asJSON, colour, stdout)
		if err != nil {
			return err
		}
		if !ok {
			failed = append(failed, path)
		}
		if *png != "" && example != nil {
			if err := writeExamplePNG(example, path, *png); err != nil {
				return err
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed checks in %s (allow an intended one with --allow NAME, or in a sweep file with check: {allow: [NAME]})", strings.Join(failed, ", "))
	}
	return nil
}

// isSweep tells a sweep file from a run config by its top-level keys.
func isSweep(data []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	for _, k := range []string{"base", "stages", "axes", "seeds", "baseline"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

// checkFile checks one config or sweep file and prints the report.
func checkFile(path string, sets []string, opts check.Options, asJSON, colour bool, stdout io.Writer) (ok bool, ex *check.Example, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, experiments.ConfigFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, nil, usageError("%v", err)
	}
	if isSweep(data) {
		sf, err := experiments.LoadSweep(path)
		if err != nil {
			return false, nil, usageError("%v", err)
		}
		sr, err := check.Sweep(sf, sets, opts)
		if err != nil {
			return false, nil, err
		}
		if asJSON {
			return sr.OK, nil, printJSON(stdout, sr)
		}
		printSweepReport(stdout, path, sf.Name, sr, opts)
		for _, c := range sr.Cells { // the example of the first cell that fails, else the first
			if ex == nil || !c.OK && c.Example != nil {
				ex = c.Example
				if !c.OK {
					break
				}
			}
		}
		return sr.OK, ex, nil
	}
	cfg, err := experiments.LoadConfig(path)
	if err != nil {
		return false, nil, usageError("%v", err)
	}
	if err := cfg.SetAll(sets); err != nil {
		return false, nil, usageError("%v", err)
	}
	if err := cfg.ResolveData("."); err != nil {
		return false, nil, usageError("%v", err)
	}
	r, err := check.Config(cfg, opts)
	if err != nil {
		return false, nil, err
	}
	if asJSON {
		return r.OK, r.Example, printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "masklab check %s: %s\n", path, r.Scope)
	printResults(stdout, r.Checks)
	if r.Example != nil {
		printExample(stdout, r.Example, colour)
	}
	printVerdict(stdout, r.OK, r.Checks)
	return r.OK, r.Example, nil
}

func printJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// statusWord shows a status so that failures and warnings stand out.
func statusWord(s check.Status) string {
	switch s {
	case check.Fail, check.Warn:
		return strings.ToUpper(string(s))
	}
	return string(s)
}

func printResults(w io.Writer, results []check.Result) {
	for _, c := range results {
		fmt.Fprintf(w, "  %-7s  %-20s  %s\n", statusWord(c.Status), c.Name, c.Detail)
	}
}

func printExample(w io.Writer, ex *check.Example, colour bool) {
	fmt.Fprintf(w, "\nexample: batch %d row %d (%s): %s\n", ex.Batch, ex.Row, ex.Why, strings.Join(ex.Origins, ", "))
	fmt.Fprintf(w, "  %s\n", check.Legend(colour))
	for _, line := range strings.Split(strings.TrimRight(ex.Format(colour), "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
}

func printVerdict(w io.Writer, ok bool, results []check.Result) {
	var failed, allowed []string
	for _, c := range results {
		switch c.Status {
		case check.Fail:
			failed = append(failed, c.Name)
		case check.Allowed:
			allowed = append(allowed, c.Name)
		}
	}
	switch {
	case !ok:
		fmt.Fprintf(w, "FAIL: %s\n", strings.Join(failed, ", "))
	case len(allowed) > 0:
		fmt.Fprintf(w, "ok (allowed: %s)\n", strings.Join(allowed, ", "))
	default:
		fmt.Fprintln(w, "ok")
	}
}

func printSweepReport(w io.Writer, path, name string, sr *check.SweepReport, opts check.Options) {
	fmt.Fprintf(w, "masklab check %s: sweep %s, %d cells (first seed each), %d %s batches each\n", path, name, len(sr.Cells), opts.Batches, opts.Split)
	for _, c := range sr.Cells {
		var notes []string
		status := "ok"
		for _, r := range c.Checks {
			switch r.Status {
			case check.Fail:
				status = "FAIL"
				notes = append(notes, r.Name)
			case check.Allowed, check.Warn:
				notes = append(notes, fmt.Sprintf("%s %s", r.Name, r.Status))
			}
		}
		cell := c.Cell
		if c.Stage != "main" {
			cell = c.Stage + ": " + cell
		}
		line := fmt.Sprintf("  %-4s  %s  %s", status, c.Run, cell)
		if len(notes) > 0 {
			line += " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "checks over the cells:")
	printResults(w, sr.Checks)
	printVerdict(w, sr.OK, sr.Checks)
}

// Colours of the example figure's roles.
var exampleClasses = []string{"prompt", "completion", "padding"}
var exampleColors = []color.RGBA{plots.Palette[0], plots.Palette[2], {0xB0, 0xB0, 0xB0, 0xFF}}

// writeExamplePNG draws the example row (plots.TokenStrip) to out (.png, .svg or .pdf).
func writeExamplePNG(ex *check.Example, path, out string) error {
	var cells []plots.TokenCell
	for i, t := range ex.Tokens {
		class := map[check.Role]int{check.Prompt: 0, check.Completion: 1, check.Padding: 2}[t.Role]
		cells = append(cells, plots.TokenCell{Text: t.Text, Class: class, Faded: t.Weight == 0 && t.Role != check.Padding, Break: t.Start && i > 0})
	}
	title := fmt.Sprintf("%s: batch %d row %d (%s)", filepath.Base(path), ex.Batch, ex.Row, ex.Why)
	s, err := plots.NewTokenStrip(title, cells, exampleClasses)
	if err != nil {
		return err
	}
	s.Colors, s.FadedLabel, s.BreakLabel = exampleColors, "pale: ignored by the loss", "document boundary"
	if err := plots.Save(s, out, s.SizeFor(plots.DoubleColumn.Width)); err != nil {
		return err
	}
	return nil
}

// precheckBatches is how many batches per cell masklab sweep checks before training.
const precheckBatches = 2

// precheckSweep runs the cheap checks of masklab check (no model) on every cell of a
// sweep and refuses it when one fails, naming the cells and checks.
func precheckSweep(path string, sets []string, stderr io.Writer) error {
	sf, err := experiments.LoadSweep(path)
	if err != nil {
		return usageError("%v", err)
	}
	sr, err := check.Sweep(sf, sets, check.Options{Batches: precheckBatches})
	if err != nil {
		return usageError("%v", err)
	}
	if sr.OK {
		return nil
	}
	var bad []string
	for _, c := range sr.Cells {
		if !c.OK {
			bad = append(bad, fmt.Sprintf("%s (%s)", c.Cell, strings.Join(c.Failed(), ", ")))
		}
	}
	for _, r := range sr.Checks {
		if r.Status == check.Fail {
			fmt.Fprintf(stderr, "masklab sweep: check %s failed: %s\n", r.Name, r.Detail)
		}
	}
	return fmt.Errorf("not starting: masklab check fails in %s; fix the config, declare what the sweep does on purpose (check: {allow: [NAME]} in %s), or pass --no-check",
		strings.Join(bad, "; "), path)
}
