"""Citations: short labels for source lines, full references for the reference list."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def _surnames(authors: str) -> list[str]:
    names = [a.strip() for a in authors.replace(" et al.", "").split(",") if a.strip()]
    return [n.split(" ")[0] for n in names]


def short_citation(sources: pd.DataFrame, source_id: str) -> str:
    """'Dagogo-Jack & Shaw 2016 [1]': what a table's source line names."""
    row = sources.set_index("source_id").loc[source_id]
    if row["authors"] == "Not stated":
        label = f"Review {row['year']}"
    else:
        surnames = _surnames(row["authors"])
        if "et al." in row["authors"]:
            who = f"{surnames[0]} et al."
        elif len(surnames) == 1:
            who = surnames[0]
        elif len(surnames) == 2 and "et al." not in row["authors"]:
            who = f"{surnames[0]} & {surnames[1]}"
        else:
            who = f"{surnames[0]} et al."
        label = f"{who} {row['year']}"
    if pd.notna(row["ref_number"]):
        label += f" [{int(row['ref_number'])}]"
    return label


def source_line(sources: pd.DataFrame, source_ids: Iterable[str]) -> str:
    """'Source: A 2016 [1]; B 2014 [3]. ([n]: reference n of the review)' for the ids, in first-seen order."""
    unique = list(dict.fromkeys(source_ids))
    labels = "; ".join(short_citation(sources, s) for s in unique)
    cited = sources.set_index("source_id").loc[unique, "ref_number"].notna().any()
    suffix = " ([n]: reference n of the review)" if cited else ""
    return f"Source: {labels}.{suffix}"


def full_citation(row: pd.Series) -> str:
    """Vancouver-style reference from one sources.csv row."""
    parts = [] if row["authors"] == "Not stated" else [f"{row['authors'].rstrip('.')}."]
    parts.append(f"{row['title']}.")
    journal = f"{row['journal']}. {row['year']}"
    if pd.notna(row["volume"]):
        journal += f";{row['volume']}"
    if pd.notna(row["pages"]):
        journal += f":{row['pages']}"
    parts.append(journal + ".")
    if pd.notna(row["published"]):
        parts.append(f"Published {row['published']:%Y-%m-%d}.")
    return " ".join(parts)
