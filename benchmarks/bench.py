"""Benchmark of `crizotinib-reports build` on the shipped reports, printed as ratios against baselines.

Every figure is measured in one run of this script (each time the median of --runs runs; wall time
with time.perf_counter), the new way and today's way side by side:

1. Full build, cold: `crizotinib-reports build --output-dir <fresh dir>` (all reports, HTML + PDF,
   kernels forked from a warm parent) against "the usual chain" over the same notebooks, one report
   after another: `papermill` (CLI), then `jupyter nbconvert --to html`, then `weasyprint`. Beside
   it, the same build with kernels started as separate programs (CRIZOTINIB_REPORTS_KERNELS=fresh,
   the build before forked kernels). Target: ours / chain <= 0.15.
2. Rebuild with nothing changed: the same command again into the same folder, against the full
   build. Inputs are hashed, so this should cost little more than starting Python. Target <= 0.05.
3. A 12-variant sweep of clinical_activity (setting x ci_method x confidence_level) with --jobs 2
   against --jobs 1: how well kernels in parallel scale. Target <= 0.55.
4. Per-report cost against the floor: the sum over reports of the manifest's `total` (execute and
   render) against the sum of twice the plain-script floor (benchmarks/floor.py: the report's own
   code in a warm process) plus the report's PDF seconds. Target <= 1.
5. The combined PDF of a scheduled run (once, not per --runs): made from the reports' laid-out pages,
   against laying every page out again (today's way), alternating on one run's folder
   (combined_pdf_figure). Target <= 0.3. `--combined-only` measures just this one.
6. Peak memory of a full build and the sweeps: the proportional set size (PSS: a page shared by
   forked kernels counted once over all who share it) of the build process and all its descendants,
   sampled every 100 ms. Target <= 1 GiB. The RSS sum (shared pages counted in every process) and the
   chain's peak are shown beside.

Also printed: the machine and its load average at start and end (the figures are only comparable on
a quiet one: a load above 0.5 at start is warned about) and where a full build's time goes, from its
manifest.

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
_ONE_KERNEL = ("import os, time; from crizotinib_reports.publish.kernels import WarmKernels\n"
               "from crizotinib_reports.paths import NOTEBOOK_DIR\n"
               "w = WarmKernels(2, 1, 'crizotinib-reports', NOTEBOOK_DIR, [], dict(os.environ), 'bench:%d' % os.getpid())\n"
               "w.shut_down(w.take()); w.report_done(); t = time.perf_counter(); k = w.take()\n"
               "print(time.perf_counter() - t); w.shut_down(k); w.close()")
ALONE = {
    "a second kernel, forked from the warm parent (start, then the package's imports)": _ONE_KERNEL,
    "a second kernel, started as a separate program (start, then the package's imports)":
        "import os; os.environ['CRIZOTINIB_REPORTS_KERNELS'] = 'fresh'\n" + _ONE_KERNEL,
    "build process imports (papermill, nbconvert, WeasyPrint, pandas, pandera)":
        "import papermill, nbconvert, weasyprint, crizotinib_reports.publish.render, crizotinib_reports.evidence.schema",
    "data validation (all tables, in a process that has imported pandera)":
        "import crizotinib_reports.evidence.schema, time; t = time.perf_counter(); from crizotinib_reports.evidence.data import validate; "
        "validate(); print(time.perf_counter() - t)",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tree_memory(pid: int) -> tuple[int, int]:
    """Memory of a process and all its descendants, in bytes: (PSS, RSS) summed ((0, 0) once it is gone).

    PSS divides each shared page among the processes sharing it, so the sum is the memory the tree holds;
    the RSS sum counts a page shared by forked kernels once per kernel."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    pss = rss = 0
    for proc in procs:
        try:
            full = proc.memory_full_info()
            pss, rss = pss + full.pss, rss + full.rss
        except psutil.Error:
            pass  # exited between listing and sampling
    return pss, rss


def run(args: list[str | Path], env: dict[str, str] | None = None) -> tuple[float, tuple[int, int], str]:
    """Run a command from the project root; its wall seconds, peak tree (PSS, RSS) in bytes, and stdout."""
    cmd = [str(a) for a in args]
    peak, done = [(0, 0)], threading.Event()

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})

    def sample() -> None:
        while not done.is_set():
            pss, rss = tree_memory(proc.pid)
            peak[0] = (max(peak[0][0], pss), max(peak[0][1], rss))
            done.wait(0.1)

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


def build(output_dir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[float, tuple[int, int], str]:
    return run([BIN / "crizotinib-reports", "build", "--output-dir", output_dir, *extra], env)


def chain(work: Path) -> tuple[float, tuple[int, int]]:
    """papermill, nbconvert, weasyprint CLIs, report after report; total seconds and the largest peak."""
    seconds, peak = 0.0, (0, 0)
    for notebook in NOTEBOOKS:
        executed, html = work / notebook.name, work / f"{notebook.stem}.html"
        for cmd in ([BIN / "papermill", notebook.relative_to(ROOT), executed, "-k", "python3", "--cwd", "notebooks",
                     "--no-progress-bar"],
                    [BIN / "jupyter", "nbconvert", "--to", "html", executed],
                    [BIN / "weasyprint", html, work / f"{notebook.stem}.pdf"]):
            s, p, _ = run(cmd)
            seconds, peak = seconds + s, (max(peak[0], p[0]), max(peak[1], p[1]))
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
            last = done.stdout.strip().splitlines()[-1:]  # (a kernel may print its own notes first)
            times.append(float(last[0]) if last else time.perf_counter() - started)
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


COMBINED_TARGET = 0.3  # figure 5: the combined PDF from pages, at most this share of laying every page out again


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


FRESH_KERNELS = {"CRIZOTINIB_REPORTS_KERNELS": "fresh"}  # today's kernels: each a program of its own


def plain_script_floor(runs: int) -> dict[str, float]:
    """Seconds a report's own code takes as a plain script in a warm process (benchmarks/floor.py)."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "floor.py"), "--runs", str(runs)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"the plain-script floor failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


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
        met = found["ratio"] <= COMBINED_TARGET
        print(f"\n{'combined PDF: pages / laid out again':<36} {found['ratio']:>9.3f} {f'<= {COMBINED_TARGET}':>8}  "
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

    keys = ("chain", "full", "full_fresh", "rebuild", "sweep_j1", "sweep_j2")
    raw: dict[str, list] = {k: [] for k in keys} | {f"{k}_peak": [] for k in keys}
    profiles: dict[str, dict[str, float]] = {}
    reports: dict[str, dict] = {}
    reports_today: dict[str, dict] = {}

    def record(key: str, seconds: float, peak: tuple[int, int] = (0, 0)) -> None:
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

            log(f"run {i}/{args.runs}: full build with today's kernels (separate programs) ...")
            seconds, peak, _ = build(tmp / f"fresh-{i}", env=FRESH_KERNELS)
            record("full_fresh", seconds, peak)
            reports_today = manifest(tmp / f"fresh-{i}")["reports"]
            profiles["today"] = profile(reports_today)

            log(f"run {i}/{args.runs}: full build (forked kernels), then rebuild with nothing changed ...")
            full_dir = tmp / f"full-{i}"
            seconds, peak, _ = build(full_dir)
            record("full", seconds, peak)
            reports = manifest(full_dir)["reports"]
            profiles["now"] = profile(reports)
            seconds, peak, out = build(full_dir)
            record("rebuild", seconds, peak)
            if not out.startswith("built 0,"):  # e.g. the package code was edited between the two builds
                why = {name: e.get("rebuilt_because") for name, e in manifest(full_dir)["reports"].items()
                       if e != reports.get(name)}
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
    log("the plain-script floor ...")
    floor = plain_script_floor(args.runs)
    info["load_end"] = os.getloadavg()

    med = {k: statistics.median(v) for k, v in raw.items() if v and not k.endswith("_peak")}
    peaks = {k: (max(p[0] for p in raw[f"{k}_peak"]) / GIB, max(p[1] for p in raw[f"{k}_peak"]) / GIB)
             for k in ("chain", "full", "full_fresh", "sweep_j1", "sweep_j2") if raw[f"{k}_peak"]}
    peak_ours = max(peaks[k][0] for k in ("full", "sweep_j1", "sweep_j2"))
    def cost_over_floor(entries: dict[str, dict]) -> float:
        """Summed report seconds over summed (2 x plain-script floor + the report's own PDF seconds)."""
        cost = sum(e["seconds"].get("total", 0.0) for e in entries.values())
        allowed = sum(2 * floor.get(name, 0.0) + e["seconds"].get("pdf", 0.0) for name, e in entries.items())
        return cost / allowed

    figures = [  # name, measured, target, how it is shown, today's value
        ("full build / usual chain", med["full"] / med["chain"] if "chain" in med else None, 0.15, "{:.3f}",
         med["full_fresh"] / med["chain"] if "chain" in med else None),
        ("rebuild unchanged / full build", med["rebuild"] / med["full"], 0.05, "{:.3f}", None),
        ("sweep --jobs 2 / --jobs 1", med["sweep_j2"] / med["sweep_j1"], 0.55, "{:.3f}", None),
        ("per-report cost / (2 x floor + PDF)", cost_over_floor(reports), 1.0, "{:.2f}", cost_over_floor(reports_today)),
        ("combined PDF: pages / laid out again", combined["ratio"], COMBINED_TARGET, "{:.3f}", 1.0),
        ("peak memory, PSS (GiB)", peak_ours, 1.0, "{:.2f}", peaks["full_fresh"][0]),
    ]

    print(f"\nmedians of {args.runs} run(s), wall seconds:")
    for key, label in [("chain", "usual chain (papermill + nbconvert + weasyprint CLIs, one by one)"),
                       ("full_fresh", "build, cold, today's kernels (separate programs)"),
                       ("full", "build, cold, kernels forked from a warm parent"),
                       ("rebuild", "rebuild, nothing changed"),
                       ("sweep_j1", "12-variant sweep, --jobs 1"), ("sweep_j2", "12-variant sweep, --jobs 2")]:
        if key in med:
            print(f"  {label:<68} {med[key]:8.2f}")
    print("peak memory (GiB, PSS sum / RSS sum):")
    for key, (pss, rss) in peaks.items():
        print(f"  {key:<20} {pss:6.2f} / {rss:6.2f}")

    print_combined_pdf_figure(combined)

    print("\nper report: the build's seconds (manifest `total`; today's kernels beside) against the floor "
          "(benchmarks/floor.py) and the report's PDF:")
    print(f"  {'report':<26} {'now':>7} {'today':>7} {'floor':>7} {'pdf':>7} {'2xfloor+pdf':>12}")
    for name, entry in sorted(reports.items()):
        seconds = entry["seconds"]
        today = reports_today.get(name, {}).get("seconds", {}).get("total", 0.0)
        print(f"  {name:<26} {seconds.get('total', 0):7.2f} {today:7.2f} {floor.get(name, 0):7.2f} "
              f"{seconds.get('pdf', 0):7.2f} {2 * floor.get(name, 0) + seconds.get('pdf', 0):12.2f}")

    for which, numbers in profiles.items():
        total = numbers.get("total") or 1.0
        print(f"\nwhere the time of the last full build goes, {which} (sum over reports of manifest `seconds`; share of "
              f"the summed total; reports run {info['cores']} at a time, so the sum exceeds the wall time):")
        for key in PROFILE_KEYS:
            indent = "    " if key in ("kernel_wait", "papermill_overhead", "setup_cell", "other_cells", "html",
                                       "pdf") else "  "
            print(f"{indent}{key:<24} {numbers[key]:8.2f} s {100 * numbers[key] / total:6.1f} %")

    alone = measured_alone(args.runs)
    print("\nmeasured alone (median seconds, a fresh process each time):")
    for label, seconds in alone.items():
        print(f"  {label:<84} {seconds:6.2f}")

    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in info['load_end'])}")
    print(f"\n{'figure':<38} {'today':>9} {'now':>9} {'target':>8}  met")
    missed = False
    results = []
    for name, value, target, fmt, today in figures:
        met = None if value is None else value <= target
        missed |= met is False
        shown = "skipped" if value is None else fmt.format(value)
        before = "" if today is None else fmt.format(today)
        print(f"{name:<38} {before:>9} {shown:>9} {'<= ' + format(target, 'g'):>8}  "
              f"{'n/a' if met is None else 'yes' if met else 'NO'}")
        results.append({"figure": name, "today": today, "measured": value, "target": target, "met": met})

    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "machine": info, "raw_seconds_and_peak_bytes": raw,
                                         "medians_seconds": med, "peak_gib_pss_rss": peaks, "floor_seconds": floor,
                                         "profile_seconds": profiles, "measured_alone_seconds": alone,
                                         "combined_pdf": combined,
                                         "results": results}, indent=2) + "\n")
        print(f"\nraw timings and results: {args.json}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
