package hf

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// sameFiles compares every file of dir a with dir b, byte for byte.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	list := func(d string) []string {
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	na, nb := list(a), list(b)
	if !slices.Equal(na, nb) {
		t.Fatalf("files %v, want %v", nb, na)
	}
	for _, n := range na {
		x, _ := os.ReadFile(filepath.Join(a, n))
		y, _ := os.ReadFile(filepath.Join(b, n))
		if !bytes.Equal(x, y) {
			i := 0
			for i < min(len(x), len(y)) && x[i] == y[i] {
				i++
			}
			t.Errorf("%s differs from byte %d (%d and %d bytes)", n, i, len(x), len(y))
		}
	}
}

// Load → Export of an unmodified checkpoint reproduces every file byte for byte:
// config.json, generation_config.json, the safetensors headers and data (BF16 and F16
// through float32 and back), the shards and their index.
func TestExportReproducesCheckpoint(t *testing.T) {
	for _, name := range archNames {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", name)
			ck, store, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			if err := Export(dst, ck.Config, store, "", ExportOptions{Like: ck}); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, src, dst)
		})
	}
}

// Exports in other layouts reload to the same logits: one F32 file from a sharded F16
// checkpoint, F32 shards of at most 40 kB from a single BF16 file; a BF16 export of F32
// weights reloads within bf16 rounding.
func TestExportReloads(t *testing.T) {
	exp := readExpected(t)
	for _, c := range []struct {
		arch string
		opts ExportOptions
		tol  float64
	}{
		{"qwen2", ExportOptions{DType: F32}, logitTol},
		{"llama", ExportOptions{DType: F32, MaxShardBytes: 40 << 10}, logitTol},
		{"gpt2", ExportOptions{MaxShardBytes: 30 << 10}, logitTol},
		{"mistral", ExportOptions{DType: BF16}, 0.5},
	} {
		t.Run(c.arch, func(t *testing.T) {
			e := exp[c.arch]
			ck, store, err := Load(filepath.Join("testdata", c.arch))
			if err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			if err := Export(dst, ck.Config, store, "", c.opts); err != nil {
				t.Fatal(err)
			}
			ck2, store2, err := Load(dst)
			if err != nil {
				t.Fatal(err)
			}
			if c.opts.MaxShardBytes > 0 && (!ck2.Sharded || len(ck2.Files) < 2) {
				t.Errorf("sharded export: %d files, sharded %v", len(ck2.Files), ck2.Sharded)
			}
			for _, f := range ck2.Files {
				// The limit counts tensor bytes; the header adds a few hundred.
				if st, _ := os.Stat(filepath.Join(dst, f)); c.opts.MaxShardBytes > 0 && st.Size() > c.opts.MaxShardBytes+4096 {
					t.Errorf("%s has %d bytes, more than the shard size", f, st.Size())
				}
			}
			if want := cmpOr(c.opts.DType, F32); ck2.StoredDType("model.norm.weight") != want && ck2.StoredDType("transformer.ln_f.weight") != want {
				t.Errorf("stored dtype %s, want %s", ck2.StoredDType("model.norm.weight"), want)
			}
			cfg := ck2.Config.Model(mustMask(t, "causal & pad"))
			ids := e.Sequences[0]
			got := forward(t, store2, cfg, batch{ids: [][]int32{ids}, lens: []int32{int32(len(ids))}})
			if d := maxDiff(got[0], e.Logits[0], len(ids), e.Vocab); d > c.tol {
				t.Errorf("reloaded export: max |Δlogit| %.3g > %g", d, c.tol)
			}
			if c.opts.DType == F32 {
				// The same float32 values: identical logits.
				before := forward(t, store, ck.Config.Model(mustMask(t, "causal & pad")), batch{ids: [][]int32{ids}, lens: []int32{int32(len(ids))}})
				for i := range ids {
					if !slices.Equal(before[0][i], got[0][i]) {
						t.Fatalf("position %d: logits changed through an F32 export", i)
					}
				}
			}
		})
	}
}

// A store missing a variable or holding one of the wrong shape is refused before any
// file is written.
func TestExportChecksVariables(t *testing.T) {
	ck, store, err := Load(filepath.Join("testdata", "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteVariable("/decoder/layer_1/self/MultiHeadAttention/key_norm/rms_normalization/gain"); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	err = Export(dst, ck.Config, store, "", ExportOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"model.layers.1.self_attn.k_norm.weight"`)) {
		t.Fatalf("error %v, want one naming the tensor", err)
	}
	if es, _ := os.ReadDir(dst); len(es) != 0 {
		t.Errorf("files written before the error: %v", es)
	}
}

// The original gpt2 files have no "transformer." prefix and carry the causal-mask
// buffers h.N.attn.bias: they load to the same logits, and export keeps the names
// prefixless (the buffers, which the model does not use, are not written back).
func TestPrefixlessGPT2(t *testing.T) {
	exp := readExpected(t)
	src := filepath.Join("testdata", "gpt2")
	h, err := readHeader(filepath.Join(src, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(h.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entries []stEntry
	for _, st := range h.Tensors {
		st := st
		entries = append(entries, stEntry{Name: st.Name[len("transformer."):], DType: st.DType, Shape: st.Shape, Data: func(dst []byte) []byte {
			b := make([]byte, st.End-st.Begin)
			if _, err := f.ReadAt(b, h.DataStart+st.Begin); err != nil {
				t.Fatal(err)
			}
			return append(dst, b...)
		}})
	}
	for l := range 2 {
		entries = append(entries, stEntry{Name: "h." + string(rune('0'+l)) + ".attn.bias", DType: F32, Shape: []int{1, 1, 64, 64}, Data: func(dst []byte) []byte {
			return append(dst, make([]byte, 64*64*4)...)
		}})
	}
	dir := t.TempDir()
	if err := writeSafetensors(filepath.Join(dir, WeightsFile), map[string]string{"format": "pt"}, entries); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(src, ConfigFile))
	os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644)
	ck, store, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ck.Prefixless {
		t.Error("not recognised as prefixless")
	}
	e := exp["gpt2"]
	ids := e.Sequences[0]
	got := forward(t, store, ck.Config.Model(mustMask(t, "causal & pad")), batch{ids: [][]int32{ids}, lens: []int32{int32(len(ids))}})
	if d := maxDiff(got[0], e.Logits[0], len(ids), e.Vocab); d > logitTol {
		t.Errorf("max |Δlogit| %.3g", d)
	}
	out := t.TempDir()
	if err := Export(out, ck.Config, store, "", ExportOptions{Like: ck}); err != nil {
		t.Fatal(err)
	}
	h2, err := readHeader(filepath.Join(out, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if h2.Tensors["wte.weight"] == nil || h2.Tensors["h.0.attn.bias"] != nil || len(h2.Tensors) != len(h.Tensors) {
		t.Errorf("exported names: %d tensors, wte.weight %v, h.0.attn.bias %v", len(h2.Tensors), h2.Tensors["wte.weight"] != nil, h2.Tensors["h.0.attn.bias"] != nil)
	}
}

// A checkpoint's fingerprint changes with its weights and its config, not with files a
// run does not read, and not with where the directory is.
func TestFingerprint(t *testing.T) {
	a := copyFixture(t, "qwen2")
	b := copyFixture(t, "qwen2")
	fa, err := Fingerprint(a)
	if err != nil {
		t.Fatal(err)
	}
	if fb, _ := Fingerprint(b); fb != fa {
		t.Errorf("copies differ: %s, %s", fa, fb)
	}
	os.WriteFile(filepath.Join(b, "README.md"), []byte("notes"), 0o644)
	if fb, _ := Fingerprint(b); fb != fa {
		t.Error("a README changed the fingerprint")
	}
	editFile(t, b, GenerationConfigFile, `"temperature": 0.7`, `"temperature": 0.8`)
	fb, _ := Fingerprint(b)
	if fb == fa {
		t.Error("an edited generation_config.json kept the fingerprint")
	}
	p := filepath.Join(a, "model-00002-of-00002.safetensors")
	w, _ := os.ReadFile(p)
	w[len(w)-1] ^= 1 // one bit of the last tensor
	os.WriteFile(p, w, 0o644)
	if fa2, _ := Fingerprint(a); fa2 == fa || fa2 == fb {
		t.Error("edited weights kept the fingerprint")
	}
	if !IsCheckpoint(a) || IsCheckpoint(t.TempDir()) {
		t.Error("IsCheckpoint")
	}
}
