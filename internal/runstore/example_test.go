package runstore_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/masklab/masklab/internal/runstore"
)

// A metrics log keeps non-finite values as strings and reads them back as numbers.
func Example() {
	dir, _ := os.MkdirTemp("", "runstore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, runstore.MetricsFile)
	log, err := runstore.OpenMetricsLog(path, 0)
	if err != nil {
		panic(err)
	}
	_ = log.Append(runstore.Metrics{"step": 1, "train_loss": 2.5, "valid_loss": 2.4})
	_ = log.Append(runstore.Metrics{"step": 2, "train_loss": math.Inf(1)})
	_ = log.Close()
	raw, _ := os.ReadFile(path)
	fmt.Print(string(raw))
	lines, _ := runstore.ReadMetrics(path)
	fmt.Println(lines[1]["train_loss"], runstore.LastEval(lines), runstore.BestOf(lines))
	// Output:
	// {"step":1,"train_loss":2.5,"valid_loss":2.4}
	// {"step":2,"train_loss":"+Inf"}
	// +Inf map[valid_loss:2.4] map[valid_loss:2.4]
}
