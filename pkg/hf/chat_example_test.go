package hf_test

import (
	"fmt"
	"os"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/hf"
)

// Render a conversation with Qwen2.5's own chat template and find what an assistant-only
// loss trains on: each assistant turn's content and the <|im_end|> that ends it, not the
// default system prompt the template adds, the user turn or the role headers.
func ExampleChatTemplate_RenderChat() {
	tok, err := hf.LoadTokenizer("testdata/tokenizers/qwen3") // Qwen's special tokens
	if err != nil {
		panic(err)
	}
	src, err := os.ReadFile("testdata/chat/qwen2.5.jinja")
	if err != nil {
		panic(err)
	}
	ct, err := hf.NewChatTemplate(string(src), "qwen2.5.jinja", tok)
	if err != nil {
		panic(err)
	}
	text, spans, err := ct.RenderChat(&datasets.Conversation{Messages: []datasets.Message{
		{Role: "user", Content: "床前明月光的下一句？"},
		{Role: "assistant", Content: "疑是地上霜。"},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", text)
	for _, s := range spans {
		fmt.Printf("supervised [%d, %d): %q\n", s.Start, s.End, text[s.Start:s.End])
	}
	// Output:
	// "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n床前明月光的下一句？<|im_end|>\n<|im_start|>assistant\n疑是地上霜。<|im_end|>\n"
	// supervised [178, 206): "疑是地上霜。<|im_end|>"
}
