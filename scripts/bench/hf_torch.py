#!/usr/bin/env python3
"""The PyTorch side of issue 18's checkpoint benchmark (scripts/bench.sh --hf).

Run with Debian's python3-torch (1.13; no transformers, no safetensors package needed):

    hf_torch.py gen --preset load-100m --out DIR    # a ~100M-parameter BF16 Llama checkpoint
    hf_torch.py gen --preset train-30m --out DIR    # a ~30M-parameter F32 Llama checkpoint
    hf_torch.py train --ckpt DIR --threads N --batch B --seq T --warmup W --steps S
    hf_torch.py ceiling --threads N                 # fp32 matmul GFLOP/s (1024x1024)

gen writes a random checkpoint in Hugging Face's layout (config.json,
generation_config.json, model.safetensors) with pkg/hf/testdata/make_checkpoints.py's own
config, weight and safetensors code (the generator of the committed test fixtures): the
benchmark's checkpoints are made at benchmark time in a temporary directory, never
committed.

train trains the checkpoint's model for W + S steps (forward, cross-entropy on the next
token, backward, AdamW) on the same deterministic token batches as masklab's side
(scripts/bench/hf.go, hfTokens) and prints one JSON line: the CPU time (user+sys of the
process, all its threads) and wall time of the S measured steps, and the loss of each
step. The model is the Llama forward pass of make_checkpoints.py (llama_forward, written
from transformers' modeling_llama.py independently of masklab), batched and in float32:
it reuses that file's rms_norm, rotate_half, inv_freq, causal and attention.
"""

import argparse
import json
import math
import os
import resource
import struct
import sys
import time

def _openblas_coretype():
    """OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (family 6 model 207 here) and
    falls back to its Prescott (SSE3) kernels: a 1024x1024 sgemm runs at 29 GFLOP/s per
    CPU second instead of 120. On a CPU with AVX-512 (AVX2), and unless the environment
    says otherwise, ask for the SkylakeX (Haswell) kernels, what a recognised CPU of the
    kind gets. It must be set before libopenblas is loaded (by `import torch`)."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    except OSError:
        return
    if "avx512f" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_openblas_coretype()
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "pkg", "hf", "testdata"))
import make_checkpoints as mc  # noqa: E402

# Llama-style sizes. load-100m: 8 layers of width 768 (12 query heads, 4 key/value heads
# of 64), SwiGLU 2048, vocabulary 32000, untied output: 99.1M parameters, stored in BF16.
# train-30m: 6 layers of width 512 (8 heads, 4 key/value), SwiGLU 1536, vocabulary 10000,
# untied: 29.1M parameters, stored in F32 (what both sides train in).
PRESETS = {
    "load-100m": (dict(hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                       num_key_value_heads=4, num_hidden_layers=8, head_dim=64, vocab_size=32000,
                       max_position_embeddings=2048, rope_theta=500000.0), torch.bfloat16),
    "train-30m": (dict(hidden_size=512, intermediate_size=1536, num_attention_heads=8,
                       num_key_value_heads=4, num_hidden_layers=6, head_dim=64, vocab_size=10000,
                       max_position_embeddings=2048, rope_theta=10000.0), torch.float32),
}


def gen(args):
    sizes, dtype = PRESETS[args.preset]
    torch.manual_seed(args.seed)
    c = mc.llama_cfg(**sizes)
    state = mc.llama_state(c, qkv_bias=False, o_bias=False, qk_norm=False, tied=False)
    state = {k: v.to(dtype) for k, v in state.items()}  # halves the generator's memory
    mc.save_checkpoint(args.out, c, state, dtype, generation={"bos_token_id": 1, "eos_token_id": 2})
    params = sum(v.numel() for v in state.values())
    print(json.dumps({"preset": args.preset, "params": params, "dtype": str(dtype),
                      "bytes": os.path.getsize(os.path.join(args.out, "model.safetensors"))}))


# ---------------------------------------------------------------------------------------
# Reading the checkpoint back (a few lines of the format; make_checkpoints.py writes it).

ST_TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dt = ST_TORCH[e["dtype"]]
        raw = torch.frombuffer(data, dtype=torch.int16 if dt == torch.bfloat16 else dt,
                               count=(end - b) // (2 if dt != torch.float32 else 4), offset=b)
        out[name] = raw.view(dt).reshape(e["shape"]).float().clone()
    return out


# ---------------------------------------------------------------------------------------
# The model: make_checkpoints.llama_forward over a batch, in float32.

def llama_forward_batch(c, s, ids, rope):
    """Logits [B,T,V] of ids [B,T] (positions 0..T-1, causal attention)."""
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    dh = c.get("head_dim") or D // H
    eps = c["rms_norm_eps"]
    B, T = ids.shape
    cos, sin = rope
    allowed = mc.causal(T)

    def proj(p, name, h):
        y = h @ s[p + name + ".weight"].T
        b = s.get(p + name + ".bias")
        return y if b is None else y + b

    x = s["model.embed_tokens.weight"][ids]
    for l in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = mc.rms_norm(x, s[p + "input_layernorm.weight"], eps)
        q = proj(p, "self_attn.q_proj", h).view(B, T, H, dh).transpose(1, 2)  # [B, heads, T, dh]
        k = proj(p, "self_attn.k_proj", h).view(B, T, KV, dh).transpose(1, 2)
        v = proj(p, "self_attn.v_proj", h).view(B, T, KV, dh).transpose(1, 2)
        q = q * cos + mc.rotate_half(q) * sin
        k = k * cos + mc.rotate_half(k) * sin
        rep = H // KV  # repeat_kv
        k = k[:, :, None].expand(B, KV, rep, T, dh).reshape(B, H, T, dh)
        v = v[:, :, None].expand(B, KV, rep, T, dh).reshape(B, H, T, dh)
        o = mc.attention(q, k, v, allowed).transpose(1, 2).reshape(B, T, H * dh)
        x = x + proj(p, "self_attn.o_proj", o)
        h = mc.rms_norm(x, s[p + "post_attention_layernorm.weight"], eps)
        gate = proj(p, "mlp.gate_proj", h)
        x = x + proj(p, "mlp.down_proj", torch.nn.functional.silu(gate) * proj(p, "mlp.up_proj", h))
    x = mc.rms_norm(x, s["model.norm.weight"], eps)
    head = s["model.embed_tokens.weight"] if c["tie_word_embeddings"] else s["lm_head.weight"]
    return x @ head.T


def tokens(step, batch, seq, vocab):
    """The ids of a step's batch, [batch, seq+1]: the same formula as scripts/bench/hf.go's
    hfTokens (a multiplicative hash of the flat index, modulo the vocabulary)."""
    i = torch.arange(batch * (seq + 1), dtype=torch.int64) + step * batch * (seq + 1)
    return ((i * 2654435761) % (1 << 32) % vocab).reshape(batch, seq + 1)


def blas_name():
    """The BLAS library the process has mapped and, for OpenBLAS, the kernels it runs
    (reference BLAS makes the comparison meaningless: install libopenblas0-openmp)."""
    import ctypes
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "blas" in l}
    for l in sorted(libs):
        if "openblas" in l:
            name = "openblas-" + ("openmp" if "openmp" in l else "pthread" if "pthread" in l else "serial")
            try:
                lib = ctypes.CDLL(l)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                name += "/" + lib.openblas_get_corename().decode()
            except (OSError, AttributeError):
                pass
            return name
    return "reference" if libs else "none"


def train(args):
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.ckpt, "config.json")) as f:
        c = json.load(f)
    s = load_safetensors(os.path.join(args.ckpt, "model.safetensors"))
    params = [t.requires_grad_() for t in s.values()]
    dh = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    freqs = torch.arange(args.seq, dtype=torch.float32)[:, None] * mc.inv_freq(c, dh).float()[None]
    emb = torch.cat((freqs, freqs), dim=-1)
    rope = (emb.cos(), emb.sin())
    # AdamW as masklab's side: lr 1e-5, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    V = c["vocab_size"]
    losses = []
    cpu0 = wall0 = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            cpu0, wall0 = time.process_time(), time.perf_counter()
        ids = tokens(step, args.batch, args.seq, V)
        logits = llama_forward_batch(c, s, ids[:, :-1], rope)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "libblas": blas_name(),
                      "params": sum(p.numel() for p in params), "steps": args.steps,
                      "tokens": args.steps * args.batch * args.seq, "cpu_s": cpu, "wall_s": wall,
                      "losses": losses,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def ceiling(args):
    """The fp32 matmul speed (1024x1024, best of 8 by CPU time), as bench's matmul worker."""
    torch.set_num_threads(args.threads)
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    for i in range(8):
        t0 = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t0
        if i:
            best = max(best, 2 * n ** 3 / dt / 1e9)
    print(json.dumps({"gflops": best, "libblas": blas_name()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--preset", choices=sorted(PRESETS), required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=18)
    t = sub.add_parser("train")
    t.add_argument("--ckpt", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--seq", type=int, default=128)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--steps", type=int, default=5)
    m = sub.add_parser("ceiling")
    m.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    {"gen": gen, "train": train, "ceiling": ceiling}[args.cmd](args)


if __name__ == "__main__":
    main()
