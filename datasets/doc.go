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
// # Special token ids
//
// Synthetic tasks keep the reference benchmark's ids (../shared/bench): PAD 0, BOS 1,
// EOS 2, data tokens 3..VocabSize-1; MASK = VocabSize only with [Options].WithMask;
// no UNK and no SEP (their ids are -1). Tasks built from text (CC-CEDICT, user files)
// use PAD 0, BOS 1, EOS 2, UNK 3, SEP 4, MASK 5, then data tokens from 6 on, ordered
// by decreasing training-split frequency (ties by token string).
//
// # Sequence layout
//
// An [Example] stores Source and Target without BOS/EOS. A [Batch] lays them out as
// the reference does: Src = source + EOS (padded to S), decoder input Dec = BOS +
// target, labels Tgt = target + EOS (both padded to T); for the decoder-only LM the
// "target" is the whole document (or prompt + SEP + completion for SFT data).
package datasets
