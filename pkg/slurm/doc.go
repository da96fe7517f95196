// Package slurm runs a sweep's pending runs on a Slurm cluster: it writes one job-array script
// per sweep stage (a task per run) and a report job, and submits them with sbatch.
package slurm
