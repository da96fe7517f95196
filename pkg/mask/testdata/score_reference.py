#!/usr/bin/env python3
"""Reference numbers for pkg/mask's score modifications, from an implementation independent
of masklab's Go code, in PyTorch. The committed JSON was made with Debian bookworm's
python3-torch 1.13.1+dfsg (which reports itself as 1.13.0a0):

    /usr/bin/python3 pkg/mask/testdata/score_reference.py > pkg/mask/testdata/score_reference.json

score_test.go reads the JSON, so the tests need no Python. What is computed, and after whom:

- ALiBi: the slopes and the bias tensor as Hugging Face transformers' BLOOM builds them
  (modeling_bloom.build_alibi_tensor), for 8 heads (a power of 2) and 6 and 12 heads (not): the
  base 2^(-8/c) raised to 1..c for c the largest power of 2 <= H, then the odd powers of
  2^(-4/c) for the remaining heads, all in float32; the tensor is slope * key index
  ([H, K]: BLOOM's relies on the softmax ignoring a constant per query row).
- T5: the relative-position buckets of transformers' T5Attention._relative_position_bucket,
  bidirectional and causal, for key - query in -300..300, with T5's defaults (32 buckets,
  max distance 128) and a small configuration (8 buckets, max distance 16): torch.log of a
  float32 tensor, divided by math.log of the Python float ratio, scaled, truncated to long.
"""
import json
import math

import torch


def alibi_slopes(heads):
    c = 2 ** math.floor(math.log2(heads))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(c) - 3))), dtype=torch.float32)
    slopes = torch.pow(base, torch.arange(1, 1 + c, dtype=torch.int32))
    if c != heads:
        extra = torch.tensor(2 ** (-(2 ** -(math.log2(2 * c) - 3))), dtype=torch.float32)
        rest = min(c, heads - c)
        odd = torch.arange(1, 1 + 2 * rest, 2, dtype=torch.int32)
        slopes = torch.cat([slopes, torch.pow(extra, odd)], dim=0)
    return slopes


def alibi_bias(heads, keys):
    # BLOOM's form for one unpadded row: (cumsum(mask) - 1) * mask is 0..K-1.
    mask = torch.ones(1, keys, dtype=torch.long)
    index = ((mask.cumsum(dim=-1) - 1) * mask)[:, None, :]
    return (alibi_slopes(heads)[..., None] * index).reshape(heads, keys)


def t5_bucket(rel, bidirectional, buckets, max_distance):
    out = torch.zeros_like(rel)
    if bidirectional:
        buckets //= 2
        out += (rel > 0).to(torch.long) * buckets
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    exact = buckets // 2
    small = rel < exact
    large = exact + (
        torch.log(rel.float() / exact) / math.log(max_distance / exact) * (buckets - exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, buckets - 1))
    return out + torch.where(small, rel, large)


def main():
    rel = torch.arange(-300, 301, dtype=torch.long)
    out = {
        "generator": "pkg/mask/testdata/score_reference.py, torch " + torch.__version__,
        "alibi": [
            {
                "heads": h,
                "slopes": [float(x) for x in alibi_slopes(h)],
                "keys": 10,
                "bias": [[float(x) for x in row] for row in alibi_bias(h, 10)],
            }
            for h in (8, 6, 12)
        ],
        "t5": [
            {
                "buckets": nb,
                "max_distance": md,
                "bidirectional": bidi,
                "rel_from": -300,
                "buckets_by_rel": [int(x) for x in t5_bucket(rel.clone(), bidi, nb, md)],
            }
            for nb, md in ((32, 128), (8, 16))
            for bidi in (True, False)
        ],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
