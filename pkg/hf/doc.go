// Package hf loads Hugging Face checkpoints (config.json, safetensors, sharded or not) into
// pkg/layers models of the Llama, Qwen2, Qwen3, Mistral and GPT-2 families, and exports them back.
// LoadTokenizer runs their tokenizer.json (byte-level and SentencePiece-style BPE) as
// Hugging Face's tokenizers do. OpenBert and LoadBert load BERT checkpoints (BertModel,
// BertForMaskedLM, BertForPreTraining) into layers.Bert, ExportBert writes them back, and
// LoadWordPiece runs BERT's WordPiece tokenizer (tokenizer.json or vocab.txt).
// OpenBertFor and WarmStart start a run's BERT kinds from a BERT checkpoint, ExportBertRun
// writes a masked-LM run as a BertForMaskedLM with vocab.txt, and ExportEncoderDecoder and
// LoadEncoderDecoder write and read bert2bert as transformers' EncoderDecoderModel.
// ChatTemplate runs a checkpoint's Jinja chat template as transformers does and finds the
// assistant spans of a conversation that chat fine-tuning supervises. ExportAdapters and
// LoadAdapters write and read PEFT's LoRA adapter files (adapter_config.json,
// adapter_model.safetensors) for layers.LoRA.
package hf
