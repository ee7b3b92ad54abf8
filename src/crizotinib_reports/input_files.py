"""Every input has a size bound; only regular files are read.

A path given for a data table, the schema, a variants file or a mail setting could name a FIFO
(reading it blocks forever), a device (endless), a folder, or a file far larger than any real
one; a YAML file could hold an alias bomb (440 bytes that expand to gigabytes). Each is refused
here before or while it is read, with one line naming the file and what to do.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import Any

from .exceptions import UsageError
from .paths import SCHEMA_FILE_NAME, display_path

KIB = 1024
MIB = 1024 * KIB

#: The most each kind of input may hold: far above any real file, far below what could exhaust the machine.
#: (YAML is parsed in pure Python at about 50 KiB a second at worst: 256 KiB is a few seconds.)
DATA_FILE_LIMIT = 16 * MIB  # one CSV table (the largest today is 4 KiB)
SCHEMA_FILE_LIMIT = 256 * KIB  # data/schema.yaml (8 KiB today)
VARIANTS_FILE_LIMIT = 256 * KIB  # --variants FILE.yaml
MAIL_FILE_LIMIT = 64 * KIB  # --mail-config FILE.ini and the password_file it names
#: YAML nesting deeper than this is refused (PyYAML composes nodes recursively; ours nest 4 deep).
YAML_MAX_DEPTH = 50

_CHUNK = 1 * MIB
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class InputFileError(UsageError):
    """An input file that cannot be read as one: the message is one line; `reason` and `line` locate it."""

    def __init__(self, message: str, *, shown: str, reason: str, line: int | None = None):
        super().__init__(message)
        self.shown = shown
        self.reason = reason
        self.line = line


def _refuse(what: str, path: Path, reason: str, line: int | None = None) -> InputFileError:
    shown = display_path(path)
    where = shown if line is None else f"{shown}, line {line}"
    return InputFileError(f"{what} {where}: {reason}", shown=shown, reason=reason, line=line)


def _size(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    return f"{limit // KIB} KiB" if limit % KIB == 0 else f"{limit} bytes"


def _unreadable(what: str, path: Path, exc: OSError) -> InputFileError:
    shown, why = display_path(path), exc.strerror or str(exc)
    return InputFileError(f"cannot read {what} {shown}: {why}; check the path given for it",
                          shown=shown, reason=f"cannot be read ({why}); check the path given for it")


def read_input_bytes(path: Path | str, *, limit: int, what: str) -> bytes:
    """The file's bytes, if it is a regular file of at most `limit` bytes; never blocks on a FIFO or device."""
    path = Path(path)
    not_regular = "is {}, not a regular file; give the path of a plain file"
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:  # (where a folder cannot be opened at all)
        raise _refuse(what, path, not_regular.format("a folder")) from None
    except OSError as exc:
        raise _unreadable(what, path, exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(what, path, not_regular.format(
                next((kind for test, kind in _FILE_KINDS if test(mode)), "a special file")))
        chunks, size = [], 0
        while size <= limit:  # at most limit + 1 bytes: enough to know the file is too large
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _refuse(what, path, f"is larger than {_size(limit)}, more than a {what} ever holds; "
                                      f"check that the path names the right file")
        return b"".join(chunks)
    except OSError as exc:
        raise _unreadable(what, path, exc) from None
    finally:
        os.close(fd)


def read_input_text(path: Path | str, *, limit: int, what: str) -> str:
    """The file as UTF-8 text (a leading byte-order mark is dropped); bytes that are not UTF-8 name their line."""
    data = read_input_bytes(path, limit=limit, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _refuse(what, Path(path), "not valid UTF-8 text; save the file as UTF-8", line) from None


def load_input_yaml(path: Path | str, *, limit: int, what: str) -> Any:
    """Plain YAML data: no anchors or aliases, no key twice in a mapping, no deep nesting, bounded size."""
    return parse_input_yaml(read_input_text(path, limit=limit, what=what), path, what=what)


def parse_input_yaml(text: str, path: Path | str, *, what: str) -> Any:
    """`load_input_yaml` on text already read within its bounds; `path` names the file in a refusal."""
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 (a SafeLoader subclass)
    except _Refused as exc:
        raise _refuse(what, Path(path), exc.problem, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise _refuse(what, Path(path), f"not valid YAML ({problem}); fix the syntax",
                      mark.line + 1 if mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise _refuse(what, Path(path), f"not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None


class _Refused(Exception):
    """Something valid YAML allows but our files never need, found at `line`."""

    def __init__(self, problem: str, mark: Any):
        super().__init__(problem)
        self.problem = problem
        self.line = mark.line + 1


@functools.cache
def _strict_loader() -> type:
    """yaml.SafeLoader refusing anchors, aliases, duplicate keys and deep nesting; built on first use."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """Anchors and aliases are refused as they are composed, so an alias bomb never expands."""

        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                raise _Refused(f"YAML alias *{event.anchor} is not accepted; write the value out instead",
                               event.start_mark)
            if getattr(event, "anchor", None) is not None:
                raise _Refused(f"YAML anchor &{event.anchor} is not accepted; write the value out instead",
                               event.start_mark)
            if self._depth >= YAML_MAX_DEPTH:
                raise _Refused(f"nested more than {YAML_MAX_DEPTH} levels deep; flatten it", event.start_mark)
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' is not a key of the mapping itself
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first_line.get(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader says so itself
                if seen is not None:
                    raise _Refused(f"key {key!r} appears twice in the same mapping (first on line {seen}); "
                                   f"keep one", key_node.start_mark)
                first_line[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep)

    return StrictLoader


def check_data_dir(data_dir: Path) -> None:
    """A missing folder or a file given as the data folder is one line, not a 'schema file not found'."""
    if data_dir.is_dir():
        return
    shown = display_path(data_dir)
    state = "is a file, not a folder" if data_dir.exists() else "does not exist"
    raise UsageError(f"data folder {shown} {state}; pass --data-dir with the folder of the CSV tables and "
                     f"{SCHEMA_FILE_NAME}")
