"""End to end: the real CLI runs the real notebooks with papermill; we read what a person gets."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from crizotinib_reports.evidence.data import data_file_hashes
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.publish.portfolio import portfolio
from support.cli import cli
from support.pdfs import file_page_texts
from support.stand_ins import stand_in_folder

REPORTS = portfolio()

pytestmark = pytest.mark.e2e

# The review's figures, as the reports must show them (an independent list, not read from data/).
SEED_FIGURES = {
    "overview": ["61%", "119", "50%", "136", "7.7 months", "3.0 months", "65%", "20%", "10.9 months", "7.0 months",
                 "74%", "45%", "2011-08-26", "2013-11-20", "2015-11-24", "91%", "11.3 months", "22-36%",
                 "approximately two-thirds", "first year", "over 6 years", "CNS", "Oligoprogression", "PROFILE 1007",
                 "cMET, ALK and ROS1"],
    "clinical_activity": ["61%", "119", "50%", "136", "7.7", "3.0", "65%", "20%", "10.9", "7.0", "74%", "45%",
                          "PROFILE 1007", "PROFILE 1014", "second-line", "first-line", "single-agent chemotherapy",
                          "platinum-based combination chemotherapy", "quality of life", "73 of 119", "68 of 136"],
    "clinical_relapses": ["first year", "6 years", "multiple sites", "CNS", "blood-brain barrier", "oligoprogression",
                          "local ablative therapy", "resuming crizotinib", "majority of cases"],
    "alk_inhibitor_landscape": ["CNS", "blood-brain barrier", "10.9"],
    "methods_appendix": ["sources.csv", "outcomes.csv", "61/100 × 119 = 72.59", "Clopper-Pearson", "Newcombe",
                         "DerSimonian–Laird", "doi:10.1056/NEJMoa1214886"],
    "resistance_mechanisms": ["91%", "11.3 months", "22–36%", "L1196M", "C1156Y", "copy number gain", "EGFR", "KIT",
                              "EGFR ligands", "neuregulin", "EMT", "two-thirds", "Bypass tracks", "Paracrine factors"],
}
CITATIONS = {
    "overview": ["Dagogo-Jack & Shaw 2016 [1]", "Camidge et al. 2012 [2]", "Solomon et al. 2014 [3]"],
    "clinical_activity": ["Dagogo-Jack & Shaw 2016 [1]", "Ann Oncol. 2016"],
    "clinical_relapses": ["Camidge et al. 2012 [2]", "Lancet Oncol. 2012"],
    "resistance_mechanisms": ["Solomon et al. 2014 [3]", "N Engl J Med. 2014"],
    "methods_appendix": ["Shaw et al. 2013", "Malik et al. 2014", "Clin Cancer Res. 2014"],
    "alk_inhibitor_landscape": ["Wu et al. 2018", "Peters et al. 2017", "Mok et al. 2020", "Hida et al. 2017",
                                "Camidge et al. 2018", "Camidge et al. 2020", "Shaw et al. 2020", "Horn et al. 2021",
                                "Zhou et al. 2024", "Nakagawa et al. 2020", "Hotta et al. 2022", "Solomon et al. 2024",
                                "J Thorac Oncol. 2018;13(10):1539-1548", "JAMA Oncol. 2021;7(11)"],
}
# Figures the review does not give (issue 3), with their sources, where a reader meets them.
ADDED_FIGURES = {
    "clinical_activity": ["52–70%", "42–59%", "Shaw et al. 2013", "Malik et al. 2014", "Exploratory", "FLAG"],
    "overview": ["0.49 (95% CI 0.37–0.64)", "0.45 (95% CI 0.35–0.60)"],
    # Every figure of the landscape issue's table (defaults: primary analysis, all drugs).
    # The landscape issue's figures outside its main table (those are read row by row: TABLE_ROWS).
    "alk_inhibitor_landscape": [
        "68.4%", "48.7%",  # ALEX
        "0.43 (95% CI 0.32–0.58)", "34.8 / 10.9", "0.67 (95% CI 0.46–0.98)", "62.5%", "45.5%",  # update
        "0.33 (95% CI 0.23–0.49)", "66.4%", "56.1%",  # ALESIA
        "0.37 (95% CI 0.26–0.52)", "34.1 / 10.2", "1.03 (95.0405% CI 0.67–1.58)", "60.9%", "64.1%", "78.8%",  # J-ALEX
        "0.81 (95% CI 0.53–1.22)",  # ALTA-1L final OS
        "0.19 (95% CI 0.13–0.27)", "60%", "8%",  # CROWN 5-year
        "alectinib 300 mg", "Japanese", "Asian", "investigator", "independent review",
        "78%", "29%",  # ALTA-1L
        "0.49 (95% CI 0.35–0.68)",  # ALTA-1L second interim
        "78%", "39%", "82%", "23%",  # CROWN
        "64%", "21%",  # eXalt3
    ],
}
# Figures of the tables where a number means something only in its row: each table (by the start of its title),
# each row (by the start of the cells that name its trial and arm, or of its trial's group heading) and, column by
# column (by the start of the column's label), what its cell holds. Typed from the publications, like the lists
# above, not read from data/.
TABLE_ROWS = {
    "clinical_activity": {
        "Efficacy of crizotinib by trial and arm": {
            ("Phase I trial", "primary", "crizotinib"): {"N": "119", "ORR": "61%", "Responders": "73 of 119"},
            ("Phase II trial", "primary", "crizotinib"): {"N": "136", "ORR": "50%", "Responders": "68 of 136"},
            ("PROFILE 1007", "crizotinib"): {"N": "173", "ORR": "65%", "Median PFS": "7.7"},
            ("PROFILE 1007", "chemotherapy"): {"N": "174", "ORR": "20%", "Median PFS": "3.0"},
            ("PROFILE 1014", "crizotinib"): {"N": "172", "ORR": "74%", "Median PFS": "10.9"},
            ("PROFILE 1014", "chemotherapy"): {"N": "171", "ORR": "45%", "Median PFS": "7.0"},
        },
        "Crizotinib against chemotherapy: between-arm comparisons": {
            ("PROFILE 1007",): {"N": "173 / 174", "ORR (": "65% / 20%", "PFS HR": "0.49 (95% CI 0.37–0.64)"},
            ("PROFILE 1014",): {"N": "172 / 171", "ORR (": "74% / 45%", "PFS HR": "0.45 (95% CI 0.35–0.60)"},
        },
    },
    "alk_inhibitor_landscape": {
        "First-line trials of": {
            ("ALEX",): {"N": "152 / 151", "PFS HR": "0.47 (95% CI 0.34–0.65)", "Median PFS": "not reached / 11.1",
                        "ORR": "82.9% (76.0–88.5) / 75.5%", "Harms": "alectinib 41% / crizotinib 50%"},
            ("J-ALEX",): {"N": "103 / 104", "PFS HR": "0.34 (99.7% CI 0.17–0.71)", "Median PFS": "not reached / 10.2"},
            ("ALESIA",): {"N": "125 / 62", "PFS HR": "0.22 (95% CI 0.13–0.38)"},
            ("ALTA-1L",): {"N": "137 / 138", "PFS HR": "0.49 (95% CI 0.33–0.74)", "Median PFS": "24.0 / 11.0",
                           "ORR": "71% (62.4–78.3) / 60%"},
            ("CROWN",): {"N": "149 / 147", "PFS HR": "0.28 (95% CI 0.19–0.41)", "Median PFS": "not reached / 9.3",
                         "ORR": "76% (68.2–82.5) / 58%"},
            ("eXalt3",): {"N": "143 / 147", "PFS HR": "0.51 (95% CI 0.35–0.72)", "Median PFS": "25.8 / 12.7"},
        },
        "Crizotinib against chemotherapy: PROFILE 1029": {
            ("PROFILE 1029",): {"N": "104 / 103", "PFS HR": "0.402 (95% CI 0.286–0.565)", "Median PFS": "11.1 / 6.8",
                                "ORR": "87.5% (79.6–93.2) / 45.6%"},
        },
    },
}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_text(output_dir: Path, name: str) -> str:
    soup = BeautifulSoup((output_dir / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    return normalise(soup.get_text(" "))


def pdf_text(output_dir: Path, name: str) -> str:
    return normalise(" ".join(file_page_texts(output_dir / name / f"{name}.pdf")))


def test_build_exits_0_and_says_what_it_built(built):
    output, result = built
    assert result.returncode == 0, result.stderr
    assert f"built {len(REPORTS)}, unchanged 0, failed 0 of {len(REPORTS)} reports" in result.stdout
    for name in REPORTS:
        assert f"{name}: built ipynb, html, pdf and" in result.stderr


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_has_notebook_html_and_pdf(output_dir, name):
    folder = output_dir / name
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{name}.{ext}" for ext in ("html", "ipynb", "pdf")]
                                                              + ["tables"])
    notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in code)
    assert (folder / f"{name}.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("name", list(REPORTS))
def test_seed_figures_and_citations_in_html_and_pdf(output_dir, name):
    for text in (html_text(output_dir, name), pdf_text(output_dir, name)):
        # PDF text breaks lines inside table cells; a review's word may start a label ('Oligoprogression').
        compact = re.sub(r"\s+", "", text).casefold()
        for figure in SEED_FIGURES[name] + CITATIONS[name] + ADDED_FIGURES.get(name, []):
            assert re.sub(r"\s+", "", figure).casefold() in compact, f"{name}: {figure!r} missing"


def html_tables(output_dir: Path, name: str) -> dict[str, list[dict[str, str]]]:
    """Each table of a report's HTML, by title: its rows as {column label: cell text}, with the row's group
    heading (a grouped table's trial or design) under the key ''."""
    soup = BeautifulSoup((output_dir / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    found = {}
    for table in soup.select("table.gt_table"):
        columns = [normalise(th.get_text(" ", strip=True)) for th in table.select("thead th.gt_col_heading")]
        rows, group = [], ""
        for tr in table.select("tbody tr"):
            heading = tr.select_one("th.gt_group_heading")
            if heading is not None:
                group = normalise(heading.get_text(" ", strip=True))
                continue
            cells = [normalise(td.get_text(" ", strip=True)) for td in tr.find_all("td")]
            assert len(cells) == len(columns), (name, columns, cells)
            rows.append({"": group, **dict(zip(columns, cells))})
        title = normalise(table.select_one(".gt_title").get_text(" ", strip=True))
        found[re.sub(r"^Table \d+\.\d+\. ", "", title)] = rows  # by title, whatever its number
    return found


def starts(cell: str, start: str) -> bool:
    """The cell is `start`, or begins with it as a whole word ('PROFILE 1007 (second-line, ...)', 'ALEX: ...')."""
    return re.match(rf"{re.escape(start)}(?![\w-])", cell) is not None


@pytest.mark.parametrize("name", list(TABLE_ROWS))
def test_each_figure_sits_in_the_row_of_its_trial_and_arm(output_dir, name):
    tables = html_tables(output_dir, name)
    for title_start, expected in TABLE_ROWS[name].items():
        (title,) = [t for t in tables if t.startswith(title_start)]
        rows = tables[title]
        for key, cells in expected.items():
            matching = [r for r in rows if all(any(starts(v, k) for v in r.values()) for k in key)]
            assert len(matching) == 1, f"{name} / {title}: {len(matching)} rows for {key}"
            for column_start, figure in cells.items():
                (column,) = [c for c in matching[0] if c.startswith(column_start)]
                assert figure in matching[0][column], f"{name} / {title} / {key} / {column}: {figure!r} missing"


@pytest.mark.parametrize("name", list(REPORTS))
def test_html_is_offline_code_free_and_images_have_alt_text(output_dir, name):
    html = (output_dir / name / f"{name}.html").read_text(encoding="utf-8")
    # Nothing that loads: no remote script, stylesheet, image or frame (plain <a> links would load nothing).
    assert not re.search(r"""<(script|link|img|iframe|source|video|audio)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""",
                         html, re.I)
    assert not re.search(r"""(@import|url\()\s*["']?(https?:)?//""", html)
    assert "open_report(" not in html  # code cells hidden
    soup = BeautifulSoup(html, "html.parser")
    images = soup.find_all("img")
    assert images or name == "methods_appendix", "every section report has at least one figure"
    assert all(img.get("alt") for img in images)
    assert soup.title.string == REPORTS[name].title


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_table_has_a_source_line_and_a_csv(output_dir, name):
    soup = BeautifulSoup((output_dir / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    tables = soup.select("table.gt_table")
    assert tables
    csvs = sorted(p.stem for p in (output_dir / name / "tables").glob("*.csv"))
    assert len(csvs) == len(tables)
    for table in tables:
        notes = [normalise(n.get_text(" ")) for n in table.select(".gt_sourcenote")]
        assert any(n.startswith("Source: ") for n in notes), table.select_one(".gt_title").get_text()
        assert table.select_one(".gt_title").get_text(strip=True) and table.select_one(".gt_subtitle").get_text(strip=True)
    manifest = json.loads((output_dir / "manifest.json").read_text())
    assert sorted(k[len("tables/"):-4] for k in manifest["reports"][name]["outputs"] if k.startswith("tables/")) == csvs


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_ends_with_provenance(output_dir, name):
    text = html_text(output_dir, name)
    provenance = text[text.rindex("Provenance"):]
    hashes = data_file_hashes(DATA_DIR)
    assert "crizotinib-reports 0.1.0" in provenance
    # Each of the report's own parameters with its value (the defaults here); no other report's.
    own = {p.name for p in REPORTS[name].parameters if p.names_folder and p.name != "data_dir"}
    for parameter in own:
        assert f"{parameter}={REPORTS[name].defaults()[parameter]}" in provenance, parameter
    others = {p.name for report in REPORTS.values() for p in report.parameters} - own - {"data_dir", "changes_file"}
    assert others and not [p for p in others if f"{p}=" in provenance]
    # The data files the report reads (declared in reports.py), each with its hash; no others.
    for file_name, digest in hashes.items():
        listed = f"{file_name} {digest[:12]}" in provenance
        assert listed == (file_name == "schema.yaml" or file_name[:-4] in REPORTS[name].tables), file_name
    assert "Provenance" in pdf_text(output_dir, name)


def test_table_csv_holds_the_numbers(output_dir):
    import pandas as pd

    efficacy = pd.read_csv(output_dir / "clinical_activity" / "tables" / "efficacy.csv")
    phase1 = efficacy[efficacy["trial_id"] == "phase1"].iloc[0]
    assert phase1["responders_derived"] == 73 and round(phase1["ci_low_pct"], 1) == 52.0
    comparisons = pd.read_csv(output_dir / "clinical_activity" / "tables" / "comparisons.csv")
    assert list(comparisons["pfs_hazard_ratio"]) == [0.49, 0.45]


@pytest.mark.parametrize("name", list(REPORTS))
def test_pdf_has_page_numbers_running_title_and_outline(output_dir, name):
    reader = PdfReader(output_dir / name / f"{name}.pdf")
    pages = [normalise(text) for text in file_page_texts(output_dir / name / f"{name}.pdf")]
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert all(REPORTS[name].title in page for page in pages)
    outline = [item["/Title"] for item in reader.outline if not isinstance(item, list)]
    assert REPORTS[name].title in outline
    assert reader.outline and any(isinstance(item, list) and item for item in reader.outline)  # sections nested


def test_manifest_records_parameters_hashes_versions_timings(output_dir):
    manifest = json.loads((output_dir / "manifest.json").read_text())
    assert set(manifest["reports"]) == set(REPORTS)
    for name, entry in manifest["reports"].items():
        hashes = data_file_hashes(DATA_DIR, REPORTS[name].tables)
        assert entry["status"] == "built" and entry["report"] == name and entry["variant"] == {}
        assert entry["inputs"]["data"] == hashes and entry["rebuilt_because"]
        assert {key: value for key, value in entry["parameters"].items() if key != "data_dir"} == {
            key: value for key, value in REPORTS[name].defaults().items() if key != "data_dir"}
        assert entry["data"]["sha256"] == hashes
        assert entry["versions"]["papermill"] and entry["versions"]["weasyprint"]
        assert entry["seconds"]["execute"] > 0 and entry["seconds"]["pdf"] > 0
        for fmt in ("ipynb", "html", "pdf"):
            record = entry["outputs"][f"{name}.{fmt}"]
            data = (output_dir / name / f"{name}.{fmt}").read_bytes()
            assert len(data) == record["bytes"] and hashlib.sha256(data).hexdigest() == record["sha256"]


def test_parameters_reach_the_report(tmp_path):
    result = cli("build", "clinical_activity", "--format", "html", "--output-dir", str(tmp_path),
                 "--param", "setting=second-line", "--param", "confidence_level=0.9", "--param",
                 "include_single_arm=false", "--param", "show_pooled_orr=false")
    assert result.returncode == 0, result.stderr
    # A parameter set other than the defaults has its own folder, named from what differs.
    folder = ("clinical_activity--confidence_level-0.9--setting-second-line--include_single_arm-false"
              "--show_pooled_orr-false")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted([
        "current", folder, "manifest.json", "SHA256SUMS"])
    text = html_text(tmp_path, folder)
    # PROFILE 1014 (first-line) is named only where a finding from the review about both trials says it is
    # not among the trials this report shows.
    out_of_scope = "Not among the trials this report shows: PROFILE 1014."
    assert "PROFILE 1007" in text and out_of_scope in text and "Phase II trial" not in text
    assert "PROFILE 1014" not in text.replace(out_of_scope, "").replace("PROFILE 1007 and PROFILE 1014:", "")
    assert "90% CI" in text and "Exploratory" not in text
    assert not (tmp_path / folder / f"{folder}.pdf").exists()
    assert not (tmp_path / folder / "tables" / "pooled_orr.csv").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["reports"][folder]["parameters"]["setting"] == "second-line"
    assert manifest["reports"][folder]["variant"] == {"confidence_level": 0.9, "setting": "second-line",
                                                      "include_single_arm": False, "show_pooled_orr": False}


def test_failed_report_keeps_previous_output_and_the_others_build(tmp_path):
    notebooks = stand_in_folder(tmp_path / "notebooks", ["overview", "clinical_relapses"])
    output = tmp_path / "out"
    first = cli("build", "overview", "clinical_relapses", "--format", "html", "--output-dir", str(output),
                "--notebook-dir", str(notebooks))
    assert first.returncode == 0, first.stderr
    good = (output / "overview" / "overview.html").read_bytes()

    broken = nbformat.read(notebooks / "overview.ipynb", as_version=4)
    broken.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('planted failure')"))
    nbformat.write(broken, notebooks / "overview.ipynb")
    second = cli("build", "overview", "clinical_relapses", "--format", "html", "--output-dir", str(output),
                 "--notebook-dir", str(notebooks))
    assert second.returncode == 1
    assert (f"FAILED overview: {notebooks / 'overview.ipynb'} cell {len(broken.cells)} "
            f"(\"raise RuntimeError('planted failure')\") raised RuntimeError: planted failure") in second.stderr
    assert "Traceback" not in second.stderr
    assert (output / "overview" / "overview.html").read_bytes() == good
    failed = nbformat.read(output / "failed" / "overview.ipynb", as_version=4)
    assert any(o.output_type == "error" for o in failed.cells[-1].outputs)
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["reports"]["overview"]["status"] == "failed"
    assert manifest["reports"]["clinical_relapses"]["status"] == "built"
    assert not list(output.rglob("*.tmp"))
