// Package layers builds masklab's models on GoMLX graph ops: a masked multi-head
// attention that takes any pkg/mask mask and score modification (ALiBi, T5's learned
// relative bias, soft-capping: Config.Score, on the decoder's self-attention), the
// Transformer encoder-decoder with cross-attention, the decoder-only LM, the LSTM
// decoder with attention, BERT (Bert: post-LN encoder with pooler and masked-LM head;
// Bert2Rnd, Bert2Bert and BertLSTM put a decoder on it), the weighted loss, greedy
// decoding for free-running evaluation, generation with a key/value cache (Generator:
// greedy or sampled, for the decoder LM, the encoder-decoder and the pretrained blocks),
// and LoRA adapters (Config.LoRA, as PEFT's) for fine-tuning the pretrained decoders
// (Config.Arch).
//
// Variables keep GoMLX's names (".../MultiHeadAttention/query/dense/weights",
// ".../layer_normalization/gain") so checkpoints look familiar. Initialisation follows
// PyTorch's defaults (Linear: U(±1/sqrt(fan_in)) for weights and biases; Embedding:
// N(0,1); LayerNorm: gain 1, offset 0, epsilon 1e-5), so a model here is the same model
// as the PyTorch reference benchmark's (scripts/bench).
package layers
