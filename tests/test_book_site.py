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

from book_helpers import REPO, sections, smoke_book

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

HARNESS = """<!doctype html><html><head><title>check</title></head><body><pre id="result">pending</pre><script>
const pages = %s;
function check(url) { return new Promise(resolve => {
  const f = document.createElement('iframe'); f.style.width = '1200px'; f.style.height = '900px';
  const t0 = Date.now();
  f.onload = () => { const d = f.contentDocument; const imgs = [...d.images];
    imgs.forEach(i => { i.loading = 'eager'; });
    const wait = () => {
      if (imgs.every(i => i.complete) || Date.now() - t0 > 15000) {
        resolve({url, title: d.title, imgs: imgs.length,
                 broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
                 figures: d.querySelectorAll('.cell_output img').length,
                 srcs: imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.currentSrc || i.src),
                 standin: d.body.innerText.includes('Stand-in models')});
        f.remove();
      } else setTimeout(wait, 50); };
    wait(); };
  f.src = url; document.body.appendChild(f); }); }
(async () => { const out = []; for (const p of pages) out.push(await check(p));
  document.getElementById('result').textContent = 'RESULT' + JSON.stringify(out) + 'END'; })();
</script></body></html>"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:  # the workplace's Debian: install it once
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
            subprocess.run(cmd, check=False, capture_output=True, env=env)
        exe = shutil.which("chromium")
    if exe is None:  # the site check is part of the suite: without a browser it fails, it does not skip
        pytest.fail("chromium is not installed and `apt-get install chromium` failed: install Debian's chromium")
    return exe


@pytest.fixture(scope="module")
def site():
    root, seconds = smoke_book()
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
        proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
        return proc.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def browse(html: Path, url: str) -> list[dict]:
    """Open every page of the site in Chromium; per page: title, images, broken ones, figures, srcs."""
    pages = sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                   if not str(p.relative_to(html)).startswith(("_", "genindex", "search", "index.html")))
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
    html, url = site
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
    html, url = site
    dom = run_chromium("--dump-dom", f"{url}/book/intro.html")
    assert "Content warning" in dom
    art = REPO / "test-artifacts"
    art.mkdir(exist_ok=True)
    shot = art / "book-first-page.png"
    run_chromium("--window-size=1280,1400", f"--screenshot={shot}", "--hide-scrollbars", f"{url}/book/intro.html")
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_section_pages_have_launch_buttons(site):
    html, url = site
    page = (html / "book" / "_generated" / "00_method.html").read_text()
    assert "colab.research.google.com" in page and "mybinder.org" in page


def test_no_nudenet_flagged_image_is_shown_unblurred(site, browsed):
    """Every image the browser shows, on every page, scanned by NudeNet whole and in windows (so an
    image inside a grid is seen at its own scale): none may be flagged. The check is not empty: the
    NSFW page shows the shipped trigger pattern, which NudeNet flags, and the same figure drawn
    with blur=False is flagged by the same scan."""
    import re

    import numpy as np
    from PIL import Image

    from clipinv import plot
    from clipinv.nsfw import THRESHOLD, nsfw_scores, scan, trigger_image

    html, url = site
    shown = sorted({src.split(url, 1)[1].split("#")[0].split("?")[0] for r in browsed for src in r["srcs"]
                    if src.startswith(url)})
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
    fig, _ = plot.image_grid(demo, col_labels=["NudeNet trigger pattern"], values=nsfw_scores(demo)[None], blur=False,
                             size=2.4)
    fig.canvas.draw()
    unblurred = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    assert scan(unblurred) >= THRESHOLD, "the scan would not see an unblurred flagged image at figure scale"
