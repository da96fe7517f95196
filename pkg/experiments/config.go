package experiments

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/internal/yamlkeys"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/optim"
	"gopkg.in/yaml.v3"
)

// DefaultYAML is the one place where every config key and its default is documented.
// "masklab train --print-defaults" prints it; a config file only lists what it changes.
//
//go:embed defaults.yaml
var DefaultYAML string

// Config is a run's configuration. See DefaultYAML for every key and its meaning.
type Config struct {
	Task     TaskConfig   `yaml:"task"`
	Model    ModelConfig  `yaml:"model"`
	Masks    MaskConfig   `yaml:"masks"`
	Optim    optim.Config `yaml:"optim"`
	Train    TrainConfig  `yaml:"train"`
	Eval     EvalConfig   `yaml:"eval"`
	Seed     int64        `yaml:"seed"`
	Backend  string       `yaml:"backend"`
	InitFrom string       `yaml:"init_from"`
	// InitSHA256 is hf.RunFingerprint of a Hugging Face init_from, set by ResolveData.
	InitSHA256 string            `yaml:"init_sha256,omitempty"`
	LoRA       layers.LoRAConfig `yaml:"lora,omitempty"` // adapters on an init_from; zero: full fine-tuning

	explicit map[string]bool // keys a config file, --set or a sweep axis gave (applyStyle)
}

// TaskConfig selects the data.
type TaskConfig struct {
	Name        string `yaml:"name"`
	Vocab       int    `yaml:"vocab"`
	MinLen      int    `yaml:"min_len"`
	MaxLen      int    `yaml:"max_len"`
	TrainSize   int    `yaml:"train_size"`
	MaxExamples int    `yaml:"max_examples"`
	MaxEval     int    `yaml:"max_eval"`
	SrcLen      int    `yaml:"src_len"`
	TgtLen      int    `yaml:"tgt_len"`
	Packing     string `yaml:"packing"`
	// CompletionMarker makes an LM task SFT (Task.WithCompletionMarker); "" keeps run ids.
	CompletionMarker string `yaml:"completion_marker,omitempty"`
	// ChatTemplate renders conversations (chat JSONL) for a Hugging Face init_from: "" its
	// own template, "chatml", or a .jinja file (hf.Checkpoint.ChatTemplateFor; relative to
	// the config, its content in init_sha256); "" keeps run ids.
	ChatTemplate string `yaml:"chat_template,omitempty"`
	// DataSHA256 is the content hash of a user data file, set by ResolveData (omitted
	// from the YAML of built-in tasks, whose run ids it therefore leaves unchanged).
	DataSHA256 string `yaml:"data_sha256,omitempty"`
}

// DataFile returns the user data file the task names ("tsv:PATH", "jsonl:PATH", or a
// path ending in .tsv or .jsonl) and the prefix before it ("tsv:", "jsonl:" or ""); ""
// for built-in tasks.
func (t TaskConfig) DataFile() (prefix, path string) {
	if kind, p, ok := strings.Cut(t.Name, ":"); ok && (kind == "tsv" || kind == "jsonl") {
		return kind + ":", p
	}
	if strings.HasSuffix(t.Name, ".tsv") || strings.HasSuffix(t.Name, ".jsonl") {
		return "", t.Name
	}
	return "", ""
}

// ResolveData makes a user data file's path absolute (a relative one is taken relative
// to dir: the directory of the config or sweep file that named it, or the working
// directory for --set) and records the file's sha256 in task.data_sha256. A run's id is
// the hash of its resolved config, so a run on edited data is a new run, never the old
// one reported as done. Built-in tasks are left as they are. An init_from that is a
// Hugging Face checkpoint directory, or model id (hf.ResolveModel), is resolved the same
// way (init_sha256) and sets model.kind=decoder.
func (c *Config) ResolveData(dir string) error {
	if err := c.resolveInit(dir); err != nil {
		return err
	}
	prefix, path := c.Task.DataFile()
	if path == "" {
		c.Task.DataSHA256 = ""
		return nil
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(filepath.Join(dir, path))
		if err != nil {
			return fmt.Errorf("task.name=%s: %w", c.Task.Name, err)
		}
		path = abs
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("task.name=%s: the data file: %w", c.Task.Name, err)
	}
	c.Task.Name, c.Task.DataSHA256 = prefix+path, sum
	return nil
}

func (c *Config) resolveInit(dir string) error {
	c.InitSHA256 = ""
	path := c.InitFrom
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if hf.IsModelID(c.InitFrom) && !exists(path) && !exists(filepath.Join(dir, strings.Split(c.InitFrom, "/")[0])) {
		var err error // owner/name: its snapshot in the Hugging Face hub cache
		if path, err = hf.ResolveModel(c.InitFrom); err != nil {
			return fmt.Errorf("init_from=%s: no such directory, and as a model id: %w", c.InitFrom, err)
		}
	}
	if path == "" || !hf.IsCheckpoint(path) {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("init_from=%s: %w", c.InitFrom, err)
	}
	if c.Task.ChatTemplate, err = hf.ChatTemplatePath(c.Task.ChatTemplate, dir); err != nil {
		return err
	}
	sum, err := hf.RunFingerprint(abs, c.Task.ChatTemplate)
	if err != nil {
		return fmt.Errorf("init_from=%s: %w", c.InitFrom, err)
	}
	c.InitFrom, c.InitSHA256 = abs, sum
	if !hf.IsBertCheckpoint(abs) {
		c.Model.Kind = "decoder"
	}
	return nil
}

// checkData fails when a run's data file (or Hugging Face init_from) no longer has the
// content it was planned with.
func (c *Config) checkData() error {
	if c.InitSHA256 != "" {
		sum, err := hf.RunFingerprint(c.InitFrom, c.Task.ChatTemplate)
		if err != nil {
			return fmt.Errorf("init_from=%s: %w", c.InitFrom, err)
		}
		if sum != c.InitSHA256 {
			return fmt.Errorf("init_from=%s: the checkpoint changed since this run was planned; a changed checkpoint makes a new run: train it with the same command (it gets a new id)", c.InitFrom)
		}
	}
	_, path := c.Task.DataFile()
	if path == "" || c.Task.DataSHA256 == "" {
		return nil
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("task.name=%s: the data file: %w", c.Task.Name, err)
	}
	if sum != c.Task.DataSHA256 {
		return fmt.Errorf("task.name=%s: the data file changed since this run was planned (sha256 %.12s then, %.12s now); edited data makes a new run: train it with the same command (it gets a new id)", c.Task.Name, c.Task.DataSHA256, sum)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ModelConfig selects the model and its sizes.
type ModelConfig struct {
	Kind          string  `yaml:"kind"`
	Layers        int     `yaml:"layers"`
	EncLayers     int     `yaml:"enc_layers"`
	DModel        int     `yaml:"d_model"`
	Heads         int     `yaml:"heads"`
	FF            int     `yaml:"ff"`
	Dropout       float64 `yaml:"dropout"`
	Norm          string  `yaml:"norm"`
	Positions     string  `yaml:"positions"`
	TieEmbeddings bool    `yaml:"tie_embeddings"`
	// Style is the block recipe of a decoder LM ("llama", "gpt2"; "" = masklab's own
	// blocks, left out of the YAML so that older run ids stay): see applyStyle.
	Style string `yaml:"style,omitempty"`
	// FreezeEncoder keeps a BERT kind's encoder as it starts (false is left out of run ids).
	FreezeEncoder bool `yaml:"freeze_encoder,omitempty"`
	// Attention is the decoder self-attention path: auto (left out of run ids), dense, sparse.
	Attention layers.AttentionPath `yaml:"attention,omitempty"`
}

// MaskConfig holds the four mask strategies as pkg/mask spec strings.
type MaskConfig struct {
	Self  string `yaml:"self"`
	Cross string `yaml:"cross"`
	Input string `yaml:"input"`
	Loss  string `yaml:"loss"`
	Score Score  `yaml:"score,omitempty"`
}

// Score is a score-modification spec (masks.score). "none" (or empty) is left out of
// the resolved YAML, so the run ids of configs from before masks.score stay the same.
type Score string

// IsZero makes "none" count as empty for omitempty.
func (s Score) IsZero() bool { return s == "" || s == "none" }

// TrainConfig sets the length and cadence of training.
type TrainConfig struct {
	Steps           int `yaml:"steps"`
	BatchSize       int `yaml:"batch_size"`
	LogEvery        int `yaml:"log_every"`
	CheckpointEvery int `yaml:"checkpoint_every"`
	GradAccum       int `yaml:"grad_accum,omitempty"` // > 1: micro-batches per batch
}

// EvalConfig sets what is evaluated and how often.
type EvalConfig struct {
	Every          int  `yaml:"every"`
	Batches        int  `yaml:"batches"`
	GreedyExamples int  `yaml:"greedy_examples"`
	Test           bool `yaml:"test"`
}

// Default returns the default config (DefaultYAML).
func Default() *Config {
	c, err := decodeStrict([]byte(DefaultYAML), "defaults", nil)
	if err != nil {
		panic("experiments: DefaultYAML does not decode: " + err.Error())
	}
	c.explicit = nil // defaults are not given keys
	return c
}

// LoadConfig reads a YAML config file over the defaults (unknown keys are errors).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data, path)
	if err != nil {
		return nil, err
	}
	// A relative data path in a config file is relative to the file, and so is a chat template's.
	if prefix, p := c.Task.DataFile(); p != "" && !filepath.IsAbs(p) {
		c.Task.Name = prefix + filepath.Join(filepath.Dir(path), p)
	}
	if c.Task.ChatTemplate, err = hf.ChatTemplatePath(c.Task.ChatTemplate, filepath.Dir(path)); err != nil {
		return nil, err
	}
	// So is a Hugging Face checkpoint's (a run directory's stays relative to the working one).
	if p := filepath.Join(filepath.Dir(path), c.InitFrom); c.InitFrom != "" && !filepath.IsAbs(c.InitFrom) && hf.IsCheckpoint(p) {
		c.InitFrom = p
	}
	return c, nil
}

// ParseConfig decodes YAML over the defaults; name is used in error messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	return decodeStrict(data, name, Default())
}

// schema checks, decodes and edits configs by dotted key against DefaultYAML.
var schema = yamlkeys.New[Config](DefaultYAML)

func decodeStrict(data []byte, name string, base *Config) (*Config, error) {
	c, err := schema.Decode(data, "config "+name, base)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		c.markExplicit("", doc.Content[0])
	}
	if err := c.applyStyle(); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// markExplicit records the dotted keys of a YAML mapping as given explicitly.
func (c *Config) markExplicit(prefix string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := prefix + n.Content[i].Value
		if n.Content[i+1].Kind == yaml.MappingNode {
			c.markExplicit(key+".", n.Content[i+1])
		} else {
			c.setExplicit(key)
		}
	}
}

func (c *Config) setExplicit(key string) {
	if c.explicit == nil {
		c.explicit = map[string]bool{}
	}
	c.explicit[key] = true
}

// styles are the model keys each model.style sets; its blocks (RMSNorm, SwiGLU and no
// biases for llama; LayerNorm, GELU(tanh) and biases for gpt2) are layers.Arch's.
var styles = map[string]ModelConfig{
	"llama": {Kind: "decoder", Norm: "pre", Positions: "rotary"},
	"gpt2":  {Kind: "decoder", Norm: "pre", Positions: "learned", TieEmbeddings: true},
}

// applyStyle sets the keys of model.style that were not given explicitly; an explicit
// one that contradicts the style is an error naming both (styleConflicts).
func (c *Config) applyStyle() error {
	want, ok := styles[c.Model.Style]
	if !ok {
		return nil // Validate names an unknown style
	}
	for _, f := range c.styleFields(want) {
		if *f.have != f.want && !c.explicit[f.key] {
			*f.have = f.want
		}
	}
	if want.TieEmbeddings && !c.explicit["model.tie_embeddings"] {
		c.Model.TieEmbeddings = true
	}
	if errs := c.styleConflicts(); len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// styleConflicts lists the model keys that contradict model.style.
func (c *Config) styleConflicts() []string {
	var errs []string
	want, ok := styles[c.Model.Style]
	for _, f := range c.styleFields(want) {
		if ok && *f.have != f.want {
			errs = append(errs, fmt.Sprintf("model.style=%s sets %s=%s, but %s=%s is given: drop one of the two", c.Model.Style, f.key, f.want, f.key, *f.have))
		}
	}
	return errs
}

type styleField struct {
	key  string
	have *string
	want string
}

func (c *Config) styleFields(want ModelConfig) []styleField {
	fs := []styleField{{key: "model.kind", have: &c.Model.Kind, want: want.Kind},
		{key: "model.norm", have: &c.Model.Norm, want: want.Norm}, {key: "model.positions", have: &c.Model.Positions, want: want.Positions}}
	if want.TieEmbeddings {
		tied := fmt.Sprint(c.Model.TieEmbeddings)
		fs = append(fs, styleField{key: "model.tie_embeddings", have: &tied, want: "true"})
	}
	return fs
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	cc := *c
	cc.explicit = maps.Clone(c.explicit)
	return &cc
}

// YAML returns the config as YAML (every key, resolved).
func (c *Config) YAML() []byte {
	data, err := yaml.Marshal(c)
	if err != nil {
		panic("experiments: config does not marshal: " + err.Error())
	}
	return data
}

// Hash is the hex SHA-256 of the resolved config, without the backend (which changes how
// a run is computed, not what it is; it is recorded in summary.json).
func (c *Config) Hash() string {
	cc := c.Clone()
	cc.Backend = ""
	sum := sha256.Sum256(cc.YAML())
	return hex.EncodeToString(sum[:])
}

// ID is the run's name: the first 12 hex digits of Hash.
func (c *Config) ID() string { return c.Hash()[:12] }

// Keys lists every settable key in dotted form ("model.layers"), in order.
func Keys() []string { return schema.Keys() }

// Set overrides one key from its text form, as "--set key=value" does: the value is
// parsed as YAML unless the key holds a string (mask specs stay verbatim). An unknown key
// or a value of the wrong type is an error naming the key, the value and the closest
// valid key.
func (c *Config) Set(key, value string) error { return c.SetValue(key, value) }

// SetValue overrides one key with a Go value (a sweep axis value or a notebook's).
func (c *Config) SetValue(key string, value any) error {
	explicit := c.explicit // schema.Set rebuilds the struct
	if err := schema.Set(c, key, value); err != nil {
		return err
	}
	c.explicit = explicit
	c.setExplicit(key)
	return c.applyStyle()
}

// SetAll applies "key=value" overrides in order.
func (c *Config) SetAll(kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--set %q: want key=value (keys: %s)", kv, strings.Join(Keys(), ", "))
		}
		if err := c.Set(strings.TrimSpace(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks values that YAML types cannot: enumerations, sizes, and every mask
// string (parsed with pkg/mask), so a bad run fails before any training starts.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key string, v any, want string) {
		errs = append(errs, fmt.Sprintf("%s=%v: %s", key, v, want))
	}
	oneOf := func(key, v string, opts ...string) {
		for _, o := range opts {
			if v == o {
				return
			}
		}
		msg := "want one of " + strings.Join(opts, ", ")
		if near := textutil.Closest(v, opts); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		bad(key, v, msg)
	}
	positive := func(key string, v int) {
		if v <= 0 {
			bad(key, v, "must be > 0")
		}
	}
	nonNeg := func(key string, v int) {
		if v < 0 {
			bad(key, v, "must be >= 0")
		}
	}
	oneOf("model.kind", c.Model.Kind, append([]string{"seq2seq", "decoder", "lstm"}, layers.BertKinds...)...)
	if c.Model.FreezeEncoder && !layers.IsBert(c.Model.Kind) {
		bad("model.freeze_encoder", true, "freezes a BERT kind's encoder (model.kind="+strings.Join(layers.BertKinds, ", ")+")")
	}
	if c.Optim.EncoderLRScale < 0 {
		bad("optim.encoder_lr_scale", c.Optim.EncoderLRScale, "must be >= 0 (0 = 1)")
	}
	oneOf("model.norm", c.Model.Norm, "pre", "post")
	oneOf("model.positions", c.Model.Positions, "sinusoidal", "learned", "rotary", "none")
	if !c.Model.Attention.IsZero() {
		oneOf("model.attention", string(c.Model.Attention), "auto", "dense", "sparse")
	}
	if c.Model.Attention == layers.AttentionSparse && c.Train.GradAccum > 1 {
		bad("model.attention", "sparse", "does not split into train.grad_accum micro-batches: use auto or dense")
	}
	if c.Model.Style != "" {
		oneOf("model.style", c.Model.Style, "llama", "gpt2")
		errs = append(errs, c.styleConflicts()...)
	}
	oneOf("optim.schedule", c.Optim.Schedule, "cosine", "constant")
	oneOf("task.packing", c.Task.Packing, "none", "first-fit", "best-fit-decreasing", "concat")
	positive("model.layers", c.Model.Layers)
	nonNeg("model.enc_layers", c.Model.EncLayers)
	positive("model.d_model", c.Model.DModel)
	positive("model.heads", c.Model.Heads)
	positive("model.ff", c.Model.FF)
	if c.Model.Heads > 0 && c.Model.DModel%c.Model.Heads != 0 {
		bad("model.d_model", c.Model.DModel, fmt.Sprintf("must be a multiple of model.heads=%d", c.Model.Heads))
	}
	if c.Model.Dropout < 0 || c.Model.Dropout >= 1 {
		bad("model.dropout", c.Model.Dropout, "must be in [0, 1)")
	}
	nonNeg("task.vocab", c.Task.Vocab)
	nonNeg("task.min_len", c.Task.MinLen)
	nonNeg("task.max_len", c.Task.MaxLen)
	nonNeg("task.train_size", c.Task.TrainSize)
	nonNeg("task.src_len", c.Task.SrcLen)
	nonNeg("task.tgt_len", c.Task.TgtLen)
	nonNeg("task.max_examples", c.Task.MaxExamples)
	nonNeg("task.max_eval", c.Task.MaxEval)
	positive("train.steps", c.Train.Steps)
	positive("train.batch_size", c.Train.BatchSize)
	positive("train.log_every", c.Train.LogEvery)
	positive("train.checkpoint_every", c.Train.CheckpointEvery)
	nonNeg("eval.every", c.Eval.Every)
	nonNeg("eval.batches", c.Eval.Batches)
	nonNeg("eval.greedy_examples", c.Eval.GreedyExamples)
	nonNeg("optim.warmup_steps", c.Optim.WarmupSteps)
	if !(c.Optim.LR > 0) {
		bad("optim.lr", c.Optim.LR, "must be > 0")
	}
	if c.Optim.MinLR < 0 || c.Optim.MinLR > c.Optim.LR {
		bad("optim.min_lr", c.Optim.MinLR, "must be in [0, optim.lr]")
	}
	if c.Optim.WeightDecay < 0 {
		bad("optim.weight_decay", c.Optim.WeightDecay, "must be >= 0")
	}
	if c.Optim.Beta1 < 0 || c.Optim.Beta1 >= 1 {
		bad("optim.beta1", c.Optim.Beta1, "must be in [0, 1)")
	}
	if c.Optim.Beta2 < 0 || c.Optim.Beta2 >= 1 {
		bad("optim.beta2", c.Optim.Beta2, "must be in [0, 1)")
	}
	if !(c.Optim.Epsilon > 0) {
		bad("optim.epsilon", c.Optim.Epsilon, "must be > 0")
	}
	if c.Optim.ClipNorm < 0 {
		bad("optim.clip_norm", c.Optim.ClipNorm, "must be >= 0 (0 = off)")
	}
	if k := c.Train.GradAccum; k < 0 || k > 1 && c.Train.BatchSize%k != 0 {
		bad("train.grad_accum", k, fmt.Sprintf("must be >= 0 and divide train.batch_size=%d (micro-batches of equal size)", c.Train.BatchSize))
	}
	if err := c.LoRA.Validate(c.InitFrom != ""); err != nil {
		errs = append(errs, err.Error())
	}
	errs = append(errs, validateMasks(c)...)
	errs = append(errs, validateTask(c)...)
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }
