// Package experiments is masklab's engine for training runs and ablation sweeps: configs
// with strict decoding and --set overrides, training and evaluation, a results store that
// never loses or corrupts a result, and sweeps with locks and resume. Package report turns
// a sweep's runs into statistics, tables and figures.
//
// A run lives in one directory, named by the hash of its resolved config:
//
//	config.yaml     the resolved config (the hash of this file names the run)
//	metrics.jsonl   one JSON object per logged step (train loss, lr, grad norm, eval metrics)
//	summary.json    status (done / diverged / failed), final and best metrics, provenance
//	ckpt/           the last checkpoint (GoMLX's checkpoint format), replaced atomically
//	lock            while a process trains the run: host, pid and a heartbeat
//
// Every file is written atomically (temp file, fsync, rename), metrics.jsonl is appended
// line by line and cut back to the checkpoint's step on resume, so "kill -9" at any moment
// loses at most the work since the last checkpoint.
package experiments
