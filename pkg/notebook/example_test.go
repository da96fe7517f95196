package notebook_test

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/masklab/masklab/pkg/notebook"
	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/plots/nbplot"
	"github.com/masklab/masklab/pkg/report"
)

// A notebook cell that trains a sweep (or finds it trained), shows its report's figures
// and saves one as a paper figure: Must and Must0 stop the cell at the first error.
// (Not run here: it trains sweeps/05-packing.yaml.)
func Example() {
	const root = ".." // the repository, seen from notebooks/
	dir, res := notebook.Must2(notebook.RunSweep(context.Background(), root, "05-packing"))
	fmt.Printf("trained %d, already finished %d\n", res.Trained, res.Skipped)
	rep := notebook.Must(report.Build(dir))
	figs := notebook.Must(rep.Figures())
	size := plots.DoubleColumn.WithHeight(plots.DoubleColumn.Height * 1.2)
	notebook.Must0(nbplot.Display(figs["curves"], size))
	notebook.Must(notebook.SavePaperFigure(root, "05-packing-curves", figs["curves"], size))
	fmt.Println(string(rep.Markdown()))
}

// Quick and full runs of a notebook's sweep never share a directory.
func ExampleSweepDir() {
	defer restoreEnv(notebook.RunsEnv, notebook.QuickEnv)()
	os.Setenv(notebook.RunsEnv, "/data/runs")
	os.Setenv(notebook.QuickEnv, "1")
	fmt.Println(notebook.QuickMode(), notebook.SweepDir("..", "05-packing"))
	os.Setenv(notebook.QuickEnv, "0")
	fmt.Println(notebook.QuickMode(), notebook.SweepDir("..", "05-packing"))
	// Output:
	// true /data/runs/05-packing-quick
	// false /data/runs/05-packing
}

func ExampleMust() {
	n := notebook.Must(strconv.Atoi("42"))
	fmt.Println(n + 1)
	// Output: 43
}

// restoreEnv returns a function that puts the variables back as they are now.
func restoreEnv(names ...string) func() {
	old := map[string]*string{}
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			old[n] = &v
		} else {
			old[n] = nil
		}
	}
	return func() {
		for n, v := range old {
			if v == nil {
				os.Unsetenv(n)
			} else {
				os.Setenv(n, *v)
			}
		}
	}
}
