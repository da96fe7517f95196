#!/usr/bin/env python3
"""PEFT LoRA adapter files on the tiny checkpoints, and the weights PEFT's merge gives.

Run from this directory with Debian's PyTorch (python3-torch, no peft, no transformers):

    /usr/bin/python3 make_lora.py

For the qwen2 (Linear layers, all seven projections targeted) and gpt2 (Conv1D layers,
fan_in_fan_out) checkpoints it writes lora-<name>/ with

  adapter_config.json        what PEFT's LoraConfig.save_pretrained writes (task CAUSAL_LM)
  adapter_model.safetensors  lora_A.weight [r, in] and lora_B.weight [out, r] under PEFT's
                             names (get_peft_model_state_dict: base_model.model.<module>
                             .lora_{A,B}.weight, adapter name removed), F32
  merged.safetensors         each targeted base weight after PEFT's merge (LoraLayer.merge:
                             W += transpose(B @ A, fan_in_fan_out) * lora_alpha / r),
                             computed in float32 on the stored weights widened to float32

A is drawn as PEFT initialises it (nn.init.kaiming_uniform_(a=sqrt(5))); B, which PEFT
starts at zero, is drawn as if trained, so that the merge changes the weights. masklab's
tests (pkg/hf lora_test.go) load these files with hf.LoadAdapters, merge with
layers.MergeLoRA, export, and compare with merged.safetensors; they also write the
adapters back with hf.ExportAdapters and compare the files.

    /usr/bin/python3 make_lora.py check BASE_DIR ADAPTER_DIR MERGED_DIR

checks the other way round: it merges the adapters `masklab export --adapters` wrote onto
the base checkpoint in PyTorch and compares with what `masklab export` merged (cmd/masklab's
LoRA test runs it where PyTorch is installed).
"""

import json
import math
import os
import struct
import sys

import torch

from make_checkpoints import save_safetensors, write_json

torch.manual_seed(20261206)

ST_TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        dt = ST_TORCH[h["dtype"]]
        raw = bytearray(data[b:e])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt)
        out[name] = t.reshape(h["shape"]).clone()
    return out


def read_checkpoint(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        state = {}
        for f in sorted(set(json.load(open(index))["weight_map"].values())):
            state.update(read_safetensors(os.path.join(d, f)))
        return state
    return read_safetensors(os.path.join(d, "model.safetensors"))


def make(base, out, modules, conv1d, r, alpha, targets):
    state = read_checkpoint(base)
    os.makedirs(out, exist_ok=True)
    adapters, merged = {}, {}
    for m in modules:
        w = state[m + ".weight"].to(torch.float32)
        # nn.Linear stores [out, in]; GPT-2's Conv1D [in, out] (fan_in_fan_out).
        fan_in, fan_out = (w.shape[0], w.shape[1]) if conv1d else (w.shape[1], w.shape[0])
        a = torch.empty(r, fan_in)
        torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        b = torch.randn(fan_out, r) * 0.05
        adapters["base_model.model." + m + ".lora_A.weight"] = a
        adapters["base_model.model." + m + ".lora_B.weight"] = b
        delta = (b @ a) * (alpha / r)
        if conv1d:
            delta = delta.T
        merged[m + ".weight"] = w + delta
    save_safetensors(os.path.join(out, "adapter_model.safetensors"), adapters, {"format": "pt"})
    save_safetensors(os.path.join(out, "merged.safetensors"), merged, {"format": "pt"})
    write_json(os.path.join(out, "adapter_config.json"), {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": os.path.basename(base),
        "bias": "none", "fan_in_fan_out": conv1d, "inference_mode": True, "init_lora_weights": True,
        "layers_pattern": None, "layers_to_transform": None, "lora_alpha": alpha, "lora_dropout": 0.0,
        "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None,
        "target_modules": targets, "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
    })


def main():
    qwen = json.load(open("qwen2/config.json"))
    make("qwen2", "lora-qwen2",
         ["model.layers.%d.%s" % (l, p) for l in range(qwen["num_hidden_layers"])
          for p in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]],
         False, 4, 16, sorted(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    gpt2 = json.load(open("gpt2/config.json"))
    make("gpt2", "lora-gpt2",
         ["transformer.h.%d.%s" % (l, p) for l in range(gpt2["n_layer"])
          for p in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]],
         True, 2, 8, ["c_attn", "c_fc", "c_proj"])


def check(base, adapters, merged):
    """Merges PEFT adapter files (as `masklab export --adapters` writes them) onto a base
    checkpoint in PyTorch, as PEFT's merge does, and compares with a merged checkpoint
    (as `masklab export` writes it, F32): exit status 1 if a tensor differs by more than
    float32 rounding, or a tensor is missing or extra."""
    state = {k: v.to(torch.float32) for k, v in read_checkpoint(base).items()}
    cfg = json.load(open(os.path.join(adapters, "adapter_config.json")))
    ad = read_safetensors(os.path.join(adapters, "adapter_model.safetensors"))
    scaling = cfg["lora_alpha"] / cfg["r"]
    prefix = "base_model.model."
    n = 0
    for key, a in ad.items():
        if not key.endswith(".lora_A.weight"):
            continue
        module = key[len(prefix):-len(".lora_A.weight")]
        b = ad[prefix + module + ".lora_B.weight"]
        delta = (b @ a) * scaling
        if cfg["fan_in_fan_out"]:
            delta = delta.T
        state[module + ".weight"] = state[module + ".weight"] + delta
        n += 1
    got = read_checkpoint(merged)
    if set(got) - set(state) or set(state) - set(got) - {"lm_head.weight"}:
        print("tensor names differ:", sorted(set(got) ^ set(state)))
        sys.exit(1)
    worst = max((got[k].to(torch.float32) - state[k]).abs().max().item() for k in got)
    print("merged %d adapted modules in PyTorch; largest difference from masklab's merged export: %.3g" % (n, worst))
    if worst > 1e-5:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        main()
