package main

import (
	"math"
	"testing"
)

// The FLOPs per training step match the reference script's analytic_flops (its README:
// 2.32 G for RB-d64, 8.87 G for RB-d128).
func TestStepFLOPsMatchReference(t *testing.T) {
	for _, c := range []struct {
		size string
		want float64
	}{{"d64", 2.32e9}, {"d128", 8.87e9}} {
		got := stepFLOPs(sizes[c.size])
		if math.Abs(got-c.want)/c.want > 0.005 {
			t.Errorf("%s: %.4g FLOPs per step, want %.4g", c.size, got, c.want)
		}
	}
}

func TestMedianAndSpread(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3,1,2 = %g, want 2", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median of 4,1,2,3 = %g, want 2.5", m)
	}
	if s := spread([]float64{9, 10, 11}); math.Abs(s-0.2) > 1e-12 {
		t.Errorf("spread of 9,10,11 = %g, want 0.2", s)
	}
}

// Tokens per CPU second leave out the first window (it holds the warm-up steps).
func TestTorchTokensPerCPUSecond(t *testing.T) {
	r := torchResult{TokensPerS: 1000, MeasuredS: 2, MeasuredN: 20,
		Windows: []torchWindow{{Steps: 10, SelfCPU: 100}, {Steps: 10, SelfCPU: 0.5}, {Steps: 10, SelfCPU: 0.5}}}
	// 100 tokens per step; 20 steps in 1 CPU second.
	if got := r.tokensPerCPUSecond(); math.Abs(got-2000) > 1e-9 {
		t.Errorf("tokens per CPU second = %g, want 2000", got)
	}
}

// The benchmark's model is the reference configuration.
func TestReferenceModel(t *testing.T) {
	cfg, err := referenceModel(sizes["d128"])
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.DModel != 128 || cfg.FF != 512 || cfg.Heads != 4 || cfg.EncLayers != 2 || cfg.DecLayers != 2 || cfg.Vocab != 64 || cfg.Tied || cfg.PostLN || cfg.Dropout != 0 {
		t.Errorf("reference model differs from RB-d128: %+v", cfg)
	}
	if cfg.Self.String() != "causal & pad" {
		t.Errorf("decoder self mask %q, want \"causal & pad\"", cfg.Self.String())
	}
}
