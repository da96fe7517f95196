package notebook

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
)

// Notebook 07's path in quick mode: its sweep (a model.style=llama LM pre-trained on
// poetry-lm, then fine-tuned under three loss masks from its run id) trains, and the
// pre-trained run exports to a Hugging Face checkpoint that a run started from it reads
// back with the same validation loss.
func TestExportAndReloadNotebook07(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 5 small runs")
	}
	t.Setenv("MASKLAB_QUICK", "1")
	t.Setenv("MASKLAB_RUNS", t.TempDir())
	root := filepath.Join("..", "..")
	dir, res, err := RunSweep(context.Background(), root, "07-llama-export", "eval.greedy_examples=4", "eval.every=20", "task.max_examples=512")
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 4 {
		t.Errorf("trained %d runs, want 4 (pre-training and three fine-tunings of one seed)", res.Trained)
	}
	l, err := LoadCell(dir, "base", 0)
	if err != nil {
		t.Fatal(err)
	}
	hfDir := SweepDir(root, "07-llama-export-hf")
	files, a, b, err := ExportAndReload(context.Background(), l.Dir, filepath.Join(hfDir, "export"), filepath.Join(hfDir, "reload"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if !slices.Contains(files, f) {
			t.Errorf("the export has %v, no %s", files, f)
		}
	}
	if math.Abs(a-b) > 1e-6 || a == 0 {
		t.Errorf("valid_loss %v, %v from the export", a, b)
	}
	if _, err := experiments.ReadSummary(filepath.Join(hfDir, "reload")); err != nil {
		t.Error(err)
	}
}
