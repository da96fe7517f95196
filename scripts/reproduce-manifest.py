#!/usr/bin/python3
"""Writes figures/MANIFEST.md for scripts/reproduce.sh from the sweep directories.

usage: reproduce-manifest.py RUNS_DIR FIGURES_DIR MODE

For every sweep directory RUNS_DIR/NAME that has a report (NAME/report/*.png) and a
sweep file sweeps/NAME.yaml, it lists each figure (FIGURES_DIR/NAME-FIG.{png,pdf}) with
its sweep file, the run states, the config hashes (run ids) of the sweep's plan and the
provenance recorded in the runs' summary.json files: masklab commit, GoMLX version and
backend, and the training time summed over the runs. A run copied from another sweep
directory (masklab sweep --reuse: its directory holds a `reused_from` file) is counted as
reused and its time is not counted again. Figures no report drew are listed with the
notebook that drew them: the notebook whose metadata masklab.sweeps names the sweep the
figure is named after (poetry-packing-loss-by-position: notebook 09), else the notebook
with the figure's number (05-packing-...: notebook 05).
"""
import glob
import json
import re
import os
import sys
import time


def short(commit):
    """Returns a commit as `abcdef012345`, keeping a "+dirty" mark."""
    mark = "+dirty" if commit.endswith("+dirty") else ""
    return f"`{commit[:12]}{mark}`"


def notebook_sweeps():
    """Returns {sweep name: notebook path} from the notebooks' metadata masklab.sweeps."""
    out = {}
    for nb in sorted(glob.glob(os.path.join("notebooks", "[0-9][0-9]-*.ipynb"))):
        try:
            meta = json.load(open(nb)).get("metadata", {}).get("masklab", {})
        except (OSError, ValueError):
            continue
        for sweep in meta.get("sweeps", []):
            out.setdefault(sweep, nb)
    return out


def drawn_by(fig, declared):
    """Returns the notebook that drew figure fig (a name without extension), or None."""
    best = None
    for sweep, nb in declared.items():
        if fig.startswith(sweep + "-") and (best is None or len(sweep) > len(best[0])):
            best = (sweep, nb)
    if best:
        return best[1]
    if re.match(r"[0-9][0-9]-", fig):
        nbs = sorted(glob.glob(os.path.join("notebooks", fig[:2] + "-*.ipynb")))
        if nbs:
            return nbs[0]
    return None


def main():
    runs_dir, figs_dir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = [
        "# Figures",
        "",
        f"Written by `scripts/reproduce.sh` ({mode}) on {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}.",
        "Each figure is drawn by `masklab report` from the sweep's runs (one directory per run, named",
        f"by its config hash, under `{os.path.relpath(runs_dir)}/NAME/runs/`); the tables are `results/NAME.csv` and",
        "`results/NAME.md` beside this directory. Provenance comes from each run's `summary.json`.",
        "",
        "| figure | sweep file | runs | masklab commit | GoMLX | backend | training time | config hashes (run ids) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    total = 0.0
    listed = set()
    for dir in sorted(glob.glob(os.path.join(runs_dir, "*"))):
        name = os.path.basename(dir)
        sweep = f"sweeps/{name}.yaml"
        pngs = sorted(glob.glob(os.path.join(dir, "report", "*.png")))
        if not pngs or not os.path.exists(sweep) or not os.path.exists(os.path.join(dir, "manifest.json")):
            continue
        plan = json.load(open(os.path.join(dir, "manifest.json")))
        ids = [r["id"] for r in plan["runs"]]
        states, commits, gomlx, backends = {}, set(), set(), set()
        secs = 0.0
        reused = 0
        for rid in ids:
            try:
                s = json.load(open(os.path.join(dir, "runs", rid, "summary.json")))
            except (OSError, ValueError):
                states["pending"] = states.get("pending", 0) + 1
                continue
            states[s.get("status", "?")] = states.get(s.get("status", "?"), 0) + 1
            p = s.get("provenance", {})
            commits.add(p.get("commit") or "unknown")
            gomlx.add(p.get("gomlx") or "unknown")
            backends.add((p.get("backend") or "unknown") + (" +simd" if p.get("simd") else ""))
            if os.path.exists(os.path.join(dir, "runs", rid, "reused_from")):
                reused += 1  # trained by another sweep: its time is counted there
                continue
            secs += float(p.get("wall_seconds") or 0)
        total += secs
        state = ", ".join(f"{k}: {v}" for k, v in sorted(states.items()))
        if reused:
            state += f" ({reused} reused from another sweep, time not counted here)"
        for png in pngs:
            fig = os.path.splitext(os.path.basename(png))[0]
            listed.add(f"{name}-{fig}")
            lines.append(
                f"| `{name}-{fig}` (.png, .pdf) | `{sweep}` | {state} | {', '.join(short(c) for c in sorted(commits))} | "
                f"{', '.join(sorted(gomlx))} | {', '.join(f'`{b}`' for b in sorted(backends))} | {secs / 60:.1f} min | "
                f"{' '.join(ids)} |"
            )
    # Figures that no report drew: the notebooks draw them in full mode
    # (notebook.SavePaperFigure) from the same runs.
    extra = []
    declared = notebook_sweeps()
    for png in sorted(glob.glob(os.path.join(figs_dir, "*.png"))):
        fig = os.path.splitext(os.path.basename(png))[0]
        if fig in listed:
            continue
        nb = drawn_by(fig, declared)
        nb = f"`{nb}`" if nb else "a notebook"
        extra.append(f"| `{fig}` (.png, .pdf) | {nb} (full mode) | {time.strftime('%Y-%m-%d', time.gmtime(os.path.getmtime(png)))} |")
    if extra:
        lines += [
            "",
            "Drawn by the notebooks in full mode from the same runs (`scripts/reproduce.sh` executes them after",
            "the sweeps, with `MASKLAB_RUNS` pointing at the runs above, so nothing is retrained):",
            "",
            "| figure | drawn by | written (UTC) |",
            "| --- | --- | --- |",
        ] + extra
    lines += [
        "",
        f"Training time summed over all runs: {total / 3600:.2f} h (one process per run at a time unless `--workers` was given).",
        "",
        "Notebook 01-masks has no sweep: its pictures are drawn from the mask definitions",
        "(run the notebook, or `masklab mask SPEC --format png`).",
        "",
    ]
    out = os.path.join(figs_dir, "MANIFEST.md")
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
