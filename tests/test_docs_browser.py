"""The built site, checked in a real headless browser (Debian's ``chromium``).

The site is built into a temporary directory and served on 127.0.0.1. Every page is
loaded at a laptop width (1280 px) and a small one (1024 px):

- a screenshot is taken and must not be blank (a page that failed to render is white);
- the DOM, after the page's scripts ran, must hold the page's title, no diagram left for a
  script to draw (``class="mermaid"``) and no script, stylesheet, image or frame from
  another host;
- a small probe, added to each page by the test server only, records what overflows:
  the page scrolling sideways, a block of the article wider than the article (a table's
  scrolling box may scroll, the box itself must fit), and inline code in a table broken
  over two lines (mid-word).

Skipped, with the reason, when chromium or mkdocs is not installed. CI installs chromium
(see ``.ci/run``).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 1024)
HEIGHT = 900
TIMEOUT = 60

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

PROBE = """<script>
window.addEventListener("load", () => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    problems.push(`page scrolls sideways: ${root.scrollWidth} > ${window.innerWidth}`);
  }
  const article = document.querySelector("article.md-content__inner");
  if (article) {
    // Material lets table and code boxes bleed into the article's margin: the column's
    // edge (.md-content) is the limit.
    const edge = article.parentElement.getBoundingClientRect().right + 1;
    for (const el of article.children) {
      const right = el.getBoundingClientRect().right;
      const name = `${el.tagName.toLowerCase()}.${el.className}`;
      if (right > edge) problems.push(`${name} overflows by ${Math.round(right - edge)}px`);
    }
    for (const code of article.querySelectorAll("td code, th code")) {
      if (code.getClientRects().length > 1) problems.push(`broken over lines: ${code.textContent}`);
    }
  }
  document.body.setAttribute("data-probe", JSON.stringify(problems));
});
</script>"""

REMOTE = re.compile(
    r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"(?:https?:)?//(?!127\.0\.0\.1)[^\"]*\"",
    re.I,
)


class _Handler(SimpleHTTPRequestHandler):
    """Serves the site; adds the probe to each HTML page."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_bytes().replace(b"</body>", PROBE.encode() + b"</body>", 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Path, str]]:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
        built = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert built.returncode == 0, built.stderr
        handler = functools.partial(_Handler, directory=str(out))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield out, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


def _pages() -> list[str]:
    """The site's pages, as paths below the site root (from mkdocs.yml's nav)."""
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)$", (REPO / "mkdocs.yml").read_text(), re.M)
    return ["" if page == "index.md" else page.removesuffix(".md") + "/" for page in nav]


def _chromium(*args: str, width: int, profile: Path) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{HEIGHT}",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        timeout=TIMEOUT,
    )


def _distinct_pixel_bytes(png: bytes) -> int:
    """How many different byte values the image data holds: a blank page has a handful."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    data, at = b"", 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", _pages())
def test_page_renders_offline_without_overflow(
    site: tuple[Path, str], page: str, width: int, tmp_path: Path
) -> None:
    out, base = site
    url = f"{base}/{page}"
    source = (out / page / "index.html").read_text()
    title = html.unescape(re.search(r"<title>(.*?)</title>", source, re.S).group(1))  # type: ignore[union-attr]

    shot = tmp_path / "page.png"
    made = _chromium(f"--screenshot={shot}", url, width=width, profile=tmp_path / "a")
    assert shot.is_file(), made.stderr.decode(errors="replace")[-2000:]
    assert _distinct_pixel_bytes(shot.read_bytes()) > 32, f"{url} at {width}px looks blank"

    dumped = _chromium("--dump-dom", url, width=width, profile=tmp_path / "b")
    dom = dumped.stdout.decode()
    assert html.unescape(dom).count(title) >= 1, f"{url}: the title {title!r} is not in the DOM"
    assert "<article" in dom, f"{url}: no article rendered"
    assert 'class="mermaid"' not in dom, f"{url}: a diagram is left for a CDN script to draw"
    assert not REMOTE.findall(dom), f"{url} loads from another host: {REMOTE.findall(dom)}"
    probe = re.search(r'data-probe="([^"]*)"', dom)
    assert probe, f"{url}: the overflow probe did not run"
    problems = json.loads(html.unescape(probe.group(1)))
    assert problems == [], f"{url} at {width}px: {problems}"
