#!/usr/bin/env python3
"""A tiny random BERT2BERT in transformers' EncoderDecoderModel layout and its expected
decoder logits, for pkg/hf's EncoderDecoderModel export test.

Run from this directory with Debian's PyTorch (no transformers needed):

    /usr/bin/python3 make_encdec.py

It writes encdec/ (config.json: model_type "encoder-decoder" with the encoder's BertConfig
and the decoder's, is_decoder and add_cross_attention set, as
EncoderDecoderConfig.from_encoder_decoder_configs leaves them; model.safetensors:
"encoder." a BertModel with its pooler, "decoder." a BertLMHeadModel: "bert." without a
pooler, each layer's "crossattention", "cls.predictions" with the decoder tied to the
word embeddings and not stored) and encdec_expected.json: a few (source, decoder input)
pairs of token ids and, for each pair on its own (no padding), the decoder's logits
[T*V].

The forward pass is written from modeling_bert.py's BertLayer with cross-attention
(self-attention under a causal mask, then cross-attention over the encoder's last
hidden states, then the MLP, each sublayer post-LN) and BertLMPredictionHead,
independently of masklab; float64 throughout.
"""

import json
import os

import torch

from make_bert import bert_config, bert_forward, bert_state, gelu, layer_norm, linear, rounded
from make_checkpoints import F64, lin, save_safetensors, vec, write_json

torch.manual_seed(20261206)

PAIRS = [
    ([2, 5, 9, 14, 3], [2, 7, 30, 11]),
    ([2, 40, 3], [2, 6, 6, 21, 9, 3]),
    ([2, 8, 17, 25, 33, 12, 3], [2]),
]


def cross_state(c, prefix):
    D = c["hidden_size"]
    s = {}
    for l in range(c["num_hidden_layers"]):
        h = "%sencoder.layer.%d.crossattention." % (prefix, l)
        for n in ["query", "key", "value"]:
            s[h + "self.%s.weight" % n] = 1.5 * lin(D, D)
            s[h + "self.%s.bias" % n] = vec(D)
        s[h + "output.dense.weight"] = lin(D, D)
        s[h + "output.dense.bias"] = vec(D)
        s[h + "output.LayerNorm.weight"] = vec(D, center=1.0)
        s[h + "output.LayerNorm.bias"] = vec(D)
    return s


def attend(s, name, x, mem, H, causal):
    T, S, D = x.shape[0], mem.shape[0], x.shape[1]
    dh = D // H
    q = linear(s, name + ".query", x).view(T, H, dh).transpose(0, 1)
    k = linear(s, name + ".key", mem).view(S, H, dh).transpose(0, 1)
    v = linear(s, name + ".value", mem).view(S, H, dh).transpose(0, 1)
    scores = q @ k.transpose(-1, -2) / dh ** 0.5
    if causal:
        scores = scores.masked_fill(torch.ones(T, S).triu(1).bool(), float("-inf"))
    return (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, D)


def decoder_forward(c, s, ids, memory):
    eps, H = c["layer_norm_eps"], c["num_attention_heads"]
    p = "decoder.bert."
    T = len(ids)
    ids = torch.tensor(ids)
    x = (s[p + "embeddings.word_embeddings.weight"][ids] + s[p + "embeddings.position_embeddings.weight"][torch.arange(T)]
         + s[p + "embeddings.token_type_embeddings.weight"][torch.zeros(T, dtype=torch.long)])
    x = layer_norm(x, s[p + "embeddings.LayerNorm.weight"], s[p + "embeddings.LayerNorm.bias"], eps)
    for l in range(c["num_hidden_layers"]):
        h = "%sencoder.layer.%d." % (p, l)
        a = linear(s, h + "attention.output.dense", attend(s, h + "attention.self", x, x, H, True))
        x = layer_norm(a + x, s[h + "attention.output.LayerNorm.weight"], s[h + "attention.output.LayerNorm.bias"], eps)
        a = linear(s, h + "crossattention.output.dense", attend(s, h + "crossattention.self", x, memory, H, False))
        x = layer_norm(a + x, s[h + "crossattention.output.LayerNorm.weight"], s[h + "crossattention.output.LayerNorm.bias"], eps)
        f = linear(s, h + "output.dense", gelu(linear(s, h + "intermediate.dense", x)))
        x = layer_norm(f + x, s[h + "output.LayerNorm.weight"], s[h + "output.LayerNorm.bias"], eps)
    q = "decoder.cls.predictions."
    t = layer_norm(gelu(linear(s, q + "transform.dense", x)), s[q + "transform.LayerNorm.weight"], s[q + "transform.LayerNorm.bias"], eps)
    return t @ s[p + "embeddings.word_embeddings.weight"].T + s[q + "bias"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    enc_c = dict(bert_config("BertModel"), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    dec_c = dict(bert_config("BertLMHeadModel"), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 is_decoder=True, add_cross_attention=True)
    state = {}
    for k, v in bert_state(enc_c, True, False, "").items():
        state["encoder." + k] = v
    for k, v in bert_state(dec_c, False, True, "bert.").items():
        state["decoder." + k] = v
    for k, v in cross_state(dec_c, "bert.").items():
        state["decoder." + k] = v
    config = {
        "architectures": ["EncoderDecoderModel"], "model_type": "encoder-decoder", "is_encoder_decoder": True,
        "encoder": dict(enc_c, model_type="bert"), "decoder": dict(dec_c, model_type="bert"),
        "decoder_start_token_id": 2, "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0,
        "tie_word_embeddings": False, "torch_dtype": "float32", "transformers_version": "4.46.0",
    }
    d = os.path.join(here, "encdec")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    state = {k: v.to(torch.float32) for k, v in state.items()}
    write_json(os.path.join(d, "config.json"), config)
    save_safetensors(os.path.join(d, "model.safetensors"), state, {"format": "pt"})
    s = {k: v.to(F64) for k, v in state.items()}
    enc_s = {k[len("encoder."):]: v for k, v in s.items() if k.startswith("encoder.")}
    out = {"src": [p[0] for p in PAIRS], "dec": [p[1] for p in PAIRS], "vocab": dec_c["vocab_size"], "logits": []}
    for src, dec in PAIRS:
        with torch.no_grad():
            memory, _, _ = bert_forward(enc_c, enc_s, "", src, [0] * len(src), False, False)
            out["logits"].append(rounded(decoder_forward(dec_c, s, dec, memory)))
    with open(os.path.join(here, "encdec_expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("encdec logits max |.| %.3f" % max(abs(v) for l in out["logits"] for v in l))


if __name__ == "__main__":
    main()
