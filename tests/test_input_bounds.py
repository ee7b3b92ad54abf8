"""Every input has a size and time bound, and a bad one is one line, found before any kernel starts.

Each call that once hung (a FIFO read) or ran for minutes (an alias bomb, a catastrophic pattern)
runs in a thread with a deadline here, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
import yaml

from crizotinib_reports.evidence import schema

from crizotinib_reports.publish import build, variants

from crizotinib_reports import cli
from crizotinib_reports.evidence.data import validate
from crizotinib_reports.exceptions import DataValidationError, UsageError
from crizotinib_reports.input_files import InputFileError, load_input_yaml, read_input_bytes, read_input_text
from crizotinib_reports.evidence.data import data_file_hashes
from crizotinib_reports.publish.mail import mail_settings
from crizotinib_reports.publish.build import Builder
from crizotinib_reports.publish.portfolio import get_report
from crizotinib_reports.publish.progress import LogLines
from crizotinib_reports.publish.variants import read_variants_file
from support.deadlines import within

DEADLINE = 5.0  # for reading one file: instant when it works, forever when it hangs
VALIDATION_DEADLINE = 30.0  # for validating the whole data folder: about a second, more on a busy machine
ACTIVITY = [get_report("clinical_activity")]
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def problems(data_dir: Path) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        within(VALIDATION_DEADLINE, lambda: validate(data_dir))
    assert caught.value.exit_code == 2
    return caught.value.problems


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- only regular files are read --------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_data_file_is_a_problem_not_a_hang(data_copy: Path):
    fifo = data_copy / "outcomes.csv"
    fifo.unlink()
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="is a named pipe"):
        within(DEADLINE, lambda: read_input_text(fifo, limit=1024, what="data file"))
    found = problems(data_copy)
    assert any(p.endswith("outcomes.csv: is a named pipe (FIFO), not a regular file; give the path of a plain file")
               for p in found), found
    assert "outcomes.csv" not in within(DEADLINE, lambda: data_file_hashes(data_copy))  # the build's plan hashes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_variants_file_is_one_line(tmp_path: Path):
    fifo = tmp_path / "variants.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"variants file .*variants.yaml: is a named pipe \(FIFO\)") as caught:
        within(DEADLINE, lambda: read_variants_file(fifo, ACTIVITY))
    one_line(caught.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_mail_config_or_password_file_is_one_line(tmp_path: Path):
    fifo = tmp_path / "mail.ini"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(UsageError, match=r"mail config file .*mail.ini: is a named pipe \(FIFO\)") as caught:
        within(DEADLINE, lambda: mail_settings(fifo, environ={}))
    one_line(caught.value)
    config = tmp_path / "real.ini"
    config.write_text("[smtp]\nhost = h\nsender = a@b.c\nuser = u\npassword_file = secret\n", encoding="utf-8")
    config.chmod(0o600)
    os.mkfifo(tmp_path / "secret", 0o600)
    with pytest.raises(UsageError, match=r"password_file .*secret: is a named pipe \(FIFO\)"):
        within(DEADLINE, lambda: mail_settings(config, environ={}))


def test_a_folder_as_data_file_is_a_problem(data_copy: Path):
    (data_copy / "trials.csv").unlink()
    (data_copy / "trials.csv").mkdir()
    assert any(p.endswith("trials.csv: is a folder, not a regular file; give the path of a plain file")
               for p in problems(data_copy))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device: str):
    if not os.path.exists(device):
        pytest.skip(f"{device} not on this system")
    with pytest.raises(InputFileError, match="is a character device, not a regular file"):
        within(DEADLINE, lambda: read_input_bytes(device, limit=10, what="data file"))


@pytest.mark.parametrize(("make", "expected"), [
    (lambda path: path.write_text("x"), "is a file, not a folder"),
    (lambda path: None, "does not exist"),
])
def test_data_dir_naming_a_file_or_nothing_is_one_line(tmp_path: Path, capsys, make, expected: str):
    data_dir = tmp_path / "data"
    make(data_dir)
    assert cli.main(["validate", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: data folder ") and f"data {expected}; pass --data-dir" in err, err


# --- every input has a size bound -------------------------------------------------------------------

def test_a_file_over_its_limit_is_refused(tmp_path: Path, data_copy: Path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 2049)
    with pytest.raises(InputFileError, match=r"data file .*big.txt: is larger than 2 KiB"):
        read_input_bytes(path, limit=2048, what="data file")
    assert read_input_bytes(path, limit=2049, what="data file") == b"x" * 2049

    monkeypatch.setattr(schema, "DATA_FILE_LIMIT", 1024)  # sources.csv is 4 KiB
    assert any(p.endswith("sources.csv: is larger than 1 KiB, more than a data file ever holds; check that the path "
                          "names the right file") for p in problems(data_copy))
    monkeypatch.setattr(variants, "VARIANTS_FILE_LIMIT", 16)
    (tmp_path / "variants.yaml").write_text("clinical_activity:\n  - {setting: first-line}\n")
    with pytest.raises(UsageError, match=r"variants.yaml: is larger than 16 bytes, more than a variants file ever"):
        read_variants_file(tmp_path / "variants.yaml", ACTIVITY)


def test_a_notebook_over_its_limit_is_refused_before_any_kernel(tmp_path: Path, monkeypatch):
    builder = Builder(output_dir=tmp_path / "out", formats=("html",), progress=LogLines(timestamps=False))
    targets = builder.targets(["clinical_relapses"], [])
    with builder.session() as session:
        assert builder.plan(targets, session)[0].reasons == ["not built before"]  # within the limit: read
    monkeypatch.setattr(build, "NOTEBOOK_LIMIT", 1024)
    with builder.session() as session:
        with pytest.raises(InputFileError, match=r"notebook .*clinical_relapses.ipynb: is larger than 1 KiB") as caught:
            builder.plan(targets, session)
    one_line(caught.value)


# --- YAML: no aliases, no duplicate keys, UTF-8 -------------------------------------------------------

def test_an_alias_bomb_is_refused_at_once(tmp_path: Path):
    bomb = tmp_path / "variants.yaml"
    bomb.write_text(BILLION_LAUGHS)
    started = time.perf_counter()
    with pytest.raises(UsageError, match=r"variants.yaml, line 1: YAML anchor &a is not accepted") as caught:
        within(DEADLINE, lambda: read_variants_file(bomb, ACTIVITY))
    assert time.perf_counter() - started < 1
    one_line(caught.value)


def test_anchors_and_aliases_are_refused_even_small_ones(tmp_path: Path):
    path = tmp_path / "v.yaml"
    path.write_text("clinical_activity:\n  - &first {setting: first-line}\n")
    with pytest.raises(InputFileError, match="line 2: YAML anchor &first is not accepted"):
        load_input_yaml(path, limit=1024, what="variants file")


def test_duplicate_keys_are_refused(tmp_path: Path):
    path = tmp_path / "variants.yaml"
    path.write_text("clinical_activity:\n  - {setting: first-line}\nclinical_activity:\n  - {setting: second-line}\n")
    with pytest.raises(UsageError, match=r"variants.yaml, line 3: key 'clinical_activity' appears twice in the same "
                                         r"mapping \(first on line 1\); keep one"):
        read_variants_file(path, ACTIVITY)
    path.write_text("clinical_activity:\n  - {setting: first-line, setting: second-line}\n")
    with pytest.raises(UsageError, match="line 2: key 'setting' appears twice"):
        read_variants_file(path, ACTIVITY)


def test_deep_nesting_is_refused(tmp_path: Path):
    path = tmp_path / "v.yaml"
    path.write_text("[" * 5000)
    with pytest.raises(InputFileError, match="nested more than 50 levels deep"):
        within(DEADLINE, lambda: load_input_yaml(path, limit=10_000, what="variants file"))


def test_non_utf8_is_one_line_naming_the_line(tmp_path: Path):
    path = tmp_path / "variants.yaml"
    path.write_bytes(b"clinical_activity:\n  - {setting: \xff}\n")
    with pytest.raises(UsageError, match=r"variants.yaml, line 2: not valid UTF-8 text; save the file as UTF-8"):
        read_variants_file(path, ACTIVITY)
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")  # a byte-order mark is fine
    assert read_input_text(path, limit=100, what="x") == "a: 1\n"


def test_a_bad_value_in_a_variants_file_names_the_file(tmp_path: Path):
    path = tmp_path / "variants.yaml"
    path.write_text('clinical_activity:\n  - {setting: "first-line\\0"}\n')
    with pytest.raises(UsageError, match=r"variants.yaml, clinical_activity, variant 1: parameter 'setting' must "
                                         r"not contain control characters, got 'first-line\\x00'"):
        read_variants_file(path, ACTIVITY)


# --- schema.yaml is checked as data -------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "expected"), [
    ("rules: [percent_at_most_100, value_or_not_reached,", "rules: [percent_at_most_100, value_or_not_reachd,",
     "schema.yaml, table 'outcomes': unknown rule 'value_or_not_reachd' (known: percent_at_most_100, "
     "frequency_low_not_above_high, value_or_not_reached, interval_contains_estimate, attribution_consistent)"),
    ("rules: [percent_at_most_100, value_or_not_reached,", "rules: [frequency_low_not_above_high,",
     "schema.yaml, table 'outcomes': rule 'frequency_low_not_above_high' needs column 'frequency_low_pct'; "
     "declare it or drop the rule"),
    ("value: {type: float, nullable: true, min: 0}", "value: {type: str, nullable: true}",
     "schema.yaml, table 'outcomes', column 'value': rule 'percent_at_most_100' compares this column as a number"),
    ("value: {type: float, nullable: true, min: 0}", "value: {type: float, nullable: true, min: 0, maxx: 100}",
     "schema.yaml, table 'outcomes', column 'value': unknown key 'maxx' (known: type, required, nullable, min, max, "
     "choices, pattern, references)"),
    ("value: {type: float, nullable: true, min: 0}", "value: {type: flaot, nullable: true}",
     "schema.yaml, table 'outcomes', column 'value': unknown type 'flaot' (known: str, int, float, date)"),
    ("value: {type: float, nullable: true, min: 0}", "value: {type: float, nullable: true, min: zero}",
     "schema.yaml, table 'outcomes', column 'value': min must be a number, got 'zero'"),
    ("value: {type: float, nullable: true, min: 0}", "value: {type: float, nullable: maybe, min: 0}",
     "schema.yaml, table 'outcomes', column 'value': nullable must be true or false, got 'maybe'"),
    ("unit: {type: str, choices: ['%', months]}", "unit: {type: str, choices: '%'}",
     "schema.yaml, table 'outcomes', column 'unit': choices must be a list of text values"),
    ("denominator: {type: int, nullable: true, min: 1}", "denominator: {type: int, nullable: true, choices: [1, 2]}",
     "schema.yaml, table 'outcomes', column 'denominator': choices must be a list of text values"),
    ("      doses: {type: str, nullable: true}\n      source_id: {type: str, references: sources.source_id}",
     "      doses: {type: str, nullable: true}\n      source_id: {type: str, references: sources}",
     "schema.yaml, table 'trials', column 'source_id': references must name TABLE.COLUMN, a str column of a declared "
     "table; got 'sources'"),
    ("trial_id: {type: str, references: trials.trial_id}", "trial_id: {type: str, references: trails.trial_id}",
     "column 'trial_id': references must name TABLE.COLUMN, a str column of a declared table; got 'trails.trial_id'"),
    ("trial_id: {type: str, references: trials.trial_id}", "trial_id: {type: str, references: trials.year}",
     "got 'trials.year'"),
    ("pmid: {type: str, nullable: true, pattern: '\\d{1,9}'}", "pmid: {type: str, nullable: true, pattern: '[0-9'}",
     "schema.yaml, table 'sources', column 'pmid': pattern [0-9 does not compile (unterminated character set"),
    ("year: {type: int, nullable: true, min: 1900, max: 2100}",
     "year: {type: int, nullable: true, min: 1900, max: 2100, pattern: '\\d+'}",
     "schema.yaml, table 'sources', column 'year': pattern applies only to str columns"),
    ("    key: [source_id]\n", "    key: [source]\n",
     "schema.yaml, table 'sources': key names column 'source', which is not declared under columns"),
    ("    description: Citations.", "    descripton: Citations.",
     "schema.yaml, table 'sources': unknown key 'descripton' (known: description, key, columns, rules)"),
    ("year: {type: int, nullable: true, min: 1900, max: 2100}", "year: {type: int, nullable: true, min: 2100, max: 1900}",
     "schema.yaml, table 'sources', column 'year': min (2100) is above max (1900)"),
    ("tables:\n", "tablez:\n", "schema.yaml: expected 'tables:' holding one mapping a table; restore the file from git"),
    ("tables:\n", "version: 2\ntables:\n", "schema.yaml: unknown key 'version' at the top level (known: tables)"),
    ("  approvals:\n", "  approval:\n", "schema.yaml: table 'approvals' is missing; restore it from git"),
    ("  approvals:\n", "  approval:\n", "schema.yaml, table 'approval': not a table the package reads"),
])
def test_each_schema_defect_is_one_line(data_copy: Path, old: str, new: str, expected: str):
    edit(data_copy / "schema.yaml", old, new)
    found = problems(data_copy)
    assert any(expected in p for p in found), found
    assert all("\n" not in p for p in found)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("      agency: {type: str, choices: [FDA, EMA]}\n",
     "      agency: {type: str, choices: [FDA, EMA]}\n      agency: {type: str}\n",
     "key 'agency' appears twice in the same mapping (first on line {}); keep one"),
    ("tables:\n", "tables:\n  base: &base {type: str}\n",
     "YAML anchor &base is not accepted; write the value out instead"),
])
def test_schema_yaml_is_plain_yaml(data_copy: Path, old: str, new: str, expected: str):
    edit(data_copy / "schema.yaml", old, new)
    line = (data_copy / "schema.yaml").read_text(encoding="utf-8").splitlines().index(new.splitlines()[-1]) + 1
    found = problems(data_copy)
    assert len(found) == 1 and found[0].endswith(f"schema.yaml, line {line}: {expected.format(line - 1)}"), found


def test_a_table_removed_from_the_schema_is_a_problem(data_copy: Path):
    path = data_copy / "schema.yaml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    del content["tables"]["outcomes"]
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    assert [p.rsplit("/", 1)[-1] for p in problems(data_copy)] == [
        "schema.yaml: table 'outcomes' is missing; restore it from git"]


@pytest.mark.parametrize("text", ["", "- just a list\n", "tables: 3\n", "tables: {}\n"])
def test_a_schema_that_is_not_a_schema(data_copy: Path, text: str):
    (data_copy / "schema.yaml").write_text(text, encoding="utf-8")
    found = problems(data_copy)
    assert found and all("schema.yaml" in p and "\n" not in p for p in found), found


def test_a_catastrophic_pattern_is_stopped_in_time(data_copy: Path, monkeypatch):
    monkeypatch.setattr(schema, "PATTERN_SECONDS_PER_COLUMN", 0.2)
    edit(data_copy / "schema.yaml", "trial_name: {type: str}", "trial_name: {type: str, pattern: '(a|aa)+'}")
    edit(data_copy / "trials.csv", "Phase I trial (ALK+ NSCLC cohort)", "a" * 60 + "b")  # 2^60 ways to fail
    started = time.perf_counter()
    found = problems(data_copy)
    assert time.perf_counter() - started < 15  # unbounded, (a|aa)+ on this cell would run for years
    assert any(p.endswith("trials.csv, line 2, column 'trial_name': the pattern (a|aa)+ took over 0.2 s on this "
                          "column (stopped at this cell); simplify it in schema.yaml: nested repeats such as (a+)+ "
                          "take exponential time") for p in found), found


def test_a_pattern_still_names_each_cell_it_does_not_match(data_copy: Path):
    edit(data_copy / "trials.csv", "phase1,Phase I", "Phase1,Phase I")
    found = problems(data_copy)
    assert any("trials.csv, line 2, column 'trial_id': must match the pattern [a-z][a-z0-9_]* (got 'Phase1')" in p
               for p in found), found


# --- data cells: no control characters ----------------------------------------------------------------

@pytest.mark.parametrize(("cell", "shown"), [
    ("Phase I \x1b[31mtrial", "'Phase I \\x1b[31mtrial'"),
    ("PROFILE \u202e1001", "'PROFILE \\u202e1001'"),
    ("Phase I trial\t", "'Phase I trial\\t'"),  # at the end of the cell, where stripping would hide it
    ("a\x00b", "'a\\x00b'"),
    ("del\x7f", "'del\\x7f'"),
    ("c1\x85", "'c1\\x85'"),
])
def test_control_characters_in_a_cell_are_a_problem(data_copy: Path, cell: str, shown: str):
    edit(data_copy / "trials.csv", "Phase I trial (ALK+ NSCLC cohort)", cell)
    expected = (f"trials.csv, line 2, column 'trial_name': contains a control or bidirectional-formatting "
                f"character; remove it (got {shown})")
    found = problems(data_copy)
    assert any(p.endswith(expected) for p in found), found
    assert all(not any(ord(c) < 32 or c in "\x7f\x85\u202e" for c in p) for p in found)  # shown, never obeyed


# --- parameters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_float_parameter_must_be_finite(text: str):
    level = get_report("clinical_activity").parameter("confidence_level")
    with pytest.raises(UsageError, match=f"parameter 'confidence_level' takes a finite number, got "):
        level.parse(text)
    with pytest.raises(UsageError, match="takes a finite number"):
        level.check(float(text))
    assert math.isfinite(level.parse("0.9"))


@pytest.mark.parametrize("text", ["first\x00line", "first-line\x1b[2J", "\u202efirst-line"])
def test_a_str_parameter_carries_no_control_characters(text: str):
    setting = get_report("clinical_activity").parameter("setting")
    with pytest.raises(UsageError, match="parameter 'setting' must not contain control characters") as caught:
        setting.check(text)
    assert not any(ord(c) < 32 or c == "\u202e" for c in one_line(caught.value))


def test_changes_file_must_name_an_existing_regular_file(tmp_path: Path, monkeypatch):
    changes_file = get_report("overview").parameter("changes_file")
    assert changes_file.input_file and changes_file.check("") == ""
    with pytest.raises(UsageError, match=r"parameter 'changes_file' names '.*missing.json', which does not exist"):
        changes_file.parse(str(tmp_path / "missing.json"))
    with pytest.raises(UsageError, match="which is not a regular file"):
        changes_file.parse(str(tmp_path))
    (tmp_path / "changes.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert changes_file.parse("changes.json") == str(tmp_path / "changes.json")  # the kernel runs elsewhere
    with pytest.raises(UsageError, match="which does not exist"):
        get_report("overview").resolve({"changes_file": "nowhere.json"})


@pytest.mark.parametrize(("param", "message"), [
    ("confidence_level=nan", "error: parameter 'confidence_level' takes a finite number, got nan"),
    ("changes_file=no-such-changes.json", "error: parameter 'changes_file' names 'no-such-changes.json', which does "
                                          "not exist; give the path of an existing file"),
])
def test_bad_parameters_stop_the_build_before_any_kernel(tmp_path: Path, capsys, param: str, message: str):
    output = tmp_path / "out"
    assert cli.main(["build", "overview", "--param", param, "--output-dir", str(output)]) == 2
    err = capsys.readouterr().err
    assert err == message + "\n"
    assert not output.exists()
