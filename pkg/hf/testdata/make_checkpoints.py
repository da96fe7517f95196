#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints and their expected logits, for pkg/hf's tests.

Run from this directory with Debian's PyTorch (python3-torch 1.13, no transformers, no
safetensors package needed):

    /usr/bin/python3 make_checkpoints.py

It writes one directory per architecture, in the exact layout `save_pretrained` gives
(config.json with the real keys, model.safetensors or a sharded
model.safetensors.index.json, generation_config.json for some), and expected.json: for
each architecture a few token sequences and the logits of each sequence on its own
(batch of one, positions 0..T-1, causal attention; the Go tests build padded batches and
packed rows from them).

The forward passes below are written from the Hugging Face modeling code
(modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py, modeling_mistral.py,
modeling_gpt2.py), independently of masklab, and run in float64 on the weights as stored
(bf16/f16 weights are rounded first, as loading them does). Where `transformers` is
installed, --check-transformers also runs its models on the same directories and
reports the largest difference (float32 there).

The safetensors files are written by the small writer below, which follows the format
and the Rust writer's conventions (the one behind safetensors.torch.save_file): tensors
ordered by dtype (descending, in the Rust enum's order), then by name; data in that
order; header JSON compact, "__metadata__" first, padded with spaces to a multiple of 8.
"""

import argparse
import json
import math
import os
import struct

import torch

torch.manual_seed(20240518)
F64 = torch.float64

# Rust safetensors' Dtype enum order (derive(Ord)): the writer sorts by it, descending.
RUST_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                    "I32", "U32", "F32", "F64", "I64", "U64"]
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
TORCH_DTYPE_NAME = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()  # little-endian on x86


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} like safetensors' Rust serializer."""
    items = sorted(tensors.items(),
                   key=lambda kv: (-RUST_DTYPE_ORDER.index(ST_DTYPE[kv[1].dtype]), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    # PretrainedConfig.to_json_string and GenerationConfig: indent 2, sorted keys, newline.
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_checkpoint(d, config, state, dtype, generation=None, shards=None):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    state = {k: v.to(dtype) for k, v in state.items()}
    config = dict(config, torch_dtype=TORCH_DTYPE_NAME[dtype], transformers_version="4.46.0")
    write_json(os.path.join(d, "config.json"), config)
    if generation is not None:
        write_json(os.path.join(d, "generation_config.json"), dict(generation, transformers_version="4.46.0"))
    if not shards:
        save_safetensors(os.path.join(d, "model.safetensors"), state, {"format": "pt"})
    else:
        # shards: a list of name-prefix predicates, one per file, in order.
        n = len(shards)
        weight_map, total = {}, 0
        for i, pred in enumerate(shards):
            fname = "model-%05d-of-%05d.safetensors" % (i + 1, n)
            part = {k: v for k, v in state.items() if pred(k)}
            save_safetensors(os.path.join(d, fname), part, {"format": "pt"})
            for k, v in part.items():
                weight_map[k] = fname
                total += v.numel() * v.element_size()
        assert set(weight_map) == set(state), "shards must cover every tensor once"
        write_json(os.path.join(d, "model.safetensors.index.json"),
                   {"metadata": {"total_size": total}, "weight_map": weight_map})
    # What the model computes with: the stored values, as float64.
    return {k: v.to(F64) for k, v in state.items()}


# ---------------------------------------------------------------------------------------
# Random weights (scaled so that logits are O(1) and the attention is not uniform).

def lin(out, inp):
    return torch.randn(out, inp, dtype=F64) / math.sqrt(inp)


def vec(n, scale=0.1, center=0.0):
    return center + scale * torch.randn(n, dtype=F64)


def llama_state(c, qkv_bias, o_bias, qk_norm, tied):
    D, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    dh = c.get("head_dim") or D // H
    s = {"model.embed_tokens.weight": 0.5 * torch.randn(V, D, dtype=F64),
         "model.norm.weight": vec(D, 0.1, 1.0)}
    if not tied:
        s["lm_head.weight"] = lin(V, D)
    for l in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % l
        s[p + "input_layernorm.weight"] = vec(D, 0.1, 1.0)
        s[p + "post_attention_layernorm.weight"] = vec(D, 0.1, 1.0)
        s[p + "self_attn.q_proj.weight"] = lin(H * dh, D)
        s[p + "self_attn.k_proj.weight"] = lin(KV * dh, D)
        s[p + "self_attn.v_proj.weight"] = lin(KV * dh, D)
        s[p + "self_attn.o_proj.weight"] = lin(D, H * dh)
        if qkv_bias:
            s[p + "self_attn.q_proj.bias"] = vec(H * dh)
            s[p + "self_attn.k_proj.bias"] = vec(KV * dh)
            s[p + "self_attn.v_proj.bias"] = vec(KV * dh)
        if o_bias:
            s[p + "self_attn.o_proj.bias"] = vec(D)
        if qk_norm:
            s[p + "self_attn.q_norm.weight"] = vec(dh, 0.1, 1.0)
            s[p + "self_attn.k_norm.weight"] = vec(dh, 0.1, 1.0)
        s[p + "mlp.gate_proj.weight"] = lin(I, D)
        s[p + "mlp.up_proj.weight"] = lin(I, D)
        s[p + "mlp.down_proj.weight"] = lin(D, I)
        if c.get("mlp_bias"):
            for n, k in (("gate_proj", I), ("up_proj", I), ("down_proj", D)):
                s[p + "mlp.%s.bias" % n] = vec(k)
    return s


def gpt2_state(c):
    D, V, P = c["n_embd"], c["vocab_size"], c["n_positions"]
    inner = c.get("n_inner") or 4 * D
    s = {"transformer.wte.weight": 0.5 * torch.randn(V, D, dtype=F64),
         "transformer.wpe.weight": 0.5 * torch.randn(P, D, dtype=F64),
         "transformer.ln_f.weight": vec(D, 0.1, 1.0),
         "transformer.ln_f.bias": vec(D)}
    for l in range(c["n_layer"]):
        p = "transformer.h.%d." % l
        s[p + "ln_1.weight"] = vec(D, 0.1, 1.0)
        s[p + "ln_1.bias"] = vec(D)
        s[p + "ln_2.weight"] = vec(D, 0.1, 1.0)
        s[p + "ln_2.bias"] = vec(D)
        # Conv1D stores its weight [in, out].
        s[p + "attn.c_attn.weight"] = lin(3 * D, D).T.contiguous()
        s[p + "attn.c_attn.bias"] = vec(3 * D)
        s[p + "attn.c_proj.weight"] = lin(D, D).T.contiguous()
        s[p + "attn.c_proj.bias"] = vec(D)
        s[p + "mlp.c_fc.weight"] = lin(inner, D).T.contiguous()
        s[p + "mlp.c_fc.bias"] = vec(inner)
        s[p + "mlp.c_proj.weight"] = lin(D, inner).T.contiguous()
        s[p + "mlp.c_proj.bias"] = vec(D)
    return s


# ---------------------------------------------------------------------------------------
# Forward passes (float64), one sequence [T] at a time, written from transformers' code.

def rms_norm(x, w, eps):
    # LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), times the weight.
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rope_params(c):
    """(theta, scaling dict or None), from v4 keys (rope_theta, rope_scaling) or v5's
    rope_parameters."""
    rp = c.get("rope_parameters")
    if rp:
        return rp.get("rope_theta", 10000.0), rp
    return c.get("rope_theta", 10000.0), c.get("rope_scaling")


def inv_freq(c, dim):
    # _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
    # _compute_llama3_parameters (modeling_rope_utils.py).
    base, sc = rope_params(c)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(F64) / dim))
    kind = (sc or {}).get("rope_type", (sc or {}).get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / sc["factor"]
    if kind == "llama3":
        factor, low, high = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        return torch.where(medium, smoothed, inv_l)
    raise ValueError(kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, pos, inv):
    # x [H, T, dh]; cos/sin [T, dh] = cat(freqs, freqs).
    freqs = pos.to(F64)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos()[None] + rotate_half(x) * emb.sin()[None]


def attention(q, k, v, allowed):
    # q [H,T,dh], k/v [H,T,dh] (already repeated), allowed [T,T] bool.
    dh = q.shape[-1]
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
    scores = scores.masked_fill(~allowed[None], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def causal(T, window=None):
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    a = j <= i
    if window is not None:
        # masking_utils.sliding_window_overlay: kv_idx > q_idx - sliding_window, i.e. a
        # token sees itself and the sliding_window - 1 tokens before it.
        a = a & (j > i - window)
    return a


def sliding_layers(c, family):
    n = c["num_hidden_layers"]
    if c.get("layer_types"):
        return [t == "sliding_attention" for t in c["layer_types"]]
    if family == "mistral":
        return [c.get("sliding_window") is not None] * n
    if family in ("qwen2", "qwen3"):
        on = bool(c.get("use_sliding_window")) and c.get("sliding_window") is not None
        return [on and l >= c.get("max_window_layers", n) for l in range(n)]
    return [False] * n


def llama_forward(c, s, ids, family):
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    dh = c.get("head_dim") or D // H
    eps = c["rms_norm_eps"]
    T = len(ids)
    pos = torch.arange(T)
    inv = inv_freq(c, dh)
    sliding = sliding_layers(c, family)
    x = s["model.embed_tokens.weight"][torch.tensor(ids)]

    def proj(p, name, h):
        y = h @ s[p + name + ".weight"].T
        b = s.get(p + name + ".bias")
        return y if b is None else y + b

    for l in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms_norm(x, s[p + "input_layernorm.weight"], eps)
        q = proj(p, "self_attn.q_proj", h).view(T, H, dh)
        k = proj(p, "self_attn.k_proj", h).view(T, KV, dh)
        v = proj(p, "self_attn.v_proj", h).view(T, KV, dh)
        if family == "qwen3":  # Qwen3Attention: q_norm/k_norm over head_dim, before RoPE
            q = rms_norm(q, s[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, s[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, T, dh]
        q, k = apply_rope(q, pos, inv), apply_rope(k, pos, inv)
        rep = H // KV  # repeat_kv: query head h uses key/value head h // rep
        k = k[:, None].expand(KV, rep, T, dh).reshape(H, T, dh)
        v = v[:, None].expand(KV, rep, T, dh).reshape(H, T, dh)
        allowed = causal(T, c["sliding_window"] if sliding[l] else None)
        o = attention(q, k, v, allowed).transpose(0, 1).reshape(T, H * dh)
        x = x + proj(p, "self_attn.o_proj", o)
        h = rms_norm(x, s[p + "post_attention_layernorm.weight"], eps)
        gate = proj(p, "mlp.gate_proj", h)
        x = x + proj(p, "mlp.down_proj", torch.nn.functional.silu(gate) * proj(p, "mlp.up_proj", h))
    x = rms_norm(x, s["model.norm.weight"], eps)
    head = s["model.embed_tokens.weight"] if c["tie_word_embeddings"] else s["lm_head.weight"]
    return x @ head.T


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(c, s, ids):
    D, H = c["n_embd"], c["n_head"]
    dh = D // H
    eps = c["layer_norm_epsilon"]
    T = len(ids)
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (D,), s[n + ".weight"], s[n + ".bias"], eps)
    x = s["transformer.wte.weight"][torch.tensor(ids)] + s["transformer.wpe.weight"][torch.arange(T)]
    for l in range(c["n_layer"]):
        p = "transformer.h.%d." % l
        a = ln(x, p + "ln_1")
        qkv = a @ s[p + "attn.c_attn.weight"] + s[p + "attn.c_attn.bias"]  # Conv1D: x @ W[in,out] + b
        q, k, v = qkv.split(D, dim=-1)
        q, k, v = (t.view(T, H, dh).transpose(0, 1) for t in (q, k, v))
        o = attention(q, k, v, causal(T)).transpose(0, 1).reshape(T, D)
        x = x + o @ s[p + "attn.c_proj.weight"] + s[p + "attn.c_proj.bias"]
        m = ln(x, p + "ln_2")
        m = gelu_new(m @ s[p + "mlp.c_fc.weight"] + s[p + "mlp.c_fc.bias"])
        x = x + m @ s[p + "mlp.c_proj.weight"] + s[p + "mlp.c_proj.bias"]
    x = ln(x, "transformer.ln_f")
    return x @ s["transformer.wte.weight"].T  # GPT2LMHeadModel ties lm_head to wte


# ---------------------------------------------------------------------------------------
# The checkpoints.

V = 96


def llama_cfg(**kw):
    c = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
         "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "initializer_range": 0.02,
         "max_position_embeddings": 128, "mlp_bias": False, "model_type": "llama",
         "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
         "tie_word_embeddings": False, "use_cache": True, "vocab_size": V}
    c.update(kw)
    return c


CASES = []

# Llama 3 style: GQA (4 query heads, 2 key/value heads), head_dim 16, llama3 RoPE scaling
# whose original context (64) puts a frequency in each of its three bands (wavelengths
# 6.3 < 16: kept; 32.4 in [16, 64]: smoothed; 167 and longer > 64: divided by 8), untied, BF16.
CASES.append(dict(
    name="llama", family="llama", dtype=torch.bfloat16,
    config=llama_cfg(hidden_size=64, intermediate_size=96, num_attention_heads=4,
                     num_key_value_heads=2, num_hidden_layers=2, head_dim=16,
                     rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                   "original_max_position_embeddings": 64, "rope_type": "llama3"},
                     rope_theta=500000.0),
    state=dict(qkv_bias=False, o_bias=False, qk_norm=False),
    generation={"bos_token_id": 1, "do_sample": True, "eos_token_id": [2, 3], "temperature": 0.6, "top_p": 0.9},
))

# Qwen2.5 style: q/k/v biases (no o_proj bias), tied embeddings, GQA, rope_theta 1e6,
# sliding window configured but off (use_sliding_window false), F16, in two shards.
CASES.append(dict(
    name="qwen2", family="qwen2", dtype=torch.float16,
    config={"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 90,
            "eos_token_id": 91, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
            "intermediate_size": 64, "max_position_embeddings": 256, "max_window_layers": 2,
            "model_type": "qwen2", "num_attention_heads": 4, "num_hidden_layers": 2,
            "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": None,
            "rope_theta": 1000000.0, "sliding_window": 256, "tie_word_embeddings": True,
            "use_cache": True, "use_sliding_window": False, "vocab_size": V},
    state=dict(qkv_bias=True, o_bias=False, qk_norm=False),
    generation={"bos_token_id": 90, "do_sample": True, "eos_token_id": [91, 92], "pad_token_id": 91,
                "repetition_penalty": 1.1, "temperature": 0.7, "top_k": 20, "top_p": 0.8},
    shards=[lambda k: k.startswith("model.embed_tokens") or k.startswith("model.layers.0."),
            lambda k: not (k.startswith("model.embed_tokens") or k.startswith("model.layers.0."))],
))

# Qwen3 style: q/k RMSNorm per head before RoPE, head_dim 16 while hidden/heads is 8,
# tied, linear RoPE scaling (factor 2), F32.
CASES.append(dict(
    name="qwen3", family="qwen3", dtype=torch.float32,
    config={"architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
            "bos_token_id": 90, "eos_token_id": 91, "head_dim": 16, "hidden_act": "silu",
            "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
            "max_position_embeddings": 256, "max_window_layers": 2, "model_type": "qwen3",
            "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06, "rope_scaling": {"factor": 2.0, "rope_type": "linear"},
            "rope_theta": 1000000.0, "sliding_window": None, "tie_word_embeddings": True,
            "use_cache": True, "use_sliding_window": False, "vocab_size": V},
    state=dict(qkv_bias=False, o_bias=False, qk_norm=True),
))

# Mistral style: sliding window of 4 tokens on every layer, GQA (4/1), untied, F32.
CASES.append(dict(
    name="mistral", family="mistral", dtype=torch.float32,
    config={"architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
            "eos_token_id": 2, "head_dim": 8, "hidden_act": "silu", "hidden_size": 32,
            "initializer_range": 0.02, "intermediate_size": 64, "max_position_embeddings": 256,
            "model_type": "mistral", "num_attention_heads": 4, "num_hidden_layers": 2,
            "num_key_value_heads": 1, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
            "sliding_window": 4, "tie_word_embeddings": False, "use_cache": True, "vocab_size": V},
    state=dict(qkv_bias=False, o_bias=False, qk_norm=False),
))

# GPT-2: learned positions, fused c_attn in Conv1D layout, gelu_new, tied lm_head
# (absent from the file, as save_pretrained writes it), F32.
CASES.append(dict(
    name="gpt2", family="gpt2", dtype=torch.float32,
    config={"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.1, "bos_token_id": 95, "embd_pdrop": 0.1, "eos_token_id": 95,
            "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
            "n_ctx": 64, "n_embd": 32, "n_head": 4, "n_inner": None, "n_layer": 2, "n_positions": 64,
            "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
            "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
            "use_cache": True, "vocab_size": V},
))

SEQUENCES = [
    [5, 17, 42, 8, 63, 21, 90, 3, 77, 14, 30, 55],
    [12, 7, 88, 41, 2, 66, 19],
    [33, 4, 71, 50, 9],
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-transformers", action="store_true")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    expected = {}
    for case in CASES:
        c = case["config"]
        if case["family"] == "gpt2":
            state = gpt2_state(c)
        else:
            state = llama_state(c, tied=c["tie_word_embeddings"], **case["state"])
        s = save_checkpoint(os.path.join(here, case["name"]), c, state, case["dtype"],
                            case.get("generation"), case.get("shards"))
        logits = []
        for ids in SEQUENCES:
            with torch.no_grad():
                y = gpt2_forward(c, s, ids) if case["family"] == "gpt2" else llama_forward(c, s, ids, case["family"])
            logits.append([float("%.9g" % v) for v in y.flatten().tolist()])
        expected[case["name"]] = {"architecture": c["architectures"][0], "dtype": str(case["dtype"]),
                                  "vocab": V, "sequences": SEQUENCES, "logits": logits}
        print("%-8s logits max |.| %.3f" % (case["name"], max(abs(v) for l in logits for v in l)))
    with open(os.path.join(here, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    if args.check_transformers:
        check_transformers(here, expected)


def check_transformers(here, expected):
    import transformers  # noqa: only where it is installed (see the GPU issue)
    for name, e in expected.items():
        m = transformers.AutoModelForCausalLM.from_pretrained(os.path.join(here, name), torch_dtype=torch.float32)
        m.eval()
        worst = 0.0
        for ids, want in zip(e["sequences"], e["logits"]):
            with torch.no_grad():
                got = m(torch.tensor([ids])).logits[0].flatten().double()
            worst = max(worst, (got - torch.tensor(want, dtype=F64)).abs().max().item())
        print("transformers %-8s max |dlogit| %.2e" % (name, worst))


if __name__ == "__main__":
    main()
