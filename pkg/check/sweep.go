package check

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/pkg/experiments"
)

// CellReport is the report of one cell of a sweep (its first seed's batches).
type CellReport struct {
	Stage string `json:"stage"`
	Cell  string `json:"cell"`
	Run   string `json:"run"` // the id of the checked run (the cell's first seed)
	*Report
}

// SweepReport is what Sweep finds: per check, the worst status over the cells (and the
// detail of the first cell with it), and every cell's report.
type SweepReport struct {
	OK     bool         `json:"ok"`
	Checks []Result     `json:"checks"`
	Cells  []CellReport `json:"cells"`
}

// Sweep checks every cell of a sweep file (with overrides, "key=value", as "masklab
// sweep --set" applies them) on the batches of its first seed. The sweep file's check:
// {allow: [...]} adds to opts.Allow.
func Sweep(sf *experiments.SweepFile, overrides []string, opts Options) (*SweepReport, error) {
	if err := ValidateAllow(sf.Check.Allow); err != nil {
		return nil, fmt.Errorf("sweep %s: check.allow: %w", sf.Name, err)
	}
	plan, err := experiments.PlanSweep(sf, overrides)
	if err != nil {
		return nil, err
	}
	opts.Allow = append(append([]string(nil), opts.Allow...), sf.Check.Allow...)
	sr := &SweepReport{OK: true}
	seen := map[string]bool{}
	for _, run := range plan.Runs {
		key := run.Stage + "\x00" + run.Cell
		if seen[key] {
			continue
		}
		seen[key] = true
		r, err := Config(run.Config, opts)
		if err != nil {
			return nil, fmt.Errorf("stage %s, cell %s: %w", run.Stage, run.Cell, err)
		}
		sr.Cells = append(sr.Cells, CellReport{Stage: run.Stage, Cell: run.Cell, Run: run.ID, Report: r})
		sr.OK = sr.OK && r.OK
	}
	sr.Checks = merge(sr.Cells)
	return sr, nil
}

// rank orders statuses from best to worst for merging.
var rank = map[Status]int{Pass: 0, Allowed: 1, Warn: 2, Fail: 3}

// merge keeps, per check, the worst status over the cells with the first such cell's
// detail, and how many cells share it.
func merge(cells []CellReport) []Result {
	var out []Result
	for _, name := range Names {
		var worst Result
		n, found := 0, false
		for _, c := range cells {
			res, ok := c.Result(name)
			if !ok {
				continue
			}
			switch {
			case !found || rank[res.Status] > rank[worst.Status]:
				worst, n, found = res, 1, true
				worst.Detail = cellName(c) + ": " + res.Detail
			case res.Status == worst.Status:
				n++
			}
		}
		if !found {
			continue
		}
		if len(cells) > 1 {
			worst.Detail = fmt.Sprintf("%s in %d of %d cells; %s", worst.Status, n, len(cells), worst.Detail)
		}
		out = append(out, worst)
	}
	return out
}

func cellName(c CellReport) string {
	if c.Stage == "main" || c.Stage == "" {
		return c.Cell
	}
	return strings.TrimSpace(c.Stage + " " + c.Cell)
}
