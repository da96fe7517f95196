// Package ckpt keeps a run's GoMLX checkpoint on disk crash-safely: the last complete
// checkpoint is always loadable, whatever moment a process is killed at.
//
// ckpt/ holds the last checkpoint; a new one is written to ckpt.tmp/, then ckpt/ is
// renamed to ckpt.old/ and ckpt.tmp/ to ckpt/ (a crash in between leaves ckpt.old/, which
// Find falls back to).
package ckpt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/masklab/masklab/internal/fsx"
)

// Dir is the name of the checkpoint directory inside a run directory.
const Dir = "ckpt"

// ModelPrefix is the scope of the model's variables in a store; the rest is optimizer
// state, the step counter and the RNG state.
const ModelPrefix = "/model/"

// TransientPrefix is the scope of variables no checkpoint holds (gradient accumulators,
// zero between steps: optim.AccumScope).
const TransientPrefix = "/transient/"

// Save writes the variables of store as the run's checkpoint, replacing the last one
// atomically. It leaves out frozen model variables (not trainable, under ModelPrefix:
// LoRA's base weights, which a run reloads from its init_from) and those under
// TransientPrefix.
func Save(store *model.Store, runDir string) error {
	var exclude []*model.Variable
	for v := range store.IterVariables() {
		if p := v.Path(); strings.HasPrefix(p, TransientPrefix) || !v.Trainable && strings.HasPrefix(p, ModelPrefix) {
			exclude = append(exclude, v)
		}
	}
	tmp := filepath.Join(runDir, Dir+".tmp")
	cur := filepath.Join(runDir, Dir)
	old := filepath.Join(runDir, Dir+".old")
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, fsx.DirMode); err != nil {
		return err
	}
	h, err := checkpoint.Build(store).Dir(tmp).Keep(1).ExcludeVars(exclude...).Done()
	if err != nil {
		return err
	}
	if err := h.Save(); err != nil {
		return err
	}
	if err := fsx.SyncTree(tmp); err != nil {
		return err
	}
	os.RemoveAll(old)
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	_ = fsx.SyncDir(runDir)
	os.RemoveAll(old)
	return nil
}

// Find returns the directory holding a run's last complete checkpoint, or "".
func Find(runDir string) string {
	for _, d := range []string{Dir, Dir + ".old"} {
		p := filepath.Join(runDir, d)
		if ents, err := os.ReadDir(p); err == nil {
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".json") {
					return p
				}
			}
		}
	}
	return ""
}

// LoadAll loads every variable of the checkpoint in dir into store (model, optimizer
// moments, step, RNG state) and returns the global step. It loads into a scratch store
// first and copies values over, because GoMLX's immediate loading keeps the value of a
// variable that already exists (the RNG state).
func LoadAll(store *model.Store, dir string) (int, error) {
	tmp := model.NewStore()
	if _, err := checkpoint.Load(tmp).Dir(dir).Immediate().Done(); err != nil {
		return 0, fmt.Errorf("loading checkpoint %s: %w", dir, err)
	}
	for v := range tmp.IterVariables() {
		val, err := v.Value()
		if err != nil {
			return 0, err
		}
		if cur := store.GetVariable(v.Path()); cur != nil {
			if err := cur.SetValue(val); err != nil {
				return 0, fmt.Errorf("loading checkpoint %s: variable %s: %w", dir, v.Path(), err)
			}
			continue
		}
		nv, err := store.CreateVariable(v.Path(), val)
		if err != nil {
			return 0, fmt.Errorf("loading checkpoint %s: variable %s: %w", dir, v.Path(), err)
		}
		nv.SetTrainable(strings.HasPrefix(v.Path(), ModelPrefix))
	}
	return int(optimizer.GetGlobalStep(store)), nil
}

// LoadModel loads only the model variables of the run in runDir into store
// (fine-tuning: the optimizer state, step and RNG state start fresh).
func LoadModel(store *model.Store, runDir string) error {
	dir := Find(runDir)
	if dir == "" {
		return fmt.Errorf("init_from %s: no checkpoint there (is that run done?)", runDir)
	}
	tmp := model.NewStore()
	if _, err := checkpoint.Load(tmp).Dir(dir).Immediate().Done(); err != nil {
		return fmt.Errorf("init_from %s: %w", runDir, err)
	}
	n := 0
	for v := range tmp.IterVariables() {
		if !strings.HasPrefix(v.Path(), ModelPrefix) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return err
		}
		if _, err := store.CreateVariable(v.Path(), val); err != nil {
			return fmt.Errorf("init_from %s: variable %s: %w", runDir, v.Path(), err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("init_from %s: the checkpoint has no model variables", runDir)
	}
	return nil
}
