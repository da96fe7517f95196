// Generates the WordPiece fixtures of pkg/hf's BERT tokenizer test (wordpiece_test.go):
// a small BERT vocabulary (vocab.txt) built from the test texts, three tokenizer
// directories in Hugging Face's layout (tokenizer.json, tokenizer_config.json, vocab.txt)
// that differ in the basic tokenizer's options, the texts, and the ids an independent
// implementation gives for them.
//
// The independent implementation is @lenml/tokenizers 3.7.2 (Apache-2.0), the tokenizers
// of transformers.js (its BertTokenizer: WordPiece model, BertNormalizer,
// BertPreTokenizer, TemplateProcessing / BertProcessing), which share no code with
// Hugging Face's Rust tokenizers, the Python BertTokenizer or pkg/hf.
//
// No real BERT vocabulary is committed (bert-base-chinese's has no licence file of its
// own); the vocabulary here is built from the texts: special tokens first (as BERT's:
// [PAD], [unused1-9], [UNK], [CLS], [SEP], [MASK]), ASCII punctuation, digits and letters
// with their ## continuations, the 2,000 most frequent characters of the poems (the rest
// become [UNK]), CJK punctuation, frequent English words and wordpieces.
//
// Run from the repository root:
//   cd /tmp && npm install @lenml/tokenizers@3.7.2
//   NODE_PATH=/tmp/node_modules node pkg/hf/testdata/wordpiece/generate.js
// It is deterministic: a rerun rewrites the same files.
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { TokenizerLoader } = require("@lenml/tokenizers");

const out = path.join("pkg", "hf", "testdata", "wordpiece");
const writeJSON = (f, v) => fs.writeFileSync(f, JSON.stringify(v, null, 1) + "\n");
const gz = (f) => zlib.gunzipSync(fs.readFileSync(f)).toString("utf8").split("\n").slice(1).filter((l) => l);

// ---- texts ----
const poems = gz("datasets/data/poetry.tsv.gz");
const cedict = gz("datasets/data/cedict.tsv.gz");
const texts = [];
// Classical poetry: every 409th poem's title and text, 150 of them.
for (let i = 0; i < poems.length && texts.length < 150; i += 409) {
  const f = poems[i].split("\t");
  texts.push(i % 3 ? f[4] : `${f[3]}：${f[4].replaceAll("/", "\n")}`);
}
// CC-CEDICT: every 1231st entry, the headwords, pinyin and English, 80 of them.
for (let i = 7, n = 0; i < cedict.length && n < 80; i += 1231, n++) {
  const f = cedict[i].split("\t");
  texts.push(n % 2 ? `${f[0]} ${f[1]} [${f[2]}] ${f[3]}` : f[3]);
}
// Hand-written: mixed scripts, accents, punctuation, whitespace, long words, specials.
texts.push(
  "今天天气很好，我们去公园散步吧。", "大模型微调时的注意力掩码研究", "中文English混合text，数字123和符号！",
  "机器学习（Machine Learning）是人工智能的一个分支。", "「你好」，他说：“欢迎！”", "《红楼梦》第一回——甄士隐梦幻识通灵",
  "日本語のテキストも少し。", "한국어 문장입니다.", "Привет, мир! Это тест.", "Ελληνικά κείμενα",
  "naïve café résumé Zürich", "NAÏVE CAFÉ RÉSUMÉ ZÜRICH", "e\u0301 versus \u00e9 (NFD and NFC)", "Ångström señor façade",
  "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "zero\u200bwidth and soft\u00adhyphen", "non\u00a0breaking\u3000ideographic space",
  "control\u0001chars\u0007here\u001f", "replacement \ufffd char", "tabs\tand\nnewlines\r\nCRLF", "   leading and trailing   ",
  "", " ", "\n\n", "a", "A", "!!!???...,,,;;;", "((([[[{{{}}}]]])))", "$1,234.56 and 50% off! #tag @user ^_^ ~x~ |pipe| `tick`",
  "I'm sure they'll say it's what we've done, I'd think.", "don't DON'T Don'T can't",
  "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "unbelievably unhappiness restructuring",
  "supercalifragilisticexpialidocious", "a".repeat(100), "a".repeat(101), "中".repeat(120), "x" + "é".repeat(100),
  "https://example.com/path?q=1&r=two#frag", "user@example.org 2026-12-06T05:20:00Z",
  "emoji 😀 👍🏽 🇨🇳 mixed with 中文", "math ∑ ∫ √ ∞ ≠ ≤ π", "𠀀𠀁 extension B ideographs 𪜀", "㐀㐁 extension A",
  "[CLS] already [SEP] here", "hello[MASK]world", "[MASK][MASK]", "不[MASK]而[UNK]", "[mask] is not special", "[PAD] [unused1]",
);

// Pairs for EncodePair: (poem line, CEDICT gloss), and hand-written ones.
const pairs = [];
for (let i = 0; i < 20; i++) pairs.push([texts[i * 7 % 150], texts[150 + (i * 3) % 80]]);
pairs.push(["", "only the second"], ["only the first", ""], ["问：何为掩码？", "答：遮住一部分。"]);

// ---- vocabulary ----
function basicWords(t) {
  // A rough BERT basic tokenization (lower-cased, accents stripped) for counting only.
  t = t.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase();
  t = t.replace(/([\u4e00-\u9fff\u3400-\u4dbf\p{P}\p{S}])/gu, " $1 ");
  return t.split(/\s+/u).filter((w) => w);
}
const count = (m, k) => m.set(k, (m.get(k) || 0) + 1);
const chars = new Map();
for (const p of poems.slice(0, 20000)) for (const c of p.split("\t")[4]) if (/[\u4e00-\u9fff]/u.test(c)) count(chars, c);
const words = new Map();
for (const t of texts) for (const w of basicWords(t)) if (/^[a-z]+$/.test(w)) count(words, w);
for (let i = 0; i < cedict.length; i += 37) for (const w of basicWords(cedict[i].split("\t")[3])) if (/^[a-z]+$/.test(w)) count(words, w);
const byCount = (m) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map((e) => e[0]);

const vocab = [];
const seen = new Set();
const add = (t) => { if (!seen.has(t)) { seen.add(t); vocab.push(t); } };
add("[PAD]");
for (let i = 1; i <= 9; i++) add(`[unused${i}]`);
["[UNK]", "[CLS]", "[SEP]", "[MASK]"].forEach(add);
for (let c = 33; c < 127; c++) { const s = String.fromCharCode(c); if (!/[A-Za-z0-9]/.test(s)) add(s); }
for (const s of "0123456789abcdefghijklmnopqrstuvwxyz") add(s);
for (const s of "0123456789abcdefghijklmnopqrstuvwxyz") add("##" + s);
for (const s of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") add(s);
for (const s of "abcdefghijklmnopqrstuvwxyz") add("##" + s.toUpperCase());
for (const s of "éüñçåïÉÜÑÇÅÏ") { add(s); add("##" + s); }
for (const s of "，。！？、；：「」『』（）《》“”‘’…—·") add(s);
for (const s of "αβγδεκλμνστ") add(s);
for (const w of byCount(chars).slice(0, 2000)) add(w);
for (const w of byCount(words).slice(0, 700)) { add(w); if (w.length > 2) add(w[0].toUpperCase() + w.slice(1)); }
for (const s of ["s", "es", "ed", "ing", "er", "ly", "tion", "al", "ment", "ness", "able", "un", "re", "believ", "happi", "struct", "uring"]) add("##" + s);
for (const s of ["un", "re", "believ", "happi", "struct"]) add(s);
for (const s of ["##中", "##文", "##é"]) add(s);

// ---- tokenizer directories ----
const variants = [
  // bert-base-chinese's options: lower-case, accents stripped (strip_accents null).
  { name: "lower", config: { do_lower_case: true }, normalizer: { lowercase: true, strip_accents: null }, post: "template" },
  // Cased (bert-base-cased): no lower-casing, accents kept; BertProcessing.
  { name: "cased", config: { do_lower_case: false }, normalizer: { lowercase: false, strip_accents: null }, post: "bert" },
  // Lower-cased with accents kept (strip_accents false), Chinese characters not split.
  { name: "keep-accents", config: { do_lower_case: true, strip_accents: false, tokenize_chinese_chars: false },
    normalizer: { lowercase: true, strip_accents: false, handle_chinese_chars: false }, post: "template" },
];
const id = (t) => vocab.indexOf(t);
const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const expected = { texts, pairs, variants: {} };
for (const v of variants) {
  const dir = path.join(out, v.name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "vocab.txt"), vocab.join("\n") + "\n");
  const post = v.post === "bert"
    ? { type: "BertProcessing", sep: ["[SEP]", id("[SEP]")], cls: ["[CLS]", id("[CLS]")] }
    : {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
      special_tokens: { "[CLS]": { id: "[CLS]", ids: [id("[CLS]")], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [id("[SEP]")], tokens: ["[SEP]"] } },
    };
  const tj = {
    version: "1.0", truncation: null, padding: null,
    added_tokens: specials.map((s) => ({ id: id(s), content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: v.normalizer.handle_chinese_chars ?? true,
      strip_accents: v.normalizer.strip_accents, lowercase: v.normalizer.lowercase },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: post,
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
  writeJSON(path.join(dir, "tokenizer.json"), tj);
  const cfg = { ...v.config, tokenizer_class: "BertTokenizer", model_max_length: 512, clean_up_tokenization_spaces: true,
    unk_token: "[UNK]", sep_token: "[SEP]", pad_token: "[PAD]", cls_token: "[CLS]", mask_token: "[MASK]" };
  writeJSON(path.join(dir, "tokenizer_config.json"), cfg);

  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: cfg });
  const single = texts.map((t) => tok.encode(t));
  const plain = texts.map((t) => tok.encode(t, { add_special_tokens: false }));
  const pairOut = pairs.map(([a, b]) => {
    const r = tok(a, { text_pair: b });
    return { ids: r.input_ids, types: r.token_type_ids };
  });
  const decoded = plain.map((ids) => (ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : ""));
  expected.variants[v.name] = { single, plain, pairs: pairOut, decoded };
  const unk = single.flat().filter((i) => i === id("[UNK]")).length;
  console.log(`${v.name}: ${single.flat().length} ids over ${texts.length} texts (${unk} [UNK]), ${pairs.length} pairs`);
}
fs.writeFileSync(path.join(out, "expected.json"), JSON.stringify(expected) + "\n");
console.log(`vocabulary: ${vocab.length} tokens`);
