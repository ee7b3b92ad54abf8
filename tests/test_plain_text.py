"""Data text reaches terminals, mail and Markdown as text: controls visible, nothing interpreted."""

from __future__ import annotations

import pytest

from crizotinib_reports.plain_text import visible


@pytest.mark.parametrize(("raw", "shown"), [
    ("ORR 74%", "ORR 74%"),
    ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),
    ("PROFILE \u202e4101", "PROFILE \\u202e4101"),
    ("a\x00b\x7fc", "a\\x00b\\x7fc"),
    ("line\nbreak\ttab", "line\\x0abreak\\x09tab"),
    ("crizotinib – 60.8% (95% CI 52.3–68.9)", "crizotinib – 60.8% (95% CI 52.3–68.9)"),
])
def test_controls_are_written_as_visible_escapes(raw, shown):
    assert visible(raw) == shown


def test_newlines_can_be_kept_for_multi_line_text():
    assert visible("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"
