"""Renders the chat templates of this directory with Python's jinja2 as transformers'
apply_chat_template does, writing rendered.json (see README.md)."""
import json
import os
from contextlib import contextmanager
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


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} extension (apply_chat_template's
    return_assistant_tokens_mask, which TRL's assistant_only_loss uses): it records the
    character ranges that generation blocks render."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(activate_tracker=self.activate_tracker)
        self._rendered_blocks = None
        self._generation_indices = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        rv = caller()
        if self.is_active():
            start_index = len("".join(self._rendered_blocks))
            end_index = start_index + len(rv)
            self._generation_indices.append((start_index, end_index))
        return rv

    def is_active(self):
        return self._rendered_blocks or self._generation_indices

    @contextmanager
    def activate_tracker(self, rendered_blocks, generation_indices):
        try:
            self._rendered_blocks = rendered_blocks
            self._generation_indices = generation_indices
            yield
        finally:
            self._rendered_blocks = None
            self._generation_indices = None


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
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
                case["text"] = t.render(messages=conv["messages"], tools=conv.get("tools"), add_generation_prompt=gen, **special(name))
            except TemplateError as e:
                case["error"] = str(e)
            out.append(case)
with open(os.path.join(HERE, "rendered.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(len(out), "renderings")

# TRL's training templates (generation-tagged copies of the originals, for
# assistant_only_loss): the text they render must be the original's, and their
# generation ranges, as UTF-8 byte offsets, are what TRL trains on (trl_spans.json).
TRL = {"trl-llama3_training": "llama3", "trl-qwen2_5_training": "qwen2.5"}
trl = []
for name, original in sorted(TRL.items()):
    t = template(name)
    for conv in conversations:
        if not any(m["role"] == "assistant" for m in conv["messages"]):
            continue
        kwargs = dict(messages=conv["messages"], tools=conv.get("tools"), add_generation_prompt=False, **special(original))
        blocks, indices = [], []
        with t.environment.activate_tracker(blocks, indices):
            for block in t.generate(**kwargs):
                blocks.append(block)
        text = "".join(blocks)
        assert text == template(original).render(**kwargs), (name, conv["name"])
        utf8 = lambda i: len(text[:i].encode("utf-8"))
        trl.append({"template": original, "training_template": name, "conversation": conv["name"],
                    "spans": [[utf8(a), utf8(b)] for a, b in indices]})
with open(os.path.join(HERE, "trl_spans.json"), "w", encoding="utf-8") as f:
    json.dump(trl, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(len(trl), "TRL assistant masks")
