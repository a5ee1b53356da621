"""The book as a reader gets it: it builds with zero Sphinx warnings, every notebook executes (once),
and every chapter page shows its figures.

The build below is the notebook test too: myst-nb executes every notebook top to bottom in a fresh
``python3`` kernel (``execute.allow_errors: false`` in ``_config.yml``), so a failing cell is a
build warning and fails the test with the cell's traceback. Each notebook therefore runs once in CI.
The wall time of every notebook, as measured by myst-nb during this build, is written to
``_build/notebook_times.json`` (the benchmarks turn it into the runtime table; tests do not assert
timings, which are noise on a loaded machine).

The build itself is the session fixture ``book`` in ``tests/conftest.py`` (shared with the browser
tests). The environment keeps ``MPLBACKEND=Agg`` (set by ``tests/conftest.py`` and ``.ci/run``) on purpose:
``mu.setup()`` must give the notebooks the inline backend regardless, and the figure test proves it.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "_build" / "notebook_times.json"

pytestmark = pytest.mark.slow


def _execution_reports(build: Path) -> str:
    reports = sorted((build / "html" / "reports").glob("**/*.log"))
    return "\n\n".join(f"== {p.name}\n{p.read_text()[-4000:]}" for p in reports)


def test_book_builds_without_warnings(book):
    assert book["returncode"] == 0, book["log"][-6000:] + "\n" + _execution_reports(book["build"])
    assert (book["html"] / "index.html").is_file()
    # the API reference documents the package
    api = (book["html"] / "book" / "appendix_api.html").read_text()
    assert "matae_utils.datasets.load_dataset" in api


def _toc_notebooks() -> list[str]:
    from test_project import _resolve, _toc_files

    return [_resolve(d).relative_to(ROOT).as_posix() for d in _toc_files()
            if _resolve(d).suffix == ".ipynb"]


def _book_relative(path: str) -> str:
    """``.../book/02_x.ipynb`` -> ``book/02_x.ipynb`` (wherever the book was built from)."""
    parts = Path(path).parts
    return Path(*parts[len(parts) - 1 - parts[::-1].index("book"):]).as_posix()


def test_every_notebook_executed_once_and_times_are_recorded(book):
    """Each toc notebook has exactly one successful execution record in the build's cache, and
    the build wrote its execution times (book/_ext/matae_sphinx.py), which are copied to
    ``_build/notebook_times.json`` for the benchmarks and the runtime budget."""
    from jupyter_cache import get_cache

    cache = get_cache(str(book["build"] / ".jupyter_cache"))
    executed = [_book_relative(r.uri) for r in cache.list_cache_records()]
    assert len(executed) == len(set(executed)), f"a notebook executed twice: {executed}"
    expected = _toc_notebooks()
    assert sorted(executed) == sorted(expected), _execution_reports(book["build"])
    times = json.loads((book["build"] / "notebook_times.json").read_text())
    assert sorted(f"{doc}.ipynb" for doc in times) == sorted(expected)
    assert all(t["succeeded"] and t["seconds"] > 0 for t in times.values()), times
    TIMES.parent.mkdir(exist_ok=True)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True))
    print("\nnotebook execution times (s):",
          {t["title"]: t["seconds"] for t in times.values()})


class _Figures(HTMLParser):
    """Collects, inside ``<main>``, the figures (``<figure>`` with its images and captions), the
    images outside any figure, and caption-like text that is not bound to a figure."""

    def __init__(self) -> None:
        super().__init__()
        self.in_main = 0
        self.stack: list[dict] = []  # open <figure> elements
        self.figures: list[dict] = []
        self.loose_images = 0
        self.text_captions: list[str] = []
        self._in_p = False
        self._p_text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.in_main += 1
        if not self.in_main:
            return
        if tag == "figure":
            self.stack.append({"id": attrs.get("id", ""), "images": 0, "captions": 0})
        elif tag == "img":
            if self.stack:
                self.stack[-1]["images"] += 1
            else:
                self.loose_images += 1
        elif tag == "figcaption" and self.stack:
            self.stack[-1]["captions"] += 1
        elif tag == "p" and not self.stack:
            self._in_p, self._p_text = True, ""

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main -= 1
        elif tag == "figure" and self.stack:
            self.figures.append(self.stack.pop())
        elif tag == "p" and self._in_p:
            self._in_p = False
            # a hand-written "Figure 3: ..." paragraph is a caption that no figure owns
            if re.match(r"\s*Figure\s+\d+[.:]", self._p_text):
                self.text_captions.append(self._p_text.strip()[:60])

    def handle_data(self, data):
        if self._in_p:
            self._p_text += data


def _chapter_pages(html: Path) -> list[Path]:
    return sorted(p for p in (html / "book").glob("*.html")
                  if re.match(r"\d\d_", p.name))


def figure_problems(page_html: str) -> list[str]:
    """What is wrong with a chapter page's figures (empty list: every figure is shown)."""
    parser = _Figures()
    parser.feed(page_html)
    problems = []
    for fig in parser.figures:
        if fig["captions"] and not fig["images"]:
            problems.append(f"figure {fig['id'] or '?'} has a caption but no image")
    captions = sum(f["captions"] for f in parser.figures)
    images = sum(f["images"] for f in parser.figures) + parser.loose_images
    if images < captions:
        problems.append(f"{images} images for {captions} figure captions")
    if images == 0:
        problems.append("no images at all")
    problems += [f"caption not bound to a figure: {t!r}" for t in parser.text_captions]
    return problems


def test_every_chapter_page_shows_its_figures(book):
    assert book["returncode"] == 0, "book build failed; see test_book_builds_without_warnings"
    pages = _chapter_pages(book["html"])
    assert len(pages) == len([n for n in _toc_notebooks() if re.match(r"book/\d\d_", n)])
    bad = {p.name: figure_problems(p.read_text()) for p in pages}
    assert not {k: v for k, v in bad.items() if v}, bad
    for page in pages:
        text = page.read_text()
        assert 'class="math notranslate nohighlight"' in text, f"{page.name}: no display math"
        assert "exercise" in text, f"{page.name}: no exercises"
        # every figure on the page is a real image file that was written into the build
        for src in re.findall(r'<img[^>]+src="([^"]+)"', text):
            if not src.startswith(("http", "data:")):
                assert (page.parent / src).resolve().is_file(), f"{page.name}: missing {src}"


def test_figure_check_catches_missing_and_unbound_figures():
    """The checker fails on the mistakes it exists for (a test of the test)."""
    ok = ('<main><figure id="fig-a"><img src="a.png"><figcaption>Figure 1: a</figcaption>'
          "</figure><p>text</p></main>")
    assert figure_problems(ok) == []
    no_image = '<main><figure id="fig-a"><figcaption>Figure 1: a</figcaption></figure></main>'
    assert any("no image" in p for p in figure_problems(no_image))
    unbound = '<main><img src="a.png"><p>Figure 2: the loss falls.</p></main>'
    assert any("not bound" in p for p in figure_problems(unbound))
    nothing = "<main><p>only words</p></main>"
    assert "no images at all" in figure_problems(nothing)
