"""Why a report is built again, and the inputs it is judged by: each reason alone, on tiny records."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.publish.inputs import (
    DataSnapshot,
    data_files,
    package_code_hash,
    package_versions,
    rebuild_reasons,
    report_inputs,
)

VERSIONS = {"python": "3.11.9", "pandas": "3.1.1"}


def _inputs(**changes) -> dict:
    record = {"notebook": "nb1", "parameters": {"setting": "all", "level": 0.95},
              "data": {"outcomes.csv": "h1", "schema.yaml": "s1"}, "code": "c1", "versions": dict(VERSIONS),
              "formats": ["html", "pdf"]}
    record.update(changes)
    return record


# --- rebuild_reasons --------------------------------------------------------------------------------

@pytest.mark.parametrize("previous", [None, {}])
def test_a_report_never_built_is_built(previous):
    assert rebuild_reasons(previous, _inputs()) == ["not built before"]


def test_unchanged_inputs_give_no_reason():
    assert rebuild_reasons(_inputs(), _inputs()) == []


def test_fewer_formats_than_last_time_need_no_rebuild():
    assert rebuild_reasons(_inputs(), _inputs(formats=["html"])) == []


@pytest.mark.parametrize(("current", "reason"), [
    (_inputs(notebook="nb2"), "notebook changed"),
    (_inputs(parameters={"setting": "first-line", "level": 0.95}), "parameters changed: setting"),
    (_inputs(parameters={"level": 0.9, "setting": "all", "drugs": "all"}), "parameters changed: drugs, level"),
    (_inputs(parameters={"level": 0.95}), "parameters changed: setting"),
    (_inputs(data={"outcomes.csv": "h2", "schema.yaml": "s1"}), "data changed: outcomes.csv"),
    (_inputs(data={"trials.csv": "t1", "outcomes.csv": "h1"}), "data changed: schema.yaml, trials.csv"),
    (_inputs(code="c2"), "package code changed"),
    (_inputs(versions={"python": "3.11.9", "pandas": "3.2.0"}), "versions changed: pandas 3.1.1 -> 3.2.0"),
    (_inputs(versions={**VERSIONS, "scipy": "1.17.1"}), "versions changed: scipy None -> 1.17.1"),
    (_inputs(formats=["html", "pdf", "ipynb"]), "format not built before: ipynb"),
])
def test_each_changed_input_is_named(current, reason):
    assert rebuild_reasons(_inputs(), current) == [reason]


def test_every_reason_at_once_in_a_fixed_order():
    current = _inputs(notebook="nb2", parameters={"setting": "first-line", "level": 0.9},
                      data={"outcomes.csv": "h2", "schema.yaml": "s2"}, code="c2",
                      versions={"python": "3.12.1", "pandas": "3.2.0"}, formats=["ipynb", "pdf", "html", "csv"])
    assert rebuild_reasons(_inputs(), current) == [
        "notebook changed",
        "parameters changed: level, setting",
        "data changed: outcomes.csv, schema.yaml",
        "package code changed",
        "versions changed: python 3.11.9 -> 3.12.1, pandas 3.1.1 -> 3.2.0",
        "format not built before: csv, ipynb",
    ]


def test_a_record_of_an_older_version_without_some_inputs_names_each_as_changed():
    previous = {"notebook": "nb1", "code": "c1"}
    assert rebuild_reasons(previous, _inputs()) == [
        "parameters changed: level, setting",
        "data changed: outcomes.csv, schema.yaml",
        "versions changed: python None -> 3.11.9, pandas None -> 3.1.1",
        "format not built before: html, pdf",
    ]


def test_empty_inputs_recorded_as_null_count_as_empty():
    previous = _inputs(data=None, versions=None, formats=None)
    current = _inputs(data={}, versions={}, formats=[])
    assert rebuild_reasons(previous, current) == []


# --- what the inputs are ----------------------------------------------------------------------------

def test_report_inputs_record_parameters_as_json_and_formats_sorted():
    inputs = report_inputs("abc", {"data_dir": Path("data"), "level": 0.9, "setting": "all"}, {"x.csv": "h"},
                           ("pdf", "html"))
    assert inputs == {"notebook": "abc", "parameters": {"data_dir": "data", "level": 0.9, "setting": "all"},
                      "data": {"x.csv": "h"}, "code": package_code_hash(), "versions": package_versions(),
                      "formats": ["html", "pdf"]}
    assert list(inputs["parameters"]) == ["data_dir", "level", "setting"]
    assert rebuild_reasons(inputs, report_inputs("abc", {"setting": "all", "level": 0.9, "data_dir": "data"},
                                                 {"x.csv": "h"}, ["html", "pdf"])) == []


def test_the_recorded_versions_name_python_this_package_and_what_renders():
    versions = package_versions()
    assert {"python", "crizotinib-reports", "papermill", "nbconvert", "pandas", "weasyprint"} <= set(versions)
    assert versions["pandas"] != "not installed"


def _data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "trials.csv").write_bytes(b"id\nA\n")
    (folder / "outcomes.csv").write_bytes(b"id,value\nA,1\n")
    (folder / "schema.yaml").write_bytes(b"tables: {}\n")
    (folder / "notes.txt").write_bytes(b"not data\n")
    return folder


def test_a_data_folder_gives_its_tables_sorted_then_the_schema(tmp_path):
    folder = _data_folder(tmp_path)
    assert [p.name for p in data_files(folder)] == ["outcomes.csv", "trials.csv", "schema.yaml"]
    (folder / "schema.yaml").unlink()
    assert [p.name for p in data_files(str(folder))] == ["outcomes.csv", "trials.csv"]


def test_a_dangling_schema_link_is_still_listed_so_the_snapshot_refuses_it(tmp_path):
    folder = _data_folder(tmp_path)
    (folder / "schema.yaml").unlink()
    os.symlink(tmp_path / "gone.yaml", folder / "schema.yaml")
    assert [p.name for p in data_files(folder)][-1] == "schema.yaml"


def test_a_snapshot_copies_and_hashes_the_bytes_read(tmp_path):
    folder = _data_folder(tmp_path)
    snapshot = DataSnapshot.take(str(folder), tmp_path / "scratch" / "snap")
    assert snapshot.source == folder and isinstance(snapshot.source, Path)
    assert sorted(p.name for p in snapshot.folder.iterdir()) == ["outcomes.csv", "schema.yaml", "trials.csv"]
    assert (snapshot.folder / "outcomes.csv").read_bytes() == b"id,value\nA,1\n"
    assert snapshot.hashes == {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                               for name in ("outcomes.csv", "trials.csv", "schema.yaml")}
    (folder / "outcomes.csv").write_bytes(b"id,value\nA,2\n")  # an edit after the snapshot changes nothing in it
    assert (snapshot.folder / "outcomes.csv").read_bytes() == b"id,value\nA,1\n"


def test_a_snapshot_never_writes_into_an_existing_folder(tmp_path):
    folder = _data_folder(tmp_path)
    (tmp_path / "snap").mkdir()
    with pytest.raises(FileExistsError):
        DataSnapshot.take(folder, tmp_path / "snap")


def test_a_snapshot_of_a_missing_folder_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UsageError):
        DataSnapshot.take(tmp_path / "nowhere", tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_a_report_is_judged_by_its_own_tables_and_the_schema(tmp_path):
    snapshot = DataSnapshot.take(_data_folder(tmp_path), tmp_path / "snap")
    assert snapshot.hashes_of(["trials", "outcomes"]) == {
        "outcomes.csv": snapshot.hashes["outcomes.csv"], "trials.csv": snapshot.hashes["trials.csv"],
        "schema.yaml": snapshot.hashes["schema.yaml"]}
    assert list(snapshot.hashes_of(["trials", "outcomes"])) == ["outcomes.csv", "trials.csv", "schema.yaml"]
    assert snapshot.hashes_of(["trials", "no_such_table"]) == {"trials.csv": snapshot.hashes["trials.csv"],
                                                                "schema.yaml": snapshot.hashes["schema.yaml"]}
    assert snapshot.hashes_of([]) == {"schema.yaml": snapshot.hashes["schema.yaml"]}


def test_without_declared_tables_a_report_is_judged_by_every_file(tmp_path):
    snapshot = DataSnapshot.take(_data_folder(tmp_path), tmp_path / "snap")
    every = snapshot.hashes_of(None)
    assert every == snapshot.hashes
    every["trials.csv"] = "edited"  # a copy: the snapshot's own record stays as read
    assert snapshot.hashes["trials.csv"] != "edited"


def test_parameters_are_recorded_in_name_order_whatever_order_they_came_in():
    """The manifest is written from these: the same parameters give the same bytes."""
    inputs = report_inputs("abc", {"setting": "all", "level": 0.9, "data_dir": "data"}, {}, ())
    assert list(inputs["parameters"]) == ["data_dir", "level", "setting"]


def test_a_data_file_that_cannot_be_snapshotted_is_named_as_a_data_file(tmp_path):
    folder = _data_folder(tmp_path)
    (folder / "arms.csv").mkdir()
    with pytest.raises(UsageError, match=r"^data file .*arms\.csv: is a folder, not a regular file"):
        DataSnapshot.take(folder, tmp_path / "snap")
