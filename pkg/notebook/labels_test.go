package notebook

import (
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

func TestLabelsAndSeries(t *testing.T) {
	l := Labels{"task.packing=none, masks.self=causal & pad": "unpacked"}
	if got := l.All([]string{"task.packing=none, masks.self=causal & pad", "other"}); !slices.Equal(got, []string{"unpacked", "other"}) {
		t.Errorf("All = %q", got)
	}
	curves := l.Curves([]plots.Curve{{Label: "task.packing=none, masks.self=causal & pad"}, {Label: "x"}})
	if curves[0].Label != "unpacked" || curves[1].Label != "x" {
		t.Errorf("Curves = %+v", curves)
	}
	series := []report.Series{{Label: "a", Runs: []report.Run{{Seed: 1}}}, {Label: "b"}}
	if s, err := SeriesOf(series, "a"); err != nil || s.Label != "a" || len(s.Runs) != 1 {
		t.Errorf("SeriesOf(a) = %+v, %v", s, err)
	}
	if _, err := SeriesOf(series, "c"); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("SeriesOf(c): error %v, want one listing the cells", err)
	}
}
