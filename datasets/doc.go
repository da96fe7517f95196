// Package datasets provides the data every masklab ablation trains on: synthetic
// seq2seq tasks (copy, reverse, sort), tasks built from the embedded CC-CEDICT
// dictionary (pinyin, English, documents, instruction pairs), and user TSV/JSONL files;
// with a tokenizer, vocabularies that can be saved with a run, deterministic splits,
// padded batches that are a pure function of (split, seed, step), and packing for the
// decoder-only LM.
//
// The package depends only on the standard library (it does not import GoMLX or other
// masklab packages): batches are flat row-major int32 slices ready to be copied into
// tensors.
//
//	task, err := datasets.Load("cedict-pinyin", datasets.Options{MaxExamples: 20000})
//	b, err := task.Batch("train", 64, seed, step, datasets.BatchOptions{})
//	// b.Src [B*S], b.Dec [B*T], b.Tgt [B*T], b.SrcLen, b.TgtLen, ...
//	for b, err := range task.Batches("valid", 64, datasets.BatchOptions{}) { ... }
//	task.Vocab.Save(filepath.Join(runDir, "vocab.json"))
//
// # Tasks
//
// [Names] lists them; [Describe] gives a line on each.
//
//   - copy, reverse, sort: synthetic seq2seq; [Options] VocabSize (default 64),
//     MinLen/MaxLen (8..22), TrainSize/ValidSize/TestSize (50000/1000/1000), Seed.
//     The defaults of reverse are the reference benchmark's (../shared/bench): tokens
//     uniform in 3..63, lengths uniform in 8..22, source and target padded to 24.
//     Options.Stream draws fresh training batches from (seed, step) as the reference
//     does.
//   - cedict-pinyin: simplified Chinese -> numbered pinyin (程序员 -> cheng2 xu4 yuan2).
//   - cedict-english: simplified Chinese -> first cleaned English gloss (-> programmer).
//   - cedict-docs: one document per entry, "程序员 [cheng2 xu4 yuan2] programmer" (LM).
//   - cedict-sft, cedict-sft-long-prompt, cedict-sft-long-answer: Chinese
//     instructions with their answers (SFT). Long prompts ask for the pinyin or the
//     English of a word (short answers); short prompts ("解释：程序员") get a long answer
//     (pinyin and up to five glosses); cedict-sft has both.
//   - tsv, jsonl: user files, Load("tsv:my.tsv", ...) or Load("my.jsonl", ...). TSV:
//     "source<TAB>target" per line (seq2seq). JSONL: {"prompt","completion"} per line
//     (SFT) or {"text"} per line (LM). Blank lines are skipped; any other malformed
//     line is an error naming the file and line.
//
// CC-CEDICT (MDBG, https://cc-cedict.org) is licensed CC BY-SA 4.0; see
// data/README.md for the attribution, the snapshot and its sha256.
//
// # Tokens and special ids
//
// [Tokenize] gives one token per CJK character, a run of letters and digits as one
// token (an English word, a pinyin syllable), each punctuation mark alone.
//
// Synthetic tasks keep the reference benchmark's ids: PAD 0, BOS 1, EOS 2, data
// tokens 3..VocabSize-1 (written as their decimal ids); MASK = VocabSize only with
// [Options].WithMask; no UNK and no SEP (their ids are -1). Tasks built from text
// (CC-CEDICT, user files) use PAD 0, BOS 1, EOS 2, UNK 3, SEP 4, MASK 5, then data
// tokens from 6 on, ordered by decreasing training-split frequency (ties by token
// string); Options.VocabSize caps the vocabulary, rarer tokens becoming UNK. A
// seq2seq text task has two vocabularies: [Task].SrcVocab for the encoder and
// [Task].Vocab for the decoder (the output layer), with the same special ids.
//
// # Splits
//
// Text tasks are split 90/5/5 by FNV-1a hash of the example's key (the CC-CEDICT
// simplified headword, the TSV source, the JSONL prompt or text): the same key is never
// in two splits, and the split of a key never changes. Options.MaxExamples and
// MaxEval take the examples whose keys hash lowest, so a subset is the same on every
// machine and grows by adding examples.
//
// # Sequence layout
//
// An [Example] stores Source and Target without BOS/EOS. A [Batch] lays them out as
// the reference does: Src = source + EOS (padded to S), decoder input Dec = BOS +
// target, labels Tgt = target + EOS (both padded to T); for the decoder-only LM the
// "target" is the document, or prompt + SEP + completion for SFT data, with
// Example.PromptLen = len(prompt)+1 label positions of prompt. Packed rows (first-fit,
// best-fit-decreasing, or concat, which alone splits documents) carry segment ids and
// per-document positions.
//
// # Determinism
//
// A batch is a pure function of (task, split, batch size, seed, step, options): the
// training split is an endless stream of epochs, each a permutation seeded by (seed,
// epoch) (then packed or bucketed), and batch step holds rows step*B..step*B+B-1 of it.
// Other splits are read in order. The random generator is splitmix64, written out in
// this package, so the data are the same on every machine and Go version.
package datasets
