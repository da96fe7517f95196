package notebook

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

// QuickSmall are the quick-mode overrides (Quick.Set) of the notebooks whose sweeps load
// a whole corpus per run (the poetry-* sweeps): 10 steps of 2 examples, 64 validation
// examples, one greedy decode. Batches of 2 because greedy decoding decodes a whole batch
// to its full length when a barely trained model does not stop (a poetry-title run of 10
// steps: 47 s with batches of 16, 8 s with 2). Notebooks that reuse each other's runs
// (SweepOptions.Reuse) cut alike, or their quick run ids differ and nothing is reused.
var QuickSmall = []string{"train.steps=10", "train.batch_size=2", "train.checkpoint_every=10", "eval.every=10", "task.max_eval=64", "eval.greedy_examples=1"}

// Labels gives a sweep's cells short names in figures ("task.packing=first-fit,
// masks.self=causal & doc & pad" -> "packed + doc"); a cell without one keeps its own.
type Labels map[string]string

// Of returns the short name of a cell, or of a label "stage: cell" (a cell of a sweep
// with several stages, as report and EvaluateRuns label them): "stage: short name".
func (l Labels) Of(cell string) string {
	if s, ok := l[cell]; ok {
		return s
	}
	if stage, c, ok := strings.Cut(cell, ": "); ok {
		if s, ok := l[c]; ok {
			return stage + ": " + s
		}
	}
	return cell
}

// All returns the short names of cells, in order.
func (l Labels) All(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = l.Of(c)
	}
	return out
}

// Curves renames curves labelled by cell (report.Bands of EvaluateRuns' series) in place
// and returns them.
func (l Labels) Curves(curves []plots.Curve) []plots.Curve {
	for i := range curves {
		curves[i].Label = l.Of(curves[i].Label)
	}
	return curves
}

// SeriesOf returns the series of one cell of one stage, as EvaluateRuns and
// DocPositionLoss label them: "stage: cell" in a sweep with several stages, the cell
// alone in a sweep with one (stage may then be its name or ""). The error lists the
// labels there are.
func SeriesOf(series []report.Series, stage, cell string) (report.Series, error) {
	var labels []string
	for _, s := range series {
		if s.Label == stage+": "+cell || s.Label == cell {
			return s, nil
		}
		labels = append(labels, s.Label)
	}
	return report.Series{}, fmt.Errorf("no series of cell %q in stage %q; there are %q", cell, stage, labels)
}
