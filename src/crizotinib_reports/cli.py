"""The command line: `crizotinib-reports list | validate | build | run`.

Exit codes: 0 all built; 1 a report failed to execute or render (or, for `run`, the mail failed);
2 bad usage or invalid data, found before any kernel starts. Errors are one line (what, where,
how to mend it) unless --debug.
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


def _builder(args: argparse.Namespace, progress):
    from .build import FORMATS, Builder

    return Builder(data_dir=args.data_dir, output_dir=args.output_dir, formats=tuple(getattr(args, "format", None) or FORMATS),
                   notebook_dir=args.notebook_dir, progress=progress, cell_timeout=args.timeout, jobs=args.jobs)


def cmd_build(args: argparse.Namespace) -> int:
    from .progress import progress_for

    progress = progress_for(sys.stderr)
    try:
        builder = _builder(args, progress)
        results = builder.build(args.reports, args.param or [], fail_fast=args.fail_fast, wait=args.wait,
                                force=args.force, variants_file=args.variants)
    finally:
        progress.close()
    failed = [r for r in results if not r.ok]
    built = sum(r.status == "built" for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    print(f"built {built}, unchanged {unchanged}, failed {len(failed)} of {len(results)} reports in "
          f"{display_path(builder.output_dir)} (manifest: {display_path(builder.output_dir / 'manifest.json')})")
    for r in failed:
        where = f"; executed notebook: {display_path(builder.output_dir / r.failed_notebook)}" if r.failed_notebook else ""
        print(f"{r.status.upper()} {r.folder}: {r.error}{where}", file=sys.stderr)
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    from .exceptions import CrizotinibReportsError
    from .mail import check_recipients, mail_settings, send_mail
    from .progress import progress_for
    from .runs import Runner, record_mail

    settings = None
    if args.mail_to:  # bad mail settings stop the run before it builds anything (exit 2)
        check_recipients(args.mail_to)
        settings = mail_settings(args.mail_config)
    progress = progress_for(sys.stderr)
    try:
        outcome = Runner(_builder(args, progress), progress, keep=args.keep).run()
    finally:
        progress.close()
    print(outcome.summary, end="")
    exit_code = outcome.exit_code
    if settings is not None:
        status = "succeeded" if outcome.succeeded else "FAILED"
        subject = f"Crizotinib reports, run {outcome.run_id}: {status}"
        try:
            send_mail(settings, args.mail_to, subject, outcome.summary, outcome.combined_pdf,
                      log=lambda line: print(line, file=sys.stderr))
            record_mail(outcome, "sent", args.mail_to)
        except CrizotinibReportsError as exc:
            record_mail(outcome, "failed", args.mail_to, str(exc))
            print(f"error: {exc}", file=sys.stderr)
            exit_code = max(exit_code, 1)
    if outcome.error is not None:
        raise outcome.error
    return exit_code


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
    build.add_argument("--variants", type=Path, metavar="FILE.yaml",
                       help="YAML file of parameter sets per report, each built into its own folder")
    build.add_argument("--force", action="store_true",
                       help="rebuild every chosen report, even those whose inputs are unchanged")
    build.add_argument("--fail-fast", action="store_true", help="stop at the first report that fails")
    _add_build_options(build)
    lock = build.add_mutually_exclusive_group()
    lock.add_argument("--wait", dest="wait", action="store_true", default=True,
                      help="if another build holds the output folder, wait for it (default)")
    lock.add_argument("--no-wait", dest="wait", action="store_false",
                      help="if another build holds the output folder, exit 1 at once")
    build.set_defaults(run=cmd_build)

    run = commands.add_parser("run", help="scheduled mode: every report into a dated run, compared, combined, mailed")
    run.add_argument("--keep", type=int, default=14, metavar="N", help="keep the newest N runs (default 14)")
    run.add_argument("--mail-to", nargs="+", metavar="ADDRESS",
                     help="mail the combined PDF and the run summary to these addresses")
    run.add_argument("--mail-config", type=Path, metavar="FILE.ini",
                     help="SMTP settings ([smtp] host, port, sender, user, password_file, starttls); "
                          "CRIZOTINIB_SMTP_* variables override it")
    _add_build_options(run)
    run.set_defaults(run=cmd_run)
    return parser


def _add_build_options(command: argparse.ArgumentParser) -> None:
    """What `build` and `run` share: where things are, how many kernels, how long a cell may take."""
    command.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the CSV tables (default: data/)")
    command.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where reports go (default: outputs/)")
    command.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR,
                         help="folder of the report notebooks (default: notebooks/)")
    command.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                         help="reports built at the same time, each in its own kernel (default: the number of cores)")
    command.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                         help=f"fail a report whose cell runs longer than this (default {DEFAULT_CELL_TIMEOUT})")


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
