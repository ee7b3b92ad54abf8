"""Output atomicity and ownership, piece by piece: whole files, our names, one rename per change, no torn tree."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.paths import display_path
from crizotinib_reports.publish import files, outputs
from crizotinib_reports.publish.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    sha256_bytes,
    sha256_file,
)
from crizotinib_reports.publish.outputs import (
    BUILD_ID,
    BUILDS,
    CURRENT,
    FAILED,
    MARKER,
    MARKER_TEXT,
    MAX_NAME,
    STAGING,
    OutputTree,
    check_top_level,
    claim_output_dir,
    fsync_tree,
    is_report_file_name,
    is_report_folder_name,
    link_or_copy,
    link_target,
    new_build_id,
    point_link,
    real_folder,
    remove_leftovers,
    remove_ours,
)

OLD, NEW = "20261202T060000123456Z-41", "20261202T070000123456Z-42"


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# --- files.py: write beside, then rename ------------------------------------------------------------

def test_a_file_is_written_whole_with_its_folders_and_no_leftover(tmp_path, umask_022):
    target = tmp_path / "a" / "b" / "report.html"
    atomic_write_bytes(target, b"<p>new</p>")
    assert target.read_bytes() == b"<p>new</p>"
    assert os.listdir(target.parent) == ["report.html"]
    assert target.stat().st_mode & 0o777 == 0o644  # what open() gives, not mkstemp's 0600
    assert os.umask(0o022) == 0o022  # the process's umask is left as it was


def test_the_mode_follows_the_umask(tmp_path):
    previous = os.umask(0o077)
    try:
        atomic_write_bytes(tmp_path / "private.txt", b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def test_an_existing_file_is_replaced_in_one_rename_from_a_hidden_file_beside_it(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    renames, synced = [], []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(source, destination):
        renames.append((Path(source), Path(destination), target.read_bytes(), Path(source).read_bytes()))
        real_replace(source, destination)

    def fsync(fd):
        synced.append(os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(files.os, "replace", replace)
    monkeypatch.setattr(files.os, "fsync", fsync)
    atomic_write_bytes(target, b"new content")
    [(source, destination, before, written)] = renames
    assert destination == target and before == b"old" and written == b"new content"
    assert source.parent == tmp_path and re.fullmatch(r"\.manifest\.json\..+\.tmp", source.name)
    assert synced == [len(b"new content")]  # on disk before the rename makes it visible
    assert target.read_bytes() == b"new content" and os.listdir(tmp_path) == ["manifest.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "index.html"
    target.write_bytes(b"old")

    def full_disk(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["index.html"]


def test_an_interrupt_while_writing_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "x.pdf", b"%PDF")
    assert os.listdir(tmp_path) == []


def test_text_is_utf8_and_json_is_indented_in_order_with_a_newline(tmp_path):
    atomic_write_text(tmp_path / "a.md", "τ² – Kaplan–Meier")
    assert (tmp_path / "a.md").read_bytes() == "τ² – Kaplan–Meier".encode("utf-8")
    atomic_write_json(tmp_path / "run.json", {"z": 1, "a": {"path": Path("x/y")}})
    text = (tmp_path / "run.json").read_text(encoding="utf-8")
    assert text == '{\n  "z": 1,\n  "a": {\n    "path": "x/y"\n  }\n}\n'
    assert json.loads(text) == {"z": 1, "a": {"path": "x/y"}}


def test_hashes_are_sha256_of_the_bytes(tmp_path):
    (tmp_path / "x").write_bytes(b"abc")
    expected = hashlib.sha256(b"abc").hexdigest()
    assert sha256_bytes(b"abc") == expected and sha256_file(tmp_path / "x") == expected
    assert sha256_file(str(tmp_path / "x")) == expected


# --- outputs.py: names we write ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "ours"), [
    ("overview", True), ("clinical_activity--setting-first-line--level-0.9", True), ("a" * MAX_NAME, True),
    ("a" * (MAX_NAME + 1), False), ("a--b..c", False), ("Overview", False), ("1report", False), ("", False),
    ("../etc", False), ("a/b", False), (None, False), (42, False),
])
def test_a_report_folder_is_named_as_we_name_them(name, ours):
    assert is_report_folder_name(name) is ours


@pytest.mark.parametrize(("name", "ours"), [
    ("overview.html", True), ("tables/efficacy.csv", True), ("f" * MAX_NAME, True), ("f" * (MAX_NAME + 1), False),
    ("tables/../x.csv", False), ("a..b", False), ("../x.html", False), ("/etc/passwd", False),
    ("other/x.csv", False), (".hidden", False), (None, False),
])
def test_a_report_file_is_named_as_we_name_them(name, ours):
    assert is_report_file_name(name) is ours


def test_a_build_id_matches_the_pattern_removals_check():
    build_id = new_build_id()
    assert BUILD_ID.fullmatch(build_id) and build_id.endswith(f"-{os.getpid()}")
    assert re.fullmatch(r"\d{8}T\d{12}Z-\d+", build_id)


# --- whose folder it is -----------------------------------------------------------------------------

def test_a_new_folder_is_claimed_with_the_marker(tmp_path):
    claim_output_dir(str(tmp_path / "new" / "out"))
    assert (tmp_path / "new" / "out" / MARKER).read_text(encoding="utf-8") == MARKER_TEXT


def test_a_marked_folder_is_used_as_it_is(tmp_path):
    (tmp_path / MARKER).write_text("kept as written", encoding="utf-8")
    (tmp_path / "overview").mkdir()
    claim_output_dir(tmp_path)
    assert (tmp_path / MARKER).read_text(encoding="utf-8") == "kept as written"


def test_a_tree_laid_out_as_ours_is_claimed(tmp_path):
    (tmp_path / BUILDS / OLD).mkdir(parents=True)
    os.symlink(f"{BUILDS}/{OLD}", tmp_path / CURRENT)
    claim_output_dir(tmp_path)
    assert (tmp_path / MARKER).read_text(encoding="utf-8") == MARKER_TEXT


@pytest.mark.parametrize("current", [f"{BUILDS}/notes", f"other/{OLD}", f"{BUILDS}/{OLD}/x", OLD])
def test_a_current_link_elsewhere_is_not_our_layout(tmp_path, current):
    os.symlink(current, tmp_path / CURRENT)
    with pytest.raises(UsageError, match="holds files crizotinib-reports did not write"):
        claim_output_dir(tmp_path)
    assert OutputTree.current_target(tmp_path) is None


def test_a_current_folder_is_not_our_layout(tmp_path):
    (tmp_path / CURRENT).mkdir()
    with pytest.raises(UsageError, match="holds files crizotinib-reports did not write"):
        claim_output_dir(tmp_path)


def test_someone_elses_folder_is_claimed_only_when_adopted(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError) as caught:
        claim_output_dir(tmp_path)
    assert "\n" not in str(caught.value) and "--adopt-output-dir" in str(caught.value)
    assert not (tmp_path / MARKER).exists()
    claim_output_dir(tmp_path, adopt=True)
    assert (tmp_path / MARKER).read_text(encoding="utf-8") == MARKER_TEXT
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_a_marker_we_did_not_write_is_refused(tmp_path, kind):
    (tmp_path / "out").mkdir()
    if kind == "symlink":
        (tmp_path / "elsewhere").write_text(MARKER_TEXT)
        os.symlink(tmp_path / "elsewhere", tmp_path / "out" / MARKER)
    else:
        (tmp_path / "out" / MARKER).mkdir()
    with pytest.raises(UsageError, match="is not the marker file crizotinib-reports writes; remove it"):
        claim_output_dir(tmp_path / "out", adopt=True)


def test_a_file_is_not_an_output_folder(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        claim_output_dir(tmp_path / "out")


def test_a_folder_of_ours_is_made_when_missing_and_refused_as_link_or_file(tmp_path):
    assert real_folder(tmp_path / "runs") == tmp_path / "runs" and (tmp_path / "runs").is_dir()
    assert real_folder(tmp_path / "runs") == tmp_path / "runs"  # there already: fine
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "linked")
    with pytest.raises(UsageError, match=r"linked is a symbolic link.*remove the link \('rm "):
        real_folder(tmp_path / "linked")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="file is not a folder"):
        real_folder(tmp_path / "file")


# --- removing only what we wrote --------------------------------------------------------------------

def test_only_a_real_folder_of_ours_directly_inside_is_removed(tmp_path):
    builds = tmp_path / BUILDS
    ours = builds / OLD
    (ours / "overview").mkdir(parents=True)
    (ours / "overview" / "overview.html").write_text("x")
    assert remove_ours(ours, builds, BUILD_ID) is True and not ours.exists()

    (builds / "notes").mkdir()
    assert remove_ours(builds / "notes", builds, BUILD_ID) is False and (builds / "notes").is_dir()
    (builds / NEW).write_text("a file named like a build")
    assert remove_ours(builds / NEW, builds, BUILD_ID) is False and (builds / NEW).is_file()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", builds / "20261202T080000000000Z-1")
    assert remove_ours(builds / "20261202T080000000000Z-1", builds, BUILD_ID) is False
    assert (tmp_path / "elsewhere").is_dir()
    deeper = builds / "x" / OLD
    deeper.mkdir(parents=True)
    assert remove_ours(deeper, builds, BUILD_ID) is False and deeper.is_dir()
    assert remove_ours(tmp_path / "missing" / OLD, tmp_path / "missing", BUILD_ID) is False


def test_leftovers_of_killed_builds_go_except_what_is_kept(tmp_path):
    for folder in (BUILDS, STAGING):
        for build in (OLD, NEW):
            (tmp_path / folder / build).mkdir(parents=True)
    (tmp_path / STAGING / "notes").mkdir()
    removed = remove_leftovers(tmp_path, keep={tmp_path / BUILDS / NEW, None})
    assert sorted(removed) == [f"{BUILDS}/{OLD}", f"{STAGING}/{OLD}", f"{STAGING}/{NEW}"]
    assert sorted(os.listdir(tmp_path / BUILDS)) == [NEW] and os.listdir(tmp_path / STAGING) == ["notes"]


def test_leftovers_are_looked_for_only_in_the_folders_named(tmp_path):
    (tmp_path / BUILDS / OLD).mkdir(parents=True)
    (tmp_path / STAGING / OLD).mkdir(parents=True)
    assert remove_leftovers(tmp_path, keep=set(), folders=(BUILDS,)) == [f"{BUILDS}/{OLD}"]
    assert (tmp_path / STAGING / OLD).is_dir()
    assert remove_leftovers(tmp_path / "missing", keep=set()) == []


# --- one build's tree -------------------------------------------------------------------------------

def _previous_build(root: Path) -> Path:
    tree = root / BUILDS / OLD
    (tree / "overview" / "tables").mkdir(parents=True)
    (tree / "overview" / "overview.html").write_text("old overview")
    (tree / "overview" / "tables" / "a.csv").write_text("x\n1\n")
    (tree / FAILED).mkdir()
    (tree / FAILED / "relapses.ipynb").write_text("{}")
    (tree / FAILED / "landscape.ipynb").write_text("{}")
    (tree / "manifest.json").write_text("{}")
    os.symlink(f"{BUILDS}/{OLD}", root / CURRENT)
    for name in ("overview", FAILED, "manifest.json"):
        os.symlink(f"{CURRENT}/{name}", root / name)
    return tree


def test_a_first_build_has_no_previous_tree(tmp_path):
    tree = OutputTree(tmp_path, NEW)
    assert tree.root == tmp_path and tree.previous is None and tree.new == tmp_path / BUILDS / NEW
    assert tree.new.is_dir()
    assert tree.carry_over("overview") is False
    tree.carry_over_failed("overview")
    assert os.listdir(tree.new) == []


def test_a_new_tree_starts_empty_beside_the_previous_one(tmp_path):
    old = _previous_build(tmp_path)
    tree = OutputTree(str(tmp_path), NEW)
    assert tree.previous == old and tree.new == tmp_path / BUILDS / NEW and os.listdir(tree.new) == []
    with pytest.raises(FileExistsError):
        OutputTree(tmp_path, NEW)


def test_the_current_target_must_be_a_real_folder(tmp_path):
    os.symlink(f"{BUILDS}/{OLD}", tmp_path / CURRENT)
    assert OutputTree.current_target(tmp_path) is None  # dangling
    (tmp_path / BUILDS).mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / BUILDS / OLD)
    assert OutputTree.current_target(tmp_path) is None  # a link out
    os.remove(tmp_path / BUILDS / OLD)
    (tmp_path / BUILDS / OLD).mkdir()
    assert OutputTree.current_target(str(tmp_path)) == tmp_path / BUILDS / OLD


def test_an_unchanged_report_is_carried_over_as_hard_links(tmp_path):
    old = _previous_build(tmp_path)
    tree = OutputTree(tmp_path, NEW)
    assert tree.carry_over("overview") is True
    carried = tree.new / "overview" / "tables" / "a.csv"
    assert carried.read_text() == "x\n1\n" and os.path.samefile(carried, old / "overview" / "tables" / "a.csv")
    assert tree.carry_over("relapses") is False and not (tree.new / "relapses").exists()


def test_only_report_folders_that_are_real_folders_are_carried_over(tmp_path):
    old = _previous_build(tmp_path)
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", old / "linked")
    (old / "plain").write_text("a file")
    tree = OutputTree(tmp_path, NEW)
    assert not tree.carry_over("linked") and not tree.carry_over("plain") and not tree.carry_over("../../secret")
    assert os.listdir(tree.new) == []


def test_a_failed_notebook_is_carried_over_and_only_a_real_one(tmp_path):
    old = _previous_build(tmp_path)
    os.symlink(tmp_path / "elsewhere.ipynb", old / FAILED / "activity.ipynb")
    (tmp_path / "elsewhere.ipynb").write_text("{}")
    tree = OutputTree(tmp_path, NEW)
    tree.carry_over_failed("overview")  # none recorded: nothing, not even the folder
    assert not (tree.new / FAILED).exists()
    tree.carry_over_failed("relapses")
    tree.carry_over_failed("landscape")  # the folder exists already
    assert os.path.samefile(tree.new / FAILED / "relapses.ipynb", old / FAILED / "relapses.ipynb")
    tree.carry_over_failed("activity")
    tree.carry_over_failed("../failed/relapses")
    assert sorted(os.listdir(tree.new / FAILED)) == ["landscape.ipynb", "relapses.ipynb"]


def test_commit_repoints_current_links_new_names_and_drops_gone_ones(tmp_path):
    _previous_build(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    tree = OutputTree(tmp_path, NEW)
    (tree.new / "relapses").mkdir()
    (tree.new / "manifest.json").write_text("{}")
    moments = []

    def checkpoint(name):
        moments.append((name, os.readlink(tmp_path / CURRENT), sorted(os.listdir(tmp_path))))

    tree.commit(checkpoint)
    # `current` moved after the new names were linked and before the gone ones were dropped
    assert moments == [("after-current-moved", f"{BUILDS}/{NEW}",
                        sorted([BUILDS, CURRENT, FAILED, "manifest.json", "notes.txt", "overview", "relapses"]))]
    assert os.readlink(tmp_path / "relapses") == f"{CURRENT}/relapses"
    assert sorted(os.listdir(tmp_path)) == [BUILDS, CURRENT, "manifest.json", "notes.txt", "relapses"]
    assert os.listdir(tmp_path / BUILDS) == [NEW] and (tmp_path / "notes.txt").read_text() == "mine"


def test_commit_refuses_a_name_that_holds_a_file_of_someone_elses(tmp_path):
    old = _previous_build(tmp_path)
    (tmp_path / "relapses").mkdir()
    tree = OutputTree(tmp_path, NEW)
    (tree.new / "relapses").mkdir()
    with pytest.raises(UsageError, match="relapses was not written by crizotinib-reports"):
        tree.commit()
    assert os.readlink(tmp_path / CURRENT) == f"{BUILDS}/{OLD}" and old.is_dir()


def test_an_abandoned_tree_goes_and_the_current_one_stays(tmp_path):
    old = _previous_build(tmp_path)
    tree = OutputTree(tmp_path, NEW)
    (tree.new / "overview").mkdir()
    tree.abandon()
    assert not tree.new.exists() and old.is_dir() and os.readlink(tmp_path / CURRENT) == f"{BUILDS}/{OLD}"


# --- links ------------------------------------------------------------------------------------------

def test_a_top_level_name_is_free_or_our_link(tmp_path):
    os.symlink(f"{CURRENT}/overview", tmp_path / "overview")
    os.symlink(f"{CURRENT}/other", tmp_path / "relapses")  # a link, but not <name> -> current/<name>
    os.symlink("nowhere", tmp_path / "dangling")
    (tmp_path / "notes").write_text("mine")
    check_top_level(tmp_path, ["overview", "free"])
    for name in ("relapses", "dangling", "notes"):
        with pytest.raises(UsageError, match=f"{name} was not written by crizotinib-reports"):
            check_top_level(tmp_path, [name])


def test_a_link_is_repointed_in_one_rename(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    point_link(tmp_path / "latest", Path("a"))
    assert os.readlink(tmp_path / "latest") == "a"
    renames = []
    real_replace = os.replace

    def replace(source, destination):
        renames.append((Path(source).name, os.readlink(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(outputs.os, "replace", replace)
    os.symlink("stale", tmp_path / f".latest.{os.getpid()}.tmp")  # left by a killed build with our pid
    point_link(tmp_path / "latest", Path("b"))
    assert renames == [(f".latest.{os.getpid()}.tmp", "a")]  # the old link stood until the rename
    assert os.readlink(tmp_path / "latest") == "b" and sorted(os.listdir(tmp_path)) == ["a", "b", "latest"]


def test_a_link_target_is_a_folder_a_symlink_names(tmp_path):
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    os.symlink("runs/r1", tmp_path / "latest")
    os.symlink("file", tmp_path / "to-file")
    os.symlink("gone", tmp_path / "dangling")
    assert link_target(tmp_path / "latest") == (tmp_path / "runs" / "r1").resolve()
    assert link_target(tmp_path / "runs") is None  # a folder, not a link
    assert link_target(tmp_path / "to-file") is None and link_target(tmp_path / "dangling") is None


def test_a_file_is_linked_or_else_copied(tmp_path, monkeypatch):
    (tmp_path / "a").write_text("x")
    link_or_copy(tmp_path / "a", tmp_path / "b")
    assert os.path.samefile(tmp_path / "a", tmp_path / "b")

    def cross_device(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(outputs.os, "link", cross_device)
    link_or_copy(str(tmp_path / "a"), str(tmp_path / "c"))
    assert (tmp_path / "c").read_text() == "x" and not os.path.samefile(tmp_path / "a", tmp_path / "c")


def test_every_folder_of_a_tree_is_synced(tmp_path, monkeypatch):
    (tmp_path / "t" / "overview" / "tables").mkdir(parents=True)
    (tmp_path / "t" / "overview" / "x.html").write_text("x")
    synced, closed = [], []
    real_fsync, real_close = os.fsync, os.close

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else fd)
        real_fsync(fd)

    def close(fd):
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(outputs.os, "fsync", fsync)
    monkeypatch.setattr(outputs.os, "close", close)
    fsync_tree(tmp_path / "t")
    assert len(synced) == 3 == len(closed)
    if os.path.isdir("/proc/self/fd"):
        assert sorted(synced) == [str(tmp_path / "t"), str(tmp_path / "t" / "overview"),
                                  str(tmp_path / "t" / "overview" / "tables")]


def test_a_refused_folder_is_named_in_the_message(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=f"^output folder {re.escape(display_path(tmp_path / 'out'))} holds files"):
        claim_output_dir(tmp_path / "out")


def test_a_folder_that_cannot_be_removed_whole_is_reported_not_raised(tmp_path, monkeypatch):
    """A file that will not go (a read-only mount, another owner) leaves the folder: False, and no traceback."""
    ours = tmp_path / BUILDS / OLD
    ours.mkdir(parents=True)
    (ours / "stuck.html").write_text("x")
    (ours / "gone.html").write_text("x")
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.fspath(path).endswith("stuck.html"):
            raise PermissionError(13, "Permission denied")
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    assert remove_ours(ours, tmp_path / BUILDS, BUILD_ID) is False
    assert sorted(os.listdir(ours)) == ["stuck.html"]


def test_a_kept_tree_is_skipped_not_the_end_of_the_search(tmp_path, monkeypatch):
    """Whatever order the folder lists its entries in: here the kept tree comes first."""
    for build in (OLD, NEW):
        (tmp_path / BUILDS / build).mkdir(parents=True)
    kept = tmp_path / BUILDS / NEW
    real_iterdir = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: iter(sorted(real_iterdir(self), key=lambda p: p != kept)))
    assert remove_leftovers(tmp_path, keep={kept}) == [f"{BUILDS}/{OLD}"]
    assert os.listdir(tmp_path / BUILDS) == [NEW]


def test_commit_leaves_the_staging_folder_to_the_build(tmp_path):
    """The session's scratch (its data snapshot) is still in use after a commit; the session removes it at its end."""
    _previous_build(tmp_path)
    (tmp_path / STAGING / NEW).mkdir(parents=True)
    tree = OutputTree(tmp_path, NEW)
    tree.commit()
    assert os.listdir(tmp_path / STAGING) == [NEW] and os.listdir(tmp_path / BUILDS) == [NEW]


def test_scratch_left_before_any_build_tree_existed_is_found(tmp_path):
    """The first build killed after its scratch was made: no builds/ folder yet, the scratch still goes."""
    (tmp_path / STAGING / OLD).mkdir(parents=True)
    assert remove_leftovers(tmp_path, keep=set()) == [f"{STAGING}/{OLD}"]
    assert os.listdir(tmp_path / STAGING) == []
