// Generates the expected ids of pkg/hf's WordLevel test (scratch_test.go): the tokenizer
// files under poetry/ and cedict/ are what masklab's export writes for a from-scratch
// vocabulary (go test ./pkg/hf -run TestWordLevel -update-wordlevel rewrites them); this
// script encodes the test texts with two JavaScript implementations independent of
// Hugging Face's Rust tokenizers and of pkg/hf, checks that they agree, and writes
// expected.json: @lenml/tokenizers 3.7.2 (the tokenizers of transformers.js, Apache-2.0)
// and @huggingface/tokenizers 0.2.0 (Hugging Face's tokenizers.js, Apache-2.0).
//
// Run from the repository root:
//   cd /tmp && npm install @lenml/tokenizers@3.7.2 @huggingface/tokenizers@0.2.0
//   NODE_PATH=/tmp/node_modules node pkg/hf/testdata/wordlevel/generate.js
// It is deterministic: a rerun rewrites the same file.
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { TokenizerLoader } = require("@lenml/tokenizers");
const { Tokenizer } = require("@huggingface/tokenizers");

const dir = path.join("pkg", "hf", "testdata", "wordlevel");
const readJSON = (f) => JSON.parse(fs.readFileSync(f, "utf8"));

function texts() {
  // The 218 texts of the BPE fixtures: poems, English prose, Go code, mixed scripts.
  const t = readJSON(path.join("pkg", "hf", "testdata", "tokenizers", "texts.json"));
  // CC-CEDICT: every 1723rd entry as the cedict tasks see it (headword, pinyin, English), 40.
  const cedict = zlib.gunzipSync(fs.readFileSync("datasets/data/cedict.tsv.gz")).toString("utf8").split("\n").slice(1).filter((l) => l);
  for (let i = 11, n = 0; i < cedict.length && n < 40; i += 1723, n++) {
    const f = cedict[i].split("\t");
    t.push(`${f[0]} ${f[2]} ${f[3]}`);
  }
  // What masklab's own tokenizer decides: controls dropped, every Unicode space a
  // separator, marks and non-decimal numbers, CJK beyond the BMP, kana, hangul, symbols.
  t.push(
    "a\u0000b\u0007c\u007fd\u0085e\u009ff", "x\u00a0y\u1680z\u2003w\u2028v\u2029u\u202ft\u205fs\u3000r", "zero\u200bwidth\ufeffbom",
    "床\u0301前 明\u20dd月", "e\u0301t\u00e9 na\u0308ive", "x² y³ Ⅻ ① ½ ٣ ３", "ー・ヶ々〆〇〻", "ｱｲｳ ｶﾞ ﾊﾟ", "ㄅㄆㄇ ㆠ",
    "𠀀𠀁𪜀𫝀𬺰𰀀 ext", "㐀㐁 㿿", "豈 更 﨎﨏", "⺀⺁ ⼀⼁ 〡〢〸", "㈠ ㊀ ㋐ ㌀", "한국어ᄀᄁ ㄱㄴ", "ひらがな カタカナ 漢字",
    "emoji😀👍🏽🇨🇳❤️‍🔥", "\ufffd replacement", "<unk> <pad><bos> <eos> <sep><mask>", "<bos>床前明月光<eos>",
    "a_b c-d e'f g.h", "１２３ＡＢＣ，。！", "αβγ δ1ε2", "Tab\there\nnew\r\nline", "", " ", "\t\n", "□ [ ] ［］",
  );
  return t;
}

function main() {
  const all = texts();
  const expected = {};
  for (const name of ["poetry", "cedict"]) {
    const tok = readJSON(path.join(dir, name, "tokenizer.json"));
    const cfg = readJSON(path.join(dir, name, "tokenizer_config.json"));
    const lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: JSON.parse(JSON.stringify(tok)), tokenizerConfig: JSON.parse(JSON.stringify(cfg)) });
    const hf = new Tokenizer(JSON.parse(JSON.stringify(tok)), JSON.parse(JSON.stringify(cfg)));
    expected[name] = all.map((text) => {
      const ids = lenml.encode(text);
      const ids2 = hf.encode(text).ids;
      if (JSON.stringify(ids) !== JSON.stringify(ids2)) throw new Error(`${name}: the two implementations differ on ${JSON.stringify(text)}: ${ids} vs ${ids2}`);
      const rest = ids.slice(1);
      const decoded = rest.length === 0 ? "" : lenml.decode(rest, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      const decoded2 = rest.length === 0 ? "" : hf.decode(rest, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      if (decoded !== decoded2) throw new Error(`${name}: decodings differ: ${JSON.stringify(decoded)} vs ${JSON.stringify(decoded2)}`);
      return { text, ids, decoded };
    });
  }
  fs.writeFileSync(path.join(dir, "expected.json"), "{\n" + Object.entries(expected).map(([k, v]) =>
    ` ${JSON.stringify(k)}: [\n` + v.map((c) => "  " + JSON.stringify(c)).join(",\n") + "\n ]").join(",\n") + "\n}\n");
}

main();
