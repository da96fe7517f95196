package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// The decoding benchmark (scripts/bench.sh --decode): generation speed of a 64-token
// greedy completion after prompts of 16 to 1,024 tokens, with the key/value cache
// (layers.Generator: the prompt once, then one token per step against fixed-size
// caches) against recomputing the whole prefix at every step (GenerateOptions.NoCache,
// the way layers.Greedy decodes). The model is a random Llama-style decoder (the Arch
// blocks a Qwen or Llama checkpoint loads into): d_model 256, 4 layers, 8 query and 2
// key/value heads of 32, SwiGLU 704, vocabulary 4096, one row. The token count is exact
// (no EOS id). Cached and recomputing runs alternate in interleaved pairs after one
// compiling run each; the figure is generated tokens per CPU second (user+sys of this
// process, prefill included), which other load on the machine disturbs less than wall
// time, and the wall-clock rate is printed beside it.
type decodeOptions struct {
	prompts []int
	newTok  int
	pairs   int
}

func decodeModel() layers.Config {
	return layers.Config{Kind: layers.KindDecoder, Vocab: 4096, DModel: 256, Heads: 8, FF: 704, DecLayers: 4,
		Positions: layers.PosRotary, RotaryBase: 10000, Arch: &layers.Arch{Family: layers.FamilyLlama, KVHeads: 2}}
}

func orchestrateDecode(o decodeOptions, stdout io.Writer) error {
	be, err := backend.New(backend.Resolve("", ""))
	if err != nil {
		return err
	}
	cfg := decodeModel()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "decoding: llama-style d256 L4 8/2 heads, vocab 4096, batch 1, %d new tokens, greedy; backend %s, GOMAXPROCS %d, %d pairs, load average %s\n",
		o.newTok, be.Name(), runtime.GOMAXPROCS(0), o.pairs, loadAvg())
	for _, p := range o.prompts {
		prompt := make([]int32, p)
		for i := range prompt {
			prompt[i] = int32(3 + (i*7919)%(cfg.Vocab-3))
		}
		gens := map[bool]*layers.Generator{}
		var tokens [2]string
		for i, noCache := range []bool{false, true} {
			g, err := layers.NewGenerator(be, store, cfg, layers.GenerateOptions{BOS: 1, EOS: -1, PAD: 0,
				MaxNewTokens: o.newTok, MaxLen: p + o.newTok - 1, NoCache: noCache})
			if err != nil {
				return err
			}
			out, err := g.Generate(nil, [][]int32{prompt}) // compiles
			if err != nil {
				return err
			}
			if n := len(out.Tokens[0]); n != o.newTok {
				return fmt.Errorf("prompt %d: generated %d tokens, want %d", p, n, o.newTok)
			}
			tokens[i] = fmt.Sprint(out.Tokens[0])
			gens[noCache] = g
		}
		if tokens[0] != tokens[1] {
			return fmt.Errorf("prompt %d: the cache decodes %s, recomputing %s", p, tokens[0], tokens[1])
		}
		cpu := map[bool][]float64{}
		wall := map[bool][]float64{}
		for range o.pairs {
			for _, noCache := range []bool{false, true} {
				c0, w0 := cpuSeconds(), time.Now()
				if _, err := gens[noCache].Generate(nil, [][]int32{prompt}); err != nil {
					return err
				}
				cpu[noCache] = append(cpu[noCache], float64(o.newTok)/(cpuSeconds()-c0))
				wall[noCache] = append(wall[noCache], float64(o.newTok)/time.Since(w0).Seconds())
			}
		}
		// The prefill alone (one generated token), to split the cached time into the
		// prompt's pass and the steps.
		pre, err := layers.NewGenerator(be, store, cfg, layers.GenerateOptions{BOS: 1, EOS: -1, PAD: 0, MaxNewTokens: 1, MaxLen: p + o.newTok - 1})
		if err != nil {
			return err
		}
		var preCPU []float64
		for i := range o.pairs + 1 {
			c0 := cpuSeconds()
			if _, err := pre.Generate(nil, [][]int32{prompt}); err != nil {
				return err
			}
			if i > 0 { // the first run compiles
				preCPU = append(preCPU, cpuSeconds()-c0)
			}
		}
		prefill := median(preCPU)
		stepMS := 1000 * (float64(o.newTok)/median(cpu[false]) - prefill) / float64(o.newTok-1)
		ratios := make([]float64, o.pairs)
		for i := range ratios {
			ratios[i] = cpu[false][i] / cpu[true][i]
		}
		fmt.Fprintf(stdout, "decode prompt=%d new=%d cached_tok/cpu_s=%.1f recompute_tok/cpu_s=%.1f speedup=%.2f (pairs %.2f..%.2f) cached_prefill_cpu_ms=%.0f cached_step_cpu_ms=%.1f cached_tok/s=%.1f recompute_tok/s=%.1f\n",
			p, o.newTok, median(cpu[false]), median(cpu[true]), median(ratios), minOf(ratios), maxOf(ratios), 1000*prefill, stepMS, median(wall[false]), median(wall[true]))
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	return nil
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
