package experiments

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/internal/ckpt"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
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
	// attEx runs the model with its attention weights as outputs (Attention), built on
	// first use; attBlocks names its outputs.
	attEx     *model.Exec
	attBlocks []layers.AttentionWeights
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
	ck := ckpt.Find(runDir)
	if ck == "" {
		if s, err := ReadSummary(runDir); err == nil && s.Status == StatusDiverged {
			what := fmt.Sprintf("at step %d", s.DivergedAt)
			if s.Divergence != nil {
				what = s.Divergence.String()
			}
			return nil, fmt.Errorf("run %s diverged (%s) before its first checkpoint: there is nothing to evaluate; lower optim.lr or set optim.clip_norm", runDir, what)
		}
		return nil, fmt.Errorf("run %s has no checkpoint yet", runDir)
	}
	be, err := backend.New(backend.Resolve(backendOverride, cfg.Backend))
	if err != nil {
		return nil, err
	}
	// A fine-tuned run's data is encoded with its own saved vocabulary, or its Hugging
	// Face checkpoint's tokenizer.
	su, initCk, err := newSetupInit(cfg, cfg.InitFrom, runDir)
	if err != nil {
		return nil, err
	}
	sess, err := newSession(su, be)
	if err == nil && initCk != nil && su.model.LoRA != nil { // a LoRA checkpoint holds the adapters alone
		err = initCk(sess.store, sess.be)
	}
	if err != nil {
		return nil, err
	}
	step, err := ckpt.LoadAll(sess.store, ck)
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
	b, err := l.generationBatch(text)
	if err != nil {
		return "", err
	}
	preds, err := l.sess.greedy(b, l.Step)
	if err != nil {
		return "", err
	}
	v := l.sess.su.task.Vocab
	return strings.TrimSpace(v.DecodeText(trimEOS(preds[0], v.EOS))), nil
}

// GenerateWith continues text like Generate, with the key/value cache and opts' sampling
// and MaxNewTokens (layers.Generator; 0 new tokens: up to the trained length); the
// decoder sees its own tokens uncorrupted. It returns the text and whether the cache was used.
func (l *Loaded) GenerateWith(text string, opts layers.GenerateOptions) (string, bool, error) {
	b, err := l.generationBatch(text)
	if err != nil {
		return "", false, err
	}
	v := l.sess.su.task.Vocab
	opts.BOS, opts.EOS, opts.PAD, opts.MaxLen, opts.SrcLen, opts.Scope = int32(v.BOS), int32(v.EOS), int32(v.PAD), b.T, b.S, "model"
	opts.MaxNewTokens = cmp.Or(opts.MaxNewTokens, b.T)
	var src [][]int32
	if b.S > 0 && l.sess.su.model.Kind != layers.KindDecoder {
		src = [][]int32{b.Src[:b.SrcLen[0]]}
	}
	g, err := layers.NewGenerator(l.sess.be, l.sess.store, l.sess.su.model, opts)
	if err != nil {
		return "", false, err
	}
	out, err := g.Generate(src, [][]int32{b.Dec[:b.PromptLen[0]+1]})
	if err != nil {
		return "", false, err
	}
	cached, _ := g.Cached()
	return strings.TrimSpace(v.DecodeText(trimEOS(out.Tokens[0], v.EOS))), cached, nil
}

// Export writes the run to dir as a Hugging Face checkpoint with its tokenizer: a run
// fine-tuned from a Hugging Face checkpoint (init_from) as that checkpoint's architecture
// (hf.ExportFineTuned; LoRA merged, layers.MergeLoRA), a decoder LM with a model.style as
// LlamaForCausalLM or GPT2LMHeadModel with a WordLevel tokenizer (hf.ExportScratch), a
// masked-LM run (model.kind=bert) as a BertForMaskedLM (hf.ExportBertRun), a BERT
// encoder-decoder as an EncoderDecoderModel (hf.ExportEncoderDecoder). Other runs are refused.
func (l *Loaded) Export(dir string, opts hf.ExportOptions) error {
	tokDir := "" // a BERT run's tokenizer: its own vocabulary's, or its init_from checkpoint's
	if l.Config.InitSHA256 != "" {
		tokDir = l.Config.InitFrom
	}
	if m := l.sess.su.model; m.Kind == layers.KindBert {
		return hf.ExportBertRun(dir, *m.Bert, l.sess.su.task.Vocab, l.sess.store, "/model/"+layers.BertScope, tokDir)
	} else if layers.IsBert(m.Kind) {
		return hf.ExportEncoderDecoder(dir, m, l.sess.su.task.Vocab, l.sess.store, "/model", tokDir)
	}
	if m := l.Config.Model; l.Config.InitSHA256 == "" {
		if m.Kind != "decoder" {
			return fmt.Errorf("run %s: model.kind=%s has no Hugging Face architecture here: export writes decoder LMs, masked-LM (bert) and bert2bert runs; train one with model.kind=decoder and model.style=llama or gpt2", l.Dir, m.Kind)
		}
		if m.Style == "" {
			return fmt.Errorf("run %s: model.style is not set: masklab's own decoder block (LayerNorm and ReLU MLP, model.positions=%s, model.norm=%s) maps onto no Hugging Face architecture; train with model.style=llama (LlamaForCausalLM) or model.style=gpt2 (GPT2LMHeadModel)", l.Dir, m.Positions, m.Norm)
		}
		return hf.ExportScratch(dir, l.sess.su.model, l.sess.su.task.Vocab, l.sess.store, "/model", opts)
	}
	ck, err := hf.Open(l.Config.InitFrom)
	if err != nil {
		return err
	}
	store, err := layers.MergeLoRA(l.sess.store, "/model", l.sess.su.model)
	if err != nil {
		return err
	}
	return hf.ExportFineTuned(dir, ck, store, "/model", opts)
}

// ExportAdapters writes a LoRA run's adapters to dir as PEFT's adapter_config.json and
// adapter_model.safetensors (hf.ExportAdapters).
func (l *Loaded) ExportAdapters(dir string) error {
	ck, err := hf.Open(l.Config.InitFrom) // a LoRA run's init_from is a Hugging Face checkpoint
	if err != nil {
		return err
	}
	return hf.ExportAdapters(dir, ck, l.sess.store, "/model", l.sess.su.model)
}
