"""Every report as a reader sees it: the HTML in headless Chromium with no network, the PDF as page images.

The six reports are built once for this module by the real CLI (HTML and PDF). Each HTML report is opened as a
file:// URL in Debian's Chromium, driven by Playwright, with every request that is not file: or data: aborted and
recorded; the page must show no console error, no page error, no failed or blocked request, every image loaded
with alt text, a title, an <h1>, and nothing wider than a 1280px window. A full-page screenshot of each is kept as a
test artifact. Each PDF is rendered to PNG pages with poppler's pdftoppm (one non-blank image per page) and its fonts
are checked with pdffonts (all embedded).

Artifacts go to $CRIZOTINIB_TEST_ARTIFACTS when set, else <repo>/test-artifacts/screenshots/ (git-ignored).
Without Chromium or poppler-utils the tests concerned skip and say what to install (in CI they fail); without
Playwright, which the test extra pins, they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import tinycss2
from bs4 import BeautifulSoup
from pypdf import PdfReader

from crizotinib_reports.publish.portfolio import portfolio
from crizotinib_reports.publish.render import REPORT_CSS
from support.needs import pinned_module, system_program, unavailable

REPORTS = portfolio()

# The first test here builds the six reports (HTML and PDF): 90 s measured on a loaded 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:")
PDF_DPI = "50"


def artifacts_dir() -> Path:
    configured = os.environ.get("CRIZOTINIB_TEST_ARTIFACTS")
    folder = Path(configured) if configured else REPO / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_blank(png: Path) -> bool:
    """True when the image is a single flat colour (all white, all black, ...)."""
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(png) as image:
        low, high = image.convert("L").getextrema()
    return high - low < 16


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, fresh profile."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found; install Debian's chromium (apt-get install chromium)")
    with pinned_module("playwright.sync_api").sync_playwright() as playwright:
        # Playwright launches with a fresh temporary user data dir, removed on close.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def poppler_tool(name: str) -> str:
    return system_program(name, "poppler-utils")


# Requested before output_dir, so that a missing tool skips without building.
@pytest.fixture(scope="module")
def pdftoppm() -> str:
    return poppler_tool("pdftoppm")


@pytest.fixture(scope="module")
def pdffonts() -> str:
    return poppler_tool("pdffonts")


@pytest.fixture(scope="module")
def pdftotext() -> str:
    return poppler_tool("pdftotext")


# ---------------------------------------------------------------- the HTML in a browser


def open_offline(browser, html: Path, screenshot: Path) -> dict:
    """Open the report as a reader would, network blocked; return what the page did and showed."""
    seen: dict = {"console_errors": [], "page_errors": [], "blocked": [], "failed": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    try:
        def route(route_, request):
            if request.url.startswith(LOCAL_SCHEMES):
                route_.continue_()
            else:
                seen["blocked"].append(f"{request.resource_type} {request.url}")
                route_.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and seen["console_errors"].append(
            f"{message.text} ({message.location.get('url', '')}:{message.location.get('lineNumber', '')})"))
        page.on("pageerror", lambda error: seen["page_errors"].append(str(error)))
        page.on("requestfailed", lambda request: seen["failed"].append(f"{request.url}: {request.failure}"))
        page.goto(html.as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        seen["title"] = page.title()
        seen["h1"] = page.eval_on_selector_all("h1", "els => els.map(e => e.innerText.trim())")
        seen["images"] = page.eval_on_selector_all(
            "img",
            """els => els.map(img => ({src: img.currentSrc.slice(0, 80), complete: img.complete,
                                      width: img.naturalWidth, alt: (img.getAttribute('alt') || '').trim()}))""",
        )
        seen["overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return seen


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_in_browser_offline(browser, output_dir, name):
    html = output_dir / name / f"{name}.html"
    screenshot = artifacts_dir() / f"{name}.png"
    seen = open_offline(browser, html, screenshot)

    assert not seen["console_errors"], f"{name}: console errors: {seen['console_errors']}"
    assert not seen["page_errors"], f"{name}: page errors: {seen['page_errors']}"
    assert not seen["blocked"], f"{name}: requests that would leave the machine: {seen['blocked']}"
    assert not seen["failed"], f"{name}: failed requests: {seen['failed']}"
    assert seen["overflow"] <= 0, f"{name}: page is {seen['overflow']}px wider than a 1280px window (clipped content)"
    assert seen["title"].strip(), f"{name}: page has no <title>"
    assert any(seen["h1"]), f"{name}: page has no (non-empty) <h1>"
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0, f"{name}: image did not load: {image}"
        assert image["alt"], f"{name}: image without alt text: {image}"
    assert screenshot.stat().st_size > 0 and not is_blank(screenshot), f"{name}: blank screenshot {screenshot}"


def test_executed_notebook_tables_are_styled_where_jupyterlab_drops_style_elements(browser, output_dir, tmp_path):
    """JupyterLab's sanitizer drops <style> from output it does not trust (an executed notebook opened from
    disk): each table output must carry its look in style attributes. Shown here as Lab would show it: the
    output's HTML with every <style> removed, in a page with no stylesheet of ours."""
    import json

    from bs4 import BeautifulSoup

    from crizotinib_reports.publish.portfolio import TABLE_METADATA_KEY

    executed = json.loads((output_dir / "clinical_activity" / "clinical_activity.ipynb").read_text(encoding="utf-8"))
    outputs = [o for cell in executed["cells"] for o in cell.get("outputs", [])
               if TABLE_METADATA_KEY in o.get("metadata", {})]
    text = outputs[0]["data"]["text/html"]
    soup = BeautifulSoup("".join(text) if isinstance(text, list) else text, "html.parser")
    for style in soup.find_all("style"):
        style.decompose()
    page_file = tmp_path / "lab-output.html"
    page_file.write_text(f"<!doctype html><html><body>{soup}</body></html>", encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        look = page.evaluate("""() => {
            const css = (selector, property) => getComputedStyle(document.querySelector(selector))[property];
            return {table_border: css('table.gt_table', 'borderTopWidth'), title_size: css('.gt_title', 'fontSize'),
                    cell_size: css('td.gt_row', 'fontSize'), font: css('table.gt_table', 'fontFamily'),
                    heading_border: css('.gt_col_headings', 'borderBottomStyle')};
        }""")
    finally:
        context.close()
    assert look["table_border"] == "2px" and look["heading_border"] == "solid", look
    assert float(look["title_size"][:-2]) > float(look["cell_size"][:-2]), look  # the title stands out
    assert look["font"].startswith('"DejaVu Sans"'), look  # the family of the report's text and figures


# ---------------------------------------------------------------- the PDF as pages


@pytest.mark.parametrize("name", list(REPORTS))
def test_pdf_pages_render_and_are_not_blank(pdftoppm, output_dir, name):
    pdf = output_dir / name / f"{name}.pdf"
    pages = len(PdfReader(pdf).pages)
    assert pages >= 1, f"{name}: PDF has no pages"

    folder = artifacts_dir() / "pdf-pages" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result = subprocess.run([pdftoppm, "-r", PDF_DPI, "-png", str(pdf), str(folder / name)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name}: pdftoppm failed: {result.stderr}"

    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == pages, f"{name}: {len(pngs)} page images for {pages} pages"
    blank = [png.name for png in pngs if is_blank(png)]
    assert not blank, f"{name}: blank pages: {blank}"


def side_margins_mm() -> tuple[float, float]:
    """The left and right page margins report.css gives every page (``@page { margin: ... }``), in mm."""
    for rule in tinycss2.parse_stylesheet(REPORT_CSS.read_text(encoding="utf-8"), skip_comments=True,
                                          skip_whitespace=True):
        if rule.type == "at-rule" and rule.lower_at_keyword == "page" and not tinycss2.serialize(rule.prelude).strip():
            for item in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
                if item.type == "declaration" and item.lower_name == "margin":
                    sizes = [token for token in item.value if token.type == "dimension"]
                    assert all(token.unit == "mm" for token in sizes), item.value
                    top, right, bottom, left = [token.value for token in sizes] + [None] * (4 - len(sizes))
                    right = top if right is None else right
                    return (right if left is None else left), right
    raise AssertionError("report.css gives no @page margin")


@pytest.mark.parametrize("name", list(REPORTS))
def test_nothing_prints_in_the_side_margins(pdftotext, output_dir, name):
    """Every word of every page lies between the left and right margins: a table whose unbreakable cell text
    made it wider than the page (a DOI without a break point) ran 10 mm into the right margin."""
    result = subprocess.run([pdftotext, "-bbox", str(output_dir / name / f"{name}.pdf"), "-"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"pdftotext failed: {result.stderr}"
    left, right = (mm * 72 / 25.4 for mm in side_margins_mm())
    soup = BeautifulSoup(result.stdout, "html.parser")
    outside = []
    for number, page in enumerate(soup.find_all("page"), 1):
        width = float(page["width"])
        for word in page.find_all("word"):
            if float(word["xmin"]) < left - 0.5 or float(word["xmax"]) > width - right + 0.5:
                outside.append(f"page {number}: {word.get_text()!r} at x {float(word['xmin']):.0f}-"
                               f"{float(word['xmax']):.0f} pt")
    assert len(soup.find_all("word")) > 100 and not outside, (name, outside[:5], len(outside))


def pdf_fonts(pdffonts: str, pdf: Path) -> list[dict[str, str]]:
    """pdffonts' table as rows; columns are cut where its dashed rule puts them (font names may hold spaces)."""
    result = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"pdffonts failed: {result.stderr}"
    lines = result.stdout.splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    starts, position = [], 0
    for dashes in rule.split(" "):
        if dashes:
            starts.append(position)
        position += len(dashes) + 1
    bounds = list(zip(starts, [*starts[1:], None]))  # each column runs to the next one's start
    names = [header[a:b].strip() for a, b in bounds]
    return [{names[i]: row[a:b].strip() for i, (a, b) in enumerate(bounds)} for row in rows if row.strip()]


@pytest.mark.parametrize("name", list(REPORTS))
def test_pdf_fonts_are_all_embedded(pdffonts, output_dir, name):
    fonts = pdf_fonts(pdffonts, output_dir / name / f"{name}.pdf")
    assert fonts, f"{name}: pdffonts lists no font"
    missing = [f"{font['name']} ({font['type']})" for font in fonts if font["emb"] != "yes"]
    assert not missing, f"{name}: fonts not embedded: {missing}"
