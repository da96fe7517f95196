package hf

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
)

// identityFiles are the files of a checkpoint directory that decide what a run on it
// computes, besides the weight files: the config, the generation defaults (pad, EOS) and
// the tokenizer's files (tokenization makes the task's ids).
var identityFiles = []string{
	ConfigFile, GenerationConfigFile, IndexFile,
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
	"vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja",
}

// IsCheckpoint reports whether dir looks like a Hugging Face checkpoint directory (it has
// a config.json) rather than a masklab run directory (config.yaml).
func IsCheckpoint(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}

// Fingerprint returns the sha256 (hex) of the checkpoint in dir as a run sees it: the
// name, length and content of config.json, generation_config.json, the weight index and
// tokenizer files when present, and every weight file the checkpoint loads, in name
// order. It is what a run's identity records, as the sha256 of a user data file: edited
// weights or config make a new run.
func Fingerprint(dir string) (string, error) {
	var names, ids []string
	if IsBertCheckpoint(dir) {
		b, err := OpenBert(dir)
		if err != nil {
			return "", err
		}
		names, ids = append(names, b.Files()...), append(identityFiles[:len(identityFiles):len(identityFiles)], VocabFile)
	} else {
		ck, err := Open(dir)
		if err != nil {
			return "", err
		}
		names, ids = append(names, ck.Files...), identityFiles
	}
	for _, f := range ids {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			names = append(names, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("hf: %w", err)
		}
	}
	sort.Strings(names)
	// Within a process, a fingerprint is remembered by its files' names, sizes and
	// modification times: a sweep plans, estimates and checks every run on the same
	// checkpoint, and hashing a 1 GB one takes seconds. (A same-size rewrite within the
	// file system's time resolution would go unseen until the process restarts.)
	key := dir
	for _, name := range names {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("hf: %w", err)
		}
		key += fmt.Sprintf("\x00%s\x00%d\x00%d", name, st.Size(), st.ModTime().UnixNano())
	}
	if sum, ok := fingerprints.Load(key); ok {
		return sum.(string), nil
	}
	h := sha256.New()
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("hf: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return "", fmt.Errorf("hf: %w", err)
		}
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(st.Size()))
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(n[:])
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hf: %s: %w", name, err)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	fingerprints.Store(key, sum)
	return sum, nil
}

var fingerprints sync.Map // Fingerprint's key (files, sizes, times) -> sha256

// RunFingerprint is Fingerprint for a run that renders its conversations with
// chatTemplate (task.chat_template): a .jinja file's content joins the checkpoint's
// (an edited template makes a new run); "" and "chatml" change nothing.
func RunFingerprint(dir, chatTemplate string) (string, error) {
	sum, err := Fingerprint(dir)
	if err != nil || chatTemplate == "" || chatTemplate == "chatml" {
		return sum, err
	}
	b, err := os.ReadFile(chatTemplate)
	if err != nil {
		return "", fmt.Errorf("hf: task.chat_template: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(sum + "\x00" + ChatTemplateFile + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ForRun returns the checkpoint's model configured for a run whose own model config is
// run: the checkpoint decides the architecture and sizes, the run its masks (Self, and
// Cross/Enc, unused by a decoder), score modification and dropout. A task whose ids
// reach past the checkpoint's vocabulary (run.Vocab > vocab_size) is refused: its ids
// would index no embedding.
func (c *Config) ForRun(run layers.Config) (layers.Config, error) {
	if run.Kind != "" && run.Kind != layers.KindDecoder {
		return layers.Config{}, fmt.Errorf("hf: a %s is a decoder-only model; set model.kind=%s", c.Architecture, layers.KindDecoder)
	}
	if run.Vocab > c.Vocab {
		return layers.Config{}, fmt.Errorf("hf: the task's vocabulary has %d ids, the %s's (vocab_size) %d: tokenize the task with the checkpoint's tokenizer", run.Vocab, c.Architecture, c.Vocab)
	}
	m := c.Model(run.Self)
	m.Cross, m.Enc, m.Score, m.Dropout = run.Cross, run.Enc, run.Score, run.Dropout
	return m, m.Validate()
}

// TaskVocab returns the vocabulary a run fine-tuning the checkpoint encodes its task with
// (datasets.NewCodecVocab over its tokenizer, Checkpoint.Tokenizer): the model's ids
// (config.json's vocab_size of them) as the tokenizer makes them. Its special ids: EOS is
// the tokenizer's (else config.json's first eos_token_id); BOS, the first decoder input
// of every document, the tokenizer's (else bos_token_id, else EOS: Qwen has no BOS); PAD
// the tokenizer's (else pad_token_id, else EOS, as TRL pads: padding is kept out of the
// loss and of attention anyway); MASK (masks.input) the first id past the tokenizer's
// when vocab_size leaves an unused embedding row, else none. Its chat template, which
// renders a task's conversations, is the checkpoint's own (LoadChatTemplate) when it has
// one; one that cannot be compiled makes conversations, not other data, an error. A run's
// task.chat_template (chatTemplate: "chatml" or a .jinja file, ChatTemplateFor) replaces it.
func (ck *Checkpoint) TaskVocab(chatTemplate string) (*datasets.Vocab, error) {
	tok, err := ck.Tokenizer()
	if err != nil {
		return nil, err
	}
	c, sp := ck.Config, tok.Special
	eos := int(sp.EOS)
	if eos < 0 && len(c.EOS) > 0 {
		eos = c.EOS[0]
	}
	if eos < 0 {
		return nil, fmt.Errorf("hf: %s: neither the tokenizer nor config.json names an EOS token: a fine-tuned document could not end", ck.Dir)
	}
	bos, pad := int(sp.BOS), int(sp.PAD)
	if bos < 0 {
		bos = cmp.Or(max(c.BOS+1, 0), eos+1) - 1
	}
	if pad < 0 {
		pad = cmp.Or(max(c.Pad+1, 0), eos+1) - 1
	}
	mask := -1
	if c.Vocab > tok.Vocab {
		mask = tok.Vocab
	}
	v, err := datasets.NewCodecVocab(c.Vocab, func(id int) string { return tok.Token(int32(id)) }, tok, pad, bos, eos, int(sp.UNK), mask)
	if err != nil {
		return nil, err
	}
	if chatTemplate != "" {
		ct, err := ck.ChatTemplateFor(chatTemplate)
		if err != nil {
			return nil, err
		}
		return v.WithChatTemplate(ct), nil
	}
	if ct, err := LoadChatTemplate(ck.Dir, tok); err == nil {
		v = v.WithChatTemplate(ct)
	} else if !errors.Is(err, errNoChatTemplate) {
		v = v.WithChatTemplate(brokenTemplate{err})
	}
	return v, nil
}

// ChatTemplatePath makes a task.chat_template file's path absolute, a relative one taken
// relative to dir (the config or sweep file's directory); "" and "chatml" stay as they are.
func ChatTemplatePath(spec, dir string) (string, error) {
	if spec == "" || spec == "chatml" || filepath.IsAbs(spec) {
		return spec, nil
	}
	abs, err := filepath.Abs(filepath.Join(dir, spec))
	if err != nil {
		return "", fmt.Errorf("task.chat_template=%s: %w", spec, err)
	}
	return abs, nil
}

// ChatTemplateFor returns the chat template a run names (task.chat_template): "" the
// checkpoint's own (LoadChatTemplate), "chatml" the built-in ChatML, else the path of a
// Jinja file; the checkpoint's tokenizer gives its special tokens.
func (ck *Checkpoint) ChatTemplateFor(spec string) (*ChatTemplate, error) {
	tok, err := ck.Tokenizer()
	if err != nil {
		return nil, err
	}
	switch spec {
	case "":
		return LoadChatTemplate(ck.Dir, tok)
	case "chatml":
		return NewChatTemplate(ChatML, "chatml", tok)
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("hf: task.chat_template: %w", err)
	}
	return NewChatTemplate(string(b), spec, tok)
}

// brokenTemplate is a checkpoint's chat template that cannot be used: rendering a
// conversation is its error.
type brokenTemplate struct{ err error }

func (b brokenTemplate) RenderChat(*datasets.Conversation) (string, []datasets.Span, error) {
	return "", nil, b.err
}
