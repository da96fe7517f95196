// Package runstore reads and writes the files of a run directory: metrics.jsonl (one
// line per logged step, NaN and ±Inf kept as strings) and summary.json, with their types.
package runstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/internal/runlock"
)

// File names inside a run directory.
const (
	ConfigFile  = "config.yaml"
	MetricsFile = "metrics.jsonl"
	SummaryFile = "summary.json"
	LockFile    = "lock"
	LogFile     = "train.log"
)

// Run statuses recorded in summary.json, plus the derived states of "masklab status".
const (
	StatusDone     = "done"
	StatusDiverged = "diverged"
	StatusFailed   = "failed"
	StatusRunning  = "running"
	StatusPending  = "pending"
)

// Metrics is one line of metrics.jsonl: the step and named values ("train_loss", "lr",
// "grad_norm", "valid_loss", ...). Eval metrics appear only on evaluated steps.
type Metrics map[string]float64

// Step returns the line's step.
func (m Metrics) Step() int { return int(m["step"]) }

// MarshalJSON writes the values as JSON numbers, except NaN and ±Inf (which JSON lacks),
// written as the strings "NaN", "+Inf" and "-Inf".
func (m Metrics) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = FormatValue(v)
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = make(Metrics, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			(*m)[k] = x
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil || !(math.IsNaN(f) || math.IsInf(f, 0)) {
				return fmt.Errorf("metric %q: want a number, NaN, +Inf or -Inf, got %q", k, x)
			}
			(*m)[k] = f
		default:
			return fmt.Errorf("metric %q: want a number, got %v", k, v)
		}
	}
	return nil
}

// FormatValue writes a metric value as text: a number, or NaN, +Inf, -Inf.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// MetricsLog appends lines to a run's metrics.jsonl, each written whole and fsynced.
type MetricsLog struct {
	path string
	f    *os.File
}

// OpenMetricsLog opens path for appending after cutting it back to the lines with
// step <= keepThrough (use -1 to start empty). A half-written last line (from a crash)
// is dropped; so are lines beyond the checkpoint, which a resumed run writes again.
func OpenMetricsLog(path string, keepThrough int) (*MetricsLog, error) {
	lines, err := ReadMetrics(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var buf bytes.Buffer
	for _, m := range lines {
		if m.Step() > keepThrough {
			break
		}
		data, _ := json.Marshal(m)
		buf.Write(data)
		buf.WriteByte('\n')
	}
	if err := fsx.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, fsx.FileMode)
	if err != nil {
		return nil, fmt.Errorf("opening metrics log: %w", err)
	}
	return &MetricsLog{path: path, f: f}, nil
}

// Append writes one line and fsyncs it.
func (l *MetricsLog) Append(m Metrics) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("metrics at step %d: %w", m.Step(), err)
	}
	if _, err := l.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("appending to %s: %w", l.path, err)
	}
	return l.f.Sync()
}

// Close closes the log.
func (l *MetricsLog) Close() error { return l.f.Close() }

// ReadMetrics reads metrics.jsonl, in order. A last line without its newline (a write cut
// short by a crash) is ignored; any other malformed line is an error naming the line.
func ReadMetrics(path string) ([]Metrics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Metrics
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	complete := len(data) == 0 || data[len(data)-1] == '\n'
	total := bytes.Count(data, []byte{'\n'})
	for sc.Scan() {
		n++
		if n > total && !complete {
			break // the half-written tail
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: bad metrics line: %v", path, n, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Summary is a run's summary.json.
type Summary struct {
	Status     string `json:"status"` // done, diverged or failed
	Error      string `json:"error,omitempty"`
	Step       int    `json:"step"` // the last step trained
	DivergedAt int    `json:"diverged_at,omitempty"`
	// Divergence says what diverged (status diverged): the step, the metric that became
	// NaN or infinite, and its value.
	Divergence *Divergence        `json:"divergence,omitempty"`
	Final      map[string]float64 `json:"final"`          // the last evaluation
	Best       map[string]float64 `json:"best"`           // best value of each eval metric over evaluations
	Test       map[string]float64 `json:"test,omitempty"` // test split, only when asked for
	// ByPosition holds the final per-position metrics: "valid_loss" by target position,
	// and for packed decoder-only runs "valid_loss_doc" by position within the document.
	ByPosition map[string][]float64 `json:"by_position,omitempty"`
	// Data counts the examples the maximum length (task.max_len) changed, when it cut any.
	Data       *DataCounts `json:"data,omitempty"`
	Provenance Provenance  `json:"provenance"`
}

// DataCounts are a task's counts of examples changed by loading (datasets.Task): dropped
// (all reasons), prompts cut from the left to fit task.max_len, and examples dropped
// because their completion alone would not fit.
type DataCounts struct {
	Dropped   int `json:"dropped"`
	Truncated int `json:"truncated"`
	TooLong   int `json:"too_long"`
}

// NewDataCounts returns a summary's data counts; nil when the maximum length cut nothing.
func NewDataCounts(dropped, truncated, tooLong int) *DataCounts {
	if truncated == 0 && tooLong == 0 {
		return nil
	}
	return &DataCounts{Dropped: dropped, Truncated: truncated, TooLong: tooLong}
}

// Divergence is the first non-finite training metric of a diverged run.
type Divergence struct {
	Step   int    `json:"step"`
	Metric string `json:"metric"` // train_loss or grad_norm
	Value  string `json:"value"`  // NaN, +Inf or -Inf
}

// String says what diverged, e.g. "grad_norm = +Inf at step 3".
func (d *Divergence) String() string {
	return fmt.Sprintf("%s = %s at step %d", d.Metric, d.Value, d.Step)
}

// Provenance says what produced a run's numbers.
type Provenance struct {
	Masklab       string  `json:"masklab"` // masklab version and commit
	Commit        string  `json:"commit"`
	GoMLX         string  `json:"gomlx"`
	Compute       string  `json:"compute"` // github.com/gomlx/compute: the backends (the Go backend's kernels)
	Go            string  `json:"go"`
	Backend       string  `json:"backend"`        // resolved backend configuration, with options
	BackendSource string  `json:"backend_source"` // override, env, config or default
	SIMD          bool    `json:"simd"`
	CPU           string  `json:"cpu"`
	NumCPU        int     `json:"num_cpu"`
	Host          string  `json:"host"`
	Seed          int64   `json:"seed"`
	ConfigHash    string  `json:"config_hash"`
	WallSeconds   float64 `json:"wall_seconds"` // summed over all sessions of the run
	StepsPerSec   float64 `json:"steps_per_sec"`
	Finished      string  `json:"finished"`
	Resumes       int     `json:"resumes"`
}

// ReadSummary reads a run's summary.json.
func ReadSummary(runDir string) (*Summary, error) {
	data, err := os.ReadFile(filepath.Join(runDir, SummaryFile))
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, SummaryFile), err)
	}
	return &s, nil
}

// BestOf returns, for each eval metric, its best value over the metrics lines: the
// minimum for losses and error rates, the maximum otherwise.
func BestOf(lines []Metrics) map[string]float64 {
	best := map[string]float64{}
	for _, m := range lines {
		for k, v := range m {
			if !IsEvalMetric(k) {
				continue
			}
			old, ok := best[k]
			if !ok || (LowerIsBetter(k) && v < old) || (!LowerIsBetter(k) && v > old) {
				best[k] = v
			}
		}
	}
	return best
}

// IsEvalMetric reports whether k is an evaluation metric (valid_* or test_*).
func IsEvalMetric(k string) bool {
	return strings.HasPrefix(k, "valid_") || strings.HasPrefix(k, "test_")
}

// LowerIsBetter reports whether smaller values of metric k are better (losses, CER, perplexity).
func LowerIsBetter(k string) bool {
	return strings.Contains(k, "loss") || strings.HasSuffix(k, "cer") || strings.Contains(k, "ppl")
}

// LastEval returns the eval metrics of the last evaluated line.
func LastEval(lines []Metrics) map[string]float64 {
	for i := len(lines) - 1; i >= 0; i-- {
		out := map[string]float64{}
		for k, v := range lines[i] {
			if IsEvalMetric(k) {
				out[k] = v
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return map[string]float64{}
}

// NowString is the current UTC time in RFC 3339, as summaries record it.
func NowString() string { return time.Now().UTC().Format(time.RFC3339) }

// StateOf reads the state of the run in dir, as "masklab status" reports it: running
// (its lock is held; detail names the holder), the status of its summary.json (done,
// diverged, failed; detail the error or the divergence step), or pending; step is the
// last step trained or logged.
func StateOf(dir string) (state string, step int, detail string) {
	if held, li := runlock.Held(filepath.Join(dir, LockFile)); held {
		state, detail = StatusRunning, fmt.Sprintf("%s pid %d", li.Host, li.PID)
	} else if s, err := ReadSummary(dir); err == nil {
		if s.Status == StatusDiverged {
			return s.Status, s.Step, fmt.Sprintf("at step %d", s.DivergedAt)
		}
		return s.Status, s.Step, s.Error
	} else {
		state = StatusPending
	}
	if ms, err := ReadMetrics(filepath.Join(dir, MetricsFile)); err == nil && len(ms) > 0 {
		step = ms[len(ms)-1].Step()
	}
	return state, step, detail
}
