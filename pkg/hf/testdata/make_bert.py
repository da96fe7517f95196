#!/usr/bin/env python3
"""Tiny random BERT checkpoints and their expected outputs, for pkg/hf's BERT tests.

Run from this directory with Debian's PyTorch (no transformers needed):

    /usr/bin/python3 make_bert.py

It writes bert/ (a BertModel: base-model names, with the pooler) and bert-mlm/ (a
BertForMaskedLM: "bert." prefix, no pooler, the MLM head "cls.predictions.*" with the
decoder tied to the word embeddings, as save_pretrained leaves it: the tied
cls.predictions.decoder.{weight,bias} are not stored), in the layout save_pretrained
gives, and bert_expected.json: for each checkpoint a few sequences of token ids with
their token-type ids and, for each sequence on its own (no padding), the last hidden
states [T*D], the pooled output [D] (bert) and the MLM logits [T*V] (bert-mlm).

The forward pass below is written from BERT's definition (Devlin et al. 2019, and
modeling_bert.py's BertEmbeddings, BertSelfAttention, BertSelfOutput, BertIntermediate,
BertOutput, BertPooler, BertLMPredictionHead), independently of masklab: post-LN
blocks, the exact (erf) GELU, learned absolute positions, token-type embeddings;
float64 throughout.
"""

import json
import math
import os

import torch

from make_checkpoints import F64, save_checkpoint, lin, vec

torch.manual_seed(20240519)

SEQUENCES = [
    ([2, 5, 9, 14, 3], [0, 0, 0, 0, 0]),
    ([2, 7, 7, 21, 30, 3, 11, 12, 3], [0, 0, 0, 0, 0, 0, 1, 1, 1]),
    ([2, 40, 3], [0, 0, 0]),
]


def bert_config(arch):
    return {
        "architectures": [arch], "model_type": "bert",
        "vocab_size": 48, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 40, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 24,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "position_embedding_type": "absolute", "use_cache": True,
        "classifier_dropout": None,
    }


def bert_state(c, pooler, mlm, prefix):
    D, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    s = {}
    p = prefix
    s[p + "embeddings.word_embeddings.weight"] = torch.randn(V, D, dtype=F64)
    s[p + "embeddings.position_embeddings.weight"] = 0.5 * torch.randn(c["max_position_embeddings"], D, dtype=F64)
    s[p + "embeddings.token_type_embeddings.weight"] = 0.5 * torch.randn(c["type_vocab_size"], D, dtype=F64)
    s[p + "embeddings.LayerNorm.weight"] = vec(D, center=1.0)
    s[p + "embeddings.LayerNorm.bias"] = vec(D)
    for l in range(c["num_hidden_layers"]):
        h = "%sencoder.layer.%d." % (p, l)
        for n in ["query", "key", "value"]:
            s[h + "attention.self.%s.weight" % n] = 1.5 * lin(D, D)
            s[h + "attention.self.%s.bias" % n] = vec(D)
        s[h + "attention.output.dense.weight"] = lin(D, D)
        s[h + "attention.output.dense.bias"] = vec(D)
        s[h + "attention.output.LayerNorm.weight"] = vec(D, center=1.0)
        s[h + "attention.output.LayerNorm.bias"] = vec(D)
        s[h + "intermediate.dense.weight"] = lin(I, D)
        s[h + "intermediate.dense.bias"] = vec(I)
        s[h + "output.dense.weight"] = lin(D, I)
        s[h + "output.dense.bias"] = vec(D)
        s[h + "output.LayerNorm.weight"] = vec(D, center=1.0)
        s[h + "output.LayerNorm.bias"] = vec(D)
    if pooler:
        s[p + "pooler.dense.weight"] = lin(D, D)
        s[p + "pooler.dense.bias"] = vec(D)
    if mlm:
        s["cls.predictions.bias"] = vec(V)
        s["cls.predictions.transform.dense.weight"] = lin(D, D)
        s["cls.predictions.transform.dense.bias"] = vec(D)
        s["cls.predictions.transform.LayerNorm.weight"] = vec(D, center=1.0)
        s["cls.predictions.transform.LayerNorm.bias"] = vec(D)
    return s


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def linear(s, name, x):
    return x @ s[name + ".weight"].T + s[name + ".bias"]


def bert_forward(c, s, prefix, ids, types, pooler, mlm):
    """One sequence (no padding): returns hidden [T,D], pooled [D] or None, logits [T,V] or None."""
    eps, H, D = c["layer_norm_eps"], c["num_attention_heads"], c["hidden_size"]
    dh = D // H
    p = prefix
    T = len(ids)
    ids, types = torch.tensor(ids), torch.tensor(types)
    x = (s[p + "embeddings.word_embeddings.weight"][ids]
         + s[p + "embeddings.position_embeddings.weight"][torch.arange(T)]
         + s[p + "embeddings.token_type_embeddings.weight"][types])
    x = layer_norm(x, s[p + "embeddings.LayerNorm.weight"], s[p + "embeddings.LayerNorm.bias"], eps)
    for l in range(c["num_hidden_layers"]):
        h = "%sencoder.layer.%d." % (p, l)
        q = linear(s, h + "attention.self.query", x).view(T, H, dh).transpose(0, 1)
        k = linear(s, h + "attention.self.key", x).view(T, H, dh).transpose(0, 1)
        v = linear(s, h + "attention.self.value", x).view(T, H, dh).transpose(0, 1)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        a = (w @ v).transpose(0, 1).reshape(T, D)
        a = linear(s, h + "attention.output.dense", a)
        x = layer_norm(a + x, s[h + "attention.output.LayerNorm.weight"], s[h + "attention.output.LayerNorm.bias"], eps)
        f = gelu(linear(s, h + "intermediate.dense", x))
        f = linear(s, h + "output.dense", f)
        x = layer_norm(f + x, s[h + "output.LayerNorm.weight"], s[h + "output.LayerNorm.bias"], eps)
    pooled = torch.tanh(linear(s, p + "pooler.dense", x[0])) if pooler else None
    logits = None
    if mlm:
        t = gelu(linear(s, "cls.predictions.transform.dense", x))
        t = layer_norm(t, s["cls.predictions.transform.LayerNorm.weight"], s["cls.predictions.transform.LayerNorm.bias"], eps)
        logits = t @ s[p + "embeddings.word_embeddings.weight"].T + s["cls.predictions.bias"]
    return x, pooled, logits


def rounded(t):
    return [float("%.9g" % v) for v in t.flatten().tolist()]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    expected = {}
    cases = [
        {"name": "bert", "arch": "BertModel", "prefix": "", "pooler": True, "mlm": False},
        {"name": "bert-mlm", "arch": "BertForMaskedLM", "prefix": "bert.", "pooler": False, "mlm": True},
    ]
    for case in cases:
        c = bert_config(case["arch"])
        state = bert_state(c, case["pooler"], case["mlm"], case["prefix"])
        s = save_checkpoint(os.path.join(here, case["name"]), c, state, torch.float32)
        out = {"architecture": case["arch"], "hidden": c["hidden_size"], "vocab": c["vocab_size"],
               "ids": [q[0] for q in SEQUENCES], "types": [q[1] for q in SEQUENCES],
               "last_hidden": [], "pooled": [], "logits": []}
        for ids, types in SEQUENCES:
            with torch.no_grad():
                x, pooled, logits = bert_forward(c, s, case["prefix"], ids, types, case["pooler"], case["mlm"])
            out["last_hidden"].append(rounded(x))
            if pooled is not None:
                out["pooled"].append(rounded(pooled))
            if logits is not None:
                out["logits"].append(rounded(logits))
        expected[case["name"]] = out
        print("%-8s hidden max |.| %.3f" % (case["name"], max(abs(v) for h in out["last_hidden"] for v in h)))
    with open(os.path.join(here, "bert_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
