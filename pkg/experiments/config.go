package experiments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/optim"
	"gopkg.in/yaml.v3"
)

// DefaultYAML is the one place where every config key and its default is documented.
// "masklab train --print-defaults" prints it; a config file only lists what it changes.
const DefaultYAML = `# masklab run config: every key with its default. A config file lists only what it
# changes; "--set key=value" (CLI) or Config.Set (notebooks) override single keys.

task:
  name: reverse          # copy | reverse | sort | cedict-pinyin | cedict-english | cedict-docs |
                         # cedict-sft | tsv:PATH | jsonl:PATH ("masklab train --tasks" lists them)
  vocab: 0               # synthetic: vocabulary size incl. PAD/BOS/EOS; text: cap (0 = task default: 64 / no cap)
  min_len: 0             # shortest source (0 = task default: 8 for synthetic tasks, no bound for text)
  max_len: 0             # longest source (0 = task default: 22 for synthetic tasks, no bound for text)
  train_size: 0          # synthetic tasks: training examples (0 = 50000)
  max_examples: 0        # if > 0, use only N training examples (data-size ablations)
  max_eval: 0            # if > 0, cap the valid and test splits at N examples
  src_len: 0             # padded source length (0 = the task's: longest source + EOS, rounded up to 8)
  tgt_len: 0             # padded target / row length (0 = the task's)
  packing: none          # decoder-only: none | first-fit | best-fit-decreasing | concat (documents per row)

model:
  kind: seq2seq          # seq2seq (Transformer encoder-decoder) | decoder (decoder-only LM) | lstm
  layers: 2              # decoder layers (and encoder layers unless enc_layers is set)
  enc_layers: 0          # encoder layers; 0 = same as layers
  d_model: 64
  heads: 4
  ff: 256                # feed-forward hidden size
  dropout: 0.0
  norm: pre              # pre | post (LayerNorm placement)
  positions: sinusoidal  # sinusoidal | learned | rotary
  tie_embeddings: false  # tie the output projection to the target embedding

masks:                   # strategies in the pkg/mask syntax ("masklab mask --help")
  self: "causal & pad"   # decoder self-attention
  cross: "pad"           # decoder cross-attention over the encoder (seq2seq, lstm)
  input: "none"          # decoder-input corruption, e.g. full, partial(2), span(0.15,3)
  loss: "all"            # loss mask: all | completion | plw(w)

optim:                   # AdamW with decoupled weight decay
  lr: 0.001              # peak learning rate
  min_lr: 0.0            # learning rate at the end of the cosine decay
  schedule: cosine       # cosine | constant (both after the linear warmup)
  warmup_steps: 20
  weight_decay: 0.01
  decay_norms_and_biases: false   # false: no decay on biases, norms and embeddings' offsets
  beta1: 0.9
  beta2: 0.999
  epsilon: 1.0e-08
  clip_norm: 1.0         # global gradient-norm clipping; 0 = off

train:
  steps: 300             # training steps
  batch_size: 64
  log_every: 10          # a metrics.jsonl line (train loss, lr, grad norm) every N steps
  checkpoint_every: 50   # steps between checkpoints (and at the end)

eval:
  every: 50              # evaluate on the valid split every N steps (and at the end); 0 = only at the end
  batches: 4             # valid batches per evaluation (teacher-forced loss, accuracy); 0 = whole split
  greedy_examples: 128   # examples decoded greedily per evaluation (exact match, CER); 0 = off
  test: false            # also evaluate the test split at the end (only when asked for)

seed: 1                  # model init, data order, dropout and random masks
backend: ""              # "" = default (go:parallelism=-1); overridden by $GOMLX_BACKEND and --backend.
                         # On the Go backend go:parallelism=-1 (also what plain "go" means here) and =1
                         # give identical numbers; go:parallelism=N>1 is refused (it deadlocked in GoMLX
                         # compute v0.1.2's worker pool); bound threads with GOMAXPROCS=N instead
init_from: ""            # fine-tuning: a run directory (or run id in the same sweep) whose checkpoint starts this run
`

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
}

// MaskConfig holds the four mask strategies as pkg/mask spec strings.
type MaskConfig struct {
	Self  string `yaml:"self"`
	Cross string `yaml:"cross"`
	Input string `yaml:"input"`
	Loss  string `yaml:"loss"`
}

// TrainConfig sets the length and cadence of training.
type TrainConfig struct {
	Steps           int `yaml:"steps"`
	BatchSize       int `yaml:"batch_size"`
	LogEvery        int `yaml:"log_every"`
	CheckpointEvery int `yaml:"checkpoint_every"`
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
	return c
}

// LoadConfig reads a YAML config file over the defaults (unknown keys are errors).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes YAML over the defaults; name is used in error messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	return decodeStrict(data, name, Default())
}

func decodeStrict(data []byte, name string, base *Config) (*Config, error) {
	c := base
	if c == nil {
		c = &Config{}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %v", name, err)
	}
	if len(doc.Content) > 0 {
		if errs := checkConfigNode(doc.Content[0]); len(errs) > 0 {
			return nil, fmt.Errorf("config %s: %s", name, strings.Join(errs, "; "))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, errEOF) {
		return nil, fmt.Errorf("config %s: %v", name, err)
	}
	return c, nil
}

var errEOF = func() error {
	var x struct{}
	return yaml.NewDecoder(strings.NewReader("")).Decode(&x)
}()

// defaultTree is DefaultYAML as a YAML mapping node: the shape every config must fit.
var defaultTree = func() *yaml.Node {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(DefaultYAML), &n); err != nil {
		panic("experiments: DefaultYAML does not parse: " + err.Error())
	}
	return n.Content[0]
}()

// checkConfigNode checks a config mapping (a file, or a sweep's base) against the
// defaults before it is decoded, so that errors name the dotted key and its line: an
// unknown key with the closest valid one ("did you mean"), a section given a value, or
// a value of the wrong type ("want an integer, got "four"").
func checkConfigNode(root *yaml.Node) []string {
	if root == nil || root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("line %d: want a mapping of keys (task:, model:, ...), got %s", root.Line, describeNode(root))}
	}
	var errs []string
	var walk func(prefix string, user, def *yaml.Node)
	walk = func(prefix string, user, def *yaml.Node) {
		for i := 0; i+1 < len(user.Content); i += 2 {
			k, v := user.Content[i], user.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			var dv *yaml.Node
			for j := 0; j+1 < len(def.Content); j += 2 {
				if def.Content[j].Value == k.Value {
					dv = def.Content[j+1]
				}
			}
			switch {
			case dv == nil:
				errs = append(errs, fmt.Sprintf("line %d: %v", k.Line, unknownKey(key, true)))
			case dv.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
				walk(key, v, dv)
			case dv.Kind == yaml.MappingNode:
				if v.Tag != "!!null" {
					errs = append(errs, fmt.Sprintf("line %d: %s is a section: want keys under it (e.g. %s.%s), got %s",
						v.Line, key, key, dv.Content[0].Value, describeNode(v)))
				}
			default:
				if err := checkScalar(key, v); err != nil {
					errs = append(errs, fmt.Sprintf("line %d: %v", v.Line, err))
				}
			}
		}
	}
	walk("", root, defaultTree)
	return errs
}

func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "an empty value"
	}
	return fmt.Sprintf("%q", n.Value)
}

// checkScalar checks that a YAML value fits the Go type of the config key.
func checkScalar(key string, n *yaml.Node) error {
	kind := fieldKind(key)
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("bad value for %s: want %s, got %s", key, kindName(kind), describeNode(n))
	}
	isInt := kind >= reflect.Int && kind <= reflect.Int64
	isFloat := kind == reflect.Float64 || kind == reflect.Float32
	if isInt && n.Tag != "!!int" || isFloat && n.Tag != "!!float" && n.Tag != "!!int" || kind == reflect.Bool && n.Tag != "!!bool" {
		return fmt.Errorf("bad value for %s: want %s, got %s", key, kindName(kind), describeNode(n))
	}
	return nil
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	cc := *c
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
func Keys() []string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(DefaultYAML), &n); err != nil {
		panic(err)
	}
	var out []string
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i].Value, m.Content[i+1]
			if prefix != "" {
				k = prefix + "." + k
			}
			if v.Kind == yaml.MappingNode {
				walk(k, v)
			} else {
				out = append(out, k)
			}
		}
	}
	walk("", n.Content[0])
	return out
}

// Set overrides one key from its text form, as "--set key=value" does: the value is
// parsed as YAML unless the key holds a string (mask specs stay verbatim). An unknown key
// or a value of the wrong type is an error naming the key, the value and the closest
// valid key.
func (c *Config) Set(key, value string) error {
	return c.set(key, value)
}

// SetValue overrides one key with a Go value (a sweep axis value or a notebook's).
func (c *Config) SetValue(key string, value any) error {
	return c.set(key, value)
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

func (c *Config) set(key string, value any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(c.YAML(), &root); err != nil {
		return err
	}
	node := root.Content[0]
	parts := strings.Split(key, ".")
	for i, p := range parts {
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == p {
				next = node.Content[j+1]
				break
			}
		}
		if i == len(parts)-1 && next != nil && next.Kind == yaml.MappingNode {
			return fmt.Errorf("--set %s=%v: %s is a section: set one of its keys, e.g. %s.%s", key, value, key, key, next.Content[0].Value)
		}
		if next == nil || (i < len(parts)-1 && next.Kind != yaml.MappingNode) {
			return unknownKeyError(key, value)
		}
		if i == len(parts)-1 {
			var nv yaml.Node
			switch s := value.(type) {
			case string:
				// A string for a key that is not a string (--set text, or a sweep axis
				// value such as "two") is parsed as YAML and must fit the key's type.
				kind := fieldKind(key)
				if kind != reflect.String {
					if err := yaml.Unmarshal([]byte(s), &nv); err != nil || len(nv.Content) != 1 {
						return fmt.Errorf("--set %s=%s: not a valid value: %v", key, s, err)
					}
					nv = *nv.Content[0]
					if err := checkScalar(key, &nv); err != nil {
						return fmt.Errorf("--set %s=%s: %v", key, s, err)
					}
				} else {
					nv = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
				}
			default:
				if err := nv.Encode(value); err != nil {
					return fmt.Errorf("setting %s=%v: %v", key, value, err)
				}
				if err := checkScalar(key, &nv); err != nil {
					return fmt.Errorf("setting %s=%v: %v", key, value, err)
				}
			}
			*next = nv
		}
		node = next
	}
	data, err := yaml.Marshal(&root)
	if err != nil {
		return err
	}
	nc, err := decodeStrict(data, "", &Config{})
	if err != nil {
		return fmt.Errorf("--set %s=%v: bad value for %s (%s): %s", key, value, key, typeOfKey(key), explainValueError(err))
	}
	*c = *nc
	return nil
}

// fieldKind returns the Go kind of the Config field at a dotted yaml key.
func fieldKind(key string) reflect.Kind {
	t := reflect.TypeOf(Config{})
	for _, p := range strings.Split(key, ".") {
		found := false
		for i := 0; i < t.NumField(); i++ {
			if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == p {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return reflect.Invalid
		}
	}
	return t.Kind()
}

func kindName(k reflect.Kind) string {
	switch {
	case k >= reflect.Int && k <= reflect.Int64:
		return "an integer"
	case k == reflect.Float64 || k == reflect.Float32:
		return "a number"
	case k == reflect.Bool:
		return "true or false"
	}
	return k.String()
}

func explainValueError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot unmarshal"); i >= 0 {
		return msg[i:]
	}
	return msg
}

func typeOfKey(key string) string {
	var n yaml.Node
	_ = yaml.Unmarshal(Default().YAML(), &n)
	node := n.Content[0]
	for _, p := range strings.Split(key, ".") {
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == p {
				node = node.Content[j+1]
				break
			}
		}
	}
	return strings.TrimPrefix(node.Tag, "!!")
}

func unknownKeyError(key string, value any) error {
	return fmt.Errorf("--set %s=%v: %w", key, value, unknownKey(key, false))
}

// unknownKey says that key is not a config key and names the closest one; with
// sections, a section name such as "model" is a candidate too (a misspelt section in a
// file).
func unknownKey(key string, sections bool) error {
	keys := Keys()
	cands := append([]string{}, keys...)
	for i := 0; sections && i+1 < len(defaultTree.Content); i += 2 {
		if defaultTree.Content[i+1].Kind == yaml.MappingNode {
			cands = append(cands, defaultTree.Content[i].Value)
		}
	}
	if near := textutil.ClosestKey(key, cands); near != "" {
		return fmt.Errorf("unknown key %q; did you mean %q?", key, near)
	}
	return fmt.Errorf("unknown key %q; known keys: %s", key, strings.Join(keys, ", "))
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
	oneOf("model.kind", c.Model.Kind, "seq2seq", "decoder", "lstm")
	oneOf("model.norm", c.Model.Norm, "pre", "post")
	oneOf("model.positions", c.Model.Positions, "sinusoidal", "learned", "rotary")
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
	errs = append(errs, validateMasks(c)...)
	errs = append(errs, validateTask(c)...)
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}
