package hf

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/pkg/layers"
)

// GenerationSampling returns the sampling that generation_config.json asks for, as
// Hugging Face's generate applies it when the caller sets nothing: greedy unless
// do_sample is true; then temperature (default 1), top_k (default 50) and top_p
// (default 1). ok is false when the file sets no do_sample.
func (c *Config) GenerationSampling() (s layers.Sampling, ok bool) {
	g := c.Generation
	sample, _ := g["do_sample"].(bool)
	if !sample {
		return s, g != nil && g["do_sample"] != nil
	}
	s = layers.Sampling{Temperature: 1, TopK: 50, TopP: 1}
	num := func(key string) (float64, bool) {
		switch v := g[key].(type) {
		case float64:
			return v, true
		case interface{ Float64() (float64, error) }:
			f, err := v.Float64()
			return f, err == nil
		}
		return 0, false
	}
	if v, ok := num("temperature"); ok {
		s.Temperature = v
	}
	if v, ok := num("top_k"); ok {
		s.TopK = int(v)
	}
	if v, ok := num("top_p"); ok {
		s.TopP = v
	}
	return s, true
}

// Generated is what Generate returns.
type Generated struct {
	Text   string  // the continuation, special tokens skipped
	Prompt []int32 // the prompt's ids
	Tokens []int32 // the generated ids, the stop id included when one was produced
	Cached bool    // decoded with the key/value cache
}

// Generate continues text with the checkpoint whose weights are in store (under the
// root scope, as Load puts them), tokenized with its tokenizer as Hugging Face's
// tokenizer(text) does (special tokens of its post-processor included, Llama's BOS). The
// row ends at any of the checkpoint's EOS ids (generation_config.json, else
// config.json). opts sets MaxNewTokens, Sampling and NoCache; BOS, EOS, Stop and PAD come
// from the checkpoint, and MaxLen 0 sizes the cache to the prompt and MaxNewTokens.
func Generate(backend compute.Backend, ck *Checkpoint, store *model.Store, tok *Tokenizer, text string, opts layers.GenerateOptions) (*Generated, error) {
	c := ck.Config
	prompt := tok.Encode(text)
	if len(prompt) == 0 {
		if c.BOS < 0 {
			return nil, fmt.Errorf("hf: the prompt %q has no tokens and %s defines no BOS to start from", text, ck.Dir)
		}
		prompt = []int32{int32(c.BOS)}
	}
	opts.BOS, opts.EOS, opts.PAD, opts.Stop = prompt[0], -1, 0, nil
	if len(c.EOS) > 0 {
		opts.EOS = int32(c.EOS[0])
		for _, id := range c.EOS[1:] {
			opts.Stop = append(opts.Stop, int32(id))
		}
		opts.PAD = opts.EOS
	}
	if c.Pad >= 0 {
		opts.PAD = int32(c.Pad)
	}
	cfg := c.Model(layers.Config{}.Self)
	if max := c.MaxPositions; max > 0 && len(prompt)+opts.MaxNewTokens-1 > max {
		return nil, fmt.Errorf("hf: a prompt of %d tokens and %d new ones exceed the %d positions of %s (max_position_embeddings)", len(prompt), opts.MaxNewTokens, max, ck.Dir)
	}
	g, err := layers.NewGenerator(backend, store, cfg, opts)
	if err != nil {
		return nil, err
	}
	out, err := g.Generate(nil, [][]int32{prompt})
	if err != nil {
		return nil, err
	}
	toks := out.Tokens[0]
	body := toks
	if n := len(body); n > 0 && (body[n-1] == opts.EOS || containsID(opts.Stop, body[n-1])) {
		body = body[:n-1]
	}
	cached, _ := g.Cached()
	return &Generated{Text: tok.DecodeSkipSpecial(body), Prompt: prompt, Tokens: toks, Cached: cached}, nil
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
