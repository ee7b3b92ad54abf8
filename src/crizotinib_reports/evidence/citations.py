"""Citations: who reports each figure, where this bundle read it, and how well it was checked.

Every row of figures names (data/schema.yaml, "Attribution"):

* `source_id`, where this bundle read the figure (the review, a publication, a secondary summary);
* `primary_source_id`, the primary publication that reports it, when one is known;
* `verified_in_id`, the secondary summary a figure was checked in when no primary copy was seen;
* `verification`: primary (P), secondary (S), review only (R) or not verified (N);
* `review_section`, for a figure read in the review: the section whose closing reference the review
  cites for everything in it.

A figure is credited only to those sources. The review's section reference is shown as what it
is, "the review, which cites [2] for its section 'Clinical relapses'", never as the source of a
figure the cited paper cannot hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

LEVEL_MARKS = {"primary": "P", "secondary": "S", "review only": "R", "not verified": "N"}
LEVEL_MEANINGS = {
    "P": "seen in the primary publication or its abstract",
    "S": "seen only in a secondary summary (a regulator's review, a congress abstract or report, a review article)",
    "R": "stated by the review only; the reference it cites for that section is not known to report it",
    "N": "not verified: kept from earlier data and found in no source read; attributed to the publication named",
}
ATTRIBUTION_COLUMNS = ("source_id", "primary_source_id", "verified_in_id", "verification", "review_section")


@dataclass(frozen=True)
class Credit:
    """One figure's attribution, as its data row gives it."""

    read_in: str
    primary: tuple[str, ...] = ()
    verified_in: str | None = None
    level: str = "primary"
    section: str | None = None

    @property
    def mark(self) -> str:
        return LEVEL_MARKS[self.level]

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source this figure is credited to: where it was read, its primary, where it was checked."""
        return tuple(dict.fromkeys([self.read_in, *self.primary, *([self.verified_in] if self.verified_in else [])]))


def source_credit(sources: pd.DataFrame, source_id: str) -> Credit:
    """The credit of a figure read straight from one source (an arm size, say): primary when that source is a
    publication, secondary when it is a summary."""
    kind = source_row(sources, source_id)["kind"]
    if kind == "secondary summary":
        return Credit(source_id, (), source_id, "secondary")
    return Credit(source_id, (source_id,), None, "primary")


def _text(value: object) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def credit_of(row: pd.Series | dict) -> Credit:
    """The Credit of one data row (a Series or a mapping with the attribution columns)."""
    get = row.get
    primary = _text(get("primary_source_id"))
    return Credit(read_in=str(get("source_id")),
                  primary=tuple(p.strip() for p in primary.split(";")) if primary else (),
                  verified_in=_text(get("verified_in_id")), level=str(get("verification") or "primary"),
                  section=_text(get("review_section")))


def credits_of(frame: pd.DataFrame) -> list[Credit]:
    """The Credits of every row of a frame that carries the attribution columns."""
    return [credit_of(row) for _, row in frame.iterrows()]


def marks(credits: Iterable[Credit]) -> str:
    """The verification marks of the figures in one table row: 'P', or 'P, S' when they differ."""
    found = [c.mark for c in credits]
    return ", ".join(mark for mark in LEVEL_MARKS.values() if mark in found)


def _surnames(authors: str) -> list[str]:
    names = [a.strip() for a in authors.replace(" et al.", "").split(",") if a.strip()]
    return [n.split(" ")[0] for n in names]


def source_row(sources: pd.DataFrame, source_id: str) -> pd.Series:
    """The sources.csv row of one id (KeyError when none), found by position: a report names its sources a few
    thousand times, and indexing the frame by id copies all of it each time (a third of a report's own CPU)."""
    ids = sources["source_id"].tolist()
    position = next((i for i, value in enumerate(ids) if isinstance(value, str) and value == source_id), None)
    if position is None:
        raise KeyError(source_id)
    return sources.iloc[position]


def short_citation(sources: pd.DataFrame, source_id: str) -> str:
    """'Dagogo-Jack & Shaw 2016 [1]': what a source line names."""
    row = source_row(sources, source_id)
    if pd.notna(row.get("short_label")):
        label = str(row["short_label"])
    elif row["kind"] == "review":
        label = f"Review {row['year']}"
    else:
        surnames = _surnames(row["authors"])
        if "et al." in row["authors"]:
            who = f"{surnames[0]} et al."
        elif len(surnames) == 1:
            who = surnames[0]
        elif len(surnames) == 2:
            who = f"{surnames[0]} & {surnames[1]}"
        else:
            who = f"{surnames[0]} et al."
        label = f"{who} {row['year'] if pd.notna(row['year']) else 'n.d.'}"
    if pd.notna(row["ref_number"]):
        label += f" [{int(row['ref_number'])}]"
    return label


def credit_text(sources: pd.DataFrame, credit: Credit) -> str:
    """One figure's credit, compact: 'Review 2024 → Shaw et al. 2013 (P)', 'Review 2024 (R)'."""
    read = short_citation(sources, credit.read_in)
    primary = "; ".join(short_citation(sources, p) for p in credit.primary if p != credit.read_in)
    text = f"{read} → {primary}" if primary else read
    if credit.level == "secondary" and credit.verified_in and credit.verified_in != credit.read_in:
        return f"{text} (S, checked in {short_citation(sources, credit.verified_in)})"
    return f"{text} ({credit.mark})"


def section_reference(sources: pd.DataFrame, section: str) -> str | None:
    """The reference the review cites at the end of `section`, if any."""
    for source_id, cited_for in zip(sources["source_id"].tolist(), sources["cited_for_section"].tolist()):
        if isinstance(cited_for, str) and cited_for == section:
            return str(source_id)
    return None


def source_line(sources: pd.DataFrame, credits: Iterable[Credit]) -> str:
    """A table's or figure's source line: where its figures were read, their primary publications,
    where some were only checked, and the review's section references named as what they are."""
    credits = list(credits)
    read = list(dict.fromkeys(c.read_in for c in credits))
    review = set(sources.loc[sources["kind"] == "review", "source_id"])
    parts = []
    read_labels = []
    for source_id in read:
        label = short_citation(sources, source_id)
        if source_id in review:
            sections = list(dict.fromkeys(c.section for c in credits if c.read_in == source_id and c.section))
            cited = [(section, section_reference(sources, section)) for section in sections]
            notes = [f"which cites {short_citation(sources, ref)} for its section '{section.capitalize()}'"
                     for section, ref in cited if ref]
            if notes:
                label += f" ({'; '.join(notes)})"
        read_labels.append(label)
    parts.append("read in " + "; ".join(read_labels) + ".")
    primary = [p for c in credits for p in c.primary if p not in read]
    if primary:
        parts.append("Primary publications: " + "; ".join(short_citation(sources, p)
                                                          for p in dict.fromkeys(primary)) + ".")
    checked = [c.verified_in for c in credits if c.verified_in and c.verified_in not in read]
    if checked:
        parts.append("Checked in: " + "; ".join(short_citation(sources, s) for s in dict.fromkeys(checked)) + ".")
    counts = {mark: sum(c.mark == mark for c in credits) for mark in LEVEL_MARKS.values()}
    parts.append("Verification: " + ", ".join(f"{mark} {n}" for mark, n in counts.items() if n) + ".")
    cited = sources.set_index("source_id").loc[[s for c in credits for s in c.sources], "ref_number"]
    if cited.notna().any():
        parts.append("[n]: reference n of the review.")
    return "Source: " + " ".join(parts)


def cited_sources(sources: pd.DataFrame, credits: Iterable[Credit]) -> list[str]:
    """Every source a reference list needs for these figures: those credited, and the review's section references."""
    credits = list(credits)
    ids = [s for c in credits for s in c.sources]
    ids += [ref for c in credits if c.section for ref in [section_reference(sources, c.section)] if ref]
    return list(dict.fromkeys(ids))


def full_citation(row: pd.Series) -> str:
    """Vancouver-style reference from one sources.csv row."""
    parts = [] if row["authors"] == "Not stated" else [f"{row['authors'].rstrip('.')}."]
    parts.append(f"{row['title']}.")
    journal = f"{row['journal']}. {row['year'] if pd.notna(row['year']) else 'Undated'}"
    if pd.notna(row["volume"]):
        journal += f";{row['volume']}"
    if pd.notna(row["pages"]):
        journal += f":{row['pages']}"
    parts.append(journal + ".")
    if pd.notna(row["published"]):
        parts.append(f"Published {row['published']:%Y-%m-%d}.")
    if pd.notna(row.get("url")):
        parts.append(f"Available at {row['url']}")
    return " ".join(parts)
