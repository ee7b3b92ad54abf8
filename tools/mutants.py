"""`make mutants`: mutation testing of the decision code, the score per module, and a bar to pass.

mutmut (configured in pyproject.toml's [tool.mutmut]) copies the package into mutants/, makes every
small change it knows to each function of the modules listed in `only_mutate` (a mutant), and runs
the fast unit tests that reach the function against each one. A mutant the tests notice is killed;
one they do not notice survived: either the tests miss a behaviour or the change makes no
difference (an equivalent mutant). docs/testing.md lists the survivors and why each is accepted.

    .venv/bin/python tools/mutants.py                  # every module; exit 1 below the bar
    .venv/bin/python tools/mutants.py --module stats   # one module (its file name without .py)
    .venv/bin/python tools/mutants.py --report         # the last results again, without running
    .venv/bin/python tools/mutants.py --module text --sample 60   # 60 mutants drawn at random (seeded)

A sample estimates a module's score where running every mutant takes hours (text, analysis and
schema are reached by the tests that run whole notebooks in-process, tens of seconds a mutant): the
mutants are drawn with a fixed seed from the module's names, so a rerun draws the same ones, and the
score is printed with its 95% Wilson interval.

Scope: every function of each module, except in runs.py, where only retention is mutated (SCOPE
below): the rest of runs.py drives whole scheduled runs, which only the end-to-end tests exercise.
mutmut itself leaves decorated functions (@cache, @property, @contextmanager) and module-level
constants alone.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import json
import random
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR = 85.0  # percent of mutants killed, over the modules run (issue 14)

#: Module -> the functions mutated in it, when not all of them ("Class.method" for a method).
SCOPE = {
    "runs": ("new_run_id", "latest_run", "_run_time", "Runner.__init__", "Runner._prune", "run_order"),
}


@dataclass(frozen=True)
class Module:
    name: str  # the file's stem: what --module takes
    path: str  # as in [tool.mutmut] only_mutate, relative to the project
    dotted: str  # the module's import name, the prefix of its mutants' names

    def patterns(self) -> list[str]:
        """mutmut's names for this module's mutants in scope, as globs (`mutmut run` takes them)."""
        functions = SCOPE.get(self.name)
        if functions is None:
            return [f"{self.dotted}.*"]
        return [f"{self.dotted}.{mangled(function)}__mutmut_*" for function in functions]

    def in_scope(self, mutant: str) -> bool:
        return any(fnmatch.fnmatchcase(mutant, pattern) for pattern in self.patterns())


def mangled(function: str) -> str:
    """mutmut's name of a function (`x_name`) or of a method (`xǁClassǁname`)."""
    owner, _, name = function.rpartition(".")
    return f"xǁ{owner}ǁ{name}" if owner else f"x_{name}"


def configured_modules() -> list[Module]:
    """The modules [tool.mutmut] only_mutate lists: one list of what is mutated, in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    modules = []
    for path in config["only_mutate"]:
        relative = Path(path).relative_to("src").with_suffix("")
        modules.append(Module(relative.name, path, ".".join(relative.parts)))
    return modules


@dataclass
class Score:
    module: str
    counts: dict[str, int]
    survivors: list[str]
    sampled_from: int | None = None  # the module's mutants, when only a sample of them was run

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        """A timeout is a kill too: the mutant made the tests hang, and they were stopped."""
        return self.counts.get("killed", 0) + self.counts.get("timeout", 0)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0


def exit_codes_of(module: Module) -> dict[str, int | None]:
    """mutmut's record of a module's mutants (mutants/<path>.meta): name -> exit code, None if not run."""
    meta = ROOT / "mutants" / f"{module.path}.meta"
    if not meta.is_file():
        raise SystemExit(f"no mutation results for {module.path} (mutants/ has none); run 'make mutants' first")
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {mutant: code for mutant, code in sorted(codes.items()) if module.in_scope(mutant)}


def sample_of(module: Module, size: int, seed: str = "") -> list[str]:
    """`size` of the module's mutants, drawn with a seed of the module's name (and `seed`): the same draw every
    time, a fresh one for a new seed (to check that tests written against one sample did not just fit it)."""
    names = sorted(exit_codes_of(module))
    return sorted(random.Random(module.dotted + seed).sample(names, min(size, len(names))))


def read_scores(modules: list[Module], samples: dict[str, list[str]] | None = None) -> list[Score]:
    """Each module's results in scope, or those of its sampled mutants where a sample was run."""
    from mutmut.stats import status_by_exit_code

    scores = []
    for module in modules:
        exit_codes = exit_codes_of(module)
        sample = (samples or {}).get(module.name)
        score = Score(module.name, {}, [], len(exit_codes) if sample is not None else None)
        for mutant, exit_code in exit_codes.items():
            if sample is not None and mutant not in sample:
                continue
            status = status_by_exit_code[exit_code]
            score.counts[status] = score.counts.get(status, 0) + 1
            if status not in ("killed", "timeout"):
                score.survivors.append(f"{mutant}: {status}")
        scores.append(score)
    return scores


def changed_lines(module: Module) -> dict[str, str]:
    """Each mutant's change as `- original / + mutated` lines, from the functions mutmut generated.

    mutmut writes every mutant of a function beside the original (`x_name__mutmut_orig`) in
    mutants/<path>; the lines that differ are what docs/testing.md quotes for a survivor.
    """
    source = (ROOT / "mutants" / module.path).read_text(encoding="utf-8")
    lines = source.splitlines()
    functions = {node.name: lines[node.lineno - 1:node.end_lineno]
                 for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    changes = {}
    for name, lines in functions.items():
        stem, marker, number = name.rpartition("__mutmut_")
        if not marker or number == "orig" or f"{stem}__mutmut_orig" not in functions:
            continue
        original = [line.strip() for line in functions[f"{stem}__mutmut_orig"][1:]]
        mutated = [line.strip() for line in lines[1:]]
        diff = [line for line in difflib.ndiff(original, mutated) if line[:2] in ("- ", "+ ")]
        changes[f"{module.dotted}.{name}"] = " / ".join(diff)
    return changes


def print_scores(scores: list[Score]) -> float:
    columns = ("killed", "timeout", "survived", "no tests", "other")
    print(f"\n{'module':<10}{'mutants':>9}" + "".join(f"{c:>10}" for c in columns) + f"{'score':>9}")
    for score in scores:
        known = {c: score.counts.get(c, 0) for c in columns[:-1]}
        other = score.total - sum(known.values())
        print(f"{score.module:<10}{score.total:>9}" + "".join(f"{n:>10}" for n in [*known.values(), other])
              + f"{score.percent:>8.1f}%" + (sampled(score) if score.sampled_from is not None else ""))
    total = sum(s.total for s in scores)
    killed = sum(s.killed for s in scores)
    percent = 100.0 * killed / total if total else 0.0
    print(f"{'total':<10}{total:>9}{killed:>10} killed or timed out{percent:>27.1f}%")
    return percent


def sampled(score: Score) -> str:
    """A sample's 95% Wilson interval on the module's kill rate, and what it was drawn from."""
    sys.path.insert(0, str(ROOT / "src"))
    from crizotinib_reports.evidence.stats import proportion_interval

    interval = proportion_interval(score.killed, score.total, 0.95, "wilson")
    return (f"  (sample of {score.total} of {score.sampled_from}; "
            f"95% CI {100 * interval.low:.1f}-{100 * interval.high:.1f}%)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", help="one module, by file name without .py (stats, variants, ...)")
    parser.add_argument("--max-children", type=int, default=1,
                        help="mutants tested at once (default 1: the unit tests themselves use both cores)")
    parser.add_argument("--report", action="store_true", help="print the last results without running mutmut")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="run N mutants a module, drawn with a fixed seed (mutants must be generated: run once)")
    parser.add_argument("--seed", default="", help="with --sample: draw another fixed sample (any text)")
    parser.add_argument("--survivors", action="store_true", help="list every mutant not killed, by name")
    parser.add_argument("--diff", action="store_true", help="with --survivors: the line each one changes")
    args = parser.parse_args(argv)

    modules = configured_modules()
    if args.module:
        modules = [m for m in modules if m.name == args.module]
        if not modules:
            known = ", ".join(m.name for m in configured_modules())
            print(f"tools/mutants.py: unknown module '{args.module}'; use one of {known}", file=sys.stderr)
            return 2
    samples = {m.name: sample_of(m, args.sample, args.seed) for m in modules} if args.sample else None
    if not args.report:
        patterns = ([name for names in samples.values() for name in names] if samples
                    else [pattern for module in modules for pattern in module.patterns()])
        command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *patterns]
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            print("tools/mutants.py: mutmut did not finish (its output is above); no score", file=sys.stderr)
            return 1
    scores = read_scores(modules, samples)
    percent = print_scores(scores)
    if args.survivors:
        for module, score in zip(modules, scores):
            changes = changed_lines(module) if args.diff else {}
            for line in score.survivors:
                print(f"  {line}")
                if args.diff:
                    print(f"      {changes.get(line.partition(':')[0], '(change not found)')}")
    if percent < BAR:
        print(f"mutation score {percent:.1f}% is below {BAR:.0f}%: see 'mutmut results' and docs/testing.md",
              file=sys.stderr)
        return 1
    print(f"mutation score {percent:.1f}% (bar {BAR:.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
