package datasets

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func resetCaches() {
	cedictOnce, cedictData, cedictError = sync.Once{}, nil, nil
	poetryOnce, poetryData, poetryError = sync.Once{}, nil, nil
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

// BenchmarkPoetryLoadCold measures a first load of each poetry task in a process:
// gunzip and parse the 78,605 poems, tokenize them (5.4M tokens), split, build the
// vocabularies and encode; it reports the process's peak RSS (VmHWM) too.
func BenchmarkPoetryLoadCold(b *testing.B) {
	for _, name := range []string{"poetry-lm", "poetry-lm-titled", "poetry-couplet", "poetry-title", "poetry-compose", "poetry-tune"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				resetCaches()
				if _, err := Load(name, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			if hwm := vmHWM(); hwm > 0 {
				b.ReportMetric(float64(hwm)/(1<<20), "MB-VmHWM")
			}
		})
	}
}

// vmHWM returns the peak resident set size of the process in bytes (0 when
// /proc/self/status cannot be read, e.g. off Linux).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
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
