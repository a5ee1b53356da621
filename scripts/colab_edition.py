"""Generate the Colab edition of the book: plain Jupyter notebooks made from the executed book.

Usage, from the repository root, after ``make book`` (``make colab`` does both)::

    python scripts/colab_edition.py                   # _build -> _build/colab
    python scripts/colab_edition.py --build DIR/_build --out /tmp/colab --ref v1.0

Colab and JupyterLab do not understand MyST. For every chapter notebook of ``_toc.yml`` this
script takes the *executed* notebook from the book build's jupyter-cache (so every output and
figure of the run is kept) and the numbers the web book shows from the built HTML (equations,
figures, exercises are numbered across the whole book), and writes
``<out>/book/<name>.ipynb`` in plain Jupyter Markdown:

- ``{glue:text}`` (and the other glue roles/directives) -> the value glued in the run;
- ``$$ ... $$ (label)`` -> ``$$ ... \\tag{N} $$`` with the web book's N, ``{eq}`` -> "(N)" linked to it;
- ``{numref}``/``{ref}``/``{doc}`` and links to other chapters -> the web book's text, linked to the
  other Colab notebooks (on the ``colab`` branch) or to the web book;
- ``{footcite:p}``/``{footcite:t}``/``{cite:...}`` -> author-year, ``{footbibliography}`` -> the
  list of the works cited in the notebook (pybtex, from ``book/references.bib``);
- ``{exercise}`` -> a headed block "Exercise N (title)"; ``{solution}`` and gated
  ``{solution-start}``/``{solution-end}`` -> collapsed ``<details>`` blocks (gated code cells hidden);
- admonitions -> blockquotes; figure captions of ``mystnb.figure`` cell metadata -> "Fig. N" captions;
- cells tagged ``remove-cell`` are dropped when no later cell uses what they define (glue calls,
  prose asserts), else hidden like ``hide-input``/``remove-input`` cells with Colab's form view
  (``cellView: form`` and a ``#@title`` line); ``mu.glue(...)`` lines leave visible cells;
- the setup cell installs the exact commit (or tag) the notebook was built from, shows pip's
  progress, and warns when the runtime must be restarted because pip changed numpy/pandas;
- the badge line points to the Colab edition with Colab's own badge.

The same conversion makes ``<out>/assignments/<name>-student.ipynb`` of every assignment source
``book/assignments/a*.ipynb``, from the student version that ``scripts/assignments.py`` (``make
assignments``) generates: its setup cell installs the same commit, otter's setup cell stays in
form view, its locked check cells stay locked, and its export cell (which otter refuses to run in
Colab) tells Colab readers to download the notebook instead. The file name is the one the student
version's export cell and the handout zip use, and the one ``book/assignments/index.md`` links to.

The repository URL, the branches and the web book's address come from ``_config.yml``
(``repository.url``, ``repository.branch``, ``launch_buttons.colab_branch``; the web book's
address is ``html.baseurl`` or else the GitHub Pages address of the repository).
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

COLAB = "https://colab.research.google.com"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "images/open-in-colab.svg"
ADMONITIONS = {
    "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important", "warning": "Warning",
    "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
    "seealso": "See also", "admonition": "", "margin": "", "sidebar": "", "topic": "",
    "dropdown": "", "card": "",
}
#: glue calls that only matter to myst-nb (they do nothing in Colab)
GLUE_CALLS = {"mu.glue", "glue", "myst_nb.glue", "matae_utils.glue", "matae_utils.notebook.glue"}
#: libraries whose in-memory version must match the installed one after pip ran in the setup cell
RESTART_LIBRARIES = ("numpy", "pandas", "scipy", "matplotlib")
#: folder of the colab branch that holds the assignments' student versions (``make assignments``)
ASSIGNMENTS_DIR = "assignments"
#: cell metadata of the source that the Colab edition keeps: Jupyter's locks (otter locks its
#: check cells) and collapsed inputs
KEPT_CELL_METADATA = ("deletable", "editable", "jupyter")
#: notebook metadata of the source that the Colab edition keeps (otter checks the assignment name
#: of a submission against its autograder)
KEPT_NB_METADATA = ("otter",)


class ColabEditionError(RuntimeError):
    """The book build does not allow a faithful Colab edition (stale build, unknown label...)."""


# --------------------------------------------------------------------------- configuration
def book_config(root: Path = ROOT) -> dict:
    import yaml

    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Repo:
    """Where the book lives: the one repository URL (``_config.yml``) and what derives from it."""

    url: str = "https://github.com/matae-book/matae"
    branch: str = "main"
    colab_branch: str = "colab"
    ref: str = "main"  # the commit or tag the notebooks were built from
    pages_url: str = ""

    @classmethod
    def from_config(cls, config: dict, ref: str | None = None) -> Repo:
        repo = config.get("repository") or {}
        url = str(repo.get("url", cls.url)).rstrip("/")
        if url.endswith(".git"):
            url = url[:-4]
        branch = str(repo.get("branch", "main"))
        colab_branch = str((config.get("launch_buttons") or {}).get("colab_branch", "colab"))
        pages = str((config.get("html") or {}).get("baseurl") or "")
        return cls(url=url, branch=branch, colab_branch=colab_branch, ref=ref or branch,
                   pages_url=pages or pages_url(url))

    @property
    def slug(self) -> str:
        """``owner/name`` of a GitHub repository."""
        match = re.match(r"https://github\.com/([^/]+)/([^/]+)$", self.url)
        if not match:
            raise ColabEditionError(f"repository.url must be a GitHub repository, got {self.url}")
        return f"{match.group(1)}/{match.group(2)}"

    def colab_url(self, path: str, branch: str | None = None) -> str:
        """Colab's address of ``path`` (relative to the repository root) on ``branch``."""
        return f"{COLAB}/github/{self.slug}/blob/{branch or self.colab_branch}/{path}"

    def raw_url(self, path: str, branch: str | None = None) -> str:
        return f"https://raw.githubusercontent.com/{self.slug}/{branch or self.colab_branch}/{path}"

    def blob_url(self, path: str) -> str:
        return f"{self.url}/blob/{self.ref}/{path}"

    def web_url(self, docname: str) -> str:
        return f"{self.pages_url.rstrip('/')}/{docname}.html"

    @property
    def requirement(self) -> str:
        return f"matae_utils @ git+{self.url}@{self.ref}"


def pages_url(repo_url: str) -> str:
    """GitHub Pages address of a repository: https://github.com/o/n -> https://o.github.io/n/."""
    match = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", repo_url)
    if not match:
        return repo_url
    owner, name = match.groups()
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{name}/"


def git_ref(root: Path = ROOT) -> str:
    """The tag of HEAD if it has one, else its commit; warns when the work tree has changes."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    head = git("rev-parse", "HEAD")
    if head.returncode:
        raise ColabEditionError(f"{root} is not a git checkout; pass --ref TAG_OR_COMMIT")
    tag = git("describe", "--tags", "--exact-match", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    if dirty:
        print(f"warning: the work tree has uncommitted changes; the Colab edition installs "
              f"matae_utils from commit {head.stdout.strip()[:12]}, without them", file=sys.stderr)
    return tag.stdout.strip() if tag.returncode == 0 else head.stdout.strip()


def package_version(root: Path = ROOT) -> str:
    text = (root / "matae_utils" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.M)
    if not match:
        raise ColabEditionError("no __version__ in matae_utils/__init__.py")
    return match.group(1)


def toc_docs(root: Path = ROOT) -> list[str]:
    """Docnames of ``_toc.yml`` in reading order (root first)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                docs.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [re.sub(r"\.(ipynb|md)$", "", d) for d in docs]


def make_id(label: str) -> str:
    """The HTML id Sphinx/docutils makes of a label."""
    from docutils.nodes import make_id as docutils_make_id

    return docutils_make_id(label)


# ------------------------------------------------------------------ numbers from the web book
@dataclass
class PageRefs:
    """What the built HTML of one page shows: numbers and the texts of its references."""

    equations: dict[str, str] = field(default_factory=dict)  # id -> "5"
    figures: dict[str, str] = field(default_factory=dict)  # id -> "Fig. 3"
    figure_order: list[str] = field(default_factory=list)
    exercises: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> ("Exercise 6", t)
    exercise_order: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)  # every id on the page
    ref_texts: dict[tuple[str, str], str] = field(default_factory=dict)  # (page, id) -> text
    title: str = ""


def _text(node: Any) -> str:
    return re.sub(r"\s+", " ", node.get_text(" ", strip=True)).replace("¶", "").rstrip("#").strip()


def parse_html(html: str, page: str) -> PageRefs:
    """Equation, figure and exercise numbers and reference texts of a built page.

    ``page`` is the docname (``book/02_autoencoder_fundamentals``); hrefs to other pages are
    resolved relative to it."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article.bd-article") or soup.select_one("main") or soup
    refs = PageRefs()
    heading = article.select_one("h1")
    refs.title = _text(heading) if heading else page
    for node in article.select("[id]"):
        refs.targets.add(node["id"])
    for div in article.select("div.math[id^=equation-]"):
        eqno = div.select_one("span.eqno")
        number = re.search(r"\(([^)]+)\)", eqno.get_text()) if eqno else None
        if number:
            refs.equations[div["id"][len("equation-"):]] = number.group(1)
    for fig in article.select("figure[id], div.figure[id]"):
        caption = fig.select_one("span.caption-number")
        if caption:
            refs.figures[fig["id"]] = _text(caption).rstrip(".").strip()
            refs.figure_order.append(fig["id"])
    for div in article.select("div.exercise[id], div.admonition.exercise[id]"):
        title = div.select_one("p.admonition-title")
        if title is None:
            continue
        number = title.select_one("span.caption-number")
        label = _text(number) if number else "Exercise"
        full = _text(title)
        rest = full[len(label):].strip() if full.startswith(label) else ""
        refs.exercises[div["id"]] = (label, rest.strip("() "))
        refs.exercise_order.append(div["id"])
    base = page.rsplit("/", 1)[0] + "/" if "/" in page else ""
    for link in article.select("a.reference.internal[href]"):
        href = link["href"]
        path, _, fragment = href.partition("#")
        if not fragment:
            continue
        target = page if not path else _normpath(base + re.sub(r"\.html$", "", path))
        refs.ref_texts.setdefault((target, fragment), _text(link))
    return refs


def _normpath(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# ---------------------------------------------------------------------------- citations
class Bibliography:
    """Author-year citations and reference lists from a BibTeX file (pybtex)."""

    def __init__(self, path: Path):
        from pybtex.database import parse_file

        self.data = parse_file(str(path))
        self.labels: dict[str, str] = {}
        groups: dict[tuple[str, str], list[str]] = {}
        for key, entry in self.data.entries.items():
            groups.setdefault((self._authors(entry), self._year(entry)), []).append(key)
        for (authors, year), keys in groups.items():
            keys = sorted(keys, key=lambda k: str(self.data.entries[k].fields.get("title", k)))
            for i, key in enumerate(keys):
                suffix = "abcdefghijklmnopqrstuvwxyz"[i] if len(keys) > 1 else ""
                self.labels[key] = f"{authors}|{year}{suffix}"

    @staticmethod
    def _latex(text: str) -> str:
        from pybtex.richtext import Text

        return Text.from_latex(text).render_as("text")

    def _authors(self, entry: Any) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        if not persons:
            return self._latex(str(entry.fields.get("organization", entry.fields.get("title", "?"))))
        last = [self._latex(" ".join(p.prelast_names + p.last_names)) for p in persons]
        if len(last) == 1:
            return last[0]
        if len(last) == 2:
            return f"{last[0]} and {last[1]}"
        return f"{last[0]} et al."

    @staticmethod
    def _year(entry: Any) -> str:
        return str(entry.fields.get("year", "n.d."))

    def _check(self, key: str) -> tuple[str, str]:
        if key not in self.labels:
            raise ColabEditionError(f"citation key {key!r} is not in the bibliography")
        authors, year = self.labels[key].split("|")
        return authors, year

    def cite(self, keys: list[str], textual: bool = False) -> str:
        """``(Ward et al., 2016; Zhuo et al., 2018)`` or, textual, ``Ward et al. (2016)``."""
        parts = [self._check(k) for k in keys]
        if textual:
            return " and ".join(f"{a} ({y})" for a, y in parts) if len(parts) < 3 else \
                ", ".join(f"{a} ({y})" for a, y in parts)
        return "(" + "; ".join(f"{a}, {y}" for a, y in parts) + ")"

    def references(self, keys: list[str]) -> str:
        """Markdown list of the cited works, sorted by author and year."""
        from pybtex.style.formatting.plain import Style

        unique = sorted(dict.fromkeys(keys), key=lambda k: (self.labels[k].lower(), k))
        if not unique:
            return ""
        entries = {e.key: e for e in Style().format_entries([self.data.entries[k] for k in unique])}
        lines = []
        for key in unique:
            authors, year = self._check(key)
            text = entries[key].text.render_as("markdown").replace("\n", " ")
            text = re.sub(r"\\([.\-():,!?])", r"\1", text)
            lines.append(f'- <a id="ref-{make_id(key)}"></a>**{authors}, {year}.** {text}')
        return "\n".join(lines)


# -------------------------------------------------------------------------------- glue
def glue_data(nb: Any) -> dict[str, dict]:
    """``{key: mime bundle}`` of every ``glue`` call in an executed notebook."""
    data: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            meta = output.get("metadata", {}).get("scrapbook")
            if meta:
                prefix = meta.get("mime_prefix", "")
                data[meta["name"]] = {k[len(prefix):]: v for k, v in output.get("data", {}).items()}
    return data


def format_glue_text(bundle: dict, fmt: str) -> str:
    """What myst-nb's ``{glue:text}`key:fmt``` shows (same function as myst-nb 1.x)."""
    if "text/plain" not in bundle:
        raise ColabEditionError("glue:text needs a text/plain value")
    text = bundle["text/plain"]
    text = "".join(text) if isinstance(text, list) else text
    try:
        from myst_nb.core.variables import format_plain_text
    except ImportError:  # same rules, for a machine without myst-nb
        format_plain_text = _format_plain_text
    return format_plain_text(text, fmt)


def _format_plain_text(text: str, fmt_spec: str) -> str:
    try:
        value: Any = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


# ------------------------------------------------------------------------- the converter
@dataclass
class Context:
    """Everything the conversion of one notebook needs."""

    docname: str  # "book/02_autoencoder_fundamentals"
    repo: Repo
    pages: dict[str, PageRefs]  # docname -> refs, every page of the book
    glue: dict[str, dict[str, dict]]  # docname -> glue data
    bib: Bibliography | None
    notebooks: set[str]  # docnames that are notebooks (have a Colab edition)
    docs: set[str]  # every docname of the book
    #: source path -> path on the colab branch, where they differ (the assignments' student
    #: versions: ``book/assignments/a1_x.ipynb`` -> ``assignments/a1_x-student.ipynb``)
    colab_paths: dict[str, str] = field(default_factory=dict)
    cited: list[str] = field(default_factory=list)
    exercise_index: int = 0
    figure_index: int = 0
    gated: str | None = None  # summary of an open gated solution
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    attachments: dict[str, dict] = field(default_factory=dict)

    @property
    def page(self) -> PageRefs:
        return self.pages.get(self.docname, PageRefs())

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.docname}: {message}")


ROLE = re.compile(r"\{([A-Za-z][\w:.\-]*)\}`([^`]*)`")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[A-Za-z][\w:.\-]*)\}\s*(?P<arg>.*)$")
MATH_LABEL = re.compile(r"^(?P<body>.*?)\$\$\s*\((?P<label>[^)\s]+)\)\s*$", re.S)
LINK = re.compile(r"(?<!\\)(?P<bang>!?)\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
TARGET = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$")


def split_title_label(text: str) -> tuple[str | None, str]:
    """``"explicit title <label>"`` -> ("explicit title", "label"); ``"label"`` -> (None, "label")."""
    match = re.match(r"^(.*?)\s*<([^<>]+)>$", text.strip(), re.S)
    if match and match.group(1):
        return match.group(1), match.group(2)
    return None, text.strip()


def resolve_target(ctx: Context, label: str) -> tuple[str | None, str]:
    """(docname, html id) of a label: the current page first, then any page of the book."""
    ident = make_id(label)
    if ident in ctx.page.targets or f"equation-{ident}" in ctx.page.targets:
        return ctx.docname, ident
    for doc, refs in ctx.pages.items():
        if ident in refs.targets or f"equation-{ident}" in refs.targets:
            return doc, ident
    return None, ident


def doc_link(ctx: Context, doc: str, anchor: str = "") -> str:
    """Where a link to ``doc`` goes in the Colab edition: its Colab notebook or the web book."""
    frag = f"#{anchor}" if anchor else ""
    if doc == ctx.docname:
        return frag or "#"
    if doc in ctx.notebooks:
        return ctx.repo.colab_url(f"{doc}.ipynb") + frag
    return ctx.repo.web_url(doc) + frag


def convert_role(ctx: Context, name: str, content: str) -> str:
    """Plain Markdown for one MyST role."""
    if name in ("glue", "glue:", "glue:any", "glue:text", "glue:md"):
        ctx.count("glue")
        return paste_glue(ctx, name, content)
    if name == "eq":
        title, label = split_title_label(content)
        doc, ident = resolve_target(ctx, label)
        refs = ctx.pages.get(doc or "", PageRefs())
        number = refs.equations.get(ident)
        if number is None:
            raise ColabEditionError(f"{ctx.docname}: no numbered equation {label!r} in the web book")
        ctx.count("eq")
        text = title or f"({number})"
        return f"[{text}]({doc_link(ctx, doc, ident)})"
    if name in ("numref", "ref", "doc", "any", "std:ref", "std:numref"):
        ctx.count(name)
        return reference(ctx, name, content)
    if re.fullmatch(r"(foot)?cite(:[a-z]+)?", name):
        if ctx.bib is None:
            raise ColabEditionError("citations found but no bibliography")
        keys = [k.strip() for k in content.split(",") if k.strip()]
        ctx.cited.extend(keys)
        ctx.count("cite")
        textual = name.endswith(":t") or name.endswith(":ts")
        return ctx.bib.cite(keys, textual=textual)
    if name == "math":
        return f"${content}$"
    if name in ("sub", "sup"):
        return f"<{name}>{content}</{name}>"
    if name in ("abbr", "term", "index", "guilabel", "menuselection", "kbd", "file", "samp"):
        return split_title_label(content)[0] or re.sub(r"\s*\([^)]*\)$", "", content)
    if name in ("code", "literal", "py:func", "py:class", "py:meth", "py:mod", "func", "class",
                "meth", "mod", "attr", "py:attr", "obj", "py:obj"):
        return f"`{split_title_label(content)[0] or content}`"
    if name == "download":
        title, path = split_title_label(content)
        return f"[{title or Path(path).name}]({ctx.repo.raw_url(_repo_path(ctx, path), ctx.repo.ref)})"
    ctx.warn(f"unknown role {{{name}}}: kept its text")
    return content


def paste_glue(ctx: Context, name: str, content: str) -> str:
    doc = ctx.docname
    text = content
    if "::" in content:
        other, text = content.split("::", 1)
        doc = _normpath((ctx.docname.rsplit("/", 1)[0] + "/" if "/" in ctx.docname else "")
                        + re.sub(r"\.(ipynb|md)$", "", other))
    key, fmt = (text.rsplit(":", 1) + ["s"])[:2] if name == "glue:text" and ":" in text \
        else (text, "s")
    bundle = ctx.glue.get(doc, {}).get(key)
    if bundle is None:
        raise ColabEditionError(f"{ctx.docname}: no glued value {key!r} in the executed notebook")
    if name == "glue:text":
        return format_glue_text(bundle, fmt)
    if "text/markdown" in bundle:
        value = bundle["text/markdown"]
        return "".join(value) if isinstance(value, list) else value
    if name == "glue:md":
        raise ColabEditionError(f"{ctx.docname}: glue:md {key!r} has no text/markdown value")
    if "text/latex" in bundle:
        value = bundle["text/latex"]
        return "".join(value) if isinstance(value, list) else value
    value = bundle.get("text/plain", "")
    return "".join(value) if isinstance(value, list) else value


def reference(ctx: Context, name: str, content: str) -> str:
    title, label = split_title_label(content)
    if name == "doc":
        target = re.sub(r"\.(ipynb|md)$", "", label)
        doc = target.lstrip("/") if target.startswith("/") else _normpath(
            (ctx.docname.rsplit("/", 1)[0] + "/" if "/" in ctx.docname else "") + target)
        text = title or ctx.pages.get(doc, PageRefs()).title or doc
        return f"[{text}]({doc_link(ctx, doc)})"
    doc, ident = resolve_target(ctx, label)
    if doc is None:
        raise ColabEditionError(f"{ctx.docname}: {{{name}}} target {label!r} is not in the web book")
    refs = ctx.pages.get(doc, PageRefs())
    number = refs.figures.get(ident) or (refs.exercises.get(ident) or ("", ""))[0]
    if title and "%s" in title and number:
        text = title.replace("%s", number.split()[-1])
    elif title:
        text = title
    else:
        text = ctx.page.ref_texts.get((doc, ident))
        if not text:
            exercise = refs.exercises.get(ident)
            text = number or (f"{exercise[0]} ({exercise[1]})" if exercise else ident)
    return f"[{text}]({doc_link(ctx, doc, ident)})"


def _repo_path(ctx: Context, path: str) -> str:
    base = ctx.docname.rsplit("/", 1)[0] + "/" if "/" in ctx.docname else ""
    return _normpath(path.lstrip("/") if path.startswith("/") else base + path)


def convert_link(ctx: Context, match: re.Match) -> str:
    bang, text, url = match.group("bang"), match.group("text"), match.group("url")
    title = match.group("title") or ""
    if bang:
        return f"![{text}]({convert_image_url(ctx, url)}{title})"
    text = LINK.sub(lambda m: convert_link(ctx, m), text)  # badge images inside links
    colab = re.match(rf"{re.escape(COLAB)}/github/([^/]+/[^/]+)/blob/[^/]+/(.+)$", url)
    if colab and colab.group(1).lower() == ctx.repo.slug.lower():
        path = ctx.colab_paths.get(colab.group(2), colab.group(2))
        return f"[{text}]({ctx.repo.colab_url(path)}{title})"
    if re.match(r"^[a-z][a-z0-9+.\-]*:", url, re.I) or url.startswith("#"):
        return match.group(0) if not text.startswith("![") else f"[{text}]({url}{title})"
    path, _, anchor = url.partition("#")
    target = _repo_path(ctx, path)
    if target in ctx.colab_paths:  # another assignment: its student version in Colab
        ctx.count("link")
        return f"[{text}]({ctx.repo.colab_url(ctx.colab_paths[target])}" \
               f"{'#' + anchor if anchor else ''}{title})"
    doc = re.sub(r"\.(ipynb|md)$", "", target)
    if doc in ctx.docs:
        ctx.count("link")
        return f"[{text}]({doc_link(ctx, doc, anchor)}{title})"
    return f"[{text}]({ctx.repo.blob_url(target)}{'#' + anchor if anchor else ''}{title})"


def convert_image_url(ctx: Context, url: str) -> str:
    if Path(url).name == Path(LOCAL_BADGE).name:
        return COLAB_BADGE
    if re.match(r"^[a-z][a-z0-9+.\-]*:", url, re.I):
        return url
    return ctx.repo.raw_url(_repo_path(ctx, url))


def _protect_code(text: str) -> tuple[str, list[str]]:
    """Replace inline code spans by placeholders (MyST roles are not code spans)."""
    out: list[str] = []
    spans: list[str] = []
    i = 0
    while i < len(text):
        role = ROLE.match(text, i) if text[i] == "{" else None
        if role:
            out.append(role.group(0))
            i = role.end()
            continue
        if text[i] == "`":
            run = re.match(r"`+", text[i:]).group(0)
            close = re.compile(rf"(?<!`){run}(?!`)")
            end = close.search(text, i + len(run))
            if end is None:
                out.append(run)
                i += len(run)
                continue
            spans.append(text[i:end.end()])
            out.append(f"\x00{len(spans) - 1}\x00")
            i = end.end()
            continue
        out.append(text[i])
        i += 1
    return "".join(out), spans


def _restore_code(text: str, spans: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], text)


def convert_inline(ctx: Context, text: str) -> str:
    """Roles and links of a run of Markdown text (code spans are left as they are)."""
    text, spans = _protect_code(text)
    text = ROLE.sub(lambda m: convert_role(ctx, m.group(1), m.group(2)), text)
    text = LINK.sub(lambda m: convert_link(ctx, m), text)
    return _restore_code(text, spans)


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """Directive options (``:key: value`` lines or a ``---`` YAML block) and the content."""
    options: dict[str, str] = {}
    lines = list(body)
    if lines and lines[0].strip() == "---":
        import yaml

        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        if end is not None:
            options = {str(k): str(v) for k, v in (yaml.safe_load("\n".join(lines[1:end])) or {}).items()}
            return options, lines[end + 1:]
    while lines and re.match(r"^\s*:[\w\-]+:", lines[0]):
        key, _, value = lines.pop(0).strip()[1:].partition(":")
        options[key] = value.strip()
    return options, lines


def _blocks(lines: list[str]):
    """Split Markdown lines into text runs, code fences and MyST directives (with nesting)."""
    i = 0
    text: list[str] = []
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            text.append(lines[i])
            i += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        char, size = fence[0], len(fence)
        if char == ":" and not info.startswith("{"):
            text.append(lines[i])
            i += 1
            continue
        closing = re.compile(rf"^\s*{re.escape(char)}{{{size},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        if text:
            yield ("text", text)
            text = []
        body = lines[i + 1:j]
        directive = DIRECTIVE.match(info)
        if directive:
            yield ("directive", directive.group("name"), directive.group("arg").strip(), body,
                   match.group("indent"))
        else:
            yield ("code", lines[i:j + 1])
        i = j + 1
    if text:
        yield ("text", text)


def _convert_block(ctx: Context, block: tuple) -> list[str]:
    if block[0] == "text":
        return convert_text_lines(ctx, block[1])
    if block[0] == "code":
        return list(block[1])
    _, name, arg, body, _indent = block
    return convert_directive(ctx, name, arg, body).split("\n")


def convert_markdown(ctx: Context, source: str) -> str:
    """Markdown (a directive's body, a caption) in plain Jupyter Markdown."""
    out: list[str] = []
    for block in _blocks(source.split("\n")):
        out.extend(_convert_block(ctx, block))
    return "\n".join(out)


def convert_cell_markdown(ctx: Context, source: str) -> str:
    """A Markdown cell; what lies inside a gated solution (between ``{solution-start}`` and
    ``{solution-end}``, possibly over several cells) goes into collapsed ``<details>`` blocks."""
    segments: list[tuple[str | None, str]] = []
    for block in _blocks(source.split("\n")):
        gate = block[0] == "directive" and block[1] in ("solution-start", "solution-end")
        before = ctx.gated
        text = "\n".join(_convert_block(ctx, block))
        segments.append((None if gate else before, text))
    out: list[str] = []
    i = 0
    while i < len(segments):
        summary, text = segments[i]
        while i + 1 < len(segments) and segments[i + 1][0] == summary:
            i += 1
            text += "\n" + segments[i][1]
        if summary and text.strip():
            out.append(_details(f"{summary} (continued)", text))
        elif not summary:
            out.append(text)
        i += 1
    return "\n".join(out)


def convert_text_lines(ctx: Context, lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if TARGET.match(line):
            out.extend([f'<a id="{make_id(TARGET.match(line).group("label"))}"></a>', ""])
            i += 1
            continue
        if line.startswith("%") or line.strip() == "+++":  # MyST comments and block breaks
            i += 1
            continue
        if line.lstrip().startswith("$$"):
            indent = line[:len(line) - len(line.lstrip())]
            j = i
            chunk = line.lstrip()[2:]
            while not re.search(r"\$\$\s*(\([^)\s]+\))?\s*$", chunk) and j + 1 < len(lines):
                j += 1
                chunk += "\n" + lines[j][len(indent):] if lines[j].startswith(indent) else \
                    "\n" + lines[j]
            out.extend(f"{indent}{m}" if m else m for m in convert_display_math(ctx, "$$" + chunk))
            i = j + 1
            continue
        paragraph = [line]
        while i + 1 < len(lines) and not lines[i + 1].lstrip().startswith("$$") \
                and not TARGET.match(lines[i + 1]) and not lines[i + 1].startswith("%"):
            i += 1
            paragraph.append(lines[i])
        out.extend(convert_inline(ctx, "\n".join(paragraph)).split("\n"))
        i += 1
    return out


def convert_display_math(ctx: Context, math: str, label: str | None = None) -> list[str]:
    """``$$ body $$ (label)`` -> anchor + ``$$ body \\tag{N} $$`` with the web book's N."""
    match = MATH_LABEL.match(math.strip()[2:])
    body = (match.group("body") if match else math.strip()[2:].rstrip()[:-2]).strip("\n")
    label = label or (match.group("label") if match else None)
    if label is None:
        return ["$$", body.strip(), "$$"] if "\n" in body.strip() else [f"$${body.strip()}$$"]
    ident = make_id(label)
    number = ctx.page.equations.get(ident)
    if number is None:
        raise ColabEditionError(f"{ctx.docname}: equation {label!r} has no number in the web book")
    ctx.count("equation")
    return ["", f'<a id="{ident}"></a>', "", "$$", body.strip(), f"\\tag{{{number}}}", "$$", ""]


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary><b>{summary}</b></summary>\n\n{body.strip()}\n\n</details>"


def exercise_title(ctx: Context, label: str | None) -> tuple[str, str]:
    """("Exercise 6", "title") of an exercise label, from the web book."""
    refs = ctx.page
    ident = make_id(label) if label else None
    if ident and ident in refs.exercises:
        return refs.exercises[ident]
    for page in ctx.pages.values():
        if ident and ident in page.exercises:
            return page.exercises[ident]
    raise ColabEditionError(f"{ctx.docname}: exercise {label!r} is not numbered in the web book")


def convert_directive(ctx: Context, name: str, arg: str, body: list[str]) -> str:
    options, content = _split_options(body)
    inner = "\n".join(content).strip("\n")
    if name == "exercise":
        ctx.count("exercise")
        label = options.get("label")
        if label is None:
            order = ctx.page.exercise_order
            label = order[ctx.exercise_index] if ctx.exercise_index < len(order) else None
        ctx.exercise_index += 1
        number, title = exercise_title(ctx, label)
        heading = f"{number} ({convert_inline(ctx, arg)})" if arg else number
        anchor = f'<a id="{make_id(label)}"></a>\n\n' if label else ""
        return f"{anchor}### {heading}\n\n{convert_markdown(ctx, inner)}\n"
    if name == "solution":
        ctx.count("solution")
        return _details(solution_summary(ctx, arg), convert_markdown(ctx, inner)) + "\n"
    if name == "solution-start":
        ctx.count("solution")
        ctx.gated = solution_summary(ctx, arg)
        note = ("The code of this solution is in the next cell (hidden: click *Show code* to see "
                "it, run it to see its output).")
        text = convert_markdown(ctx, inner) if inner.strip() else ""
        return _details(ctx.gated, f"{text}\n\n{note}".strip()) + "\n"
    if name == "solution-end":
        ctx.gated = None
        return ""
    if name in ("footbibliography", "bibliography"):
        if ctx.bib is None:
            raise ColabEditionError("a bibliography directive but no .bib file")
        ctx.count("bibliography")
        return ctx.bib.references(ctx.cited) + "\n"
    if name == "math":
        math = "$$\n" + inner + "\n$$"
        return "\n".join(convert_display_math(ctx, math, options.get("label")))
    if name in ("figure", "image"):
        ctx.count("figure")
        url = convert_image_url(ctx, arg)
        alt = options.get("alt", "")
        lines = []
        if options.get("name"):
            lines += [f'<a id="{make_id(options["name"])}"></a>', ""]
        lines.append(f"![{alt}]({url})")
        if name == "figure" and inner:
            number = ctx.page.figures.get(make_id(options.get("name", "")), "Figure")
            lines += ["", f"**{number}.** {convert_markdown(ctx, inner)}"]
        return "\n".join(lines) + "\n"
    if name in ("glue", "glue:", "glue:any", "glue:figure", "glue:math", "glue:md"):
        ctx.count("glue")
        return glue_directive(ctx, name, arg, options, inner)
    if name in ("code-block", "code", "sourcecode", "code-cell"):
        return f"```{arg}\n{inner}\n```\n"
    if name in ("toctree", "tableofcontents", "contents", "raw", "only", "index"):
        return ""
    if name in ADMONITIONS:
        ctx.count("admonition")
        title = convert_inline(ctx, arg) if arg else ADMONITIONS[name]
        text = convert_markdown(ctx, inner)
        if "dropdown" in options.get("class", "").split() or name == "dropdown":
            return _details(title or "Details", text) + "\n"
        return _quote((f"**{title}**\n\n" if title else "") + text) + "\n"
    ctx.warn(f"unknown directive {{{name}}}: kept its content as a blockquote")
    return _quote(f"**{arg}**\n\n{convert_markdown(ctx, inner)}" if arg else
                  convert_markdown(ctx, inner)) + "\n"


def solution_summary(ctx: Context, label: str) -> str:
    number, title = exercise_title(ctx, label.strip())
    return f"Solution to {number}" + (f" ({title})" if title else "")


def glue_directive(ctx: Context, name: str, key: str, options: dict, caption: str) -> str:
    bundle = ctx.glue.get(ctx.docname, {}).get(key)
    if bundle is None:
        raise ColabEditionError(f"{ctx.docname}: no glued value {key!r} in the executed notebook")
    if name == "glue:math":
        latex = bundle.get("text/latex", bundle.get("text/plain", ""))
        latex = ("".join(latex) if isinstance(latex, list) else latex).strip().strip("$")
        return "\n".join(convert_display_math(ctx, f"$${latex}$$", options.get("label")))
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in bundle:
            ext = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}[mime]
            name_ = f"{make_id(key)}.{ext}"
            value = bundle[mime]
            ctx.attachments[name_] = {mime: "".join(value) if isinstance(value, list) else value}
            lines = []
            if options.get("name"):
                lines += [f'<a id="{make_id(options["name"])}"></a>', ""]
            lines.append(f"![{key}](attachment:{name_})")
            if caption:
                number = ctx.page.figures.get(make_id(options.get("name", "")), "Figure")
                lines += ["", f"**{number}.** {convert_markdown(ctx, caption)}"]
            return "\n".join(lines) + "\n"
    if "text/markdown" in bundle or "text/html" in bundle:
        value = bundle.get("text/markdown", bundle.get("text/html"))
        return ("".join(value) if isinstance(value, list) else value) + "\n"
    value = bundle.get("text/plain", "")
    return "```\n" + ("".join(value) if isinstance(value, list) else value) + "\n```\n"


# ------------------------------------------------------------------------------- code cells
def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _python(source: str) -> str:
    """Cell source as plain Python (IPython magics turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    return ""


def _is_glue(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and _call_name(stmt.value.func) in GLUE_CALLS
            and not any(isinstance(n, ast.NamedExpr) for n in ast.walk(stmt)))


def strip_glue(source: str) -> str:
    """Source without its top-level ``mu.glue(...)`` statements (and loops of only those)."""
    if re.search(r"^\s*[%!]", source, re.M):  # IPython magics: leave the cell as it is
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.split("\n")
    drop: set[int] = set()

    def only_glue(stmt: ast.stmt) -> bool:
        if _is_glue(stmt):
            return True
        if isinstance(stmt, (ast.For, ast.If)) and not stmt.orelse:
            return all(only_glue(s) for s in stmt.body)
        return False

    for stmt in tree.body:
        if only_glue(stmt):
            drop.update(range(stmt.lineno - 1, stmt.end_lineno))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    text = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def defined_names(source: str) -> set[str] | None:
    """Names a cell binds at module level or mutates (``x[...] = ``, ``x.a = ``); ``None`` when
    the cell does something else that later cells might depend on (a call with side effects)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return None
    names: set[str] = set()

    def base(node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def targets(node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.Attribute, ast.Subscript)) and isinstance(sub.ctx, ast.Store):
                if base(sub):
                    names.add(base(sub))

    harmless_calls = GLUE_CALLS | {"print", "display", "mu.format_sci", "float", "int", "len",
                                   "str", "bool", "round", "abs", "min", "max", "sum"}

    def ok(stmt: ast.stmt) -> bool:
        if isinstance(stmt, (ast.Assert, ast.Pass)):
            return True
        if isinstance(stmt, ast.Expr):
            return isinstance(stmt.value, ast.Call) and _call_name(stmt.value.func) in harmless_calls \
                or isinstance(stmt.value, ast.Constant)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                targets(target)
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.NamedExpr):
                    names.add(sub.target.id)
            return True
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
            return True
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(stmt.name)
            return True
        if isinstance(stmt, (ast.For, ast.While, ast.If)):
            if isinstance(stmt, ast.For):
                targets(stmt.target)
            return all(ok(s) for s in stmt.body + stmt.orelse)
        return False

    return names if all(ok(s) for s in tree.body) else None


def identifiers(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def plumbing_to_drop(cells: list) -> set[int]:
    """Indices of code cells the Colab edition leaves out: cells left empty once their glue calls
    are gone, and ``remove-cell`` cells that define nothing a later kept cell (or the Python of a
    later solution) uses. Decided from the last cell backwards."""
    drop: set[int] = set()
    used: set[str] = set()
    for i in range(len(cells) - 1, -1, -1):
        cell = cells[i]
        if cell.get("cell_type") == "markdown":
            used |= identifiers("\n".join(re.findall(r"```\s*(?:python|ipython3?)?\n(.*?)```",
                                                     _source(cell), re.S)))
            continue
        if cell.get("cell_type") != "code":
            continue
        stripped = strip_glue(_source(cell))
        if not stripped.strip():
            drop.add(i)
            continue
        if "remove-cell" in cell.get("metadata", {}).get("tags", []):
            names = defined_names(stripped)
            if names is not None and not names & used:
                drop.add(i)
                continue
        used |= identifiers(stripped)
    return drop


def form_cell(source: str, title: str) -> str:
    """Source with Colab's ``#@title`` first line (the cell shows in form view)."""
    title = re.sub(r"\s+", " ", title).strip()
    if source.startswith("%%"):  # a cell magic must stay first; Colab still hides the code
        return source
    return f"#@title {title}\n{source}"


def clean_outputs(outputs: list, tags: set[str]) -> list:
    """Executed outputs without glue records, widget views without a fallback, removed streams."""
    kept = []
    for output in copy.deepcopy(outputs):
        meta = output.get("metadata", {})
        scrap = meta.pop("scrapbook", None)
        if scrap and scrap.get("mime_prefix"):
            continue
        if output.get("output_type") == "stream":
            if f"remove-{output.get('name')}" in tags:
                continue
        data = output.get("data")
        if isinstance(data, dict) and "application/vnd.jupyter.widget-view+json" in data:
            data.pop("application/vnd.jupyter.widget-view+json")
            if not data:
                continue
        kept.append(output)
    return kept


# ------------------------------------------------------------------------------ the notebook
def colab_setup_cell(book_setup: str, repo: Repo, version: str) -> str:
    """The Colab edition's setup cell: installs ``repo.requirement`` (the built commit), shows
    pip's progress, warns when an imported numpy/pandas changed; then the book's setup lines."""
    tail = book_setup[book_setup.find("import matae_utils"):] if "import matae_utils" in book_setup \
        else "import matae_utils as mu\n\ndevice = mu.setup(seed=0)"
    short = repo.ref if not re.fullmatch(r"[0-9a-f]{40}", repo.ref) else repo.ref[:7]
    libraries = ", ".join(f'"{name}"' for name in RESTART_LIBRARIES)
    return f'''#@title Setup: install matae_utils {short} (the version this notebook was built with)
# Installs matae_utils from the book's repository at the commit this notebook was built from,
# when it is missing (as on Colab), with pip's progress below. If pip has to change a library
# this session already imported (numpy, pandas...), the cell stops and asks for a restart.
# Then it fixes the random seeds, picks the device (GPU if available) and prints versions.
import importlib.metadata
import importlib.util
import subprocess
import sys

MATAE_REQUIREMENT = "{repo.requirement}"
MATAE_VERSION = "{version}"


def installed_version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


in_colab = "google.colab" in sys.modules
if importlib.util.find_spec("matae_utils") is None or (
        in_colab and installed_version("matae_utils") != MATAE_VERSION):
    imported = {{name: sys.modules[name].__version__ for name in ({libraries})
                if name in sys.modules}}
    print(f"Installing {{MATAE_REQUIREMENT}} (a minute or two on a fresh machine)", flush=True)
    pip = subprocess.Popen([sys.executable, "-m", "pip", "install", MATAE_REQUIREMENT],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in pip.stdout:  # pip's progress, line by line
        print(line, end="", flush=True)
    if pip.wait():
        raise RuntimeError(f"pip could not install {{MATAE_REQUIREMENT}}; see its output above")
    changed = [f"{{name}} {{old}} -> {{installed_version(name)}}" for name, old in imported.items()
               if installed_version(name) != old]
    if changed:
        raise RuntimeError(
            "RESTART NEEDED: pip changed " + ", ".join(changed) + ", which this session had "
            "already imported. Restart the runtime (Runtime > Restart session), then run all "
            "cells again: matae_utils is installed now and will not be reinstalled.")

{tail}'''


def hidden_title(source: str, tags: set[str], figure_label: str | None) -> str:
    """The ``#@title`` of a hidden cell (Colab shows it with a "Show code" link)."""
    if figure_label:
        return f"Code for {figure_label}"
    if "otter-setup" in tags:  # scripts/assignments.py: SETUP_TAG
        return "Otter setup: installs otter-grader and writes this assignment's public checks"
    first = source.lstrip().split("\n", 1)[0]
    if first.startswith("#") and not first.startswith("#@") and len(first) < 90:
        return first.lstrip("# ").rstrip(".:") or "Hidden code"
    if "remove-cell" in tags:
        return "Values that the text quotes (hidden in the book)"
    if re.search(r"\bplt\.|\bax\.|subplots|\bplot_", source):
        return "Code of the figure below"
    return "Hidden code"


def convert_notebook(nb: Any, ctx: Context, *, version: str) -> Any:
    """The Colab edition of one executed notebook (a new nbformat notebook)."""
    import nbformat

    out = nbformat.v4.new_notebook()
    out.metadata = {
        "kernelspec": nb.metadata.get("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}),
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
        "matae": {"source": f"{ctx.docname}.ipynb", "commit": ctx.repo.ref,
                  "generator": "scripts/colab_edition.py (do not edit: regenerated on every push)"},
    }
    for key in KEPT_NB_METADATA:
        if key in nb.metadata:
            out.metadata[key] = copy.deepcopy(nb.metadata[key])
    cells = list(nb.cells)
    setup_done = False
    drop = plumbing_to_drop(cells)
    for i, cell in enumerate(cells):
        ctx.attachments = {}
        if cell.cell_type == "markdown":
            text = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", convert_cell_markdown(ctx, _source(cell)))
            new = nbformat.v4.new_markdown_cell(text.strip("\n"))
            if ctx.attachments:
                new["attachments"] = ctx.attachments
            new["id"] = cell.get("id", new["id"])
            if text.strip():
                out.cells.append(new)
            continue
        if cell.cell_type != "code":
            out.cells.append(copy.deepcopy(cell))
            continue
        tags = set(cell.metadata.get("tags", []))
        source = _source(cell)
        figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
        if not setup_done and "import matae_utils" in source:
            setup_done = True
            new = nbformat.v4.new_code_cell(colab_setup_cell(source, ctx.repo, version))
            new.metadata = {"cellView": "form"}
            new.outputs = clean_outputs(cell.get("outputs", []), tags)
            new.execution_count = cell.get("execution_count")
            new["id"] = cell.get("id", new["id"])
            out.cells.append(new)
            ctx.count("setup")
            continue
        stripped = strip_glue(source)
        if i in drop:
            ctx.count("dropped")
            continue
        figure_label = None
        if figure:
            ident = make_id(str(figure.get("name", "")))
            order = ctx.page.figure_order
            if not ident and ctx.figure_index < len(order):
                ident = order[ctx.figure_index]
            ctx.figure_index += 1
            figure_label = ctx.page.figures.get(ident)
            if figure_label is None:
                raise ColabEditionError(f"{ctx.docname}: figure {figure.get('name')!r} is not "
                                        "numbered in the web book")
        new = nbformat.v4.new_code_cell(stripped)
        new["id"] = cell.get("id", new["id"])
        new.execution_count = cell.get("execution_count")
        kept = {k: copy.deepcopy(v) for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        hide = tags & {"hide-input", "remove-input", "remove-cell"} or ctx.gated \
            or cell.metadata.get("cellView") == "form"
        if ctx.gated:
            new.source = form_cell(stripped, f"{ctx.gated}: code")
            new.outputs = []  # the solution's results stay hidden until the reader runs it
        else:
            new.outputs = [] if tags & {"remove-cell", "remove-output"} else \
                clean_outputs(cell.get("outputs", []), tags)
            if hide:
                new.source = form_cell(stripped, hidden_title(stripped, tags, figure_label))
        new.metadata = kept
        if hide:
            new.metadata["cellView"] = "form"
            ctx.count("hidden")
        out.cells.append(new)
        if figure:
            ident = make_id(str(figure.get("name", ""))) or ""
            caption = convert_markdown(ctx, str(figure.get("caption", "")))
            anchor = f'<a id="{ident}"></a>\n\n' if ident else ""
            out.cells.append(nbformat.v4.new_markdown_cell(f"{anchor}**{figure_label}.** {caption}"))
            ctx.count("caption")
    if ctx.gated:
        raise ColabEditionError(f"{ctx.docname}: a solution-start without solution-end")
    nbformat.validate(out)
    return out


# ----------------------------------------------------------------------------- the build
def executed_notebook(source: Path, cache: Any) -> Any:
    """The executed copy of ``source`` from the book's jupyter-cache (outputs of the run)."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    try:
        _pk, merged = cache.merge_match_into_notebook(nb)
    except KeyError:
        # the cache may hold this chapter executed from another checkout of the same sources
        for record in sorted(cache.list_cache_records(), key=lambda r: r.created, reverse=True):
            other = Path(record.uri)
            if other.name == source.name and other.is_file() and other.resolve() != source.resolve():
                try:
                    _pk, merged = cache.merge_match_into_notebook(nbformat.read(other, as_version=4))
                except KeyError:
                    continue
                print(f"warning: {source.name} changed since the book was built; using the "
                      f"built sources of {other}", file=sys.stderr)
                return merged
        raise ColabEditionError(
            f"the book build has no execution of the current {source.name} (it changed since the "
            "build): run `make book` first") from None
    return merged


# ------------------------------------------------------------------------- the assignments
def _assignments_module() -> Any:
    """``scripts/assignments.py`` (``make assignments``): the one code path to the student
    versions (otter assign, embedded public checks, leak check)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import assignments

    return assignments


@dataclass
class Assignment:
    """The student version of one assignment, as ``make assignments`` writes it."""

    docname: str  # "book/assignments/a1_first_autoencoder" (the source, which holds solutions)
    colab_path: str  # "assignments/a1_first_autoencoder-student.ipynb" (on the colab branch)
    notebook: Any  # the student notebook (nbformat)


def student_versions(root: Path = ROOT, only: list[str] | None = None) -> list[Assignment]:
    """The student version of every assignment source ``book/assignments/a*.ipynb`` (found by
    :func:`assignments.sources`, so a new assignment is picked up without a list), generated by
    :func:`assignments.generate` into a temporary folder."""
    import importlib.util
    import tempfile

    import nbformat

    asg = _assignments_module()
    sources = asg.sources(root / "book" / "assignments")
    if only:
        sources = [s for s in sources if s.stem in only]
    if sources and importlib.util.find_spec("otter") is None:
        raise ColabEditionError("the assignments need otter-grader: pip install -e '.[dev]' "
                                "(`make colab` installs it)")
    found = []
    with tempfile.TemporaryDirectory(prefix="matae-assignments-") as tmp:
        for source in sources:
            try:
                paths = asg.generate(source, Path(tmp))
            except subprocess.CalledProcessError as exc:
                raise ColabEditionError(f"otter assign failed on {source.name} (exit code "
                                        f"{exc.returncode}; its output is above)") from exc
            found.append(Assignment(
                docname=source.relative_to(root).with_suffix("").as_posix(),
                colab_path=f"{ASSIGNMENTS_DIR}/{paths['student'].name}",
                notebook=nbformat.read(str(paths["student"]), as_version=4)))
    return found


def colab_export_cell(source: str) -> str:
    """otter's export cell for Colab, where ``grader.export`` raises ("not compatible with Google
    Colab") and would end "Run all" in an error: there it prints how to hand the notebook in;
    in Jupyter it exports the submission zip as before."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.split("\n")
    calls = [s for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
             and _call_name(s.value.func) == "grader.export"]
    if len(calls) != 1:
        return source
    call = calls[0]
    first, last = call.lineno - 1, call.end_lineno
    guarded = [
        "import sys",
        "",
        'if "google.colab" in sys.modules:  # otter cannot export a submission zip in Colab',
        '    print("In Colab, hand in this notebook itself: File > Download > Download .ipynb")',
        "else:",
        *("    " + line for line in lines[first:last]),
    ]
    return "\n".join([*lines[:first], *guarded, *lines[last:]]).strip("\n")


def convert_assignment(nb: Any, ctx: Context, *, version: str) -> Any:
    """The Colab edition of an assignment's student version: the chapters' conversion (setup cell
    that installs the built commit, plumbing in form view, no MyST, links to the Colab edition)
    and an export cell that does not raise in Colab."""
    out = convert_notebook(nb, ctx, version=version)
    for cell in out.cells:
        if cell.cell_type == "code" and "grader.export(" in cell.source:
            cell.source = colab_export_cell(cell.source)
            ctx.count("export")
    return out


def load_pages(html_dir: Path, docs: list[str]) -> dict[str, PageRefs]:
    pages = {}
    for doc in docs:
        path = html_dir / f"{doc}.html"
        if path.is_file():
            pages[doc] = parse_html(path.read_text(encoding="utf-8"), doc)
    return pages


def generate(build: Path, out: Path, *, root: Path = ROOT, ref: str | None = None,
             only: list[str] | None = None) -> dict:
    """Write the Colab edition of every notebook chapter (``<out>/book/``) and of every
    assignment's student version (``<out>/assignments/``); returns a summary (files, counts)."""
    import nbformat
    from jupyter_cache import get_cache

    build, out = Path(build), Path(out)
    html_dir = build / "html"
    if not (html_dir / "index.html").is_file():
        raise ColabEditionError(f"no built book in {build} (run `make book`)")
    cache_dir = build / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise ColabEditionError(f"no jupyter-cache in {build}: the book must be built with "
                                "execute_notebooks: cache")
    config = book_config(root)
    repo = Repo.from_config(config, ref or git_ref(root))
    docs = toc_docs(root)
    notebooks = [d for d in docs if (root / f"{d}.ipynb").is_file()]
    if only:
        notebooks = [d for d in notebooks if Path(d).name in only or d in only]
    pages = load_pages(html_dir, docs)
    bibfiles = config.get("bibtex_bibfiles") or []
    bib = Bibliography(root / bibfiles[0]) if bibfiles else None
    cache = get_cache(str(cache_dir))
    executed = {doc: executed_notebook(root / f"{doc}.ipynb", cache) for doc in notebooks}
    glue = {doc: glue_data(nb) for doc, nb in executed.items()}
    version = package_version(root)
    assignments = student_versions(root, only)
    colab_paths = {f"{a.docname}.ipynb": a.colab_path for a in assignments}
    summary: dict[str, Any] = {"files": [], "assignments": [], "counts": {}, "warnings": [],
                               "ref": repo.ref}
    if out.exists():
        shutil.rmtree(out)

    def context(doc: str) -> Context:
        return Context(docname=doc, repo=repo, pages=pages, glue=glue, bib=bib,
                       notebooks=set(notebooks) | {d for d in docs if (root / f"{d}.ipynb").is_file()},
                       docs=set(docs), colab_paths=colab_paths)

    def write(nb: Any, target: Path, ctx: Context, kind: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(target))
        summary[kind].append(str(target))
        for key, value in ctx.counts.items():
            summary["counts"][key] = summary["counts"].get(key, 0) + value
        summary["warnings"].extend(ctx.warnings)

    for doc in notebooks:
        if doc not in pages:
            raise ColabEditionError(f"{doc}.html is missing from {html_dir}")
        ctx = context(doc)
        write(convert_notebook(executed[doc], ctx, version=version), out / f"{doc}.ipynb", ctx,
              "files")
    for assignment in assignments:
        ctx = context(assignment.docname)
        write(convert_assignment(assignment.notebook, ctx, version=version),
              out / assignment.colab_path, ctx, "assignments")
    images = root / "book" / "images"
    if images.is_dir():
        shutil.copytree(images, out / "book" / "images", dirs_exist_ok=True)
    (out / "README.md").write_text(
        f"# Colab edition of *{config.get('title', 'the book')}*\n\n"
        f"Generated by `make colab` (scripts/colab_edition.py) from commit `{repo.ref}` of "
        f"{repo.url} (branch `{repo.branch}`). Do not edit: this branch is overwritten on every "
        f"push. Web book: {repo.pages_url}\n\n"
        + "\n".join(f"- [{Path(d).name}]({repo.colab_url(f'{d}.ipynb')})" for d in notebooks)
        + ("\n\nAssignments (student versions, `make assignments`):\n\n" if assignments else "")
        + "\n".join(f"- [{Path(a.docname).name}]({repo.colab_url(a.colab_path)})"
                    for a in assignments)
        + "\n", encoding="utf-8")
    for message in summary["warnings"]:
        print(f"warning: {message}", file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build",
                        help="the book build folder that holds html/ and .jupyter_cache/")
    parser.add_argument("--out", type=Path, default=None, help="default: BUILD/colab")
    parser.add_argument("--ref", default=None, help="git tag or commit to install in Colab "
                        "(default: HEAD's tag, else its commit)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (sources)")
    parser.add_argument("notebooks", nargs="*",
                        help="only these chapters and assignments (file names without .ipynb)")
    args = parser.parse_args(argv)
    try:
        summary = generate(args.build, args.out or args.build / "colab", root=args.root,
                           ref=args.ref, only=args.notebooks or None)
    except ColabEditionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
    print(f"Colab edition of {len(summary['files'])} notebooks and {len(summary['assignments'])} "
          f"assignments (matae_utils @ {summary['ref']}) in {args.out or args.build / 'colab'}: "
          f"{counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
