"""The command line: `crizotinib-reports list | validate | build | run | verify`.

Exit codes: 0 all built; 1 a report failed to execute or render (or, for `run`, the mail failed);
2 bad usage or invalid data, found before any kernel starts (`verify`: 0 everything matches, 1 a file
differs, 2 the inputs changed since the build). Errors are one line (what, where, how to mend it) unless --debug.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from pathlib import Path

from .publish.build import DEFAULT_REPORT_TIMEOUT, SECRET_ENV_PREFIXES
from .exceptions import CrizotinibReportsError, UsageError
from .paths import DATA_DIR, NOTEBOOK_DIR, OUTPUT_DIR, display_path
from .plain_text import visible


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def cmd_list(args: argparse.Namespace) -> int:
    from .publish.portfolio import portfolio

    for report in portfolio(args.notebook_dir).values():
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
    from .evidence.data import validate

    tables = validate(args.data_dir)
    rows = sum(len(t) for t in tables.values())
    print(f"data OK: {len(tables)} tables, {rows} rows in {display_path(args.data_dir)}")
    return 0


def _builder(args: argparse.Namespace, progress):
    from .publish.build import FORMATS, Builder

    return Builder(data_dir=args.data_dir, output_dir=args.output_dir, formats=tuple(getattr(args, "format", None) or FORMATS),
                   notebook_dir=args.notebook_dir, progress=progress, timeout=args.timeout, jobs=args.jobs,
                   adopt_output_dir=args.adopt_output_dir)


def cmd_build(args: argparse.Namespace) -> int:
    from .publish.progress import progress_for

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
        print(visible(f"{r.status.upper()} {r.folder}: {r.error}{where}"), file=sys.stderr)
    return 1 if failed or progress.lost else 0


def cmd_run(args: argparse.Namespace) -> int:
    from .publish.mail import MailFailed, check_recipients, mail_settings, send_mail
    from .publish.progress import progress_for
    from .publish.runs import Runner, record_mail

    settings = None
    if args.mail_to:  # bad mail settings stop the run before it builds anything (exit 2)
        check_recipients(args.mail_to)
        settings = mail_settings(args.mail_config, environ=args.secrets)
    progress = progress_for(sys.stderr)
    try:
        outcome = Runner(_builder(args, progress), progress, keep=args.keep, mail_planned=settings is not None,
                         pdf_profile=args.pdf_profile).run()
    finally:
        progress.close()
    print(outcome.summary, end="")
    exit_code = outcome.exit_code
    if settings is not None:
        if not outcome.should_mail(args.mail_when):
            record_mail(outcome, "not sent", len(args.mail_to), f"nothing changed (--mail-when {args.mail_when})")
            print(f"mail not sent: nothing changed since the last run (--mail-when {args.mail_when})", file=sys.stderr)
        else:
            status = "succeeded" if outcome.succeeded else "FAILED"
            subject = f"Crizotinib reports, run {outcome.run_id}: {status}"
            try:
                send_mail(settings, args.mail_to, subject, outcome.summary, outcome.combined_pdf,
                          log=lambda line: print(line, file=sys.stderr))
                record_mail(outcome, "sent", len(args.mail_to))
            except MailFailed as exc:
                record_mail(outcome, "failed", len(args.mail_to), exc.detail)
                print(f"error: {exc}", file=sys.stderr)
                exit_code = max(exit_code, 1)
    if outcome.error is not None:
        raise outcome.error
    return 1 if progress.lost and exit_code == 0 else exit_code


def cmd_verify(args: argparse.Namespace) -> int:
    from .publish.progress import LogLines
    from .publish.verify import verify

    return verify(args.folder or args.output_dir, rebuild_reports=args.rebuild, data_dir=args.data_dir,
                  notebook_dir=args.notebook_dir, jobs=args.jobs, progress=LogLines(sys.stderr, timestamps=False))


EXAMPLES = {
    "main": """examples:
  crizotinib-reports list
  crizotinib-reports build
  crizotinib-reports build clinical_activity --param setting=first-line,second-line --format html
  crizotinib-reports run --mail-to medical-affairs@example.org""",
    "list": """examples:
  crizotinib-reports list
  crizotinib-reports list --notebook-dir my-notebooks/""",
    "validate": """examples:
  crizotinib-reports validate
  crizotinib-reports validate --data-dir /path/to/data""",
    "build": """examples:
  crizotinib-reports build                                   every report, html and pdf, into outputs/
  crizotinib-reports build overview --format html            one report, one format
  crizotinib-reports build clinical_activity --param setting=first-line,second-line
                                                             a sweep: one folder per value
  crizotinib-reports build --variants variants.yaml --jobs 2
  crizotinib-reports build --force --no-wait --timeout 300  for a scheduler""",
    "run": """examples:
  crizotinib-reports run                                     a dated run under outputs/runs/
  crizotinib-reports run --keep 30 --mail-to a@example.org b@example.org
  crizotinib-reports run --pdf-profile plain                 a combined PDF that carries no files
  CRIZOTINIB_SMTP_HOST=smtp.example.org CRIZOTINIB_SMTP_SENDER=reports@example.org \\
    crizotinib-reports run --mail-to a@example.org --mail-when always""",
    "verify": """examples:
  crizotinib-reports verify                                  outputs/: hashes, inputs, then a rebuild compared byte for byte
  crizotinib-reports verify --no-rebuild                     hashes and inputs only (under a second)
  crizotinib-reports verify outputs/runs/20261126T060000Z    a run folder
exit codes: 0 everything matches; 1 a file differs (named); 2 the inputs changed since the build (named)""",
}


def cmd_trace(args: argparse.Namespace) -> int:
    from .publish.trace import report_html, trace_lines

    if not args.text.strip():  # an empty pattern would match every cell
        raise UsageError("trace needs the text of a number to look for, e.g. 74% or 9.7 months")
    path = report_html(args.output_dir, args.report)
    lines = trace_lines(path.read_text(encoding="utf-8"), args.text, args.report)
    if lines is None:
        print(f"'{visible(args.text)}' is not a traced number in {args.report} (no table cell with provenance holds it)")
        return 1
    print("\n".join(lines))
    return 0


def make_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .publish.runs import PDF_PROFILES

    help_format = argparse.RawDescriptionHelpFormatter
    parser = OneLineParser(prog="crizotinib-reports", description=__doc__.splitlines()[0],
                           epilog=EXAMPLES["main"], formatter_class=help_format)
    parser.add_argument("--version", action="version", version=f"crizotinib-reports {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    listing = commands.add_parser("list", help="the reports and their parameters", epilog=EXAMPLES["list"],
                                  formatter_class=help_format)
    listing.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR,
                         help="folder of the report notebooks (default: notebooks/)")
    listing.set_defaults(run=cmd_list)

    check = commands.add_parser("validate", help="check the data files against data/schema.yaml",
                                epilog=EXAMPLES["validate"], formatter_class=help_format)
    check.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the CSV tables (default: data/)")
    check.set_defaults(run=cmd_validate)

    build = commands.add_parser("build", help="execute and render reports", epilog=EXAMPLES["build"],
                                formatter_class=help_format)
    build.add_argument("reports", nargs="*", metavar="REPORT",
                       help="reports to build (default: every notebook in the notebooks folder; see 'list')")
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

    run = commands.add_parser("run", help="scheduled mode: every report into a dated run, compared, combined, mailed",
                              epilog=EXAMPLES["run"], formatter_class=help_format)
    run.add_argument("--keep", type=int, default=14, metavar="N", help="keep the newest N runs (default 14)")
    run.add_argument("--mail-to", nargs="+", metavar="ADDRESS",
                     help="mail the combined PDF and the run summary to these addresses")
    run.add_argument("--mail-config", type=Path, metavar="FILE.ini",
                     help="SMTP settings ([smtp] host, port, sender, user, password_file, starttls); "
                          "CRIZOTINIB_SMTP_* variables override it")
    run.add_argument("--mail-when", choices=("changed", "always", "failed"), default="changed",
                     help="changed (default): mail when the run failed or something changed since the last run; "
                          "always; failed: only when the run failed")
    run.add_argument("--pdf-profile", choices=PDF_PROFILES, default="archival",
                     help="archival (default): the combined PDF is PDF/A-3a and carries every table's CSV, the "
                          "build manifest and the run record; plain: PDF/UA-1 carrying no files, for recipients "
                          "whose systems reject PDFs with attachments")
    _add_build_options(run)
    run.set_defaults(run=cmd_run)

    check_build = commands.add_parser("verify", help="check a build or a run against its manifest, and rebuild it "
                                      "to compare byte for byte", epilog=EXAMPLES["verify"], formatter_class=help_format)
    check_build.add_argument("folder", nargs="?", type=Path, metavar="RUN_FOLDER",
                             help="a run folder (outputs/runs/<run id>); default: the build in --output-dir")
    check_build.add_argument("--output-dir", type=Path, default=OUTPUT_DIR,
                             help="the build's output folder (default: outputs/)")
    check_build.add_argument("--no-rebuild", dest="rebuild", action="store_false",
                             help="check the files' hashes and the inputs only; do not execute the reports again")
    check_build.add_argument("--data-dir", type=Path, help="data folder the build read, if it has moved (default: as recorded)")
    check_build.add_argument("--notebook-dir", type=Path, help="notebooks folder the build read, if it has moved (default: as recorded)")
    check_build.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                             help="reports rebuilt at the same time (default: the number of cores)")
    check_build.set_defaults(run=cmd_verify)
    tracing = commands.add_parser(
        "trace", help="where a number of a built report comes from: data file, row, column, citation, evidence",
        epilog="examples:\n  crizotinib-reports trace clinical_activity 74%", formatter_class=help_format)
    tracing.add_argument("report", metavar="REPORT", help="a built report (its folder under the output folder)")
    tracing.add_argument("text", metavar="TEXT", help="the number as the report shows it, e.g. 74%% or 0.49")
    tracing.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where reports are (default: outputs/)")
    tracing.set_defaults(run=cmd_trace)
    return parser


def _add_build_options(command: argparse.ArgumentParser) -> None:
    """What `build` and `run` share: where things are, how many kernels, how long a cell may take."""
    command.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the CSV tables (default: data/)")
    command.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where reports go (default: outputs/)")
    command.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR,
                         help="folder of the report notebooks (default: notebooks/)")
    command.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                         help="reports built at the same time, each in its own kernel (default: the number of cores)")
    command.add_argument("--timeout", type=int, default=DEFAULT_REPORT_TIMEOUT, metavar="SECONDS",
                         help=f"fail a report that takes longer than this, executing and rendering together "
                              f"(default {DEFAULT_REPORT_TIMEOUT})")
    command.add_argument("--adopt-output-dir", action="store_true",
                         help="write into an existing folder that holds files of others (they are left alone)")


def take_secrets(environ: "os._Environ[str]") -> dict[str, str]:
    """Remove the mail settings from the environment, so no kernel, worker or notebook ever inherits them."""
    return {name: environ.pop(name) for name in list(environ) if name.startswith(SECRET_ENV_PREFIXES)}


def os_error_line(exc: OSError) -> str:
    """An OS error as one line: what failed, on which path, and what to do."""
    where = f": {display_path(Path(os.fsdecode(exc.filename)))}" if exc.filename else ""
    hints = {errno.ENOSPC: "free some space and run again; the reports already there are unchanged",
             errno.EDQUOT: "free some space and run again; the reports already there are unchanged",
             errno.EROFS: "the folder is read-only: choose another with --output-dir",
             errno.EACCES: "check that you may write there, or choose another folder with --output-dir",
             errno.EPERM: "check that you may write there, or choose another folder with --output-dir"}
    hint = hints.get(exc.errno, "check the path and run again")
    return visible(f"{exc.strerror or type(exc).__name__}{where}; {hint}")


def _quiet_broken_pipe() -> None:
    """After a reader closed our pipe: send what is left to /dev/null, so Python's exit does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    secrets = take_secrets(os.environ)
    try:
        args = make_parser().parse_args(argv)
        args.secrets = secrets
        return args.run(args)
    except CrizotinibReportsError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {visible(exc, keep_newlines=True)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `crizotinib-reports list | head`: what we had to say was not all read
        _quiet_broken_pipe()
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was replaced: the output folder still holds the reports of the last "
              "complete build", file=sys.stderr)
        return 130
    except OSError as exc:  # a read-only or full disk, a folder removed under us: one line, not a traceback
        if debug:
            traceback.print_exc()
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
