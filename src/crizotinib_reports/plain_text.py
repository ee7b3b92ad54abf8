"""Text from data files, shown as text: never a terminal command, a reordering of the line, or a formula.

A data cell can hold anything a CSV can: escape sequences that repaint a terminal, bidirectional
controls that make "74" read as "47" (Trojan Source), a NUL. Wherever such text reaches a reader
outside the HTML (a terminal, a log, a mail body, changes.md), `visible` writes each invisible
control as a visible escape instead.
"""

from __future__ import annotations

import unicodedata

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
