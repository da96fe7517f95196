package ckpt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// A saved checkpoint loads back whole (LoadAll) or model-only (LoadModel), and a crash
// between the two renames of Save (ckpt/ gone, ckpt.old/ left) still finds the last one.
func TestSaveFindLoad(t *testing.T) {
	run := t.TempDir()
	if Find(run) != "" {
		t.Fatal("Find in an empty run directory")
	}
	store := model.NewStore()
	store.VariableWithValue("/model/w", tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 3))
	store.VariableWithValue("/optimizers/adamw/m", tensors.FromFlatDataAndDimensions([]float32{4}, 1))
	if err := Save(store, run); err != nil {
		t.Fatal(err)
	}
	dir := Find(run)
	if dir != filepath.Join(run, Dir) {
		t.Fatalf("Find = %q", dir)
	}
	all := model.NewStore()
	if _, err := LoadAll(all, dir); err != nil {
		t.Fatal(err)
	}
	if all.GetVariable("/model/w") == nil || all.GetVariable("/optimizers/adamw/m") == nil {
		t.Error("LoadAll did not load every variable")
	}
	only := model.NewStore()
	if err := LoadModel(only, run); err != nil {
		t.Fatal(err)
	}
	if only.GetVariable("/model/w") == nil || only.GetVariable("/optimizers/adamw/m") != nil {
		t.Error("LoadModel loaded more or less than the model")
	}
	if err := os.Rename(dir, filepath.Join(run, Dir+".old")); err != nil {
		t.Fatal(err)
	}
	if got := Find(run); got != filepath.Join(run, Dir+".old") {
		t.Errorf("after a crash between renames Find = %q, want ckpt.old", got)
	}
	if err := LoadModel(model.NewStore(), t.TempDir()); err == nil {
		t.Error("LoadModel of a run without a checkpoint")
	}
}
