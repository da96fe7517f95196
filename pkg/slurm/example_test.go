package slurm_test

import (
	"fmt"
	"log"

	"github.com/masklab/masklab/pkg/slurm"
)

// The script of a job array of two runs, at most one running at a time. WriteJob writes
// such scripts (and their run lists) under the sweep directory; Submit submits them.
func ExampleArrayScript() {
	o := slurm.Options{
		Masklab:     "/opt/masklab/bin/masklab",
		SweepFile:   "/home/me/sweeps/ablation.yaml",
		OutDir:      "/scratch/me/ablation",
		Partition:   "gpu",
		Time:        "1:00:00",
		GPUs:        1,
		MaxParallel: 1,
	}
	j := &slurm.Job{Dir: "/scratch/me/ablation/slurm", LogDir: "/scratch/me/ablation/slurm/logs"}
	a := &slurm.Array{
		Stage:   "main",
		Script:  "/scratch/me/ablation/slurm/array-20260101-120000.sbatch",
		RunList: "/scratch/me/ablation/slurm/array-20260101-120000.runs",
		RunIDs:  []string{"run-a", "run-b"},
	}
	script, err := slurm.ArrayScript(o, j, a)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(script)
	// Output:
	// #!/bin/bash
	// # Written by "masklab slurm": one array task per pending run of
	// #   /home/me/sweeps/ablation.yaml
	// # Task i runs the run on line i+1 of /scratch/me/ablation/slurm/array-20260101-120000.runs. Submit with: sbatch /scratch/me/ablation/slurm/array-20260101-120000.sbatch
	// #SBATCH --job-name=masklab
	// #SBATCH --array=0-1%1
	// #SBATCH --output=/scratch/me/ablation/slurm/logs/%A_%a.out
	// #SBATCH --open-mode=append
	// #SBATCH --ntasks=1
	// #SBATCH --gres=gpu:1
	// #SBATCH --partition=gpu
	// #SBATCH --time=1:00:00
	// set -euo pipefail
	// RUNS=/scratch/me/ablation/slurm/array-20260101-120000.runs
	// RUN_ID=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$RUNS")
	// if [ -z "$RUN_ID" ]; then echo "masklab slurm: no run for array task $SLURM_ARRAY_TASK_ID in $RUNS" >&2; exit 1; fi
	// echo "masklab slurm: job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} runs $RUN_ID on $(hostname) at $(date -u +%FT%TZ)"
	// exec /opt/masklab/bin/masklab sweep /home/me/sweeps/ablation.yaml --out /scratch/me/ablation --only "$RUN_ID" --workers 1
}
