package datasets

import (
	"testing"
	"time"
)

func TestSmokeCedict(t *testing.T) {
	for _, name := range []string{"cedict-pinyin", "cedict-english", "cedict-docs", "cedict-sft", "cedict-pinyin"} {
		t0 := time.Now()
		task, err := Load(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v train %d valid %d test %d dropped %d vocab %d src %v maxlen %d/%d", name, time.Since(t0), len(task.Train), len(task.Valid), len(task.Test), task.Dropped, task.Vocab.Size(), task.SrcVocab != nil, task.MaxSourceLen, task.MaxTargetLen)
		for i := 0; i < 3; i++ {
			e := task.Train[i*1000]
			t.Logf("  %q -> %q", e.SourceText, e.TargetText)
		}
	}
}
