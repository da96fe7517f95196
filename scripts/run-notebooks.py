#!/usr/bin/python3
"""Executes masklab's GoNB notebooks headless, each in a fresh kernel, and checks them.

Run it through scripts/test-notebooks.sh (which sets up PATH, GOEXPERIMENT and the quick
mode). Checks on each executed notebook:

  - every code cell was executed (has an execution count);
  - no cell has an error output (Go compile errors and panics are errors in GoNB);
  - no `!shell` line failed: GoNB reports a failing shell command only as a stderr line
    "exit status N" and carries on, so such a line counts as a failure here;
  - every cell tagged "figure" (cell metadata tags) shows at least one image/png or
    image/svg+xml output;
  - every text marker in the notebook's metadata masklab.markers (and the default
    "MASKLAB-OK <notebook name>") appears in the notebook's printed output.

The executed notebooks are written to --out (kept for inspection). The last line is
"notebooks: N passed, N failed"; the exit status is 1 when any notebook failed.
Uses Debian's /usr/bin/python3 with python3-nbclient (scripts/setup-notebooks.sh).
"""

import argparse
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

IMAGE_MIMES = ("image/png", "image/svg+xml")
SHELL_FAILURE = re.compile(r"^exit status \d+\s*$", re.M)


def text_of(output):
    """Returns the printed text of one output (streams and text/plain data)."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    return data.get("text/plain", "") if isinstance(data.get("text/plain", ""), str) else ""


def check(nb, name):
    """Returns a list of problems found in the executed notebook nb."""
    problems = []
    printed = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i}"
        first = cell.source.strip().splitlines()[:1]
        if first:
            where += f" ({first[0][:60]!r})"
        if not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"{where}: not executed")
        images = 0
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                msg = (out.get("ename", "") + ": " + str(out.get("evalue", ""))).strip()
                problems.append(f"{where}: error output: {msg[:2000]}")
            elif kind == "stream" and out.get("name") == "stderr" and SHELL_FAILURE.search(out.get("text", "")):
                problems.append(f"{where}: a shell line failed: {out.get('text', '').strip()[-2000:]}")
            if kind in ("display_data", "execute_result"):
                if any(m in out.get("data", {}) for m in IMAGE_MIMES):
                    images += 1
            printed.append(text_of(out))
        tags = cell.get("metadata", {}).get("tags", [])
        if "figure" in tags and images == 0:
            problems.append(f"{where}: figure cell shows no image/png or image/svg+xml output")
    text = "".join(printed)
    markers = list(nb.metadata.get("masklab", {}).get("markers", []))
    markers.append(f"MASKLAB-OK {name}")
    for m in markers:
        if m not in text:
            problems.append(f"marker {m!r} not printed")
    return problems


def run(path, out_dir, kernel, timeout):
    name = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.read(path, as_version=4)
    # The kernel runs in the notebook's own directory, so GONB_DIR/.. is the repository.
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout,
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    log_path = os.path.join(out_dir, name + ".kernel.log")
    t0 = time.time()
    problems = []
    with open(log_path, "w") as log:
        try:
            client.execute(stderr=log, stdout=log)
        except CellTimeoutError as e:
            problems.append(f"a cell ran past {timeout}s: {str(e).splitlines()[0] if str(e) else e!r}")
        except DeadKernelError as e:
            problems.append(f"the kernel died: {e}")
        except Exception as e:  # a kernel that does not start, a broken notebook...
            problems.append(f"execution failed: {type(e).__name__}: {e}")
    seconds = time.time() - t0
    executed = os.path.join(out_dir, name + ".ipynb")
    nbformat.write(nb, executed)
    problems += check(nb, name)
    return name, seconds, problems, executed, log_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", help="notebook files (.ipynb)")
    ap.add_argument("--out", required=True, help="directory for the executed notebooks and kernel logs")
    ap.add_argument("--kernel", default="gonb")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one cell may run")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    passed = failed = 0
    for path in args.notebooks:
        name, seconds, problems, executed, log = run(path, args.out, args.kernel, args.timeout)
        if problems:
            failed += 1
            print(f"FAIL {name} ({seconds:.0f}s): executed copy {executed}, kernel log {log}")
            for p in problems:
                print("  - " + p.replace("\n", "\n    "))
        else:
            passed += 1
            print(f"ok   {name} ({seconds:.0f}s)")
        sys.stdout.flush()
    print(f"notebooks: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
