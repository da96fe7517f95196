package experiments

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
)

// Loaded is a trained run loaded for evaluation and decoding ("masklab eval",
// "masklab generate", notebooks).
type Loaded struct {
	Config *Config
	Dir    string
	Step   int
	sess   *session
	// trainedS, trainedT are the padded lengths the run was trained at.
	trainedS, trainedT int
}

// TrainedLengths returns the padded source and target lengths the run was trained at
// (source 0 for decoder-only runs), whatever overrides LoadRun was given.
func (l *Loaded) TrainedLengths() (src, tgt int) { return l.trainedS, l.trainedT }

// LoadRun loads a run directory's config and last checkpoint. overrides ("key=value")
// change how it is evaluated, e.g. "task.tgt_len=40" to pad longer than in training.
func LoadRun(runDir, backendOverride string, overrides ...string) (*Loaded, error) {
	cfg, err := LoadConfig(filepath.Join(runDir, ConfigFile))
	if err != nil {
		return nil, err
	}
	trainedS, trainedT := cfg.Task.SrcLen, cfg.Task.TgtLen
	if err := cfg.SetAll(overrides); err != nil {
		return nil, err
	}
	ck := checkpointDir(runDir)
	if ck == "" {
		return nil, fmt.Errorf("run %s has no checkpoint yet", runDir)
	}
	be, err := backend.New(backend.Resolve(backendOverride, cfg.Backend))
	if err != nil {
		return nil, err
	}
	var vocab *datasets.Vocab
	if cfg.InitFrom != "" {
		// A fine-tuned run's data is encoded with its own saved vocabulary.
		if vocab, err = datasets.LoadVocab(filepath.Join(runDir, "vocab.json")); err != nil {
			return nil, err
		}
	}
	su, err := newSetupVocab(cfg, vocab)
	if err != nil {
		return nil, err
	}
	sess, err := newSession(su, be)
	if err != nil {
		return nil, err
	}
	step, err := sess.loadCheckpoint(ck)
	if err != nil {
		return nil, err
	}
	if trainedS == 0 {
		trainedS = su.task.SrcLen
	}
	if trainedT == 0 {
		trainedT = su.task.TgtLen
	}
	if su.task.Kind != datasets.Seq2Seq {
		trainedS = 0
	}
	return &Loaded{Config: cfg, Dir: runDir, Step: step, sess: sess, trainedS: trainedS, trainedT: trainedT}, nil
}

// Evaluate computes a split's metrics (valid or test) with the loaded weights, and the
// loss by target position.
func (l *Loaded) Evaluate(split string) (map[string]float64, map[string][]float64, error) {
	if split != "valid" && split != "test" {
		return nil, nil, fmt.Errorf("split must be valid or test, got %q", split)
	}
	m, err := l.sess.evaluate(split, l.Step)
	if err != nil {
		return nil, nil, err
	}
	return m, l.sess.byPos, nil
}

// Generate decodes greedily from text: the source of a seq2seq task, or the prompt of
// a decoder-only (SFT) task. It returns the decoded output text.
func (l *Loaded) Generate(text string) (string, error) {
	su := l.sess.su
	task := su.task
	S, T := su.S, su.T
	b := datasets.Batch{B: 1, S: 0, T: T, Rows: 1,
		Dec: make([]int32, T), Tgt: make([]int32, T), TgtLen: []int32{1},
		Segments: make([]int32, T), Positions: make([]int32, T), PromptLen: []int32{0},
		Prompt: make([]int32, T), Prefix: make([]int32, T), Examples: []int32{0}}
	pad := int32(task.Vocab.PAD)
	for i := range b.Dec {
		b.Dec[i], b.Tgt[i] = pad, pad
	}
	for p := 0; p < T; p++ {
		b.Segments[p], b.Positions[p] = 1, int32(p)
	}
	b.Dec[0] = int32(task.Vocab.BOS)
	if task.Kind == datasets.Seq2Seq {
		ids, err := task.SrcVocab.EncodeText(text)
		if err != nil {
			return "", fmt.Errorf("encoding %q: %w", text, err)
		}
		if len(ids)+1 > S {
			return "", fmt.Errorf("%q has %d tokens; the model's source length is %d (with EOS)", text, len(ids), S)
		}
		b.S = S
		b.Src, b.SrcLen = make([]int32, S), []int32{int32(len(ids) + 1)}
		for i := range b.Src {
			b.Src[i] = pad
		}
		copy(b.Src, ids)
		b.Src[len(ids)] = int32(task.SrcVocab.EOS)
	} else {
		ids, err := task.Vocab.EncodeText(text)
		if err != nil {
			return "", fmt.Errorf("encoding %q: %w", text, err)
		}
		if task.Vocab.SEP >= 0 && task.Kind == datasets.SFT {
			ids = append(ids, int32(task.Vocab.SEP))
		}
		if len(ids)+1 >= T {
			return "", fmt.Errorf("%q has %d tokens; the model's length is %d", text, len(ids), T)
		}
		copy(b.Dec[1:], ids)
		b.PromptLen[0] = int32(len(ids))
		for p := 0; p < len(ids); p++ {
			b.Prompt[p] = 1
		}
		b.TgtLen[0] = int32(len(ids) + 1)
	}
	preds, err := l.sess.greedy(b, l.Step)
	if err != nil {
		return "", err
	}
	out := trimEOS(preds[0], task.Vocab.EOS)
	return strings.TrimSpace(task.Vocab.DecodeText(out)), nil
}
