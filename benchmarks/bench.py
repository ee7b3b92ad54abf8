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
5. The combined PDF of a scheduled run (once, not per --runs): made from the reports' laid-out pages,
   against laying every page out again, alternating on one run's folder (combined_pdf_figure).
   Target <= 0.3. `--combined-only` measures just this one.

Also printed: the machine (the figures are only comparable on a quiet one: the load average at
start is warned about above 0.5) and where a full build's time goes, from its manifest.

Run from anywhere with the venv's Python: `.venv/bin/python benchmarks/bench.py [--runs N]
[--skip-chain] [--json PATH] [--check] [--combined-only]` (or `make bench`).
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


# --------------------------------------------------------------------------- the combined PDF of a run

#: Times one way of making a run's combined PDF on a finished run folder (argv: the folder, a scratch folder,
#: the way), through the run's own Runner._combine, so every way gets the same inputs and the same file work:
#: "layout" lays every page out again in one HTML document (combine.combined_pdf, how runs made it before);
#: "pages" reuses each report's document, laid out and printed first (untimed) as the run's render worker does;
#: "missing" is "pages" with no document kept (a run whose reports were all unchanged lays them out first).
COMBINE_SNIPPET = """
import json, logging, shutil, sys, time
from pathlib import Path
from types import SimpleNamespace
from crizotinib_reports.publish import assemble, combine
from crizotinib_reports.publish.build import Builder, ReportResult
from crizotinib_reports.publish.progress import LogLines
from crizotinib_reports.publish.render import WORKER_DOCUMENTS, print_html, print_pdf
from crizotinib_reports.publish.runs import Runner

run, scratch, way = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
folder = scratch / run.name
shutil.copytree(run, folder)
record = json.loads((folder / "run.json").read_text())
results = [ReportResult(entry["report"], name, entry["status"], {}) for name, entry in record["reports"].items()]
if way == "layout":
    assemble.combine_in_worker = lambda reports, **options: (combine.combined_pdf(reports, **options),
                                                             {"method": "layout", "laid_out": len(reports),
                                                              "seconds": {}})
elif way == "pages":
    for name in record["reports"]:
        print_pdf(print_html((folder / name / f"{name}.html").read_text()), logging.getLogger(), keep=WORKER_DOCUMENTS)
runner = Runner(Builder(output_dir=scratch), LogLines(), pdf_profile=record["combined_pdf"]["profile"])
session = SimpleNamespace(snapshot=SimpleNamespace(hashes=record["data"]["sha256"]))
before = {**record, "combined_pdf": None}
started = time.perf_counter()
runner._combine(folder, record["run"], results, SimpleNamespace(headline=record["changes"]["headline"]), session,
                before)
print(time.perf_counter() - started)
"""


def combined_pdf_figure(work: Path, repeats: int = 2) -> dict:
    """A run's combined PDF made from the reports' laid-out pages, against laying every page out again.

    One `crizotinib-reports run` into a fresh folder (every report rendered in the run's worker, which keeps the
    documents and combines from them: its seconds are in run.json). Then, on copies of that run folder, each in a
    fresh process, "layout" and "pages" (:data:`COMBINE_SNIPPET`) alternate ``repeats`` times, so both meet the
    same load; "missing" once. The ratio is the medians' pages / layout (target <= 0.3).
    """
    load_start = os.getloadavg()
    output = work / "combined-run"
    run_seconds, peak, _ = run([BIN / "crizotinib-reports", "run", "--output-dir", output])
    folder = (output / "latest").resolve()
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))["combined_pdf"]
    if record["method"] != "pages" or record["reports_laid_out"]:
        print(f"WARNING: the run's combined PDF did not reuse every report's pages: {record}")
    timed: dict[str, list[float]] = {"layout": [], "pages": [], "missing": []}
    for way in [*("layout", "pages") * repeats, "missing"]:
        scratch = work / f"combined-{way}-{len(timed[way])}"
        scratch.mkdir()
        _, _, out = run([sys.executable, "-c", COMBINE_SNIPPET, folder, scratch, way])
        timed[way].append(float(out.strip().splitlines()[-1]))
    medians = {way: statistics.median(values) for way, values in timed.items()}
    return {"run_seconds": run_seconds, "run_peak_bytes": peak, "in_run": record["seconds"], "seconds": timed,
            **medians, "ratio": medians["pages"] / medians["layout"], "load_start": load_start,
            "load_end": os.getloadavg()}


def print_combined_pdf_figure(found: dict) -> None:
    print(f"\ncombined PDF of a run (seconds; medians of {len(found['seconds']['layout'])} alternating runs; load "
          f"{found['load_start'][0]:.2f} at start, {found['load_end'][0]:.2f} at end):")
    print(f"  {'whole run (build every report, combine)':<68} {found['run_seconds']:8.2f}")
    print(f"  {'the run combining from its kept documents (run.json)':<68} {found['in_run']:8.2f}")
    print(f"  {'from the reports laid-out pages (pages)':<68} {found['pages']:8.2f}")
    print(f"  {'every page laid out again, as before (layout)':<68} {found['layout']:8.2f}")
    print(f"  {'from pages, no document kept: every report laid out first (missing)':<68} {found['missing']:8.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    parser.add_argument("--skip-chain", action="store_true", help="do not time the papermill/nbconvert/weasyprint chain")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all raw timings and results here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--combined-only", action="store_true",
                        help="measure only the combined PDF of a run (figure 5: one run, about 2 minutes)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.combined_only:
        with tempfile.TemporaryDirectory(prefix="crizotinib-bench-") as tmp:
            found = combined_pdf_figure(Path(tmp))
        print_combined_pdf_figure(found)
        met = found["ratio"] <= 0.3
        print(f"\n{'combined PDF: pages / laid out again':<36} {found['ratio']:>9.3f} {'<= 0.3':>8}  "
              f"{'yes' if met else 'NO'}")
        if args.json:
            args.json.write_text(json.dumps({"combined_pdf": found}, indent=2) + "\n")
        return 1 if args.check and not met else 0

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
        log("the combined PDF of a run, both ways ...")
        combined = combined_pdf_figure(tmp)
    info["load_end"] = os.getloadavg()

    med = {k: statistics.median(v) for k, v in raw.items() if v and not k.endswith("_peak")}
    peak_ours = max(raw["full_peak"] + raw["sweep_j1_peak"] + raw["sweep_j2_peak"]) / GIB
    peak_chain = max(raw["chain_peak"]) / GIB if raw["chain_peak"] else None
    figures = [  # name, measured, target, how it is shown
        ("full build / usual chain", med["full"] / med["chain"] if "chain" in med else None, 0.35, "{:.3f}"),
        ("rebuild unchanged / full build", med["rebuild"] / med["full"], 0.05, "{:.3f}"),
        ("sweep --jobs 2 / --jobs 1", med["sweep_j2"] / med["sweep_j1"], 0.6, "{:.3f}"),
        ("peak RSS of build + kernels (GiB)", peak_ours, 1.0, "{:.2f}"),
        ("combined PDF: pages / laid out again", combined["ratio"], 0.3, "{:.3f}"),
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

    print_combined_pdf_figure(combined)

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
                                         "combined_pdf": combined,
                                         "results": results}, indent=2) + "\n")
        print(f"\nraw timings and results: {args.json}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
