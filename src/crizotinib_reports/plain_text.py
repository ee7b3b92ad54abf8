"""Text from data files, shown as text: never a terminal command, a reordering of the line, or a formula.

A data cell can hold anything a CSV can: escape sequences that repaint a terminal, bidirectional
controls that make "74" read as "47" (Trojan Source), a NUL, Markdown (`[x](javascript:...)`,
`![x](.git/config)`, `$math$`), a spreadsheet formula (`=HYPERLINK(...)`). So:

* wherever such text reaches a reader outside the HTML (a terminal, a log, a mail body, changes.md),
  `visible` writes each invisible control as a visible escape instead;
* prose is a `ReportMarkdown`, built by `markdown(template, **values)`, which escapes every value:
  only the package's own template is read as Markdown;
* a table's CSV passes its text cells through `spreadsheet_safe`, so no cell is a formula.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable

#: Bidirectional controls (embeddings, overrides, isolates, marks): they reorder what a reader sees.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_invisible_control(char: str) -> bool:
    """C0 and C1 controls (tab and newline included), DEL, bidi controls, and other format characters."""
    return unicodedata.category(char) in ("Cc", "Cf") or char in BIDI_CONTROLS


def visible(text: object, keep_newlines: bool = False) -> str:
    """`text` with every control character written as an escape a reader can see (ESC -> '\\x1b')."""
    out = []
    for char in str(text):
        if keep_newlines and char == "\n":
            out.append(char)
        elif is_invisible_control(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


#: CommonMark lets a backslash escape any ASCII punctuation character, which then reads as itself: no
#: link, image, emphasis, HTML tag, list, heading or table; Jupyter's math (`$...$`) honours `\$` too.
_ASCII_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def markdown_escaped(value: object) -> str:
    """`value` as Markdown that displays exactly its text (controls made visible), interpreting nothing."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", visible(value))


class ReportMarkdown(str):
    """Markdown the package wrote, every data value in it escaped: the only text a report shows as Markdown.

    Build it with `markdown(template, **values)`; join pieces with `ReportMarkdown("\\n").join(parts)`,
    which escapes any part that is not a ReportMarkdown itself. Anything else (`+`, `%`, f-strings) gives a
    plain str, which a report shows as text: forgetting to escape shows Markdown marks, never runs them.
    """

    __slots__ = ()

    def join(self, parts: Iterable[object]) -> ReportMarkdown:  # type: ignore[override]
        return ReportMarkdown(str.join(self, (_as_markdown(part) for part in parts)))


def _as_markdown(value: object) -> str:
    return value if isinstance(value, ReportMarkdown) else markdown_escaped(value)


class _EscapingFormatter(string.Formatter):
    """str.format, with every replacement field formatted first (`{value:.1f}`), then escaped."""

    def format_field(self, value: object, format_spec: str) -> str:
        if isinstance(value, ReportMarkdown) and not format_spec:
            return value
        return markdown_escaped(format(value, format_spec))


def markdown(template: str, **values: object) -> ReportMarkdown:
    """The package's Markdown `template` (str.format syntax) with each value escaped, so data is shown as text.

    `markdown("- **{name}**: median PFS {months:.1f} months", name=trial_name, months=10.9)`; a value that
    is already a ReportMarkdown is inserted as it is.
    """
    return ReportMarkdown(_EscapingFormatter().vformat(template, (), values))


#: A spreadsheet reads a cell starting with these as a formula (OWASP, "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(cell: object) -> object:
    """A CSV cell that a spreadsheet shows rather than runs: formula-like text gets a leading `'`.

    `=HYPERLINK("http://evil")` -> `'=HYPERLINK("http://evil")`; a plain number such as `-5` or `-0.3`, and
    anything that is not text, is returned as it is.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
