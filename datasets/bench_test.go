package datasets

import (
	"sync"
	"testing"
)

func resetCaches() {
	cedictOnce, cedictData, cedictError = sync.Once{}, nil, nil
	taskCacheMu.Lock()
	clear(taskCache)
	taskCacheMu.Unlock()
}

// BenchmarkLoadCold measures a first load in a process: gunzip and parse CC-CEDICT,
// clean and tokenize it, split, build the vocabularies and encode.
func BenchmarkLoadCold(b *testing.B) {
	for _, name := range []string{"cedict-pinyin", "cedict-sft"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				resetCaches()
				if _, err := Load(name, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBatch measures one training batch of 64 rows.
func BenchmarkBatch(b *testing.B) {
	for _, c := range []struct {
		name string
		o    BatchOptions
	}{{"reverse", BatchOptions{}}, {"cedict-docs", BatchOptions{}}, {"cedict-docs", BatchOptions{Pack: BestFitDecreasing}}, {"cedict-docs", BatchOptions{Pack: FirstFit}}} {
		task, err := Load(c.name, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/"+string(c.o.Pack), func(b *testing.B) {
			for i := range b.N {
				if _, err := task.Batch("train", 64, 1, i, c.o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
