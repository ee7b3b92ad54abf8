"""The PDFs declare and meet the standards they claim, as pypdf reads them (veraPDF is not available here).

Each report's PDF is PDF/UA-1: tagged (headings, tables with header cells, figures with their alt text),
in English, titled in the viewer, page furniture as artifacts. The run's combined PDF is PDF/A-3a
carrying every table's CSV byte for byte, the build manifest and the run record (``--pdf-profile
archival``), or PDF/UA-1 carrying nothing (``plain``). Fast tests print tiny pages; the e2e ones read
the shared build.
"""

from __future__ import annotations

import io
import json
import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import weasyprint
from bs4 import BeautifulSoup
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from crizotinib_reports.publish.build import Builder, ReportResult
from crizotinib_reports.publish.combine import CombinedReport, PDFAttachment, combined_pdf
from crizotinib_reports.publish.portfolio import portfolio
from crizotinib_reports.publish.progress import LogLines
from crizotinib_reports.publish.render import print_pdf
from crizotinib_reports.publish.runs import RUN_RECORD_ATTACHMENT, Runner, _shareable_json

REPORTS = portfolio()
LOG = logging.getLogger(__name__)
WHEN = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
PDFUAID = "http://www.aiim.org/pdfua/ns/id/"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
MACHINE_PATH = re.compile(r"/(?:tmp|work|home|root)/")
# A 1x1 PNG: a figure needs a raster in the page.
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
         "awAAAABJRU5ErkJggg==")


# ---------------------------------------------------------------- reading a PDF as a checker would


def xmp_values(reader: PdfReader, namespace: str, name: str) -> list[str]:
    """Values of an XMP property, written as an attribute of rdf:Description or as its child element."""
    root = ET.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())
    found = []
    for description in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        if f"{{{namespace}}}{name}" in description.attrib:
            found.append(description.attrib[f"{{{namespace}}}{name}"])
        found.extend(child.text for child in description.iter(f"{{{namespace}}}{name}"))
    return found


def dc_title(reader: PdfReader) -> list[str]:
    root = ET.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())
    return [li.text for title in root.iter("{http://purl.org/dc/elements/1.1/}title")
            for li in title.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")]


def kids(element: DictionaryObject) -> list:
    k = element.get("/K")
    return list(k) if isinstance(k, ArrayObject) else [] if k is None else [k]


def structure(reader: PdfReader) -> list[tuple[DictionaryObject, int | None]]:
    """Every structure element the tree reaches, with its page (index), in document order."""
    pages = {page.indirect_reference.idnum: i for i, page in enumerate(reader.pages)}
    found: list[tuple[DictionaryObject, int | None]] = []

    def walk(element: DictionaryObject, page: int | None) -> None:
        if "/Pg" in element:
            page = pages[element.raw_get("/Pg").idnum]
        found.append((element, page))
        for kid in kids(element):
            if not isinstance(kid, int):
                kid = kid.get_object()
                if isinstance(kid, DictionaryObject) and "/S" in kid:
                    walk(kid, page)

    for top in kids(reader.trailer["/Root"]["/StructTreeRoot"].get_object()):
        walk(top.get_object(), None)
    return found


def of_type(elements: list, kind: str) -> list[DictionaryObject]:
    return [element for element, _ in elements if element["/S"] == kind]


def descendants(element: DictionaryObject) -> list[DictionaryObject]:
    out = []
    for kid in kids(element):
        if not isinstance(kid, int):
            kid = kid.get_object()
            if isinstance(kid, DictionaryObject) and "/S" in kid:
                out += [kid, *descendants(kid)]
    return out


MARKED = re.compile(rb"/(\w+)\s*<<([^>]*)>>\s*BDC")


def unreached_content(reader: PdfReader) -> list[tuple[int, int]]:
    """(page, MCID) of marked content the structure tree does not reach: content that belongs nowhere."""
    reached = {(page, kid) for element, page in structure(reader) for kid in kids(element) if isinstance(kid, int)}
    lost = []
    for number, page in enumerate(reader.pages):
        for match in MARKED.finditer(page.get_contents().get_data()):
            mcid = re.search(rb"/MCID (\d+)", match.group(2))
            if mcid and (number, int(mcid.group(1))) not in reached:
                lost.append((number, int(mcid.group(1))))
    return lost


def artifacts(reader: PdfReader, page: int) -> list[bytes]:
    return [match.group(2) for match in MARKED.finditer(reader.pages[page].get_contents().get_data())
            if match.group(1) == b"Artifact"]


def assert_pdf_ua(reader: PdfReader, title: str) -> None:
    """What PDF/UA-1 asks that pypdf can see: tagged, marked, language, title shown, identified, nothing lost."""
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog and catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/Lang"] == "en"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert reader.metadata.title == title and dc_title(reader) == [title]
    assert xmp_values(reader, PDFUAID, "part") == ["1"]
    assert unreached_content(reader) == []


# ---------------------------------------------------------------- tiny pages


def tiny_page(title: str, pages: int = 1) -> str:
    """A report-shaped page: running title and page numbers in the margins, headings, a table, a figure."""
    filler = "".join(f"<p style='break-before: page'>Part {i}.</p>" for i in range(1, pages))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>@page {{ size: A5; @top-center {{ content: "RUNNING {title}" }}
@bottom-center {{ content: "Page " counter(page) " of " counter(pages) }} }}</style></head>
<body><main><h1>{title}</h1><h2>Efficacy</h2>
<table><thead><tr><th scope="col">Trial</th><th scope="col">ORR</th></tr></thead>
<tbody><tr><td>PROFILE 1014</td><td>74%</td></tr></tbody></table>
<figure><img src="{PIXEL}" alt="Bars of ORR: PROFILE 1014 74%."><figcaption>Figure.</figcaption></figure>
{filler}</main></body></html>"""


def test_a_report_pdf_is_pdf_ua_with_its_furniture_as_artifacts():
    reader = PdfReader(io.BytesIO(print_pdf(tiny_page("Tiny report", pages=2), LOG)))
    assert_pdf_ua(reader, "Tiny report")
    elements = structure(reader)
    assert [len(of_type(elements, kind)) for kind in ("/H1", "/H2", "/Table", "/TH", "/TD")] == [1, 1, 1, 2, 2]
    assert [figure["/Alt"] for figure in of_type(elements, "/Figure")] == ["Bars of ORR: PROFILE 1014 74%."]
    # The running title and "Page N of M" are on every page, as pagination artifacts.
    assert [len(artifacts(reader, page)) for page in range(2)] == [2, 2]
    assert all(b"/Pagination" in mark for page in range(2) for mark in artifacts(reader, page))
    assert "Page 2 of 2" in reader.pages[1].extract_text()


def test_without_the_finisher_weasyprint_loses_the_page_furniture_from_the_tree():
    """Why render.finish_pdf exists (and the check above can fail): WeasyPrint 70 alone leaves the margin
    boxes' text marked as content that no structure element reaches."""
    pdf = weasyprint.HTML(string=tiny_page("Tiny report")).write_pdf(pdf_variant="pdf/ua-1")
    assert len(unreached_content(PdfReader(io.BytesIO(pdf)))) == 2


def attachments_of(reader: PdfReader) -> dict[str, bytes]:
    found = reader.attachments
    assert all(len(contents) == 1 for contents in found.values()), "two attachments share a name"
    return {name: contents[0] for name, contents in found.items()}


def test_archival_is_pdf_a_3a_carrying_each_file_once_with_its_date_and_relationship():
    csv = b"trial,orr_pct\r\nPROFILE 1014,74\n\xc3\xa9,1\n"  # CRLF, LF and UTF-8: carried as bytes, not text
    files = [PDFAttachment("tiny--efficacy.csv", csv, "Table 'efficacy'", WHEN),
             PDFAttachment("manifest.json", b'{"a": 1}\n', "The manifest", WHEN, "Supplement")]
    reader = PdfReader(io.BytesIO(combined_pdf([CombinedReport("tiny", "Tiny report", tiny_page("Tiny report"))],
                                               title="Bundle", date="26 November 2026", data_version="v1",
                                               attachments=files)))
    assert xmp_values(reader, PDFAID, "part") == ["3"] and xmp_values(reader, PDFAID, "conformance") == ["A"]
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog and catalog["/Lang"] == "en" and reader.metadata.title == "Bundle"
    assert unreached_content(reader) == []
    assert attachments_of(reader) == {"tiny--efficacy.csv": csv, "manifest.json": b'{"a": 1}\n'}
    specs = [reference.get_object() for reference in catalog["/AF"]]
    assert [(spec["/UF"], spec["/AFRelationship"], spec["/Desc"]) for spec in specs] == [
        ("tiny--efficacy.csv", "/Data", "Table 'efficacy'"), ("manifest.json", "/Supplement", "The manifest")]
    streams = [spec["/EF"]["/F"].get_object() for spec in specs]
    assert [stream["/Subtype"] for stream in streams] == ["/text/csv", "/application/json"]
    assert {stream["/Params"]["/ModDate"] for stream in streams} == {"D:20261126060000Z"}  # the run's, not the clock's


def test_the_plain_variant_carries_nothing_and_is_pdf_ua():
    reader = PdfReader(io.BytesIO(combined_pdf([CombinedReport("tiny", "Tiny report", tiny_page("Tiny report"))],
                                               title="Bundle", date="d", data_version="v", variant="pdf/ua-1")))
    assert_pdf_ua(reader, "Bundle")
    assert reader.attachments == {} and "/AF" not in reader.trailer["/Root"]
    assert xmp_values(reader, PDFAID, "part") == []


def test_two_attachments_of_one_name_are_refused():
    same = [PDFAttachment("a.csv", b"1", "one", WHEN), PDFAttachment("a.csv", b"2", "two", WHEN)]
    with pytest.raises(ValueError, match="share a name"):
        combined_pdf([CombinedReport("t", "T", tiny_page("T"))], title="B", date="d", data_version="v",
                     attachments=same)


# ---------------------------------------------------------------- what a run attaches


def test_records_leave_their_machine_paths_behind(tmp_path):
    run = tmp_path / "runs" / ".20261126T060000Z.partial"
    record = {"data": {"dir": "/srv/reports/data", "copy": "data/"}, "changes_file": str(run / "changes.json"),
              "reports": [{"notebook": "notebooks/overview.ipynb", "ratio": "1/2", "n": 3}]}
    assert json.loads(_shareable_json(record, run)) == {
        "data": {"dir": "data", "copy": "data/"}, "changes_file": "changes.json",
        "reports": [{"notebook": "notebooks/overview.ipynb", "ratio": "1/2", "n": 3}]}
    plain = {"data": {"dir": "data"}, "versions": {"python": "3.11"}}  # nothing to cut: written as run.json is
    assert _shareable_json(plain, run) == (json.dumps(plain, indent=2) + "\n").encode()


def run_folder(tmp_path: Path) -> tuple[Path, list[ReportResult]]:
    """A run folder as `run` leaves it before combining: two reports' pages and tables, and the manifest."""
    partial = tmp_path / "runs" / ".20261126T060000Z.partial"
    results = []
    for name in ("resistance_mechanisms", "overview"):  # not in portfolio order
        folder = partial / name
        (folder / "tables").mkdir(parents=True)
        (folder / f"{name}.html").write_text(tiny_page(REPORTS[name].title), encoding="utf-8")
        for table in ("b_table", "a_table"):
            (folder / "tables" / f"{table}.csv").write_bytes(f"{name},{table}\r\n1,2\n".encode())
        results.append(ReportResult(name, name, "built", {}))
    (partial / "manifest.json").write_text(json.dumps({"data": {"dir": str(tmp_path / "data")}}), encoding="utf-8")
    return partial, results


def combine_run(tmp_path: Path, profile: str) -> tuple[PdfReader, list[str]]:
    partial, results = run_folder(tmp_path)
    runner = Runner(Builder(output_dir=tmp_path), LogLines(), pdf_profile=profile)
    session = SimpleNamespace(snapshot=SimpleNamespace(hashes={"trials.csv": "ab", "schema.yaml": "cd"}))
    record = {"run": "20261126T060000Z", "combined_pdf": None, "data": {"dir": str(tmp_path / "data")}}
    target, names = runner._combine(partial, "20261126T060000Z", results, SimpleNamespace(headline="first run"),
                                    session, record)
    assert target == partial / "crizotinib-reports-2026-11-26.pdf"
    return PdfReader(target), names


def test_an_archival_run_pdf_carries_every_table_the_manifest_and_the_record_before_the_pdf(tmp_path):
    reader, names = combine_run(tmp_path, "archival")
    partial = tmp_path / "runs" / ".20261126T060000Z.partial"
    tables = [f"{report}--{table}.csv" for report in ("overview", "resistance_mechanisms")  # portfolio order
              for table in ("a_table", "b_table")]
    assert names == [*tables, "manifest.json", RUN_RECORD_ATTACHMENT]
    carried = attachments_of(reader)
    assert sorted(carried) == sorted(names)
    for name in tables:
        report, table = name.removesuffix(".csv").split("--")
        assert carried[name] == (partial / report / "tables" / f"{table}.csv").read_bytes()
    assert json.loads(carried["manifest.json"]) == {"data": {"dir": "data"}}
    assert json.loads(carried[RUN_RECORD_ATTACHMENT]) == {"run": "20261126T060000Z", "combined_pdf": None,
                                                          "data": {"dir": "data"}}
    assert not any(MACHINE_PATH.search(data.decode()) for data in carried.values())
    assert xmp_values(reader, PDFAID, "conformance") == ["A"]


def test_a_plain_run_pdf_carries_nothing(tmp_path):
    reader, names = combine_run(tmp_path, "plain")
    assert names == [] and reader.attachments == {}
    assert_pdf_ua(reader, "Crizotinib in ALK-positive NSCLC: evidence reports")


def test_an_unknown_profile_is_a_usage_error(tmp_path):
    from crizotinib_reports.exceptions import UsageError

    with pytest.raises(UsageError, match="--pdf-profile must be one of archival, plain"):
        Runner(Builder(output_dir=tmp_path), LogLines(), pdf_profile="pdf/a")


def test_the_cli_refuses_an_unknown_profile_in_one_line(capsys):
    from crizotinib_reports.cli import main

    assert main(["run", "--pdf-profile", "zip"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "invalid choice: 'zip' (choose from 'archival', 'plain')" in error


# ---------------------------------------------------------------- the shared build


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_pdf_is_pdf_ua(output_dir, name):
    reader = PdfReader(output_dir / name / f"{name}.pdf")
    assert_pdf_ua(reader, REPORTS[name].title)
    elements = structure(reader)
    assert of_type(elements, "/H1")
    page = BeautifulSoup((output_dir / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    assert [figure["/Alt"] for figure in of_type(elements, "/Figure")] == [img["alt"] for img in page.find_all("img")]
    tables = of_type(elements, "/Table")
    assert len(tables) >= len(page.find_all("table"))  # a table split over pages is one /Table per page
    for table in tables:
        cells = [element["/S"] for element in descendants(table)]
        assert "/TH" in cells and "/TD" in cells
    assert len(artifacts(reader, len(reader.pages) - 1)) == 2  # the running title and "Page N of M"


#: The shortest three of the shared build's reports (21 of its 70 pages): what the archival PDF carries and how is
#: the same for every report, and laying out all six again would cost the suite about 20 s more.
ARCHIVED = ("overview", "clinical_relapses", "resistance_mechanisms")


@pytest.fixture(scope="module")
def archived(output_dir) -> PdfReader:
    """Three of the shared build's reports in one archival PDF, carrying what a run attaches (the build folder
    is laid out as a run's: <report>/tables/*.csv and manifest.json)."""
    results = [ReportResult(name, name, "built", {}) for name in ARCHIVED]
    runner = Runner(Builder(output_dir=output_dir), LogLines())
    record = {"run": "20261126T060000Z", "combined_pdf": None}
    reports = [CombinedReport(name, REPORTS[name].title, (output_dir / name / f"{name}.html").read_text(encoding="utf-8"))
               for name in ARCHIVED]
    pdf = combined_pdf(reports, title="Crizotinib bundle", date="26 November 2026", data_version="v1",
                       attachments=runner._attachments(output_dir, "20261126T060000Z", results, record))
    return PdfReader(io.BytesIO(pdf))


@pytest.mark.e2e
def test_the_archived_pdf_holds_every_table_byte_for_byte(output_dir, archived):
    catalog = archived.trailer["/Root"]
    assert xmp_values(archived, PDFAID, "part") == ["3"] and xmp_values(archived, PDFAID, "conformance") == ["A"]
    assert "/StructTreeRoot" in catalog and catalog["/Lang"] == "en" and unreached_content(archived) == []
    carried = attachments_of(archived)
    csvs = {f"{name}--{csv.name}": csv.read_bytes() for name in ARCHIVED
            for csv in (output_dir / name / "tables").glob("*.csv")}
    assert csvs and {name: data for name, data in carried.items() if name.endswith(".csv")} == csvs
    manifest = json.loads(carried["manifest.json"])
    assert set(manifest["reports"]) == set(REPORTS)
    assert json.loads(carried[RUN_RECORD_ATTACHMENT])["combined_pdf"] is None
    assert len(catalog["/AF"]) == len(carried)
    for name, data in carried.items():
        assert not MACHINE_PATH.search(data.decode("utf-8")), name
    for number, page in enumerate(archived.pages, 1):
        assert not MACHINE_PATH.search(page.extract_text()), f"page {number}"

