#!/usr/bin/python3
"""Independent reference outputs for pkg/layers tests (PyTorch 1.13, float64).

Writes small JSON fixtures next to this script:

  attention.json  multi-head attention with fixed weights for the masks causal, pad,
                  prefix, causal & doc (block-diagonal causal), cross-attention pad
                  (Q != K) and a fully masked row (pad with key length 0). Each case is
                  computed twice: by hand (einsum/softmax in float64) and with
                  torch.nn.MultiheadAttention, and the two must agree (fully masked rows,
                  where torch gives NaN, are compared by hand only: output 0 before the
                  output projection, i.e. the output bias after it).
  seq2seq.json    the reference encoder-decoder of shared/bench/train_transformer.py
                  (pre-LN, learned embeddings + sinusoidal positions, final norms, untied
                  output), tiny sizes, random weights, with its logits.
  decoder.json    a decoder-only LM built from the same blocks, packed rows with the
                  mask causal & doc and positions that restart per document.

Weights are stored in masklab's layout: dense weights [in, out] under GoMLX-style
variable paths. Run:  /usr/bin/python3 pkg/layers/testdata/make_fixtures.py
(Debian: apt-get install -y --no-install-recommends python3-torch). The Go tests only
read the JSON.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20261129)
torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def dense_params(prefix, lin):
    """nn.Linear -> {prefix/dense/weights: [in,out], prefix/dense/biases: [out]}."""
    return {prefix + "/dense/weights": {"shape": [lin.in_features, lin.out_features], "data": flat(lin.weight.t())},
            prefix + "/dense/biases": {"shape": [lin.out_features], "data": flat(lin.bias)}}


def ln_params(prefix, ln):
    return {prefix + "/layer_normalization/gain": {"shape": list(ln.weight.shape), "data": flat(ln.weight)},
            prefix + "/layer_normalization/offset": {"shape": list(ln.bias.shape), "data": flat(ln.bias)}}


# ----------------------------------------------------------------------------- attention
def attention_by_hand(xq, xkv, wq, bq, wk, bk, wv, bv, wo, bo, allowed, H):
    """allowed: bool [B,Q,K]. Returns output [B,Q,D] and weights [B,H,Q,K]."""
    B, Q, D = xq.shape
    K = xkv.shape[1]
    dh = wq.shape[1] // H
    q = (xq @ wq + bq).view(B, Q, H, dh)
    k = (xkv @ wk + bk).view(B, K, H, dh)
    v = (xkv @ wv + bv).view(B, K, H, dh)
    s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(dh)
    m = allowed[:, None, :, :].expand(B, H, Q, K)
    s = s.masked_fill(~m, float("-inf"))
    row_ok = m.any(-1, keepdim=True)
    s = torch.where(row_ok, s, torch.zeros_like(s))
    w = torch.softmax(s, -1) * row_ok  # fully masked rows: zero weights
    o = torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(B, Q, H * dh)
    return o @ wo + bo, w


def attention_case(name, spec, B, Q, K, D, H, allowed, side, self_attn):
    xq = torch.randn(B, Q, D)
    xkv = xq if self_attn else torch.randn(B, K, D)
    mha = nn.MultiheadAttention(D, H, batch_first=True, bias=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_(0, 0.3)
        mha.out_proj.bias.normal_(0, 0.3)
    Wi, bi = mha.in_proj_weight, mha.in_proj_bias
    wq, wk, wv = Wi[:D].t(), Wi[D:2 * D].t(), Wi[2 * D:].t()
    bq, bk, bv = bi[:D], bi[D:2 * D], bi[2 * D:]
    wo, bo = mha.out_proj.weight.t(), mha.out_proj.bias
    out, w = attention_by_hand(xq, xkv, wq, bq, wk, bk, wv, bv, wo, bo, allowed, H)

    # Cross-check with torch's own MultiheadAttention (bool attn_mask: True = NOT allowed).
    attn_mask = (~allowed).repeat_interleave(H, dim=0)  # [B*H, Q, K]
    tout, tw = mha(xq, xkv, xkv, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)
    row_ok = allowed.any(-1)  # [B,Q]
    if row_ok.any():
        err_o = (tout - out)[row_ok].abs().max().item()
        err_w = (tw - w).permute(0, 2, 1, 3)[row_ok].abs().max().item()
        assert err_o < 1e-10 and err_w < 1e-10, (name, err_o, err_w)
    if (~row_ok).any():  # by hand: zero attention output -> output bias
        assert torch.allclose(out[~row_ok], bo.expand_as(out[~row_ok]))

    p = "MultiHeadAttention"
    params = {}
    for part, wt, bs in (("query", wq, bq), ("key", wk, bk), ("value", wv, bv), ("output", wo, bo)):
        params[f"{p}/{part}/dense/weights"] = {"shape": list(wt.shape), "data": flat(wt)}
        params[f"{p}/{part}/dense/biases"] = {"shape": list(bs.shape), "data": flat(bs)}
    return {"name": name, "spec": spec, "B": B, "Q": Q, "K": K, "D": D, "H": H, "self": self_attn,
            "side": side, "xq": flat(xq), "xkv": flat(xkv),
            "allowed": [int(v) for v in allowed.reshape(-1).tolist()],
            "params": params, "out": flat(out), "weights": flat(w)}


def make_attention():
    B, L, D, H = 2, 5, 8, 2
    q = torch.arange(L)[:, None]
    k = torch.arange(L)[None, :]
    cases = []
    causal = (k <= q)[None].expand(B, L, L)
    cases.append(attention_case("causal", "causal", B, L, L, D, H, causal.clone(), {}, True))

    klen = torch.tensor([5, 3])
    pad = (k[None] < klen[:, None, None]).expand(B, L, L)
    cases.append(attention_case("pad", "pad", B, L, L, D, H, pad.clone(), {"klen": klen.tolist()}, True))

    plen = torch.tensor([2, 3])
    prefix = (k[None] < plen[:, None, None]) | (k <= q)[None]
    cases.append(attention_case("prefix", "prefix", B, L, L, D, H, prefix.clone(), {"prefix": plen.tolist()}, True))

    seg = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 2, 2]])
    doc = (seg[:, :, None] == seg[:, None, :]) & (k <= q)[None]
    cases.append(attention_case("causal_doc", "causal & doc", B, L, L, D, H, doc.clone(), {"segments": seg.tolist()}, True))

    Kx = 6
    srclen = torch.tensor([6, 4])
    kk = torch.arange(Kx)[None, None, :]
    cross = (kk < srclen[:, None, None]).expand(B, 4, Kx)
    cases.append(attention_case("cross_pad", "pad", B, 4, Kx, D, H, cross.clone(), {"klen": srclen.tolist()}, False))

    klen0 = torch.tensor([3, 0])
    empty = (k[None] < klen0[:, None, None]).expand(B, L, L)
    cases.append(attention_case("pad_empty_rows", "pad", B, L, L, D, H, empty.clone(), {"klen": klen0.tolist()}, True))
    return {"cases": cases}


# ----------------------------------------------------------------------------- models
# The reference model, as in shared/bench/train_transformer.py (copied so that this
# script stands alone; same maths, same layer order).
def sinusoidal(n, d):
    pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class MHA(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dh = h, d // h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, xq, xkv, bias):
        B, Lq, d = xq.shape
        Lk = xkv.shape[1]
        q = self.q(xq).view(B, Lq, self.h, self.dh).transpose(1, 2)
        k = self.k(xkv).view(B, Lk, self.h, self.dh).transpose(1, 2)
        v = self.v(xkv).view(B, Lk, self.h, self.dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.dh)) + bias
        a = torch.softmax(s, dim=-1)
        o = torch.matmul(a, v).transpose(1, 2).reshape(B, Lq, d)
        return self.o(o)

    def params(self, prefix):
        p = {}
        for part, lin in (("query", self.q), ("key", self.k), ("value", self.v), ("output", self.o)):
            p.update(dense_params(f"{prefix}/MultiHeadAttention/{part}", lin))
        return p


class FFN(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.l1, self.l2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x):
        return self.l2(F.relu(self.l1(x)))

    def params(self, prefix):
        p = dense_params(prefix + "/hidden", self.l1)
        p.update(dense_params(prefix + "/output", self.l2))
        return p


class EncLayer(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.ln1, self.sa, self.ln2, self.ff = nn.LayerNorm(d), MHA(d, h), nn.LayerNorm(d), FFN(d, ff)

    def forward(self, x, bias):
        y = self.ln1(x)
        x = x + self.sa(y, y, bias)
        return x + self.ff(self.ln2(x))

    def params(self, prefix):
        p = ln_params(prefix + "/self/norm", self.ln1)
        p.update(self.sa.params(prefix + "/self"))
        p.update(ln_params(prefix + "/ffn/norm", self.ln2))
        p.update(self.ff.params(prefix + "/ffn"))
        return p


class DecLayer(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.ln1, self.sa = nn.LayerNorm(d), MHA(d, h)
        self.ln2, self.ca = nn.LayerNorm(d), MHA(d, h)
        self.ln3, self.ff = nn.LayerNorm(d), FFN(d, ff)

    def forward(self, y, mem, self_bias, cross_bias):
        z = self.ln1(y)
        y = y + self.sa(z, z, self_bias)
        y = y + self.ca(self.ln2(y), mem, cross_bias)
        return y + self.ff(self.ln3(y))

    def params(self, prefix):
        p = ln_params(prefix + "/self/norm", self.ln1)
        p.update(self.sa.params(prefix + "/self"))
        p.update(ln_params(prefix + "/cross/norm", self.ln2))
        p.update(self.ca.params(prefix + "/cross"))
        p.update(ln_params(prefix + "/ffn/norm", self.ln3))
        p.update(self.ff.params(prefix + "/ffn"))
        return p


def mask_to_bias(allowed):
    return torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))


def randomize(module):
    """Non-trivial LayerNorm parameters so that gain/offset are really checked."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.normal_(1, 0.2)
                m.bias.normal_(0, 0.2)


def make_seq2seq():
    V, d, h, ff, n_enc, n_dec, B, S, T = 11, 8, 2, 16, 2, 2, 2, 6, 5
    src_emb, tgt_emb = nn.Embedding(V, d), nn.Embedding(V, d)
    enc = nn.ModuleList(EncLayer(d, h, ff) for _ in range(n_enc))
    dec = nn.ModuleList(DecLayer(d, h, ff) for _ in range(n_dec))
    enc_ln, dec_ln, out = nn.LayerNorm(d), nn.LayerNorm(d), nn.Linear(d, V)
    for m in (enc, dec, enc_ln, dec_ln):
        randomize(m)
    pe = sinusoidal(max(S, T), d)
    PAD = 0
    src = torch.tensor([[3, 4, 5, 6, 2, 0], [7, 8, 2, 0, 0, 0]])
    tgt_in = torch.tensor([[1, 6, 5, 4, 3], [1, 8, 7, 0, 0]])
    src_len = (src != PAD).sum(1)
    tgt_len = (tgt_in != PAD).sum(1)
    src_bias = mask_to_bias((src != PAD)[:, None, None, :])
    x = src_emb(src) + pe[:S]
    for l in enc:
        x = l(x, src_bias)
    mem = enc_ln(x)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    self_bias = mask_to_bias(causal[None, None] & (tgt_in != PAD)[:, None, None, :])
    y = tgt_emb(tgt_in) + pe[:T]
    for l in dec:
        y = l(y, mem, self_bias, src_bias)
    logits = out(dec_ln(y))
    valid = torch.arange(T)[None, :] < tgt_len[:, None]  # padded query rows differ by mask choice
    params = {"src_embedding/embeddings": {"shape": [V, d], "data": flat(src_emb.weight)},
              "tgt_embedding/embeddings": {"shape": [V, d], "data": flat(tgt_emb.weight)}}
    for i, l in enumerate(enc):
        params.update(l.params(f"encoder/layer_{i}"))
    for i, l in enumerate(dec):
        params.update(l.params(f"decoder/layer_{i}"))
    params.update(ln_params("encoder/final_norm", enc_ln))
    params.update(ln_params("decoder/final_norm", dec_ln))
    params.update(dense_params("output", out))
    return {"config": {"vocab": V, "d_model": d, "heads": h, "ff": ff, "enc_layers": n_enc, "dec_layers": n_dec,
                       "self": "causal & pad", "cross": "pad"},
            "B": B, "S": S, "T": T, "src": src.tolist(), "src_len": src_len.tolist(),
            "dec": tgt_in.tolist(), "dec_len": tgt_len.tolist(),
            "valid": [int(v) for v in valid.reshape(-1).tolist()],
            "params": params, "logits": flat(logits)}


def make_decoder():
    V, d, h, ff, n, B, T = 13, 8, 2, 16, 2, 2, 6
    emb = nn.Embedding(V, d)
    layers = nn.ModuleList(EncLayer(d, h, ff) for _ in range(n))  # self-attention + FFN blocks
    ln, out = nn.LayerNorm(d), nn.Linear(d, V)
    randomize(layers)
    randomize(ln)
    pe = sinusoidal(T, d)
    ids = torch.tensor([[1, 5, 6, 1, 7, 8], [1, 9, 10, 11, 1, 12]])
    seg = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
    pos = torch.tensor([[0, 1, 2, 0, 1, 2], [0, 1, 2, 3, 0, 1]])  # restart per document
    q = torch.arange(T)
    allowed = (seg[:, :, None] == seg[:, None, :]) & (q[None, None, :] <= q[None, :, None])
    bias = mask_to_bias(allowed[:, None])
    x = emb(ids) + pe[pos]
    for l in layers:
        x = l(x, bias)
    logits = out(ln(x))
    params = {"embedding/embeddings": {"shape": [V, d], "data": flat(emb.weight)}}
    for i, l in enumerate(layers):
        params.update(l.params(f"decoder/layer_{i}"))
    params.update(ln_params("decoder/final_norm", ln))
    params.update(dense_params("output", out))
    return {"config": {"vocab": V, "d_model": d, "heads": h, "ff": ff, "dec_layers": n, "self": "causal & doc"},
            "B": B, "T": T, "dec": ids.tolist(), "segments": seg.tolist(), "positions": pos.tolist(),
            "params": params, "logits": flat(logits)}


def write(name, obj):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    with torch.no_grad():
        write("attention.json", make_attention())
        write("seq2seq.json", make_seq2seq())
        write("decoder.json", make_decoder())
    print("torch", torch.__version__)
