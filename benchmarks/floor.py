"""The plain-script floor: each report's own code, run as a plain script in one warm process.

What a report costs when nothing but its analysis runs: the stack is imported once (not counted), the
data are loaded from a validated copy (as the build hands its kernels), and each notebook's code cells
run in a fresh namespace, their displays thrown away (the HTML of tables and figures is still made:
`report.show` renders it). No kernel, papermill, nbconvert or PDF. Prints one JSON object,
{report: seconds} (the median of --runs), for bench.py.

Run from the project root: `.venv/bin/python benchmarks/floor.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "agg")
    import nbformat

    import crizotinib_reports.notebook  # noqa: F401  the stack, imported once and not counted
    from crizotinib_reports.evidence.data import (VALIDATED_CACHE_ENV, data_file_hashes, validate,
                                                  validated_payload)

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="crizotinib-floor-") as tmp:
        cache = Path(tmp) / "validated.pickle"
        data = ROOT / "data"
        cache.write_bytes(validated_payload(data, data, data_file_hashes(data), validate(data)))
        os.environ[VALIDATED_CACHE_ENV] = str(cache)
        os.chdir(ROOT / "notebooks")
        for path in notebooks:
            code = [compile(cell.source, f"{path.name}[{i}]", "exec")
                    for i, cell in enumerate(nbformat.read(path, as_version=4).cells) if cell.cell_type == "code"]
            times = []
            for _ in range(args.runs):
                namespace: dict = {"__name__": "__main__"}
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    for block in code:
                        exec(block, namespace)
                times.append(time.perf_counter() - started)
                import matplotlib.pyplot as plt

                plt.close("all")
            found[path.stem] = round(statistics.median(times), 3)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
