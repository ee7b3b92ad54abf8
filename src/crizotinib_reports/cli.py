"""The command line: `crizotinib-reports list | validate | build`.

Exit codes: 0 all built; 1 a report failed to execute or render; 2 bad usage or invalid data,
found before any kernel starts. Errors are one line (what, where, how to mend it) unless --debug.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from .exceptions import CrizotinibReportsError, UsageError
from .paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .build import DEFAULT_CELL_TIMEOUT
from .reports import REPORTS


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_list(args: argparse.Namespace) -> int:
    for report in REPORTS.values():
        print(f"{report.name}: {report.title}")
        print(f"  {report.description}")
        for p in report.parameters:
            if p.name == "data_dir":
                continue  # set with --data-dir
            extra = f"; one of {', '.join(map(str, p.choices))}" if p.choices else ""
            if p.minimum is not None:
                extra += f"; {p.minimum} to {p.maximum}"
            print(f"  --param {p.name}=...  ({p.type}, default {p.default!r}{extra})  {p.help}")
        print()
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .data import validate

    tables = validate(args.data_dir)
    rows = sum(len(t) for t in tables.values())
    print(f"data OK: {len(tables)} tables, {rows} rows in {display_path(args.data_dir)}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .build import FORMATS, Builder

    builder = Builder(data_dir=args.data_dir, output_dir=args.output_dir, formats=tuple(args.format or FORMATS),
                      notebook_dir=args.notebook_dir, log=_log, cell_timeout=args.timeout, jobs=args.jobs)
    results = builder.build(args.reports, args.param or [], fail_fast=args.fail_fast, wait=args.wait,
                            force=args.force, variants_file=args.variants)
    failed = [r for r in results if not r.ok]
    built = sum(r.status == "built" for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    print(f"built {built}, unchanged {unchanged}, failed {len(failed)} of {len(results)} reports in "
          f"{display_path(builder.output_dir)} (manifest: {display_path(builder.output_dir / 'manifest.json')})")
    for r in failed:
        where = f"; executed notebook: {display_path(builder.output_dir / r.failed_notebook)}" if r.failed_notebook else ""
        print(f"{r.status.upper()} {r.folder}: {r.error}{where}", file=sys.stderr)
    return 1 if failed else 0


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="crizotinib-reports", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    listing = commands.add_parser("list", help="the reports and their parameters")
    listing.set_defaults(run=cmd_list)

    check = commands.add_parser("validate", help="check the data files against data/schema.yaml")
    check.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the CSV tables (default: data/)")
    check.set_defaults(run=cmd_validate)

    build = commands.add_parser("build", help="execute and render reports")
    build.add_argument("reports", nargs="*", metavar="REPORT", help=f"reports to build (default all: {', '.join(REPORTS)})")
    build.add_argument("--format", action="append", choices=["html", "pdf"],
                       help="output format, repeatable (default: html and pdf)")
    build.add_argument("--param", action="append", metavar="KEY=VALUE",
                       help="set a report parameter, repeatable; several values (a,b or the flag repeated) sweep it")
    build.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the CSV tables (default: data/)")
    build.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where reports go (default: outputs/)")
    build.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR,
                       help="folder of the report notebooks (default: notebooks/)")
    build.add_argument("--variants", type=Path, metavar="FILE.yaml",
                       help="YAML file of parameter sets per report, each built into its own folder")
    build.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                       help="reports built at the same time, each in its own kernel (default: the number of cores)")
    build.add_argument("--force", action="store_true",
                       help="rebuild every chosen report, even those whose inputs are unchanged")
    build.add_argument("--fail-fast", action="store_true", help="stop at the first report that fails")
    build.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                       help=f"fail a report whose cell runs longer than this (default {DEFAULT_CELL_TIMEOUT})")
    lock = build.add_mutually_exclusive_group()
    lock.add_argument("--wait", dest="wait", action="store_true", default=True,
                      help="if another build holds the output folder, wait for it (default)")
    lock.add_argument("--no-wait", dest="wait", action="store_false",
                      help="if another build holds the output folder, exit 1 at once")
    build.set_defaults(run=cmd_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = make_parser().parse_args(argv)
        return args.run(args)
    except CrizotinibReportsError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `crizotinib-reports list | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted; outputs already written are complete, the rest were not replaced", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
