"""The smoke book, opened in headless Chromium: every page loads, every <img> resolves, every
section page shows a figure; a screenshot of the first page is kept in test-artifacts/."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from book_helpers import REPO, sections
from helpers import chromium

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # the network off: no host name resolves but the site's own 127.0.0.1
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

HARNESS = """<!doctype html><html><head><title>check</title></head><body><pre id="result">pending</pre><script>
const pages = %s;
function check(url) { return new Promise(resolve => {
  const f = document.createElement('iframe'); f.style.width = '1200px'; f.style.height = '900px';
  const t0 = Date.now();
  f.onload = () => { const d = f.contentDocument; const w = f.contentWindow; const imgs = [...d.images];
    imgs.forEach(i => { i.loading = 'eager'; });
    const mathjax = d.querySelector('script[src*="mathjax"]') !== null;
    const typeset = () => !mathjax || (w.MathJax && w.MathJax.startup && w.MathJax.startup.document
                                       && w.MathJax.startup.document.processed);
    const wait = () => {
      if ((imgs.every(i => i.complete) && typeset()) || Date.now() - t0 > 15000) {
        resolve({url, title: d.title, imgs: imgs.length,
                 broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
                 figures: d.querySelectorAll('.cell_output img').length,
                 srcs: imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.currentSrc || i.src),
                 standin: d.body.innerText.includes('Stand-in models'),
                 resources: w.performance.getEntriesByType('resource').map(e => e.name),
                 math: d.querySelectorAll('mjx-container').length,
                 rawmath: /\\\\\\(|\\\\\\[|\\$\\$/.test(d.body.innerText)});
        f.remove();
      } else setTimeout(wait, 50); };
    wait(); };
  f.src = url; document.body.appendChild(f); }); }
(async () => { const out = []; for (const p of pages) out.push(await check(p));
  document.getElementById('result').textContent = 'RESULT' + JSON.stringify(out) + 'END'; })();
</script></body></html>"""


@pytest.fixture(scope="module")
def site(smoke_book):
    root, _seconds = smoke_book
    html = root / "book" / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_chromium(*args, timeout=120) -> str:
    profile = tempfile.mkdtemp(prefix="clipinv-chromium-")
    try:
        proc = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            check=False,
            text=True,
            timeout=timeout,
        )
        return proc.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def browse(html: Path, url: str) -> list[dict]:
    """Open every page of the site in Chromium; per page: title, images, broken ones, figures, srcs."""
    pages = sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if not str(p.relative_to(html)).startswith(("_", "genindex", "search", "index.html"))
    )
    (html / "_check.html").write_text(HARNESS % json.dumps(["/" + p for p in pages]))
    dom = run_chromium("--virtual-time-budget=60000", "--dump-dom", f"{url}/_check.html")
    assert "RESULT" in dom, f"the harness did not finish: {dom[:500]}"
    results = json.loads(dom.split("RESULT", 1)[1].split("END", 1)[0])
    assert len(results) == len(pages)
    return results


@pytest.fixture(scope="module")
def browsed(site):
    return browse(*site)


def test_every_page_loads_every_image_resolves_each_section_has_a_figure(site, browsed):
    html, _url = site
    assert "intro.html" in (html / "index.html").read_text(), "index.html should redirect to the intro"
    results = browsed
    for r in results:
        assert r["title"] and "Error" not in r["title"], f"{r['url']} did not load ({r['title']!r})"
        assert not r["broken"], f"{r['url']}: images that do not resolve: {r['broken']}"
    by_name = {Path(r["url"]).stem: r for r in results}
    for name in sections():
        page = by_name.get(name)
        assert page is not None, f"section {name} has no page"
        assert page["figures"] >= 1, f"section {name} shows no figure"
        assert page["standin"], f"section {name} (toy models) lacks the stand-in admonition"
    intro = by_name["intro"]
    assert intro["title"]


def test_first_page_has_content_warning_and_screenshot(site):
    _html, url = site
    dom = run_chromium("--dump-dom", f"{url}/book/intro.html")
    assert "Content warning" in dom
    art = REPO / "test-artifacts"
    art.mkdir(exist_ok=True)
    shot = art / "book-first-page.png"
    run_chromium("--window-size=1280,1400", f"--screenshot={shot}", "--hide-scrollbars", f"{url}/book/intro.html")
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_the_site_loads_nothing_from_the_network_and_renders_its_math(site, browsed):
    """Chromium with every host name unresolvable but the site's own: each page's resources (scripts,
    styles, fonts, images: the Resource Timing entries, failed ones included) all come from the site,
    the math is typeset by the site's own MathJax, and no page shows raw TeX."""
    _html, url = site
    outside = {r["url"]: [u for u in r["resources"] if not u.startswith(url)] for r in browsed}
    assert not any(outside.values()), f"pages load from outside the site: { {k: v for k, v in outside.items() if v} }"
    assert any("/_static/mathjax/" in u for r in browsed for u in r["resources"]), "no page loaded the site's MathJax"
    method = next(r for r in browsed if r["url"].endswith("00_method.html"))
    assert method["math"] >= 2, "section 0's formulas were not typeset"
    assert not [r["url"] for r in browsed if r["rawmath"]], "raw TeX on a page"


def test_math_renders_from_file_urls_too(site):
    """Opened from the disk (file://), with no server and no network, the page still typesets its math."""
    html, _ = site
    page = html / "book" / "_generated" / "00_method.html"
    dom = run_chromium("--virtual-time-budget=20000", "--dump-dom", page.as_uri())
    assert dom.count("<mjx-container") >= 2, "no typeset math when the page is opened from file://"


def test_no_nudenet_flagged_image_is_shown_unblurred(site, browsed):
    """Every image the browser shows, on every page, scanned by NudeNet whole and in windows (so an
    image inside a grid is seen at its own scale): none may be flagged. The check is not empty: the
    NSFW page shows the shipped trigger pattern, which NudeNet flags, and the same figure drawn
    with blur=False is flagged by the same scan."""
    import re

    import numpy as np
    from PIL import Image

    from clipinv.book import figures
    from clipinv.safety import THRESHOLD, nsfw_scores, scan, trigger_image

    html, url = site
    shown = sorted(
        {src.split(url, 1)[1].split("#")[0].split("?")[0] for r in browsed for src in r["srcs"] if src.startswith(url)}
    )
    raster = [s for s in shown if s.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp"))]
    assert len(raster) >= len(sections()), shown
    worst = {}
    for src in raster:
        image = np.asarray(Image.open(html / src.lstrip("/")).convert("RGB"))
        worst[src] = scan(image)
    flagged = {k: round(v, 3) for k, v in worst.items() if v >= THRESHOLD}
    assert not flagged, f"images shown unblurred although NudeNet flags them: {flagged}"

    page = next(html.rglob("02_nsfw.html")).read_text()
    m = re.search(r"NudeNet score ([0-9.]+) \(flagged at &gt;= ([0-9.]+)\)", page)
    assert m, "the NSFW page lacks the flagged demonstration image"
    assert float(m.group(1)) >= float(m.group(2)) == THRESHOLD
    demo = trigger_image()[None]
    assert float(nsfw_scores(demo)) >= THRESHOLD
    fig, _ = figures.image_grid(
        demo, col_labels=["NudeNet trigger pattern"], values=nsfw_scores(demo)[None], blur=False, size=2.4
    )
    fig.canvas.draw()
    unblurred = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    assert scan(unblurred) >= THRESHOLD, "the scan would not see an unblurred flagged image at figure scale"


def test_launch_buttons_and_the_repository_link_appear_only_with_a_repository(tmp_path):
    import yaml

    from clipinv.book.runner import write_config
    from clipinv.errors import ClipinvError

    (tmp_path / "book" / "_generated").mkdir(parents=True)
    (tmp_path / "_config.yml").write_text((REPO / "_config.yml").read_text())
    plain = yaml.safe_load(write_config(tmp_path, None).read_text())
    assert "repository" not in plain and "launch_buttons" not in plain and not plain["html"]["use_repository_button"]
    given = yaml.safe_load(write_config(tmp_path, "https://github.com/someone/clipinv").read_text())
    assert given["repository"]["url"] == "https://github.com/someone/clipinv" and given["html"]["use_repository_button"]
    assert given["launch_buttons"]["binderhub_url"]
    with pytest.raises(ClipinvError, match="--repository must be"):
        write_config(tmp_path, "https://example.org/x")


def test_section_pages_have_no_launch_button_without_a_repository(site):
    html, _ = site
    page = (html / "book" / "_generated" / "00_method.html").read_text()
    assert "mybinder.org" not in page and "colab.research.google.com" not in page


def test_a_page_shows_how_it_was_built_and_keeps_its_code_one_click_away(site):
    html, _ = site
    page = (html / "book" / "_generated" / "00_method.html").read_text()
    assert "Rerun this page" in page and "clipinv section 00_method --profile smoke" in page
    assert "the CLIP to invert (paper:" not in page  # the parameters cell (its comments) is not on the page
    assert page.count("tag_hide-input") >= 5  # code cells folded (myst-nb's toggle), their outputs shown


def test_every_page_is_under_5_mb(site):
    html, _ = site
    big = {str(p.relative_to(html)): p.stat().st_size for p in html.rglob("*.html") if p.stat().st_size >= 5_000_000}
    assert not big, f"pages of 5 MB or more: {big}"


def embedded_images(page: str) -> dict:
    """Every PNG or JPEG a page holds as a data: URI (in an attribute or in a figure's script): {uri: [3, H, W]}."""
    import base64
    import io
    import re

    import numpy as np
    import torch
    from PIL import Image

    out = {}
    for uri in set(re.findall(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/=]+", page)):
        arr = np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
        out[uri] = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    return out


def embedded_scores(page: str) -> list[float]:
    """NudeNet's score of each embedded image, the higher of: as stored, and nearest-upscaled to the
    size the figures show it at (128 px at least), as the reader sees it."""
    import torch.nn.functional as F

    from clipinv.safety import nsfw_scores

    scores = []
    for image in embedded_images(page).values():
        side = max(128, image.shape[-1])
        shown = F.interpolate(image[None], scale_factor=side // image.shape[-1], mode="nearest")
        scores.append(max(float(nsfw_scores(image[None])), float(nsfw_scores(shown))))
    return scores


def test_no_nudenet_flagged_image_is_embedded_unblurred(site):
    """The figures to play with hold their frames as data: URIs, which the scan of files above never
    sees: every one of them, on every page, scanned by NudeNet, none flagged. The check is not empty:
    the pages hold the frames, and the same scan flags the trigger pattern embedded the same way."""
    import base64
    import io

    from PIL import Image

    from clipinv.safety import THRESHOLD, trigger_image

    html, _ = site
    counts, flagged = {}, {}
    for p in html.rglob("*.html"):
        scores = embedded_scores(p.read_text())
        counts[p.stem] = len(scores)
        flagged.update({f"{p.stem} #{i}": round(s, 3) for i, s in enumerate(scores) if s >= THRESHOLD})
    assert not flagged, f"images embedded unblurred although NudeNet flags them: {flagged}"
    assert counts["00_method"] >= 8 * 3 * 2 and counts["06_ablations"] >= 3 * 3, counts  # smoke: frames, variants

    buf = io.BytesIO()
    Image.fromarray((trigger_image() * 255).round().byte().permute(1, 2, 0).numpy()).save(buf, "PNG")
    page = f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    assert embedded_scores(page)[0] >= THRESHOLD, "the scan would not see a flagged image embedded in a page"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS[1:])
        yield b
        b.close()


def test_the_scrubber_and_the_ablation_picker_work_on_the_built_pages(site, browser):
    """Section 0's slider moves its images and its marker, section 6's buttons change its images and
    numbers; each figure fits the text column at 1280 and 768 px; nothing comes from outside the site."""
    _html, url = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests = []  # page errors go unchecked: the theme's scripts raise some; the figures are judged by what they do
    page.on("request", lambda r: requests.append(r.url))

    def fits():
        for width in (1280, 768):
            page.set_viewport_size({"width": width, "height": 900})
            sizes = page.eval_on_selector_all(
                ".clipinv-figure", "els => els.map(e => [e.scrollWidth, e.parentElement.clientWidth])"
            )
            assert sizes and all(w <= c for w, c in sizes), (page.url, width, sizes)

    page.goto(f"{url}/book/_generated/00_method.html")
    scrub = ".clipinv-figure:has(.ci-slider)"
    before = page.eval_on_selector(
        scrub, "r => [r.querySelector('img.ci-img').src, r.querySelector('.ci-marker').getAttribute('x1')]"
    )
    page.fill(f"{scrub} .ci-slider", "0")
    after = page.eval_on_selector(
        scrub, "r => [r.querySelector('img.ci-img').src, r.querySelector('.ci-marker').getAttribute('x1')]"
    )
    assert after[0] != before[0] and float(after[1]) < float(before[1]), (before[1], after[1])
    assert page.text_content(f"{scrub} .ci-readout").startswith("step 1 of 8")
    fits()

    page.goto(f"{url}/book/_generated/06_ablations.html")
    pick = ".clipinv-figure:has(.ci-pick)"
    state = (
        "r => [[...r.querySelectorAll('img.ci-var')].map(i => i.src),"
        " [...r.querySelectorAll('.ci-num')].map(e => e.textContent)]"
    )
    first = page.eval_on_selector(pick, state)
    page.click(f"{pick} .ci-pick >> nth=1")
    second = page.eval_on_selector(pick, state)
    assert all(a != b for a, b in zip(first[0], second[0])) and first[1] != second[1]
    assert first[1][0].endswith("%)"), first[1]  # e.g. 83% (55–95%)
    fits()
    assert all(u.startswith((url, "data:")) for u in requests), [
        u for u in requests if not u.startswith((url, "data:"))
    ]
