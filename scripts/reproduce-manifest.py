#!/usr/bin/python3
"""Writes figures/MANIFEST.md for scripts/reproduce.sh from the sweep directories.

usage: reproduce-manifest.py RUNS_DIR FIGURES_DIR MODE [SWEEP...]

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

An existing MANIFEST.md is merged into, not replaced. With SWEEP names (the sweeps
reproduce.sh ran this time), only their rows and those of the figures their notebooks
draw are written anew; every other row stays as the last manifest wrote it (the committed
figures of sweeps not run now, even where RUNS_DIR holds other runs of them), and a sweep
with a report but no row yet is added. Without names every sweep with a report is
written anew. The history sentences are kept, with one added for this run; the total
training time is summed over every sweep in the table.
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


# Figures drawn neither from a sweep's runs nor by a notebook, and what draws them.
OTHER = {"attention-lengths": "`scripts/bench.sh --lengths` (docs/performance.md)"}

SWEEP_CELL = re.compile(r"^\| `[^`]+` \(\.png, \.pdf\) \| `(sweeps/[^`]+\.yaml)` \|")
MINUTES = re.compile(r"\| ([0-9.]+) min \|")


def previous(path):
    """Returns an existing manifest's history (the sentences before "Each figure is
    drawn"), its rows by sweep file and its notebook-drawn rows by figure; ("", {}, {})
    when there is none."""
    try:
        old = open(path).read().split("\n")
    except OSError:
        return "", {}, {}
    history, rows, extra = [], {}, {}
    for line in old[1:]:
        if line.startswith("Each figure is drawn"):
            break
        if line:
            history.append(line)
    drawn = False
    for line in old:
        drawn = drawn or line.startswith("Drawn by the notebooks")
        m = SWEEP_CELL.match(line)
        if m and not drawn:
            rows.setdefault(m.group(1), []).append(line)
        elif drawn and line.startswith("| `"):
            extra[line.split("`")[1]] = line
    return "\n".join(history), rows, extra


def main():
    runs_dir, figs_dir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    out = os.path.join(figs_dir, "MANIFEST.md")
    now = time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())
    history, kept, kept_extra = previous(out)
    only = set(sys.argv[4:])
    lines = [
        "# Figures",
        "",
        f"Written by `scripts/reproduce.sh` ({mode}) on {now}.",
        "Each figure is drawn by `masklab report` from the sweep's runs (one directory per run, named",
        f"by its config hash, under `{os.path.relpath(runs_dir)}/NAME/runs/`); the tables are `results/NAME.csv` and",
        "`results/NAME.md` beside this directory. Provenance comes from each run's `summary.json`.",
        "",
        "| figure | sweep file | runs | masklab commit | GoMLX | backend | training time | config hashes (run ids) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    header = len(lines)
    rows = {}  # sweep file -> its rows, written now
    written = set()  # the names of those sweeps
    minutes = {}  # sweep file -> training time summed over its runs
    listed = set()
    for dir in sorted(glob.glob(os.path.join(runs_dir, "*"))):
        name = os.path.basename(dir)
        sweep = f"sweeps/{name}.yaml"
        pngs = sorted(glob.glob(os.path.join(dir, "report", "*.png")))
        if not pngs or not os.path.exists(sweep) or not os.path.exists(os.path.join(dir, "manifest.json")):
            continue
        if only and name not in only and sweep in kept:
            continue  # not run now: its committed rows stay
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
        minutes[sweep] = secs / 60
        written.add(name)
        state = ", ".join(f"{k}: {v}" for k, v in sorted(states.items()))
        if reused:
            state += f" ({reused} reused from another sweep, time not counted here)"
        for png in pngs:
            fig = os.path.splitext(os.path.basename(png))[0]
            listed.add(f"{name}-{fig}")
            rows.setdefault(sweep, []).append(
                f"| `{name}-{fig}` (.png, .pdf) | `{sweep}` | {state} | {', '.join(short(c) for c in sorted(commits))} | "
                f"{', '.join(sorted(gomlx))} | {', '.join(f'`{b}`' for b in sorted(backends))} | {secs / 60:.1f} min | "
                f"{' '.join(ids)} |"
            )
    # The rows of sweeps not reported now stay as the last manifest wrote them.
    if history:
        names = ", ".join(f"`{n}`" for n in sorted(written)) or "no sweep's"
        lines[2] = f"{history} The rows of {names} on {now} by `scripts/reproduce.sh` ({mode})."
    for sweep, old_rows in kept.items():
        if sweep in rows:
            continue
        rows[sweep] = old_rows
        m = MINUTES.search(old_rows[0])
        minutes[sweep] = float(m.group(1)) if m else 0.0
        for row in old_rows:
            listed.add(row.split("`")[1])
    lines[header:header] = sorted((r for rs in rows.values() for r in rs), key=lambda r: r.split("`")[1])
    total = sum(minutes.values()) * 60
    # Figures that no report drew: the notebooks draw them in full mode
    # (notebook.SavePaperFigure) from the same runs.
    extra = []
    declared = notebook_sweeps()
    for png in sorted(glob.glob(os.path.join(figs_dir, "*.png"))):
        fig = os.path.splitext(os.path.basename(png))[0]
        if fig in listed:
            continue
        if fig in kept_extra and not any(fig.startswith(n + "-") for n in written):
            extra.append(kept_extra[fig])  # drawn from a sweep not run now: as the last manifest had it
            continue
        nb = drawn_by(fig, declared)
        nb = f"`{nb}` (full mode)" if nb else OTHER.get(fig, "a notebook (full mode)")
        extra.append(f"| `{fig}` (.png, .pdf) | {nb} | {time.strftime('%Y-%m-%d', time.gmtime(os.path.getmtime(png)))} |")
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
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
