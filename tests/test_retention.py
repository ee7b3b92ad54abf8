"""Which scheduled runs are kept: run ids, `latest`, and pruning to --keep, on folders alone (no build)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.publish import runs
from crizotinib_reports.publish.runs import DEFAULT_KEEP, LATEST, RUN_ID, RUNS, Runner, latest_run, new_run_id

NOW = datetime(2026, 11, 26, 6, 0, 0, 987654, tzinfo=timezone.utc)


class _FixedClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW.astimezone(tz)


def _runner(output_dir: Path, keep: int = DEFAULT_KEEP) -> Runner:
    """A runner over an output folder, with nothing to build: pruning reads folders only."""
    return Runner(SimpleNamespace(output_dir=output_dir), progress=None, keep=keep)


def _runs(output_dir: Path, *run_ids: str) -> Path:
    for run_id in run_ids:
        (output_dir / RUNS / run_id).mkdir(parents=True)
        (output_dir / RUNS / run_id / "run.json").write_text("{}")
    return output_dir / RUNS


def _point_latest(output_dir: Path, run_id: str) -> None:
    os.symlink(f"{RUNS}/{run_id}", output_dir / LATEST)


def _left(runs_dir: Path) -> list[str]:
    return sorted(os.listdir(runs_dir))


# --- run ids ----------------------------------------------------------------------------------------

def test_a_run_is_named_by_its_utc_second(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "datetime", _FixedClock)
    assert new_run_id(tmp_path) == "20261126T060000Z"
    assert RUN_ID.fullmatch(new_run_id(tmp_path))


def test_runs_in_the_same_second_get_a_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "datetime", _FixedClock)
    (tmp_path / "20261126T060000Z").mkdir()
    assert new_run_id(tmp_path) == "20261126T060000Z-2"
    (tmp_path / ".20261126T060000Z-2.partial").mkdir()  # one being written counts too
    (tmp_path / "20261126T060000Z-3").mkdir()
    assert new_run_id(tmp_path) == "20261126T060000Z-4"
    assert RUN_ID.fullmatch("20261126T060000Z-4")


def test_a_run_id_gives_its_utc_time():
    assert runs._run_time("20261126T060000Z-3") == datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
    assert runs._run_time("20261231T235959Z").tzinfo == timezone.utc


def test_latest_is_the_folder_the_link_names(tmp_path):
    assert latest_run(tmp_path) is None
    _runs(tmp_path, "20261126T060000Z")
    _point_latest(tmp_path, "20261126T060000Z")
    assert latest_run(str(tmp_path)) == (tmp_path / RUNS / "20261126T060000Z").resolve()


# --- --keep -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [0, -3])
def test_keep_must_be_at_least_one(tmp_path, keep):
    with pytest.raises(UsageError, match=f"--keep must be at least 1, got {keep}"):
        _runner(tmp_path, keep)


def test_a_runner_prunes_its_own_runs_folder(tmp_path):
    runner = Runner(SimpleNamespace(output_dir=tmp_path), progress="progress", keep=1, mail_planned=True)
    assert (runner.keep, runner.output_dir, runner.runs_dir) == (1, tmp_path, tmp_path / RUNS)
    assert runner.progress == "progress" and runner.mail_planned is True
    assert _runner(tmp_path).keep == DEFAULT_KEEP == 14 and _runner(tmp_path).mail_planned is False


def test_the_newest_runs_are_kept_by_their_time_not_their_folder_order(tmp_path):
    runs_dir = _runs(tmp_path, "20261124T060000Z", "20261125T060000Z", "20261126T060000Z", "20261126T060000Z-2",
                     "20261123T235959Z")
    _point_latest(tmp_path, "20261126T060000Z-2")
    _runner(tmp_path, keep=3)._prune("20261126T060000Z-2")
    assert _left(runs_dir) == ["20261125T060000Z", "20261126T060000Z", "20261126T060000Z-2"]


def test_the_tenth_run_of_a_second_is_newer_than_the_ninth(tmp_path):
    same_second = ["20261126T060000Z", *(f"20261126T060000Z-{n}" for n in range(2, 11))]
    runs_dir = _runs(tmp_path, *same_second)
    _runner(tmp_path, keep=2)._prune(same_second[-1])
    assert _left(runs_dir) == ["20261126T060000Z-10", "20261126T060000Z-9"]


def test_keep_one_leaves_only_the_run_just_written(tmp_path):
    runs_dir = _runs(tmp_path, "20261124T060000Z", "20261125T060000Z")
    _point_latest(tmp_path, "20261125T060000Z")
    _runner(tmp_path, keep=1)._prune("20261125T060000Z")
    assert _left(runs_dir) == ["20261125T060000Z"]


def test_as_many_runs_as_kept_are_all_left(tmp_path):
    ids = ["20261124T060000Z", "20261125T060000Z", "20261126T060000Z"]
    runs_dir = _runs(tmp_path, *ids)
    _runner(tmp_path, keep=3)._prune(ids[-1])
    assert _left(runs_dir) == ids


def test_latest_is_kept_however_old(tmp_path):
    """Failed runs do not move `latest`: the last good one stays however many failed runs follow."""
    runs_dir = _runs(tmp_path, "20261120T060000Z", "20261124T060000Z", "20261125T060000Z", "20261126T060000Z")
    _point_latest(tmp_path, "20261120T060000Z")
    _runner(tmp_path, keep=2)._prune("20261126T060000Z")
    assert _left(runs_dir) == ["20261120T060000Z", "20261125T060000Z", "20261126T060000Z"]


def test_the_run_just_written_is_kept_even_when_the_clock_went_back(tmp_path):
    runs_dir = _runs(tmp_path, "20261124T060000Z", "20261125T060000Z", "20261101T060000Z")
    _point_latest(tmp_path, "20261125T060000Z")
    _runner(tmp_path, keep=1)._prune("20261101T060000Z")
    assert _left(runs_dir) == ["20261101T060000Z", "20261125T060000Z"]


def test_pruning_removes_only_run_folders_of_ours_and_counts_only_them(tmp_path):
    runs_dir = _runs(tmp_path, "20261124T060000Z", "20261125T060000Z", "20261126T060000Z", "notes")
    (runs_dir / ".20261101T060000Z.partial").mkdir()  # a run being written (or left by a killed one)
    (runs_dir / "20261128T060000Z").write_text("a file named like a run")
    precious = tmp_path / "elsewhere"
    precious.mkdir()
    os.symlink(precious, runs_dir / "20261127T060000Z")  # a link named like a run, newer than every run
    _runner(tmp_path, keep=2)._prune("20261126T060000Z")
    assert _left(runs_dir) == [".20261101T060000Z.partial", "20261125T060000Z", "20261126T060000Z",
                               "20261127T060000Z", "20261128T060000Z", "notes"]
    assert precious.is_dir()


def test_the_next_free_suffix_is_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "datetime", _FixedClock)
    (tmp_path / "20261126T060000Z").mkdir()
    (tmp_path / "20261126T060000Z-2").mkdir()
    assert new_run_id(tmp_path) == "20261126T060000Z-3"


@pytest.fixture
def far_from_utc(monkeypatch):
    """The machine's clock set to a zone far from UTC: run ids must not follow it."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_run_id_is_in_utc_whatever_the_local_zone(tmp_path, monkeypatch, far_from_utc):
    monkeypatch.setattr(runs, "datetime", _FixedClock)
    assert NOW.astimezone().utcoffset() != NOW.utcoffset()  # the zone really is set
    assert new_run_id(tmp_path) == "20261126T060000Z"


def test_a_runner_keeps_the_builder_it_was_given(tmp_path):
    builder = SimpleNamespace(output_dir=tmp_path)
    assert Runner(builder, progress=None).builder is builder
