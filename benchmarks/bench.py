"""Benchmark of `crizotinib-reports build` on the shipped reports, printed as ratios against baselines.

What is measured (each time the median of --runs runs; wall time with time.perf_counter):

1. Full build, cold: `crizotinib-reports build --output-dir <fresh dir>` (all reports, HTML + PDF)
   against "the usual chain" over the same notebooks, one report after another:
   `papermill` (CLI), then `jupyter nbconvert --to html`, then `weasyprint`. That chain is what one
   would write without this project, so the ratio is what the project buys: one process, kernels
   in parallel, exporters loaded once. Target: ours / chain <= 0.35.
2. Rebuild with nothing changed: the same command again into the same folder, against the full
   build. Inputs are hashed, so this should cost little more than starting Python. Target <= 0.05.
3. A 12-variant sweep of clinical_activity (setting x ci_method x confidence_level) with --jobs 2
   against --jobs 1: how well kernels in parallel scale. Target <= 0.6.
4. Peak memory: total RSS of the build process and all its descendants (kernels), sampled every
   50 ms during the full builds and the sweeps. Target <= 1 GiB. The chain's peak is shown beside.

Also printed: the machine (the figures are only comparable on a quiet one: the load average at
start is warned about above 0.5) and where a full build's time goes, from its manifest.

Run from anywhere with the venv's Python: `.venv/bin/python benchmarks/bench.py [--runs N]
[--skip-chain] [--json PATH] [--check]` (or `make bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.prefix) / "bin"  # the venv's scripts: crizotinib-reports, papermill, jupyter, weasyprint
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SWEEP = ["clinical_activity", "--param", "setting=all,first-line,second-line",
         "--param", "ci_method=exact,wilson", "--param", "confidence_level=0.9,0.95"]
SWEEP_FOLDERS = 12
GIB = 1024 ** 3
PROFILE_KEYS = ["execute", "kernel_wait", "papermill_overhead", "setup_cell", "other_cells", "render", "html", "pdf",
                "total"]
# Costs paid outside any one report's timings, measured alone (each in a fresh process):
ALONE = {
    "kernel start + package imports (one kernel, as WarmKernels starts it)":
        "from crizotinib_reports.publish.kernels import WarmKernels; from crizotinib_reports.paths import NOTEBOOK_DIR\n"
        "w = WarmKernels(1, 1, 'python3', NOTEBOOK_DIR, []); k = w.take(); w.shut_down(k); w.close()",
    "build process imports (papermill, nbconvert, WeasyPrint, pandas, pandera)":
        "import papermill, nbconvert, weasyprint, crizotinib_reports.publish.render, crizotinib_reports.evidence.schema",
    "data validation (all tables, in a process that has imported pandera)":
        "import crizotinib_reports.evidence.schema, time; t = time.perf_counter(); from crizotinib_reports.evidence.data import validate; "
        "validate(); print(time.perf_counter() - t)",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (0 once it is gone)."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass  # exited between listing and sampling
    return total


def run(args: list[str | Path]) -> tuple[float, int, str]:
    """Run a command from the project root; its wall seconds, peak tree RSS (bytes) and stdout."""
    cmd = [str(a) for a in args]
    peak, done = [0], threading.Event()

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        tail = "\n".join((err or out).strip().splitlines()[-25:])
        sys.exit(f"FAILED (exit {proc.returncode}): {' '.join(cmd)}\n--- stderr tail ---\n{tail}")
    return seconds, peak[0], out


def build(output_dir: Path, *extra: str) -> tuple[float, int, str]:
    return run([BIN / "crizotinib-reports", "build", "--output-dir", output_dir, *extra])


def chain(work: Path) -> tuple[float, int]:
    """papermill, nbconvert, weasyprint CLIs, report after report; total seconds and the largest peak."""
    seconds, peak = 0.0, 0
    for notebook in NOTEBOOKS:
        executed, html = work / notebook.name, work / f"{notebook.stem}.html"
        for cmd in ([BIN / "papermill", notebook.relative_to(ROOT), executed, "-k", "python3", "--cwd", "notebooks",
                     "--no-progress-bar"],
                    [BIN / "jupyter", "nbconvert", "--to", "html", executed],
                    [BIN / "weasyprint", html, work / f"{notebook.stem}.pdf"]):
            s, p, _ = run(cmd)
            seconds, peak = seconds + s, max(peak, p)
    return seconds, peak


def manifest(output_dir: Path) -> dict:
    return json.loads((output_dir / "manifest.json").read_text(encoding="utf-8"))


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    return {"cores": len(os.sched_getaffinity(0)), "cpu": model,
            "ram_gib": round(psutil.virtual_memory().total / GIB, 1), "python": platform.python_version(),
            "platform": platform.platform()}


def measured_alone(runs: int) -> dict[str, float]:
    """Median seconds of each ALONE snippet (the validation snippet times itself, without imports)."""
    found = {}
    for label, code in ALONE.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise SystemExit(f"profiling '{label}' failed:\n{done.stderr[-2000:]}")
            times.append(float(done.stdout.strip()) if done.stdout.strip() else time.perf_counter() - started)
        found[label] = round(statistics.median(times), 3)
    return found


def profile(entries: dict) -> dict[str, float]:
    """Sum over reports of each `seconds` key of the manifest."""
    return {key: round(sum(e.get("seconds", {}).get(key, 0.0) for e in entries.values()), 3)
            for key in PROFILE_KEYS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    parser.add_argument("--skip-chain", action="store_true", help="do not time the papermill/nbconvert/weasyprint chain")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all raw timings and results here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    info = machine()
    info["load_start"] = os.getloadavg()
    print(f"machine: {info['cores']} cores ({info['cpu']}), {info['ram_gib']} GiB RAM, Python {info['python']}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in info['load_start'])}")
    if info["load_start"][0] > 0.5:
        print("WARNING: load average above 0.5 at start: other work is running, the figures will be noisy")

    raw: dict[str, list] = {k: [] for k in ("chain", "chain_peak", "full", "full_peak", "rebuild", "rebuild_peak",
                                            "sweep_j1", "sweep_j1_peak", "sweep_j2", "sweep_j2_peak")}
    last_profile: dict[str, float] = {}

    def record(key: str, seconds: float, peak: int) -> None:
        raw[key].append(seconds)
        raw[f"{key}_peak"].append(peak)

    with tempfile.TemporaryDirectory(prefix="crizotinib-bench-") as tmp:
        tmp = Path(tmp)
        for i in range(1, args.runs + 1):
            if not args.skip_chain:
                log(f"run {i}/{args.runs}: the usual chain over {len(NOTEBOOKS)} notebooks ...")
                work = tmp / f"chain-{i}"
                work.mkdir()
                seconds, peak = chain(work)
                record("chain", seconds, peak)

            log(f"run {i}/{args.runs}: full build, then rebuild with nothing changed ...")
            full_dir = tmp / f"full-{i}"
            seconds, peak, _ = build(full_dir)
            record("full", seconds, peak)
            entries = manifest(full_dir)["reports"]
            last_profile = profile(entries)
            seconds, peak, out = build(full_dir)
            record("rebuild", seconds, peak)
            if not out.startswith("built 0,"):  # e.g. the package code was edited between the two builds
                why = {name: e.get("rebuilt_because") for name, e in manifest(full_dir)["reports"].items()
                       if e != entries.get(name)}
                print(f"WARNING: the rebuild was not a no-op, figure 2 is void: {out.strip()}; because: {why}")

            for jobs in (1, 2):
                log(f"run {i}/{args.runs}: {SWEEP_FOLDERS}-variant sweep of clinical_activity, --jobs {jobs} ...")
                sweep_dir = tmp / f"sweep-j{jobs}-{i}"
                seconds, peak, _ = build(sweep_dir, *SWEEP, "--jobs", str(jobs))
                folders = [name for name, e in manifest(sweep_dir)["reports"].items()
                           if e.get("status") == "built" and (sweep_dir / name).is_dir()]
                if len(folders) != SWEEP_FOLDERS:
                    sys.exit(f"FAILED: the sweep with --jobs {jobs} produced {len(folders)} folders, "
                             f"expected {SWEEP_FOLDERS}: {folders}")
                record(f"sweep_j{jobs}", seconds, peak)
    info["load_end"] = os.getloadavg()

    med = {k: statistics.median(v) for k, v in raw.items() if v and not k.endswith("_peak")}
    peak_ours = max(raw["full_peak"] + raw["sweep_j1_peak"] + raw["sweep_j2_peak"]) / GIB
    peak_chain = max(raw["chain_peak"]) / GIB if raw["chain_peak"] else None
    figures = [  # name, measured, target, how it is shown
        ("full build / usual chain", med["full"] / med["chain"] if "chain" in med else None, 0.35, "{:.3f}"),
        ("rebuild unchanged / full build", med["rebuild"] / med["full"], 0.05, "{:.3f}"),
        ("sweep --jobs 2 / --jobs 1", med["sweep_j2"] / med["sweep_j1"], 0.6, "{:.3f}"),
        ("peak RSS of build + kernels (GiB)", peak_ours, 1.0, "{:.2f}"),
    ]

    print(f"\nmedians of {args.runs} run(s), wall seconds:")
    for key, label in [("chain", "usual chain (papermill + nbconvert + weasyprint CLIs, one by one)"),
                       ("full", "crizotinib-reports build, cold"), ("rebuild", "rebuild, nothing changed"),
                       ("sweep_j1", "12-variant sweep, --jobs 1"), ("sweep_j2", "12-variant sweep, --jobs 2")]:
        if key in med:
            print(f"  {label:<68} {med[key]:8.2f}")
    print(f"peak RSS: build + kernels {peak_ours:.2f} GiB"
          + (f"; usual chain {peak_chain:.2f} GiB (one process tree at a time)" if peak_chain is not None else ""))

    total = last_profile.get("total") or 1.0
    print(f"\nwhere the time of the last full build goes (sum over {len(entries)} reports of manifest `seconds`; "
          f"share of the summed total; reports run {info['cores']} at a time, so the sum exceeds the wall time "
          f"{raw['full'][-1]:.1f} s):")
    for key in PROFILE_KEYS:
        indent = "    " if key in ("kernel_wait", "papermill_overhead", "setup_cell", "other_cells", "html", "pdf") else "  "
        print(f"{indent}{key:<24} {last_profile[key]:8.2f} s {100 * last_profile[key] / total:6.1f} %")

    alone = measured_alone(args.runs)
    print("\nmeasured alone (median seconds, a fresh process each time):")
    for label, seconds in alone.items():
        print(f"  {label:<76} {seconds:6.2f}")

    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in info['load_end'])}")
    print(f"\n{'figure':<36} {'measured':>9} {'target':>8}  met")
    missed = False
    results = []
    for name, value, target, fmt in figures:
        met = None if value is None else value <= target
        missed |= met is False
        shown = "skipped" if value is None else fmt.format(value)
        print(f"{name:<36} {shown:>9} {'<= ' + format(target, 'g'):>8}  {'n/a' if met is None else 'yes' if met else 'NO'}")
        results.append({"figure": name, "measured": value, "target": target, "met": met})

    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "machine": info, "raw_seconds_and_peak_bytes": raw,
                                         "medians_seconds": med, "peak_gib": {"build": peak_ours, "chain": peak_chain},
                                         "profile_seconds": last_profile, "measured_alone_seconds": alone,
                                         "results": results}, indent=2) + "\n")
        print(f"\nraw timings and results: {args.json}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
