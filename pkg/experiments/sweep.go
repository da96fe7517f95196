package experiments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/internal/runstore"
	"github.com/masklab/masklab/internal/yamlkeys"
	"gopkg.in/yaml.v3"
)

// SweepFile is a sweep definition (sweeps/*.yaml):
//
//	name: quickstart
//	base:                 # a config (over the defaults) shared by every run
//	  train: {steps: 200}
//	axes:                 # a grid over any keys, in this order
//	  masks.input: [none, full, "partial(2)"]
//	seeds: [1, 2, 3]
//	baseline: "masks.input=none"   # the cell that report's paired differences compare with
//
// Instead of one base/axes, stages run one after another; a stage with "from" fine-tunes
// from the run of the named stage that has the same seed (that stage must have one cell):
//
//	stages:
//	  - {name: pretrain, base: {...}}
//	  - {name: sft, from: pretrain, base: {...}, axes: {masks.loss: [all, completion]}}
type SweepFile struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Base        yaml.Node   `yaml:"base"`
	Axes        Axes        `yaml:"axes"`
	Seeds       []int64     `yaml:"seeds"`
	Baseline    string      `yaml:"baseline"`
	Stages      []StageFile `yaml:"stages"`
	Report      ReportSpec  `yaml:"report"`
	// Check: {allow: [NAMES]} lists the pkg/check failures the sweep means (no run id changes).
	Check struct{ Allow []string } `yaml:"check"`
	// Dir is the directory relative data paths are taken from: the sweep file's
	// (LoadSweep), else the working directory.
	Dir string `yaml:"-"`
}

// StageFile is one stage of a sweep.
type StageFile struct {
	Name string    `yaml:"name"`
	From string    `yaml:"from"`
	Base yaml.Node `yaml:"base"`
	Axes Axes      `yaml:"axes"`
}

// ReportSpec chooses what "masklab report" shows for a sweep.
type ReportSpec struct {
	Metrics []string `yaml:"metrics"` // final/best metrics in the tables (default: every eval metric)
	Curve   string   `yaml:"curve"`   // the metric of the curves figure (default valid_loss)
	Bar     string   `yaml:"bar"`     // the metric of the bars figure (default valid_acc)
	// LogY draws the curves on a log scale: losses that fall by orders of magnitude
	// (a task every strategy solves) differ only at the end, invisible on a linear axis.
	LogY bool `yaml:"log_y,omitempty" json:",omitempty"`
}

// Axis is one sweep axis: a config key and its values.
type Axis struct {
	Key    string
	Values []any
}

// Axes keeps the order in which the sweep file lists its axes.
type Axes []Axis

// UnmarshalYAML reads a mapping key -> list of values, keeping its order.
func (a *Axes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: axes must be a mapping of key: [values]", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return fmt.Errorf("line %d: axis %q must be a non-empty list of values", v.Line, k.Value)
		}
		var vals []any
		if err := v.Decode(&vals); err != nil {
			return fmt.Errorf("line %d: axis %q: %v", v.Line, k.Value, err)
		}
		*a = append(*a, Axis{Key: k.Value, Values: vals})
	}
	return nil
}

// PlannedRun is one run of a sweep: a cell (one value per axis) and a seed.
type PlannedRun struct {
	ID     string            `json:"id"`
	Stage  string            `json:"stage"`
	Cell   string            `json:"cell"`   // "masks.input=none, model.layers=2" ("base" with no axes)
	Values map[string]string `json:"values"` // axis key -> value as text
	Seed   int64             `json:"seed"`
	From   string            `json:"from,omitempty"` // the run this one fine-tunes from
	Config *Config           `json:"-"`
}

// Plan is a sweep resolved into runs, in the order they run.
type Plan struct {
	Name     string        `json:"name"`
	Baseline string        `json:"baseline"`
	Report   ReportSpec    `json:"report"`
	Stages   []string      `json:"stages"`
	Runs     []*PlannedRun `json:"runs"`
}

// LoadSweep reads and strictly decodes a sweep file.
func LoadSweep(path string) (*SweepFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sf, err := ParseSweep(data, path)
	if err != nil {
		return nil, err
	}
	sf.Dir = filepath.Dir(path)
	return sf, nil
}

// ParseSweep decodes a sweep definition; name is used in errors.
func ParseSweep(data []byte, name string) (*SweepFile, error) {
	var sf SweepFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("sweep %s: %s", name, explainSweepError(err))
	}
	if sf.Name == "" {
		sf.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	return &sf, nil
}

// PlanSweep expands a sweep into its runs: every cell of the axes grid times every seed,
// stage by stage, each config validated (masks included) before anything trains.
// overrides ("key=value") apply to every run after the sweep's own settings.
func PlanSweep(sf *SweepFile, overrides []string) (*Plan, error) {
	stages := sf.Stages
	if len(stages) == 0 {
		stages = []StageFile{{Name: "main", Axes: sf.Axes}}
	} else if len(sf.Axes) > 0 {
		return nil, fmt.Errorf("sweep %s: top-level axes and stages exclude each other; put the axes in a stage", sf.Name)
	}
	seeds := sf.Seeds
	if len(seeds) == 0 {
		seeds = []int64{1}
	}
	if dup := duplicate(seeds); dup != nil {
		return nil, fmt.Errorf("sweep %s: seed %d listed twice", sf.Name, *dup)
	}
	p := &Plan{Name: sf.Name, Baseline: sf.Baseline, Report: sf.Report}
	byStage := map[string][]*PlannedRun{}
	for _, st := range stages {
		if st.Name == "" {
			return nil, fmt.Errorf("sweep %s: a stage has no name", sf.Name)
		}
		if _, dup := byStage[st.Name]; dup {
			return nil, fmt.Errorf("sweep %s: stage %q defined twice", sf.Name, st.Name)
		}
		base := Default()
		for _, n := range []*yaml.Node{&sf.Base, &st.Base} {
			if n.Kind == 0 {
				continue
			}
			// Checked here too so that the lines in errors are the sweep file's.
			if errs := schema.CheckNode(n); len(errs) > 0 {
				return nil, fmt.Errorf("sweep %s (stage %s, base): %s", sf.Name, st.Name, strings.Join(errs, "; "))
			}
			data, err := yaml.Marshal(n)
			if err != nil {
				return nil, err
			}
			if base, err = decodeStrict(data, fmt.Sprintf("%s (stage %s, base)", sf.Name, st.Name), base); err != nil {
				return nil, err
			}
		}
		if err := base.SetAll(overrides); err != nil {
			return nil, err
		}
		var from []*PlannedRun
		if st.From != "" {
			var ok bool
			if from, ok = byStage[st.From]; !ok {
				return nil, fmt.Errorf("sweep %s: stage %q starts from stage %q, which is not defined before it", sf.Name, st.Name, st.From)
			}
		}
		var runs []*PlannedRun
		for _, cell := range grid(st.Axes) {
			for _, seed := range seeds {
				cfg := base.Clone()
				values := map[string]string{}
				var label []string
				for i, ax := range st.Axes {
					v := cell[i]
					if err := cfg.SetValue(ax.Key, v); err != nil {
						return nil, fmt.Errorf("sweep %s, stage %s, axis %s: %w", sf.Name, st.Name, ax.Key, err)
					}
					values[ax.Key] = fmt.Sprint(v)
					label = append(label, fmt.Sprintf("%s=%v", ax.Key, v))
				}
				cfg.Seed = seed
				r := &PlannedRun{Stage: st.Name, Cell: strings.Join(label, ", "), Values: values, Seed: seed, Config: cfg}
				if r.Cell == "" {
					r.Cell = "base"
				}
				if st.From != "" {
					var match []*PlannedRun
					for _, f := range from {
						if f.Seed == seed {
							match = append(match, f)
						}
					}
					if len(match) != 1 {
						return nil, fmt.Errorf("sweep %s: stage %q starts from stage %q with seed %d, which has %d runs with that seed (want exactly 1: give the pre-training stage no axes)",
							sf.Name, st.Name, st.From, seed, len(match))
					}
					r.From = match[0].ID
					cfg.InitFrom = match[0].ID
				}
				if err := cfg.Validate(); err != nil {
					return nil, fmt.Errorf("sweep %s, stage %s, cell %s, seed %d: %w", sf.Name, st.Name, r.Cell, seed, err)
				}
				if err := cfg.ResolveData(sf.Dir); err != nil {
					return nil, fmt.Errorf("sweep %s, stage %s, cell %s: %w", sf.Name, st.Name, r.Cell, err)
				}
				r.ID = cfg.ID()
				runs = append(runs, r)
			}
		}
		byStage[st.Name] = runs
		p.Stages = append(p.Stages, st.Name)
		p.Runs = append(p.Runs, runs...)
	}
	seen := map[string]*PlannedRun{}
	for _, r := range p.Runs {
		if o, dup := seen[r.ID]; dup {
			return nil, fmt.Errorf("sweep %s: cells %q (stage %s) and %q (stage %s) with seed %d have the same config; an axis changes nothing?",
				sf.Name, o.Cell, o.Stage, r.Cell, r.Stage, r.Seed)
		}
		seen[r.ID] = r
	}
	if p.Baseline != "" {
		found := false
		var cells []string
		for _, r := range p.Runs {
			if r.Cell == p.Baseline {
				found = true
			}
			cells = append(cells, r.Cell)
		}
		if !found {
			return nil, fmt.Errorf("sweep %s: baseline %q is not a cell; cells: %s", sf.Name, p.Baseline, strings.Join(uniq(cells), " | "))
		}
	}
	return p, nil
}

// grid returns the cartesian product of the axes' values, the first axis varying slowest.
func grid(axes Axes) [][]any {
	out := [][]any{{}}
	for _, ax := range axes {
		var next [][]any
		for _, prefix := range out {
			for _, v := range ax.Values {
				next = append(next, append(append([]any(nil), prefix...), v))
			}
		}
		out = next
	}
	return out
}

func duplicate(xs []int64) *int64 {
	seen := map[int64]bool{}
	for _, x := range xs {
		if seen[x] {
			return &x
		}
		seen[x] = true
	}
	return nil
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// runsDir is where a sweep directory keeps its run directories.
func runsDir(sweepDir string) string { return filepath.Join(sweepDir, "runs") }

// RunDir is the directory of one run of a sweep.
func RunDir(sweepDir, id string) string { return filepath.Join(runsDir(sweepDir), id) }

// ManifestFile is the plan written into a sweep directory.
const ManifestFile = "manifest.json"

// WriteManifest creates the sweep directory, writes the plan (manifest.json) and each
// run's resolved config.yaml (atomically; an existing config must match).
func WriteManifest(p *Plan, sweepDir string) error {
	if err := os.MkdirAll(runsDir(sweepDir), fsx.DirMode); err != nil {
		return err
	}
	for _, r := range p.Runs {
		if err := ensureRunDir(RunDir(sweepDir, r.ID), r.Config); err != nil {
			return err
		}
	}
	// Merge with an existing manifest so a sweep directory can hold several plans
	// (e.g. a sweep extended with more seeds) without forgetting runs. An old run of a
	// (stage, cell, seed) the new plan also has is superseded (the sweep file changed,
	// e.g. more steps): keeping it would count that seed twice in the report. Its
	// directory stays on disk.
	old, err := ReadManifest(sweepDir)
	if err == nil {
		have := map[string]bool{}
		slot := map[string]bool{}
		for _, r := range p.Runs {
			have[r.ID] = true
			slot[fmt.Sprintf("%s\x00%s\x00%d", r.Stage, r.Cell, r.Seed)] = true
		}
		var extra []*PlannedRun
		for _, r := range old.Runs {
			if !have[r.ID] && !slot[fmt.Sprintf("%s\x00%s\x00%d", r.Stage, r.Cell, r.Seed)] {
				extra = append(extra, r)
			}
		}
		if len(extra) > 0 {
			cp := *p
			cp.Runs = append(append([]*PlannedRun(nil), p.Runs...), extra...)
			p = &cp
		}
	}
	return fsx.WriteJSONAtomic(filepath.Join(sweepDir, ManifestFile), p)
}

// ensureRunDir creates a run directory with its config.yaml, or checks that an existing
// one holds the same config.
func ensureRunDir(dir string, cfg *Config) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("run directory %s is a file, not a directory", dir)
	}
	if err := os.MkdirAll(dir, fsx.DirMode); err != nil {
		return err
	}
	path := filepath.Join(dir, ConfigFile)
	if data, err := os.ReadFile(path); err == nil {
		old, err := ParseConfig(data, path)
		if err == nil && old.Hash() == cfg.Hash() {
			if old.Backend == cfg.Backend {
				return nil
			}
		} else if err == nil {
			return fmt.Errorf("%s holds a different config (hash %s, want %s: %s); choose another directory for this one",
				path, old.ID(), cfg.ID(), configDiff(old, cfg))
		}
	}
	return fsx.WriteFileAtomic(path, cfg.YAML())
}

// ReadManifest reads a sweep directory's manifest.json and the runs' configs.
func ReadManifest(sweepDir string) (*Plan, error) {
	var p Plan
	data, err := os.ReadFile(filepath.Join(sweepDir, ManifestFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(sweepDir, ManifestFile), err)
	}
	for _, r := range p.Runs {
		cfg, err := LoadConfig(filepath.Join(RunDir(sweepDir, r.ID), ConfigFile))
		if err != nil {
			return nil, err
		}
		r.Config = cfg
	}
	return &p, nil
}

// RunState is a run's state as "masklab status" reports it.
type RunState struct {
	Run    *PlannedRun
	Dir    string
	State  string // done, diverged, failed, running or pending
	Step   int    // last logged step (pending: the step a resume starts after)
	Detail string // error, holder of the lock, ...
}

// States returns the state of every run of a sweep directory, in plan order.
func States(sweepDir string) ([]RunState, error) {
	p, err := ReadManifest(sweepDir)
	if err != nil {
		return nil, err
	}
	return PlanStates(p, sweepDir), nil
}

// PlanStates returns the state of every run of plan p in sweepDir (pending where nothing
// is on disk), reading only: the dry run of a sweep.
func PlanStates(p *Plan, sweepDir string) []RunState {
	var out []RunState
	for _, r := range p.Runs {
		out = append(out, runState(r, RunDir(sweepDir, r.ID)))
	}
	return out
}

func runState(r *PlannedRun, dir string) RunState {
	st := RunState{Run: r, Dir: dir}
	st.State, st.Step, st.Detail = runstore.StateOf(dir)
	return st
}

// CountStates counts runs per state, with every state present.
func CountStates(states []RunState) map[string]int {
	c := map[string]int{StatusDone: 0, StatusRunning: 0, StatusDiverged: 0, StatusFailed: 0, StatusPending: 0}
	for _, s := range states {
		c[s.State]++
	}
	return c
}

// StateOrder is the order in which "masklab status" prints states.
var StateOrder = []string{StatusDone, StatusRunning, StatusDiverged, StatusFailed, StatusPending}

// PendingRuns returns the ids of runs that still need training (pending, failed, or
// unfinished with a stale lock), in plan order: what "--list-pending" prints.
func PendingRuns(sweepDir string, p *Plan) []string {
	var ids []string
	for _, r := range p.Runs {
		st := runState(r, RunDir(sweepDir, r.ID))
		if st.State == StatusPending || st.State == StatusFailed {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// sortRunsByStage keeps plan order but groups by stage order.
func sortRunsByStage(p *Plan) {
	idx := map[string]int{}
	for i, s := range p.Stages {
		idx[s] = i
	}
	sort.SliceStable(p.Runs, func(i, j int) bool { return idx[p.Runs[i].Stage] < idx[p.Runs[j].Stage] })
}

// explainSweepError turns yaml.v3's decoding errors into one line, with the closest
// valid key for an unknown one.
func explainSweepError(err error) string {
	return yamlkeys.ExplainTypeError(err, "experiments", SweepFile{}, StageFile{}, ReportSpec{})
}

// configDiff names the keys whose values differ between two configs ("model.layers: 2
// there, 4 here"), at most three of them.
func configDiff(old, cur *Config) string {
	return yamlkeys.Diff(old.YAML(), cur.YAML(), Keys(), 3, "backend")
}
