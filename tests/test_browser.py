"""The built book in a real browser, offline: headless Chromium driven by Playwright for Python.

The book built by the session fixture ``book`` (``tests/conftest.py``) is served on 127.0.0.1 and
every page of the table of contents is opened with all requests to any other address blocked, so
the test proves that a reader without network (a lab machine, a downloaded copy) gets the book as
the web shows it. For each page: no console errors, no failed local requests and no attempt to
reach the network; every equation typeset by MathJax with the numbers that references to it show;
every image loaded and every figure caption with its image; exercises rendered and a solution
opening on click; launch buttons (Colab, download) pointing to the page's notebook; internal links
and anchors that resolve. A full-page screenshot of each page goes to ``_build/screenshots/``.

Playwright downloads no browser here: pytest-playwright's ``browser`` fixture launches Debian's Chromium (``apt-get install
chromium``; ``.ci/run`` installs it). Without it they skip with a one-line reason.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socketserver
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from notebook_tools import REPO_URL  # read from _config.yml: the one place it is written

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("MATAE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: flags for a headless Chromium on a machine with no network (no background connections)
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.slow

pytest.importorskip("pytest_playwright", reason="pytest-playwright is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; see README)",
                allow_module_level=True)


# ------------------------------------------------------------------------------- serving
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def site(book):
    """The built HTML served on 127.0.0.1 (an ephemeral port) for the module's tests."""
    assert book["returncode"] == 0, "book build failed; see tests/test_book.py"
    handler = functools.partial(_QuietHandler, directory=str(book["html"]))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "html": book["html"]}
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's ``browser`` fixture, launched from Debian's Chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _toc_pages() -> list[str]:
    from test_project import _toc_files

    return [f"{d}.html" for d in _toc_files()]


# ----------------------------------------------------------------------- what is checked
#: Runs in the page after MathJax has finished; returns what the Python side checks.
_INSPECT = """() => {
  const main = document.querySelector('main') || document.body;
  const maths = [...main.querySelectorAll('.math')];
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                         .map(m => m.textContent.trim().slice(0, 60));
  const mjxErrors = [...main.querySelectorAll('mjx-merror, [data-mjx-error]')]
                         .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 60));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, .highlight, mjx-assistive-mml')
       .forEach(n => n.remove());
  const text = clone.innerText;
  const rawMath = ['$$', '\\\\begin{', '\\\\frac{', '\\\\mathbf{'].filter(s => text.includes(s));
  const eqTargets = {};
  main.querySelectorAll('div.math[id^="equation-"]').forEach(d => {
    const n = d.querySelector('.eqno');
    eqTargets[d.id] = n ? n.textContent.replace(/[^0-9.]/g, '') : null;
  });
  const eqRefs = [...main.querySelectorAll('a[href*="#equation-"]')].map(a => ({
    target: decodeURIComponent(a.getAttribute('href').split('#')[1]),
    text: a.textContent.replace(/[^0-9.]/g, ''),
    samePage: a.getAttribute('href').startsWith('#')}));
  const images = [...main.querySelectorAll('img')].map(i => ({
    src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}));
  const figures = [...main.querySelectorAll('figure')].map(f => ({
    id: f.id, caption: !!f.querySelector('figcaption'), image: !!f.querySelector('img')}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  return {untypeset, mjxErrors, rawMath, eqTargets, eqRefs, images, figures, links,
          exercises: main.querySelectorAll('.exercise').length,
          solutions: main.querySelectorAll('.solution').length};
}"""


def inspect_page(page, url: str) -> tuple[dict, list[str]]:
    """Open ``url`` and return (facts, problems): everything a reader would see go wrong."""
    console_errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text[:200]))
    page.on("pageerror", lambda e: console_errors.append(str(e)[:200]))
    page.on("requestfailed", lambda r: failed.append(r.url))
    response = page.goto(url, wait_until="load")
    problems = []
    if response is None or response.status != 200:
        return {}, [f"{url}: HTTP {response.status if response else 'no response'}"]
    has_mathjax = page.evaluate("() => !!(window.MathJax && window.MathJax.startup)")
    if has_mathjax:
        page.wait_for_function(
            "() => window.MathJax.startup.promise !== undefined", timeout=30_000)
        page.evaluate("() => window.MathJax.startup.promise")
    facts = page.evaluate(_INSPECT)
    if facts["untypeset"] or (not has_mathjax and facts["eqTargets"]):
        problems.append(f"equations not typeset: {facts['untypeset'][:3]}")
    if facts["mjxErrors"]:
        problems.append(f"MathJax errors: {facts['mjxErrors'][:3]}")
    if facts["rawMath"]:
        problems.append(f"raw LaTeX in the text: {facts['rawMath']}")
    for ref in facts["eqRefs"]:
        if ref["samePage"]:
            number = facts["eqTargets"].get(ref["target"])
            if number is None:
                problems.append(f"equation reference to missing #{ref['target']}")
            elif ref["text"] and ref["text"] != number:
                problems.append(f"reference to {ref['target']} shows ({ref['text']}), "
                                f"the equation is ({number})")
    broken = [i["src"] for i in facts["images"] if not i["ok"]]
    if broken:
        problems.append(f"images that did not load: {broken[:3]}")
    problems += [f"figure {f['id']} has a caption but no image" for f in facts["figures"]
                 if f["caption"] and not f["image"]]
    problems += [f"console error: {e}" for e in console_errors]
    local_failed = [u for u in failed if urlparse(u).hostname in ("127.0.0.1", "localhost")]
    problems += [f"failed local request: {u}" for u in local_failed]
    return facts, problems


def _block_outside(context, blocked: list[str]) -> None:
    def handle(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", handle)


# ------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("doc", _toc_pages())
def test_page_reads_well_offline(site, browser, doc):
    blocked: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    _block_outside(context, blocked)
    page = context.new_page()
    try:
        facts, problems = inspect_page(page, urljoin(site["url"], doc))
        assert not blocked, f"the page tried to reach the network: {blocked[:5]}"
        assert not problems, problems
        name = Path(doc).stem
        if (ROOT / f"{Path(doc).with_suffix('')}.ipynb").is_file():
            _check_launch_buttons(facts["links"], doc)
        if facts["exercises"]:
            assert facts["solutions"], f"{doc}: exercises without solutions"
            _check_solution_opens(page, doc)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


def _check_launch_buttons(links: list[str], doc: str) -> None:
    notebook = Path(doc).with_suffix(".ipynb").as_posix()
    colab = [u for u in links if u.startswith("https://colab.research.google.com/")]
    assert colab, f"{doc}: no Colab launch button"
    assert all(u.endswith(notebook) and REPO_URL.split("github.com/")[1] in u for u in colab), colab
    downloads = [u for u in links if u.endswith(".ipynb") and not u.startswith("http")]
    assert downloads, f"{doc}: no notebook download button"


def _check_solution_opens(page, doc: str) -> None:
    """sphinx-exercise solutions are closed dropdowns (sphinx-togglebutton); the first opens on a
    click on its toggle button."""
    solution = page.locator("main .solution").first
    body = solution.locator(".admonition-title ~ *").first
    assert not body.is_visible(), f"{doc}: the first solution is open before any click"
    solution.locator("button.toggle-button").first.click()
    body.wait_for(state="visible", timeout=5_000)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def link_problems(html: Path, docs: list[str]) -> list[str]:
    """Internal links and anchors of the given pages that do not resolve inside ``html``."""
    parsed: dict[Path, _Anchors] = {}

    def anchors(path: Path) -> _Anchors:
        if path not in parsed:
            parser = _Anchors()
            parser.feed(path.read_text(encoding="utf-8"))
            parsed[path] = parser
        return parsed[path]

    problems = []
    for doc in docs:
        page = html / doc
        for href in anchors(page).hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "//", "javascript:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{doc}: {href} -> no such file")
            elif url.fragment and target.suffix == ".html" and \
                    unquote(url.fragment) not in anchors(target).ids:
                problems.append(f"{doc}: {href} -> no anchor #{url.fragment}")
    return problems


def test_internal_links_and_anchors_resolve(site):
    assert link_problems(site["html"], _toc_pages()) == []


# --------------------------------------------------------------------- tests of the test
def _scratch_copy(site, tmp_path: Path) -> Path:
    scratch = tmp_path / "html"
    shutil.copytree(site["html"], scratch)
    return scratch


def _first_chapter(html: Path) -> Path:
    return sorted((html / "book").glob("0*.html"))[0]


def test_checks_catch_a_missing_figure_and_a_broken_equation(site, browser, tmp_path):
    """Deliberately break a scratch copy of the build: the same checks must fail."""
    scratch = _scratch_copy(site, tmp_path)
    chapter = _first_chapter(scratch)
    text = chapter.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', text)
    assert images, "the chapter has no figure to remove"
    (chapter.parent / images[0]).unlink()  # a figure whose file is gone
    text, n = re.subn(r'(<div class="math notranslate nohighlight"[^>]*>)',
                      r'\1\\begin{broken', text, count=1)  # an equation MathJax cannot typeset
    assert n == 1
    text = text.replace('href="#equation-', 'href="#equation-missing-', 1)
    chapter.write_text(text, encoding="utf-8")

    handler = functools.partial(_QuietHandler, directory=str(scratch))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    _block_outside(context, [])
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/book/{chapter.name}"
        _, problems = inspect_page(context.new_page(), url)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    joined = "\n".join(problems)
    assert "images that did not load" in joined, problems
    assert "failed local request" in joined or "console error" in joined, problems
    assert "MathJax errors" in joined or "not typeset" in joined or "raw LaTeX" in joined, problems
    assert "missing #equation-missing-" in joined, problems


def test_link_check_catches_a_dead_link(site, tmp_path):
    scratch = _scratch_copy(site, tmp_path)
    chapter = _first_chapter(scratch)
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(text.replace("</main>", '<a href="nowhere.html">x</a>'
                                    '<a href="#no-such-anchor">y</a></main>', 1), encoding="utf-8")
    problems = link_problems(scratch, [f"book/{chapter.name}"])
    assert any("nowhere.html" in p for p in problems)
    assert any("no-such-anchor" in p for p in problems)
