"""The smoke book as a reader meets it, in Chromium (driven by Playwright, the network off): every page
fits its column at 1280 and 768 px, states its result in a headline whose numbers the notebook glued
into the prose, and the front page's results table shows every section's result. Screenshots of every
page at 1280 px and the page sizes are kept in test-artifacts/."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest
from book_helpers import REPO, sections
from helpers import chromium

OFFLINE = ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
ARTIFACTS = REPO / "test-artifacts"

# what sticks out of the text column, or scrolls inside it (so that part of it is hidden)
OVERFLOW = """() => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main');
  const right = col.getBoundingClientRect().right;
  const bad = [];
  for (const el of col.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || el.closest('.toggle-hidden, details:not([open]), .cell_input, .math, mjx-container')) continue;
    const name = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
    if (r.right > right + 1) bad.push(`${name} sticks out by ${Math.round(r.right - right)} px`);
    const style = getComputedStyle(el);
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible')
      bad.push(`${name} scrolls: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
  }
  return bad.slice(0, 8);
}"""


def page_names(html: Path) -> list[str]:
    return sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if not str(p.relative_to(html)).startswith(("_", "genindex", "search", "index.html"))
    )


def serve(html: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def book(smoke_book):
    root, _ = smoke_book
    html = root / "book" / "_build" / "html"
    server, url = serve(html)
    yield root, html, url
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=OFFLINE)
        yield b
        b.close()


def open_page(browser, url: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url, wait_until="load")
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.document.processed !== false")
    return page


@pytest.mark.parametrize("width", [1280, 768])
def test_nothing_is_wider_than_the_text_column(book, browser, width):
    _root, html, url = book
    problems = {}
    for name in page_names(html):
        page = open_page(browser, f"{url}/{name}", width)
        found = page.evaluate(OVERFLOW)
        if width == 1280:
            shots = ARTIFACTS / "pages"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{Path(name).stem}.png"), full_page=True)
        page.close()
        if found:
            problems[name] = found
    assert not problems, f"at {width} px: {problems}"


def test_every_page_is_small_enough_to_read_offline(book):
    """Each page's HTML with the images it shows stays under 5 MB; the sizes are kept for the record."""
    _root, html, _url = book
    sizes = {}
    for name in page_names(html):
        text = (html / name).read_text()
        local = {
            (html / name).parent / src for src in re.findall(r'<img[^>]+src="([^"#?:]+)"', text) if "//" not in src
        }
        sizes[name] = len(text.encode()) + sum(p.stat().st_size for p in local if p.is_file())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-sizes.txt").write_text(
        "".join(f"{size / 1e6:7.2f} MB  {name}\n" for name, size in sorted(sizes.items()))
    )
    assert not {k: v for k, v in sizes.items() if v > 5e6}, sizes


def headline_numbers(browser, url: str) -> list[str]:
    page = open_page(browser, url, 1280)
    box = page.query_selector(".clipinv-headline")
    glued = [] if box is None else [s.inner_text() for s in box.query_selector_all(".pasted-text")]
    page.close()
    return glued


def test_every_section_states_its_result_with_numbers_from_its_notebook(book, browser):
    _root, html, url = book
    for name in sections():
        glued = headline_numbers(browser, f"{url}/book/_generated/{name}.html")
        assert glued, f"{name}: no headline box with glued values"
        assert all(g.strip() for g in glued), f"{name}: an empty glued value in the headline: {glued}"
        assert any(re.search(r"\d", g) for g in glued), f"{name}: the headline glues no number: {glued}"
    for name in sections():
        page = (html / "book" / "_generated" / f"{name}.html").read_text()
        assert "Headline:" not in page, f"{name} still prints its headline"


def test_the_front_page_shows_every_sections_result(book, browser):
    _root, _html, url = book
    page = open_page(browser, f"{url}/book/intro.html", 1280)
    rows = page.query_selector_all("table tbody tr")
    results = {}
    for row in rows:
        link = row.query_selector("a[href*='_generated/']")
        if link is None:
            continue
        results[link.get_attribute("href").split("/")[-1].split(".")[0]] = [
            s.inner_text() for s in row.query_selector_all(".pasted-text")
        ]
    page.close()
    assert sorted(results) == sorted(sections())
    for name, glued in results.items():
        assert len(glued) == 2 and re.search(r"\d", glued[0]), f"{name}: {glued}"
        assert "toy" in glued[1], f"{name}: the models that made the result are not named: {glued}"


def test_the_numbers_in_the_prose_follow_the_run(book, browser, tmp_path):
    """Rerun section 0 with another seed count on a copy of the smoke book: its headline's numbers change."""
    from clipinv.book.runner import build_site, run_section

    root, _html, url = book
    before = headline_numbers(browser, f"{url}/book/_generated/00_method.html")
    copy = tmp_path / "book"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("_build"))
    run_section(copy, "00_method", "smoke", {"seeds": 3}, log=lambda *_: None)
    build_site(copy, log=lambda *_: None)
    server, url2 = serve(copy / "book" / "_build" / "html")
    try:
        after = headline_numbers(browser, f"{url2}/book/_generated/00_method.html")
    finally:
        server.shutdown()
    assert len(after) == len(before) and after != before
    count = next(g for g in after if re.fullmatch(r"\d+/\d+", g))
    assert count.endswith("/15"), f"5 prompts x 3 seeds should be judged, the headline says {count}"
