"""Facts about trials come from the data, never from code or notebook prose: the direction of a hazard ratio from
its row's arms, the drugs a report may show from trials.csv, counts from what is shown, the bundle's reports
from the portfolio. A guard reads the notebooks and the evidence code for a trial fact typed back in."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crizotinib_reports.evidence import analysis, tables
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.notebook import open_report, other_reports
from crizotinib_reports.paths import DATA_DIR, NOTEBOOK_DIR
from crizotinib_reports.plain_text import ReportMarkdown
from crizotinib_reports.publish.portfolio import csv_rows, get_report, portfolio
from support.cli import cli
from support.cells import run_report

EVIDENCE_CODE = Path(__file__).resolve().parents[1] / "src" / "crizotinib_reports" / "evidence"


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def with_a_fifth_drug(data_dir: Path) -> str:
    """Add a landscape trial of a new drug against crizotinib to a copy of the data; return the drug. The schema
    lists the drugs a trial may test (a curator adds the new one there too)."""
    schema = (data_dir / "schema.yaml").read_text(encoding="utf-8")
    listed = "drug: {type: str, choices: [crizotinib, alectinib, brigatinib, lorlatinib, ensartinib"
    assert listed in schema
    (data_dir / "schema.yaml").write_text(schema.replace(listed, listed + ", fifthinib"), encoding="utf-8")
    trials = pd.read_csv(data_dir / "trials.csv", dtype=str, keep_default_na=False)
    fifth = trials[trials["trial_id"] == "crown"].assign(trial_id="fifth", trial_name="FIFTH", drug="fifthinib")
    pd.concat([trials, fifth]).to_csv(data_dir / "trials.csv", index=False)
    return "fifthinib"


def test_hazard_ratio_footnote_reads_direction_from_each_tables_rows(evidence):
    against_chemo = tables.landscape_table(evidence, comparator="chemotherapy")
    hr_notes = [n for n in against_chemo.footnotes if n.startswith("HR,")]
    rows = evidence.hazard_ratios[evidence.hazard_ratios["trial_id"].isin(against_chemo.data["trial_id"])
                                  & (evidence.hazard_ratios["endpoint"] == "PFS")]
    assert hr_notes == [f"HR, hazard ratio of {e} against {c}; below 1 favours {e}."
                        for e, c in dict.fromkeys(zip(rows["experimental_arm"], rows["control_arm"]))]
    assert "crizotinib against chemotherapy" in hr_notes[0] and "newer drug" not in hr_notes[0]
    newer = tables.landscape_table(evidence)
    assert any("against crizotinib; below 1 favours the newer drug" in n for n in newer.footnotes)


def test_a_fifth_drug_in_the_data_is_a_drug_the_report_shows_and_accepts(data_copy):
    drug = with_a_fifth_drug(data_copy)
    report = get_report("alk_inhibitor_landscape")
    report.check_against_data({"drugs": drug}, csv_rows(data_copy), "data")  # accepted: the data have it
    more = load_evidence(data_copy)
    assert drug in analysis.newer_drugs(more) and "FIFTH" in set(tables.landscape_table(more).data["trial_name"])


def test_the_drugs_check_and_the_report_share_one_definition(evidence, data_copy):
    """The items a `drugs` value may name are the report's newer drugs, read by the rule the metadata names, from
    the CSV text (the build, before any kernel) and from the loaded frames (the notebook): change the data and
    both follow."""
    (drugs,) = [p for p in get_report("alk_inhibitor_landscape").parameters if p.items is not None]
    assert drugs.name == "drugs" and drugs.items.name in analysis.PARAMETER_ITEMS
    assert drugs.items.allowed(csv_rows(DATA_DIR)(drugs.items.table)) == analysis.newer_drugs(evidence)
    assert drugs.items.allowed(evidence.trials.to_dict("records")) == analysis.newer_drugs(evidence)
    trials = pd.read_csv(data_copy / "trials.csv", dtype=str, keep_default_na=False)
    first = analysis.newer_drugs(evidence)[0]
    trials.loc[trials["drug"] == first, "comparator"] = "chemotherapy"  # no longer a newer drug
    trials.to_csv(data_copy / "trials.csv", index=False)
    assert first not in drugs.items.allowed(csv_rows(data_copy)(drugs.items.table))
    assert first not in analysis.newer_drugs(load_evidence(data_copy))


def test_every_items_from_names_a_list_the_evidence_defines():
    named = [(report.name, p.items.name) for report in portfolio().values() for p in report.parameters if p.items]
    assert named and all(name in analysis.PARAMETER_ITEMS for _, name in named), named


def test_listing_the_reports_and_checking_the_defaults_import_no_pandas():
    """The drugs rule lives in the evidence (pandas); the portfolio imports it only when a value names drugs."""
    code = ("import sys; from crizotinib_reports.publish.portfolio import csv_rows, portfolio; "
            "from crizotinib_reports.paths import DATA_DIR; r = portfolio()['alk_inhibitor_landscape']; "
            "r.check_against_data(r.defaults(), csv_rows(DATA_DIR), 'data'); print('pandas' in sys.modules); "
            "r.check_against_data({'drugs': 'alectinib'}, csv_rows(DATA_DIR), 'data'); print('pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_notebook_run_alone_refuses_a_drug_the_data_lack_in_one_line(evidence):
    namespace = {p.name: p.default for p in get_report("alk_inhibitor_landscape").parameters}
    namespace.update(data_dir=str(DATA_DIR), drugs="alectinib, aspirin")
    with pytest.raises(UsageError) as refused:
        open_report("alk_inhibitor_landscape", namespace)
    message = str(refused.value)
    assert "\n" not in message and "'aspirin'" in message and "'alectinib'" not in message
    assert message.endswith("comma-separated list of " + ", ".join(analysis.newer_drugs(evidence)))
    namespace["drugs"] = "alectinib"
    assert open_report("alk_inhibitor_landscape", namespace).parameters["drugs"] == "alectinib"


def test_cli_build_refuses_a_drug_the_data_lack_before_any_kernel(tmp_path, evidence):
    started = time.monotonic()
    result = cli("build", "alk_inhibitor_landscape", "--param", "drugs=aspirin", "--format", "html",
                 "--output-dir", str(tmp_path / "out"))
    assert result.returncode != 0 and time.monotonic() - started < 60
    lines = [line for line in result.stderr.splitlines() if "aspirin" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert ", ".join(analysis.newer_drugs(evidence)) in lines[0]
    assert not list((tmp_path / "out").rglob("*.ipynb"))  # no notebook ran


def prose_of(shown) -> str:
    return "\n".join(str(item) for item in shown if isinstance(item, (ReportMarkdown, str)))


def test_second_line_prose_counts_and_names_only_what_is_shown(evidence):
    shown = run_report("clinical_activity", setting="second-line", include_single_arm=False, show_pooled_orr=False)
    # A finding keeps its source's words ('Both phase III trials ...') and says which of its trials are not shown.
    text = "\n".join(line for line in prose_of(shown).splitlines() if "Not among the trials this report shows" not in line)
    second = analysis.select_trials(evidence.trials, "second-line", include_single_arm=False)
    hidden = evidence.trials[~evidence.trials["trial_id"].isin(second["trial_id"])]
    assert list(second["trial_name"]) == ["PROFILE 1007"] and "PROFILE 1007" in text
    assert not re.search(r"\b(two|three|both)\b[^.]*\b(randomi[sz]ed|phase III)\b", text, re.IGNORECASE)
    for line in text.splitlines():  # a hidden trial is named only where the prose says it is not shown
        assert not [name for name in hidden["trial_name"] if re.search(rf"\b{re.escape(name)}\b", line)], line
    populations = [item.population for item in shown if hasattr(item, "population") and "trial" in item.population]
    counts = [int(n) for p in populations for n in re.findall(r"(\d+) (?:phase \w+ )?trials?\b(?! arm)", p)]
    assert counts and set(counts) == {len(second)}, populations
    assert not [p for p in populations if re.search(r"\b1 (?:phase \w+ )?trials\b", p)], populations


def test_overview_lists_every_other_report_of_the_portfolio():
    shown = run_report("overview")
    (listed,) = [str(item).splitlines() for item in shown if str(item) == str(other_reports(get_report("overview")))]
    others = [r for r in portfolio().values() if r.name != "overview"]
    assert len(listed) == len(others) >= 4
    plain = [re.sub(r"\\(.)", r"\1", line) for line in listed]
    assert all(any(line.startswith(f"- **{r.title}**: {r.description}") for line in plain) for r in others), plain


# --- the guard: no trial fact typed into notebooks or evidence code -------------------------------------

def typed_trial_facts(evidence) -> list[str]:
    """What only the data may say: trial names, the newer drugs, the trials' populations."""
    t = evidence.trials
    facts = set(t["trial_name"]) | set(analysis.newer_drugs(evidence)) | set(t["population"].dropna()) | {"East Asian"}
    return sorted(facts, key=len, reverse=True)


def notebook_texts(notebook_dir: Path = NOTEBOOK_DIR) -> list[tuple[str, str]]:
    """(where, text) of every cell and the metadata description of every notebook."""
    found = []
    for path in sorted(Path(notebook_dir).glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        found += [(f"{path.name} cell {c.get('id')}", "".join(c["source"])) for c in notebook["cells"]]
        found.append((f"{path.name} metadata", json.dumps(notebook["metadata"].get("crizotinib_reports", {}))))
    return found


def code_strings(folder: Path) -> list[tuple[str, str]]:
    """(where, text) of every string literal in the evidence code, docstrings and comments aside (they explain)."""
    found = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found += [(f"{path.name}:{node.lineno}", node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]
    return found


def typed_facts_in(texts: list[tuple[str, str]], facts: list[str]) -> list[str]:
    return [f"{where}: {fact!r}" for where, text in texts for fact in facts
            if re.search(rf"(?<![\w-]){re.escape(fact)}(?![\w-])", text, re.IGNORECASE)]


def test_no_trial_fact_is_typed_in_notebooks_or_evidence_code(evidence):
    facts = typed_trial_facts(evidence)
    assert "PROFILE 1029" in facts and "lorlatinib" in facts
    assert typed_facts_in(notebook_texts(), facts) == []
    assert typed_facts_in(code_strings(EVIDENCE_CODE), facts) == []


def test_the_guard_finds_a_typed_fact(tmp_path, evidence):
    """The guard can fail: a trial name typed into a notebook's prose and a drug into code are found."""
    shutil.copytree(NOTEBOOK_DIR, tmp_path / "notebooks")
    path = tmp_path / "notebooks" / "alk_inhibitor_landscape.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["cells"][0]["source"].append("\n\nCROWN and ALEX used crizotinib as control.")
    path.write_text(json.dumps(notebook), encoding="utf-8")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "typed.py").write_text('"""Docstrings may name lorlatinib."""\nNOTE = "favours lorlatinib"\n')
    facts = typed_trial_facts(evidence)
    assert typed_facts_in(notebook_texts(tmp_path / "notebooks"), facts) == [
        "alk_inhibitor_landscape.ipynb cell " + notebook["cells"][0]["id"] + ": 'CROWN'",
        "alk_inhibitor_landscape.ipynb cell " + notebook["cells"][0]["id"] + ": 'ALEX'"]
    assert typed_facts_in(code_strings(tmp_path / "code"), facts) == ["typed.py:2: 'lorlatinib'"]
