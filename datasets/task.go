package datasets

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind says which model a task feeds.
type Kind string

// Task kinds.
const (
	// Seq2Seq tasks have a source (encoder input) and a target (decoder output).
	Seq2Seq Kind = "seq2seq"
	// LM tasks have documents only (Target), for a decoder-only language model.
	LM Kind = "lm"
	// SFT tasks have prompt/completion pairs for a decoder-only LM: Target is
	// prompt + SEP + completion, and Example.PromptLen marks the prompt span.
	SFT Kind = "sft"
)

// Example is one item of a split. Token ids exclude BOS/EOS (a [Batch] adds them).
type Example struct {
	// Index is the example's position in its split (stable for a given Options).
	Index int
	// Source holds the encoder input ids (seq2seq only; nil otherwise).
	Source []int32
	// Target holds the decoder ids: the seq2seq output, the LM document, or for SFT
	// the prompt, SEP and the completion.
	Target []int32
	// SourceText and TargetText are the texts the ids were made from (for SFT, the
	// prompt and the completion).
	SourceText, TargetText string
	// PromptLen is the number of leading Target ids that are prompt (SFT: the prompt
	// tokens plus the SEP; a conversation: the ids before its first supervised span); 0
	// for other kinds.
	PromptLen int
	// Spans, when set (conversations), are the supervised label positions of Target, in
	// order: each assistant turn with the token that ends it (TRL's assistant-only loss),
	// position len(Target) being the EOS label a Batch adds; every other position is
	// prompt, for masks.loss completion and plw(w) alike. nil: the completion is every
	// position from PromptLen on.
	Spans []Span
	// Chat is the conversation of a chat record ({"messages"}) or of a conversational
	// prompt/completion record (nil for other examples). A codec vocabulary with a chat
	// template renders it ([Task.WithCodec]).
	Chat *Conversation
	// Key is the string the split was keyed on (the source, the CEDICT headword, the
	// prompt); Origin says where the example came from ("cedict.tsv:1234",
	// "my.jsonl:7", "reverse#5").
	Key, Origin string
}

// Options select and shape a task in [Load]. The zero value gives each task's
// defaults.
type Options struct {
	// Seed drives synthetic data generation (and nothing else: splits of real data
	// are keyed by string hashes, not by seed). Default 0 is a valid seed.
	Seed uint64
	// MaxExamples caps the training split (0 = all); the subset is a deterministic
	// function of the data (hash order), not of Seed, so it is stable across runs.
	MaxExamples int
	// MaxEval caps the valid and test splits each (0 = all).
	MaxEval int
	// MinLen and MaxLen bound the source length for synthetic tasks (defaults 8 and
	// 22, the reference's); for real data they drop examples whose source or target
	// (in tokens, without BOS/EOS) is shorter/longer (0 = no bound, except for the
	// poetry-* tasks, whose MaxLen defaults to 256: set 4096 to keep every poem).
	// Task.Dropped counts them.
	MinLen, MaxLen int
	// VocabSize is the synthetic vocabulary size including PAD/BOS/EOS (default 64,
	// the reference's); for text tasks it caps each vocabulary (specials included),
	// rarer tokens becoming UNK (0 = no cap).
	VocabSize int
	// WithMask reserves a MASK id in synthetic vocabularies (id VocabSize). Text
	// tasks always have MASK (id 5).
	WithMask bool
	// TrainSize, ValidSize, TestSize are the synthetic split sizes (defaults 50000,
	// 1000, 1000).
	TrainSize, ValidSize, TestSize int
	// SharedVocab gives a seq2seq text task one vocabulary built from sources and
	// targets together (SrcVocab == Vocab), e.g. for tied embeddings.
	SharedVocab bool
	// Stream makes a synthetic task's "train" batches fresh draws for every step, as
	// the reference benchmark does (batch = f(seed, step)); Train then only holds a
	// sample of TrainSize examples for the vocabulary and TokenCounts. Valid/test
	// stay fixed.
	Stream bool
	// Path is the user file for the "tsv" and "jsonl" tasks.
	Path string
	// Dynasty and Form select the poems of the poetry-* tasks: "tang" or "song", and
	// "shi" or "ci" ("" = all). In the embedded corpus the Tang poems are all shi and
	// the Song poems all ci. The task name can carry them too: "poetry-lm:tang".
	Dynasty, Form string
	// SplitBy says what the splits of the poetry-* tasks are keyed on: "poem" (the
	// default: the poem's text, so duplicate poems share a split) or "author" (all of
	// a poet's poems in one split: poets unseen in training). Also "poetry-lm:by-author".
	SplitBy string
}

// Task is a loaded dataset: its vocabularies, splits and length bounds. Tasks loaded
// with the same name and options share their examples and vocabularies: treat them as
// read-only (copy an Example's slices before changing them). Batch and the other
// methods may be called from several goroutines.
type Task struct {
	Name        string
	Kind        Kind
	Description string
	// Vocab is the decoder vocabulary (targets, LM documents): the output layer's size.
	Vocab *Vocab
	// SrcVocab is the encoder vocabulary (seq2seq only). It shares the special ids of
	// Vocab; for synthetic tasks it is the same *Vocab.
	SrcVocab *Vocab
	// Train, Valid and Test are the splits; no Key is in two splits.
	Train, Valid, Test []Example
	// MaxSourceLen and MaxTargetLen are the longest Source and Target over all
	// splits, in ids without BOS/EOS.
	MaxSourceLen, MaxTargetLen int
	// SrcLen and TgtLen are the default padded lengths of a batch: the longest
	// sequence plus its EOS (or BOS), rounded up to a multiple of 8 (24 for the
	// reference reverse task).
	SrcLen, TgtLen int
	// Dropped counts examples removed by the MinLen/MaxLen options or by cleaning
	// (e.g. CEDICT entries whose glosses are all cross-references).
	Dropped int
	// Truncated counts the SFT examples whose prompt lost its first ids to the maximum
	// length ([Task.WithCodec]); TooLong those dropped (and counted in Dropped) because
	// their supervised ids alone would not fit, which would have left them nothing to
	// train on.
	Truncated, TooLong int
	// Options are the options the task was loaded with, defaults filled in.
	Options Options

	stream    func(r *rng) Example // Options.Stream: draws one training example
	srcToTgt  []int32
	counts    []int64 // lazily computed TokenCounts
	srcCounts []int64
	planCache *planCache
}

// Split returns the examples of "train", "valid" or "test".
func (t *Task) Split(name string) ([]Example, error) {
	switch name {
	case "train":
		return t.Train, nil
	case "valid", "validation", "dev":
		return t.Valid, nil
	case "test":
		return t.Test, nil
	}
	return nil, fmt.Errorf("task %q: unknown split %q (known: train, valid, test)", t.Name, name)
}

type taskSpec struct {
	name, description string
	load              func(opts Options) (*Task, error)
	// args, when set, parses the arguments of a name "NAME:ARGS" into opts (and
	// checks them); tasks without it take no arguments.
	args func(args string, opts *Options) error
}

var registry = map[string]taskSpec{}

func register(name, description string, load func(Options) (*Task, error)) {
	registry[name] = taskSpec{name: name, description: description, load: load}
}

// registerArgs is register for a task whose name may carry arguments.
func registerArgs(name, description string, load func(Options) (*Task, error), args func(string, *Options) error) {
	registry[name] = taskSpec{name, description, load, args}
}

// Names lists the known task names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe returns the one-line description of a task name ("" when unknown).
func Describe(name string) string { return registry[name].description }

// Load builds the named task. A name ending in .tsv or .jsonl (or "tsv:PATH",
// "jsonl:PATH") loads that user file. The poetry-* tasks take arguments after a
// colon, "poetry-lm:tang,by-author", which set Options fields (see [CheckName]). An
// unknown name is an error listing the known ones.
func Load(name string, opts Options) (*Task, error) {
	spec, opts, err := resolve(name, opts)
	if err != nil {
		return nil, err
	}
	name = spec.name
	if opts.MaxExamples < 0 || opts.MaxEval < 0 || opts.MinLen < 0 || opts.MaxLen < 0 || opts.VocabSize < 0 ||
		opts.TrainSize < 0 || opts.ValidSize < 0 || opts.TestSize < 0 {
		return nil, fmt.Errorf("task %q: negative option in %+v", name, opts)
	}
	key := fmt.Sprintf("%s\x00%+v", name, opts)
	cacheable := opts.Path == "" // user files may change between loads
	if cacheable {
		taskCacheMu.Lock()
		cached := taskCache[key]
		taskCacheMu.Unlock()
		if cached != nil {
			return cached.clone(), nil
		}
	}
	t, err := spec.load(opts)
	if err != nil {
		return nil, err
	}
	t.Name = name
	if t.Description == "" {
		t.Description = spec.description
	}
	t.finish()
	if cacheable {
		taskCacheMu.Lock()
		if len(taskCache) >= taskCacheSize {
			clear(taskCache)
		}
		taskCache[key] = t
		taskCacheMu.Unlock()
		return t.clone(), nil
	}
	return t, nil
}

// CheckName reports whether [Load] accepts a task name, without loading anything:
// nil for a known task, "tsv:PATH", "jsonl:PATH", a .tsv or .jsonl path (not opened
// here), or a task name with valid arguments; otherwise an error naming the unknown
// task or the bad argument. A configuration layer can check a name with it (the
// arguments are part of the name, so they need no configuration fields).
//
// Arguments of the poetry-* tasks, comma-separated after a colon: "tang" or "song"
// (Options.Dynasty), "shi" or "ci" (Options.Form), "by-author" or "by-poem"
// (Options.SplitBy), or the same as "dynasty=tang", "form=ci", "split=author".
//
//	CheckName("poetry-couplet:tang,by-author") == nil
//	CheckName("poetry-lm:ming") // task "poetry-lm:ming": unknown argument "ming" (...)
func CheckName(name string) error {
	_, _, err := resolve(name, Options{})
	return err
}

// resolve finds the spec of a task name and folds the name's arguments (or file
// path) into opts.
func resolve(name string, opts Options) (taskSpec, Options, error) {
	full := name
	args, hasArgs := "", false
	if kind, path, ok := strings.Cut(name, ":"); ok && (kind == "tsv" || kind == "jsonl") {
		name, opts.Path = kind, path
	} else if strings.HasSuffix(name, ".tsv") {
		name, opts.Path = "tsv", name
	} else if strings.HasSuffix(name, ".jsonl") {
		name, opts.Path = "jsonl", name
	} else if base, a, ok := strings.Cut(name, ":"); ok {
		if _, known := registry[base]; known {
			name, args, hasArgs = base, a, true
		}
	}
	spec, ok := registry[name]
	if !ok {
		return taskSpec{}, opts, fmt.Errorf("unknown task %q (known: %s; or a .tsv/.jsonl file)", name, strings.Join(Names(), ", "))
	}
	if hasArgs {
		if spec.args == nil {
			return taskSpec{}, opts, fmt.Errorf("task %q takes no arguments, got %q in %q", name, args, full)
		}
		if err := spec.args(args, &opts); err != nil {
			return taskSpec{}, opts, fmt.Errorf("task %q: %w", full, err)
		}
	}
	if spec.args == nil && (opts.Dynasty != "" || opts.Form != "" || opts.SplitBy != "") {
		return taskSpec{}, opts, fmt.Errorf("task %q: Options Dynasty %q, Form %q, SplitBy %q are for the poetry-* tasks", name, opts.Dynasty, opts.Form, opts.SplitBy)
	}
	return spec, opts, nil
}

// Loaded tasks are kept per (name, options) so a sweep loads each once; Load hands
// out shallow copies that share the (read-only) examples.
var (
	taskCacheMu sync.Mutex
	taskCache   = map[string]*Task{}
)

const taskCacheSize = 8

// clone returns a copy of t that shares its examples, vocabularies and statistics
// (which must not be modified) but has its own batch plans.
func (t *Task) clone() *Task {
	c := *t
	c.planCache = newPlanCache()
	return &c
}

// finish computes the length bounds and indices.
func (t *Task) finish() {
	t.MaxSourceLen, t.MaxTargetLen = 0, 0
	for _, split := range [][]Example{t.Train, t.Valid, t.Test} {
		for i := range split {
			split[i].Index = i
			t.MaxSourceLen = max(t.MaxSourceLen, len(split[i].Source))
			t.MaxTargetLen = max(t.MaxTargetLen, len(split[i].Target))
		}
	}
	if t.Kind == Seq2Seq {
		t.SrcLen = roundUp(t.MaxSourceLen+1, 8)
	}
	t.TgtLen = roundUp(t.MaxTargetLen+1, 8)
	t.planCache = newPlanCache()
	t.computeStats()
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// TokenCounts returns, for every id of Vocab, how often it occurs in the training
// targets (without BOS/EOS): corpus statistics for frequency-based corruption.
func (t *Task) TokenCounts() []int64 {
	return t.counts
}

// SourceTokenCounts is TokenCounts for the training sources, over SrcVocab
// (nil for tasks without a source).
func (t *Task) SourceTokenCounts() []int64 {
	return t.srcCounts
}

// SrcToTgt maps each SrcVocab id to the Vocab id of the same token string, -1 when
// the decoder vocabulary lacks it (UNK maps to -1 too, so that unknown tokens never
// match): what content-dependent corruption needs to compare source and target
// tokens. Nil for tasks without a source.
func (t *Task) SrcToTgt() []int32 {
	if t.SrcVocab == nil {
		return nil
	}
	return t.srcToTgt
}

func (t *Task) computeStats() {
	t.counts = countTokens(t.Vocab.Size(), t.Train, false)
	if t.SrcVocab != nil {
		t.srcCounts = countTokens(t.SrcVocab.Size(), t.Train, true)
		m := make([]int32, t.SrcVocab.Size())
		for id, tok := range t.SrcVocab.Tokens {
			m[id] = -1
			if t.Vocab.Has(tok) && id != t.SrcVocab.UNK {
				m[id] = int32(t.Vocab.ID(tok))
			}
		}
		t.srcToTgt = m
	}
}

func countTokens(size int, exs []Example, source bool) []int64 {
	c := make([]int64, size)
	for _, e := range exs {
		ids := e.Target
		if source {
			ids = e.Source
		}
		for _, id := range ids {
			if int(id) < size && id >= 0 {
				c[id]++
			}
		}
	}
	return c
}
