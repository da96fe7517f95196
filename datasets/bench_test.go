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
// vocabularies and encode; it reports the process's peak RSS (VmHWM) too. Run each
// in a fresh process for the peak of one load:
//
//	go test -c -o /tmp/ds.test ./datasets
//	/tmp/ds.test -test.run '^$' -test.bench 'PoetryLoadCold/poetry-lm$' -test.benchtime 1x
//
// Measured 2026-12-06 on the 2-core Xeon dev VM (Go 1.27.3, GOGC and GOMEMLIMIT
// unset, i.e. GOGC=100 and no limit), best of 5 while the machine was shared, wall
// time / CPU time (user+sys, GC included) / VmHWM:
//
//	PoetryParse (the corpus alone)   0.63 s / 0.63 s / 106 MB
//	poetry-lm                        0.71 s / 0.72 s / 158 MB
//	poetry-lm-titled                 0.89 s / 0.77 s / 209 MB
//	poetry-couplet                   0.86 s / 1.07 s / 236 MB
//	poetry-title                     0.87 s / 0.81 s / 216 MB
//	poetry-compose                   0.89 s / 0.76 s / 179 MB
//	poetry-tune                      0.77 s / 0.67 s / 136 MB
//
// With GOMEMLIMIT=200MiB poetry-couplet peaks at 207 MB. Targets: under 2 s and
// 300 MB.
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

// BenchmarkPoetryParse measures the corpus alone: gunzip, parse and tokenize the
// 78,605 poems, find their couplets and split keys.
func BenchmarkPoetryParse(b *testing.B) {
	for range b.N {
		resetCaches()
		if _, err := loadPoetry(); err != nil {
			b.Fatal(err)
		}
	}
	if hwm := vmHWM(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "MB-VmHWM")
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
