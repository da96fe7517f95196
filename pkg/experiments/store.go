package experiments

import "github.com/masklab/masklab/internal/runstore"

// A run directory's files and types live in internal/runstore; these names keep them
// where users of this package find them.

// File names inside a run directory.
const (
	ConfigFile  = runstore.ConfigFile
	MetricsFile = runstore.MetricsFile
	SummaryFile = runstore.SummaryFile
	LockFile    = runstore.LockFile
	LogFile     = runstore.LogFile
)

// Run statuses recorded in summary.json, plus the derived states of "masklab status".
const (
	StatusDone     = runstore.StatusDone
	StatusDiverged = runstore.StatusDiverged
	StatusFailed   = runstore.StatusFailed
	StatusRunning  = runstore.StatusRunning
	StatusPending  = runstore.StatusPending
)

type (
	// Metrics is one line of metrics.jsonl (see runstore.Metrics).
	Metrics = runstore.Metrics
	// Summary is a run's summary.json (see runstore.Summary).
	Summary = runstore.Summary
	// Divergence is the first non-finite training metric of a diverged run.
	Divergence = runstore.Divergence
	// Provenance says what produced a run's numbers.
	Provenance = runstore.Provenance
)

// ReadMetrics reads a metrics.jsonl, in order (see runstore.ReadMetrics).
func ReadMetrics(path string) ([]Metrics, error) { return runstore.ReadMetrics(path) }

// ReadSummary reads a run's summary.json.
func ReadSummary(runDir string) (*Summary, error) { return runstore.ReadSummary(runDir) }
