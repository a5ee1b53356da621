"""Small Sphinx additions for the matae book (registered in ``_config.yml`` as a local extension).

1. ``matae-runtime-table``: a directive for "How to use this book" that shows, for every executed
   notebook, its title and the wall time of its execution *in this build* (from myst-nb's
   execution data), against the runtime budget of two minutes per notebook. The same numbers are
   written to ``_build/notebook_times.json`` when the build finishes, for the benchmarks. The
   assignments are not part of the book build; their rows come from
   ``_build/assignments-timings.json``, which ``tests/test_assignments.py`` writes when it runs and
   grades each solution notebook (``make test`` runs it before the book build).
2. No repeated inline scripts: sphinx-thebe and sphinx-togglebutton add their inline configuration
   with ``app.add_js_file(None, body=...)``, which Sphinx does not de-duplicate; in this Jupyter
   Book stack they reach every page twice, and the second ``const THEBE_JS_URL`` is a JavaScript
   error in every reader's console (the browser tests fail on any console error).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

#: Seconds a notebook may take on a two-core CPU (DEVELOPERS.md).
BUDGET_SECONDS = 120.0


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        # the registry's copy has filename "" and the builder's None: the same inline script
        key = (getattr(script, "filename", None) or "",
               repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


# ---------------------------------------------------------------------------- runtime table
class RuntimeTableNode(nodes.General, nodes.Element):
    """Placeholder replaced by the table once every notebook has been executed."""


def _exec_times(env) -> dict[str, dict[str, Any]]:
    """``{docname: {"title", "seconds", "succeeded"}}`` for the notebooks myst-nb executed."""
    from myst_nb.sphinx_ import NbMetadataCollector

    out = {}
    for docname, data in sorted(NbMetadataCollector.get_doc_data(env).items()):
        exec_data = data.get("exec_data")
        if not exec_data:
            continue
        title = env.titles[docname].astext() if docname in env.titles else docname
        runtime = exec_data.get("runtime")
        out[docname] = {"title": title, "succeeded": bool(exec_data.get("succeeded")),
                        "seconds": None if runtime is None else round(float(runtime), 1)}
    return out


def _notebook_title(path: Path) -> str:
    """The first level-1 heading of a notebook (its title), or its file name."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for line in src.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _assignment_times(srcdir: Path) -> list[dict[str, Any]]:
    """One entry per assignment source: title and the wall time of running and grading its
    solution notebook (None when this checkout has not measured it)."""
    timings = srcdir / "_build" / "assignments-timings.json"
    data = json.loads(timings.read_text()) if timings.is_file() else {}
    rows = []
    for path in sorted((srcdir / "book" / "assignments").glob("a[0-9]*.ipynb")):
        solution = data.get(path.stem, {}).get("solution", {})
        rows.append({"title": _notebook_title(path), "seconds": solution.get("seconds"),
                     "succeeded": solution.get("score") == solution.get("possible")
                     if solution else None})
    return rows


class RuntimeTable(SphinxDirective):
    """``matae-runtime-table``: the measured execution time of every notebook."""

    def run(self):
        from myst_nb.ext.execution_tables import METADATA_KEY
        from myst_nb.sphinx_ import NbMetadataCollector

        # myst-nb re-renders pages carrying this flag whenever a notebook is re-executed
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, METADATA_KEY, True)
        srcdir = Path(self.env.srcdir)
        timings = srcdir / "_build" / "assignments-timings.json"
        if timings.is_file():
            self.env.note_dependency(str(timings))  # re-read this page when they change
        node = RuntimeTableNode()
        node["assignments"] = _assignment_times(srcdir)
        return [node]


def _verdict(seconds: float | None, succeeded: bool | None) -> str:
    if succeeded is False:
        return "failed"
    if seconds is None:
        return "-"
    return "yes" if seconds <= BUDGET_SECONDS else "no, over budget"


def _cell(text: str | nodes.Node) -> nodes.entry:
    para = nodes.paragraph()
    para += nodes.Text(text) if isinstance(text, str) else text
    return nodes.entry("", para)


class RuntimeTableTransform(SphinxPostTransform):
    default_priority = 8  # before the reference resolvers, so the links resolve

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(RuntimeTableNode)):
            table = nodes.table(classes=["colwidths-auto"])
            group = nodes.tgroup(cols=3)
            table += group
            for _ in range(3):
                group += nodes.colspec(colwidth=33)
            head = nodes.thead()
            group += head
            row = nodes.row()
            for name in ("Notebook", "Run time in this build (s)", "Within 120 s?"):
                row += _cell(name)
            head += row
            body = nodes.tbody()
            group += body
            for docname, info in _exec_times(self.env).items():
                link = pending_xref(refdoc=self.env.docname, reftarget="/" + docname,
                                    reftype="doc", refdomain="std", refexplicit=True,
                                    refwarn=True)
                link += nodes.inline(text=info["title"])
                seconds = info["seconds"]
                row = nodes.row()
                row += _cell(link)
                row += _cell("-" if seconds is None else f"{seconds:.0f}")
                row += _cell(_verdict(seconds, info["succeeded"]))
                body += row
            for info in node["assignments"]:
                link = pending_xref(refdoc=self.env.docname,
                                    reftarget="/book/assignments/index", reftype="doc",
                                    refdomain="std", refexplicit=True, refwarn=True)
                link += nodes.inline(text=f"{info['title']} (solution, run and graded)")
                seconds = info["seconds"]
                row = nodes.row()
                row += _cell(link)
                row += _cell("not measured in this build (make test measures it)"
                             if seconds is None else f"{seconds:.0f}")
                row += _cell(_verdict(seconds, info["succeeded"]))
                body += row
            node.replace_self(table)


def _write_times(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    times = _exec_times(app.env)
    if times:
        path = Path(app.outdir).parent / "notebook_times.json"
        path.write_text(json.dumps(times, indent=1, sort_keys=True), encoding="utf-8")


def _colab_button_opens_colab_edition(app, pagename, templatename, context, doctree) -> None:
    """The theme builds the Colab button from ``repository.branch`` (shared with Binder and the
    source links); point it at ``launch_buttons.colab_branch``, the Colab edition (`make colab`)."""
    options = app.config["html_theme_options"]
    branch = (options.get("launch_buttons") or {}).get("colab_branch")
    source = options.get("repository_branch") or "master"
    for group in context.get("header_buttons") or []:
        for button in group.get("buttons", []) if branch and isinstance(group, dict) else []:
            url = button.get("url", "")
            if url.startswith("https://colab.research.google.com/github/"):
                button["url"] = url.replace(f"/blob/{source}/", f"/blob/{branch}/", 1)


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _colab_button_opens_colab_edition, priority=502)
    app.add_node(RuntimeTableNode)
    app.add_directive("matae-runtime-table", RuntimeTable)
    app.add_post_transform(RuntimeTableTransform)
    app.connect("build-finished", _write_times)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
