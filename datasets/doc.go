// Package datasets provides the data every masklab ablation trains on: synthetic
// seq2seq tasks (copy, reverse, sort), tasks built from the embedded CC-CEDICT
// dictionary (pinyin, English, documents, instruction pairs) and from an embedded
// corpus of classical Chinese poetry (documents, couplets, titles), and user TSV/JSONL files;
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
//   - poetry-lm, poetry-lm-titled, poetry-couplet, poetry-title, poetry-compose,
//     poetry-tune: classical Chinese poetry (documents, couplets, title and tune
//     instructions); see Poetry tasks below.
//   - tsv, jsonl: user files, Load("tsv:my.tsv", ...) or Load("my.jsonl", ...). TSV:
//     "source<TAB>target" per line (seq2seq). JSONL: {"prompt","completion"} per line
//     (SFT), {"text"} per line (LM), or conversations (SFT; TRL's formats):
//     {"messages": [{"role","content"}, ...]} or {"prompt": [messages], "completion":
//     [messages]}, kept as Example.Chat (with a "tools" list if any), supervised on their assistant turns
//     (Example.Spans) and rendered by a checkpoint's chat template ([ChatTemplate],
//     [Task.WithCodec]). Blank lines are skipped; any other malformed line is an error
//     naming the file and line.
//
// CC-CEDICT (MDBG, https://cc-cedict.org) is licensed CC BY-SA 4.0; see
// data/README.md for the attribution, the snapshot and its sha256.
//
// # Poetry tasks
//
// The poetry-* tasks read 78,605 poems of the npm package chinese-poetry 2.0.1
// (MIT License, © 2016 JackeyGao; the licence is data/poetry-LICENSE, the
// attribution and sha256 in data/README.md): 57,552 Tang shi (全唐诗, traditional
// characters) and 21,053 Song ci (全宋词, simplified). [Poetry] returns them. A poem is
// its lines joined by newlines; every CJK character and punctuation mark is one
// token (newlines are not tokens). Sizes below are train / valid / test at the
// defaults, then the uncapped vocabulary with its specials (cap it with
// Options.VocabSize, e.g. 2000; rarer characters become UNK):
//
//   - poetry-lm (LM): one document per poem, for decoder-only pre-training with any
//     packing and the document masks. 69,023 / 3,824 / 3,830; 10,571 tokens;
//     4.4M training tokens.
//   - poetry-lm-titled (LM): the same headed by author and title,
//     "李白《静夜思》床前明月光，…". 69,790 / 3,854 / 3,863; 10,692 tokens.
//   - poetry-couplet (seq2seq): a line "上句，下句。" whose halves have 5 or 7 Han
//     characters each, first half -> second half, without the punctuation: the two
//     align character for character ("秦川雄帝宅" -> "函谷壯皇居"). 216,367 / 11,274 /
//     11,517; 8,490 source and 8,918 target tokens; SrcLen = TgtLen = 8.
//   - poetry-title (SFT, long prompt, short completion): an instruction and the
//     poem, "读下面的作品，说出它的题目：秦川雄帝宅，…" -> "帝京篇十首 一" (one of three
//     instructions, chosen by a hash of the poem). 68,927 / 3,822 / 3,819; 10,564
//     tokens.
//   - poetry-compose (SFT, short prompt, long completion): "背诵李白《静夜思》。" (or
//     默写…, 请写出…的全文) -> the poem. 69,195 / 3,041 / 3,020; 10,656 tokens.
//   - poetry-tune (SFT): an instruction and a Song ci -> its tune name (词牌),
//     "这首词的词牌名是什么？气和玉烛，…" -> "导引"; ci titled by a tune alone (not
//     失调名, "tune lost", nor "tune・subtitle"). 16,436 / 896 / 920; 5,833 tokens.
//
// For ci the title is the tune name. Poems with no title (or 失调名) are left out of
// poetry-title, -compose and -tune. MaxLen defaults to 256 tokens (the prompt, SEP
// and completion for SFT), which keeps 98.8% of the poems; Dropped counts the poems
// it drops, exact duplicates (the same source and target text), poems that yield no
// example, and evaluation examples that share a text with an earlier split (below).
//
// Options.Dynasty ("tang", "song") and Options.Form ("shi", "ci") select poems;
// Options.SplitBy "author" splits by poet (below). The task name can carry them
// after a colon, which is how a configuration that only has a task name reaches
// them: "poetry-lm:tang", "poetry-couplet:song,by-author",
// "poetry-title:dynasty=tang,split=author" ([CheckName] checks a name). An unknown value ("poetry-lm:ming"), a
// combination with no poems ("poetry-lm:tang,ci": the Tang poems are all shi) and
// options that leave a split empty are errors naming the value.
//
// # Tokens and special ids
//
// [Tokenize] gives one token per CJK character, a run of letters and digits as one
// token (an English word, a pinyin syllable), each punctuation mark alone.
//
// Synthetic tasks keep the reference benchmark's ids: PAD 0, BOS 1, EOS 2, data
// tokens 3..VocabSize-1 (written as their decimal ids); MASK = VocabSize only with
// [Options].WithMask; no UNK and no SEP (their ids are -1). Tasks built from text
// (CC-CEDICT, poetry, user files) use PAD 0, BOS 1, EOS 2, UNK 3, SEP 4, MASK 5, then data
// tokens from 6 on, ordered by decreasing training-split frequency (ties by token
// string); Options.VocabSize caps the vocabulary, rarer tokens becoming UNK. A
// seq2seq text task has two vocabularies: [Task].SrcVocab for the encoder and
// [Task].Vocab for the decoder (the output layer), with the same special ids.
//
// # Splits
//
// Text tasks are split 90/5/5 by FNV-1a hash of the example's key (the CC-CEDICT
// simplified headword, the TSV source, the JSONL prompt or text, the poem's text
// without punctuation and spaces): the same key is never in two splits, and the split
// of a key never changes. Options.MaxExamples and MaxEval take the examples whose
// keys hash lowest, so a subset is the same on every machine and grows by adding
// examples.
//
// The poetry tasks key every example on its poem, so duplicate poems share a split
// and a poem's couplets stay together; besides, a valid example sharing a text with
// train, or a test example sharing one with train or valid, is dropped: a couplet
// half-line, a compose prompt (author and title). No poem, prompt or half-line is
// thus in two splits. With SplitBy "author" the key is the poet and whole poets go
// to valid and test (5% of the poems each, drawn in hash order among the known
// poets with at most 300 poems; the 54 more prolific ones and 无名氏/不詳/佚名 stay in
// train), so evaluation is on unseen poets; a poem also attributed to a poet of an
// earlier split is dropped. poetry-lm then has 68,803 / 4,027 / 3,845 examples,
// poetry-couplet 220,771 / 9,313 / 9,616.
//
// # Sequence layout
//
// An [Example] stores Source and Target without BOS/EOS. A [Batch] lays them out as
// the reference does: Src = source + EOS (padded to S), decoder input Dec = BOS +
// target, labels Tgt = target + EOS (both padded to T); for the decoder-only LM the
// "target" is the document, or prompt + SEP + completion for SFT data, with
// Example.PromptLen = len(prompt)+1 label positions of prompt; a conversation's prompt
// labels are all those outside its Example.Spans. Packed rows (first-fit,
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
