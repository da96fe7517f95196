"""Renders the chat templates of this directory with Python's jinja2 as transformers'
apply_chat_template does, writing rendered.json (see README.md)."""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))

# The special tokens each family's tokenizer_config.json names (None: not set).
SPECIAL = {
    "qwen2.5": {"bos_token": None, "eos_token": "<|im_end|>"},
    "qwen3": {"bos_token": None, "eos_token": "<|im_end|>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3.1": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "mistral-v0.1": {"bos_token": "<s>", "eos_token": "</s>"},
    "mistral-nemo": {"bos_token": "<s>", "eos_token": "</s>"},
}


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda f: datetime(2024, 7, 26).strftime(f)


def template(name):
    with open(os.path.join(HERE, name + ".jinja"), encoding="utf-8") as f:
        return env.from_string(f.read())


def special(name):
    return {k: v for k, v in SPECIAL[name].items() if v is not None}


# jinja2 first reproduces huggingface.js's recorded expectations for these templates.
with open(os.path.join(HERE, "expected.json"), encoding="utf-8") as f:
    for case in json.load(f):
        got = template(case["template"]).render(**case["data"])
        assert got == case["target"], case["template"]

with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
    conversations = json.load(f)
out = []
for name in sorted(SPECIAL):
    t = template(name)
    for conv in conversations:
        for gen in (False, True):
            case = {"template": name, "conversation": conv["name"], "add_generation_prompt": gen}
            try:
                case["text"] = t.render(messages=conv["messages"], add_generation_prompt=gen, **special(name))
            except TemplateError as e:
                case["error"] = str(e)
            out.append(case)
with open(os.path.join(HERE, "rendered.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(len(out), "renderings")
