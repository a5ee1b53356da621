"""The Colab edition (``make colab``, ``scripts/colab_edition.py``) and its publishing.

Fast tests run the converter on tiny synthetic inputs. Tests marked ``slow`` convert the book
built by the session fixture ``book`` (``MATAE_BOOK_BUILD=_build`` reuses a build) and check
every generated notebook: no MyST left, solutions only inside ``<details>``, equation numbers
and references equal to the web book's, glued values present, figures captioned. The edition
also holds every assignment's student version (``assignments/<name>-student.ipynb``, made by
``scripts/assignments.py``): no MyST, no solutions or hidden checks, the chapters' setup cell,
the badges of the assignments page pointing to it. The tests marked ``colab`` run every Colab
notebook, chapters and unanswered assignments, top to bottom ("Run all": nbclient, every cell tag
stripped, ``allow_errors=False``) from the installed wheel in a folder outside the repository.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import colab_edition as ce
import nbformat
import notebook_tools
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
MYST_LEFT = ("{glue", "{eq}", "{footcite", "{cite", "{numref}", "{ref}", "{doc}", "```{", ":::{",
             "````{", "{footbibliography}", "{exercise}", "{solution")


# --------------------------------------------------------------------------- fixtures (fast)
BIB = r"""
@article{ward2016general, author = {Ward, Logan and Agrawal, Ankit and Wolverton, C.},
  title = {A general-purpose framework}, journal = {npj Comput. Mater.}, year = {2016}}
@article{kingma2015adam, author = {Kingma, Diederik P. and Ba, Jimmy}, title = {Adam},
  journal = {ICLR}, year = {2015}}
@article{ng2011a, author = {Ng, Andrew}, title = {Alpha}, journal = {Notes}, year = {2011}}
@article{ng2011b, author = {Ng, Andrew}, title = {Beta}, journal = {Notes}, year = {2011}}
@article{gomez2018, author = {G{\'o}mez-Bombarelli, Rafael}, title = {Design},
  journal = {ACS Cent. Sci.}, year = {2018}}
"""


def _refs() -> ce.PageRefs:
    return ce.PageRefs(
        equations={"eq-a": "5", "eq-b": "6"},
        figures={"fig-x": "Fig. 3"}, figure_order=["fig-x"],
        exercises={"ex-1": ("Exercise 6", "First"), "ex-2": ("Exercise 7", "Second")},
        exercise_order=["ex-1", "ex-2"],
        targets={"equation-eq-a", "equation-eq-b", "fig-x", "ex-1", "ex-2", "sec-a"},
        ref_texts={("book/02_b", "sec-a"): "A section", ("book/02_b", "ex-1"): "Exercise 6"},
        title="Chapter B",
    )


@pytest.fixture
def ctx(tmp_path) -> ce.Context:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB)
    other = ce.PageRefs(equations={"eq-c": "2"}, targets={"equation-eq-c"}, title="Chapter A")
    return ce.Context(
        docname="book/02_b",
        repo=ce.Repo(url="https://github.com/org/book", ref="0123456789abcdef0123456789abcdef01234567",
                     pages_url="https://org.github.io/book/"),
        pages={"book/02_b": _refs(), "book/01_a": other, "book/how-to": ce.PageRefs(title="How")},
        glue={"book/02_b": {"x": {"text/plain": "0.123456"}, "n": {"text/plain": "4923"},
                            "s": {"text/plain": "'GaAs'"}, "frac": {"text/plain": "0.0761"}},
              "book/01_a": {"y": {"text/plain": "7"}}},
        bib=ce.Bibliography(bib),
        notebooks={"book/01_a", "book/02_b"},
        docs={"book/01_a", "book/02_b", "book/how-to"},
    )


def _cell(kind: str, source: str, tags=(), outputs=None, **meta):
    cell = (nbformat.v4.new_markdown_cell(source) if kind == "markdown"
            else nbformat.v4.new_code_cell(source))
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.metadata.update(meta)
    if kind == "code":
        cell.outputs = [nbformat.from_dict(o) for o in (outputs or [])]
    return cell


def _glue_output(name: str) -> dict:
    return {"output_type": "display_data", "metadata": {"scrapbook": {
        "name": name, "mime_prefix": "application/papermill.record/"}},
        "data": {"application/papermill.record/text/plain": "1"}}


def _markdown(nb) -> str:
    return "\n".join(ce._source(c) for c in nb.cells if c.cell_type == "markdown")


# ------------------------------------------------------------------------ converter (fast)
def test_glue_roles_use_myst_nb_formatting(ctx):
    out = ce.convert_markdown(ctx, "gap {glue:text}`x:.2f` eV, {glue:text}`n` rows, "
                                   "{glue:text}`s`, {glue:text}`frac:.1%`, {glue}`n`, "
                                   "{glue:text}`01_a.ipynb::y`")
    assert out == "gap 0.12 eV, 4923 rows, GaAs, 7.6%, 4923, 7"
    with pytest.raises(ce.ColabEditionError, match="no glued value 'missing'"):
        ce.convert_markdown(ctx, "{glue:text}`missing`")


def test_code_spans_are_left_alone(ctx):
    text = "call `mu.glue(\"x\", v)` then {glue:text}`x:.1f` and ``{eq}`literal` `` here"
    assert ce.convert_markdown(ctx, text) == \
        "call `mu.glue(\"x\", v)` then 0.1 and ``{eq}`literal` `` here"


def test_labelled_equation_gets_the_web_books_number_and_references_link_to_it(ctx):
    out = ce.convert_markdown(ctx, "so that\n$$\nz = f(x)\n$$ (eq-a)\n\nwith {eq}`eq-a` and "
                                   "{eq}`eq-b`, not {eq}`eq-c`; $$ y = 1 $$ inline")
    assert '<a id="eq-a"></a>' in out and "\\tag{5}" in out and "z = f(x)" in out
    assert "[(5)](#eq-a)" in out and "[(6)](#eq-b)" in out
    assert "[(2)](https://colab.research.google.com/github/org/book/blob/colab/book/01_a.ipynb#eq-c)" in out
    assert "(eq-a)" not in out.replace("(#eq-a)", "")
    assert "$$ y = 1 $$ inline" in out  # inline $$ inside a sentence is untouched
    with pytest.raises(ce.ColabEditionError, match="no numbered equation 'eq-zz'"):
        ce.convert_markdown(ctx, "{eq}`eq-zz`")
    with pytest.raises(ce.ColabEditionError, match="equation 'eq-new' has no number"):
        ce.convert_markdown(ctx, "$$\nx\n$$ (eq-new)")


def test_single_line_and_indented_display_math(ctx):
    out = ce.convert_markdown(ctx, "- item\n\n  $$ a = b $$ (eq-b)\n\n$$x^2$$")
    assert "  $$\n  a = b\n  \\tag{6}\n  $$" in out
    assert out.endswith("$$x^2$$")


def test_citations_are_author_year_with_a_reference_list(ctx):
    out = ce.convert_markdown(
        ctx, "As {footcite:t}`kingma2015adam` showed {footcite:p}`ward2016general,ng2011a`; "
             "see {cite:p}`ng2011b` and {footcite:t}`gomez2018`.\n\n```{footbibliography}\n```")
    assert "As Kingma and Ba (2015) showed (Ward et al., 2016; Ng, 2011a)" in out
    assert "see (Ng, 2011b) and Gómez-Bombarelli (2018)." in out
    refs = [line for line in out.splitlines() if line.startswith("- ")]
    assert len(refs) == 5
    assert [re.search(r"\*\*(.+?)\.\*\*", r).group(1) for r in refs] == [
        "Gómez-Bombarelli, 2018", "Kingma and Ba, 2015", "Ng, 2011a", "Ng, 2011b",
        "Ward et al., 2016"]
    assert '<a id="ref-kingma2015adam"></a>' in out and "*ICLR*" in out
    with pytest.raises(ce.ColabEditionError, match="'nobody2020' is not in the bibliography"):
        ce.convert_markdown(ctx, "{footcite:p}`nobody2020`")


def test_exercise_becomes_a_heading_and_its_solution_a_closed_details_block(ctx):
    source = ("```{exercise} A *first* one\n:label: ex-1\n\nCompute {glue:text}`x:.1f`.\n```\n\n"
              "````{solution} ex-1\n:class: dropdown\n\nRun\n\n```python\nprint(1)\n```\n\n"
              "The answer is {eq}`eq-a`.\n````\n")
    out = ce.convert_markdown(ctx, source)
    assert '<a id="ex-1"></a>\n\n### Exercise 6 (A *first* one)\n\nCompute 0.1.' in out
    details = re.search(r"<details>\n<summary><b>(.*?)</b></summary>\n\n(.*?)\n\n</details>", out,
                        re.S)
    assert details.group(1) == "Solution to Exercise 6 (First)"
    assert "```python\nprint(1)\n```" in details.group(2) and "[(5)](#eq-a)" in details.group(2)
    assert "Run" not in out.replace(details.group(0), "")
    assert not any(m in out for m in MYST_LEFT)


def test_admonitions_become_blockquotes_and_dropdowns_details(ctx):
    out = ce.convert_markdown(ctx, "```{note}\nOne.\n\nTwo {glue:text}`n`.\n```\n\n"
                                   ":::{admonition} Why *this*?\n:class: tip\nBecause.\n:::\n\n"
                                   "```{tip}\n:class: dropdown\nHidden tip.\n```")
    assert "> **Note**\n>\n> One.\n>\n> Two 4923." in out
    assert "> **Why *this*?**\n>\n> Because." in out
    assert "<details>\n<summary><b>Tip</b></summary>\n\nHidden tip.\n\n</details>" in out


def test_glue_figure_math_directive_and_figure_directive(ctx):
    ctx.glue["book/02_b"]["pic"] = {"image/png": "iVBORw0K", "text/plain": "<Figure>"}
    out = ce.convert_markdown(ctx, "```{glue:figure} pic\n:name: fig-x\n\nCaption {glue:text}`n`.\n```"
                                   "\n\n```{math}\n:label: eq-b\na = b\n```\n\n"
                                   "```{figure} images/micro.png\n:name: fig-x\n\nA micrograph.\n```")
    assert '<a id="fig-x"></a>\n\n![pic](attachment:pic.png)\n\n**Fig. 3.** Caption 4923.' in out
    assert ctx.attachments == {"pic.png": {"image/png": "iVBORw0K"}}
    assert "$$\na = b\n\\tag{6}\n$$" in out
    assert ("![](https://raw.githubusercontent.com/org/book/colab/book/images/micro.png)\n\n"
            "**Fig. 3.** A micrograph.") in out


def test_references_links_targets_and_badge(ctx):
    out = ce.convert_markdown(
        ctx, "(sec-a)=\n## A section\n\nSee {ref}`sec-a`, {numref}`fig-x`, {ref}`ex-1`, "
             "{numref}`Figure %s <fig-x>`, {doc}`01_a`, [the intro](01_a.ipynb#eq-c), "
             "[setup](how-to.md), [data](../matae_utils/data/PROVENANCE.md), "
             "[web](https://example.org), [here](#sec-a).\n\n"
             "[![Open in Colab](images/open-in-colab.svg)]"
             "(https://colab.research.google.com/github/org/book/blob/main/book/02_b.ipynb) "
             "![micro](images/micro.png)\n% a MyST comment\n+++")
    colab = "https://colab.research.google.com/github/org/book/blob/colab/book"
    assert out.startswith('<a id="sec-a"></a>\n\n## A section')
    assert "See [A section](#sec-a), [Fig. 3](#fig-x), [Exercise 6](#ex-1), [Figure 3](#fig-x)" in out
    assert f"[Chapter A]({colab}/01_a.ipynb)" in out
    assert f"[the intro]({colab}/01_a.ipynb#eq-c)" in out
    assert "[setup](https://org.github.io/book/book/how-to.html)" in out
    assert ("[data](https://github.com/org/book/blob/0123456789abcdef0123456789abcdef01234567/"
            "matae_utils/data/PROVENANCE.md)") in out
    assert "[web](https://example.org)" in out and "[here](#sec-a)" in out
    assert f"[![Open in Colab]({ce.COLAB_BADGE})]({colab}/02_b.ipynb)" in out
    assert "![micro](https://raw.githubusercontent.com/org/book/colab/book/images/micro.png)" in out
    assert "MyST comment" not in out and "+++" not in out


def test_plumbing_cells_are_dropped_or_hidden_and_outputs_kept(ctx):
    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR",
                                                                    "text/plain": "<Figure>"}}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", notebook_tools.SETUP_CELL, ["hide-input"],
              [{"output_type": "stream", "name": "stdout", "text": "torch 2.13\n"}]),
        _cell("code", "a = 1\nmu.glue('a', a)\nprint(a)", [],
              [_glue_output("a"), {"output_type": "stream", "name": "stdout", "text": "1\n"}]),
        _cell("code", "mu.glue('n', 2)\nassert a == 1", ["remove-cell"], [_glue_output("n")]),
        _cell("code", "helper = a + 1\nmu.glue('h', helper)", ["remove-cell"]),
        _cell("code", "for k in (1, 2):\n    mu.glue(f'k{k}', k)", []),
        _cell("code", "fig, ax = plt.subplots()\nax.plot([helper])", ["hide-input"], [png],
              mystnb={"figure": {"caption": "A plot of {eq}`eq-a`.", "name": "fig-x"}}),
        _cell("code", "b = 2\nmu.glue('b', b)", ["remove-cell"]),
        _cell("markdown", "Value {glue:text}`n`. Plotted in {numref}`fig-x`."),
    ]
    out = ce.convert_notebook(nb, ctx, version="0.1.0")
    code = [c for c in out.cells if c.cell_type == "code"]
    assert len(code) == 4  # setup, visible, hidden helper, figure; glue-only cells dropped
    setup, visible, helper, figure = code
    assert setup.metadata == {"cellView": "form"} and setup.source.startswith("#@title Setup")
    assert setup.outputs[0]["text"] == "torch 2.13\n"
    assert visible.source == "a = 1\nprint(a)" and "cellView" not in visible.metadata
    assert [o["output_type"] for o in visible.outputs] == ["stream"]  # glue record gone
    assert helper.metadata == {"cellView": "form"} and helper.source.startswith("#@title ")
    assert "helper = a + 1" in helper.source and "mu.glue" not in helper.source
    assert figure.source.startswith("#@title Code for Fig. 3\n") and figure.outputs[0]["data"]
    caption = out.cells[out.cells.index(figure) + 1]
    assert caption.source == '<a id="fig-x"></a>\n\n**Fig. 3.** A plot of [(5)](#eq-a).'
    assert out.cells[-1].source == "Value 4923. Plotted in [Fig. 3](#fig-x)."
    assert not any("tags" in c.metadata or "mystnb" in c.metadata for c in out.cells)
    nbformat.validate(out)


def test_a_remove_cell_used_by_a_later_solution_is_kept():
    cells = [_cell("code", "eigvals = [3, 2]\nmu.glue('e', eigvals[0])", ["remove-cell"]),
             _cell("code", "unused = 5", ["remove-cell"]),
             _cell("markdown", "````{solution} ex-1\n```python\nprint(eigvals)\n```\n````")]
    assert ce.plumbing_to_drop(cells) == {1}
    assert ce.defined_names("x[0] = 1\ny.a = 2") == {"x", "y"}
    assert ce.defined_names("model.eval()") is None  # a call with side effects: keep (hidden)


def test_gated_solution_spanning_cells(ctx):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", notebook_tools.SETUP_CELL, ["hide-input"]),
        _cell("markdown", "```{exercise} Second\n:label: ex-2\nDo it.\n```\n\n"
                          "````{solution-start} ex-2\n:class: dropdown\n````"),
        _cell("code", "answer = 42\nprint(answer)", [],
              [{"output_type": "stream", "name": "stdout", "text": "42\n"}]),
        _cell("markdown", "So the answer is 42.\n\n````{solution-end}\n````\n\nAfter the solution."),
    ]
    out = ce.convert_notebook(nb, ctx, version="0.1.0")
    exercise, code, rest = out.cells[1], out.cells[2], out.cells[3]
    assert "### Exercise 7 (Second)" in exercise.source
    assert "<summary><b>Solution to Exercise 7 (Second)</b></summary>" in exercise.source
    assert code.metadata == {"cellView": "form"} and code.outputs == []
    assert code.source.startswith("#@title Solution to Exercise 7 (Second): code\n")
    inside = re.search(r"<details>.*?</details>", rest.source, re.S).group(0)
    assert "So the answer is 42." in inside and "(continued)" in inside
    assert rest.source.replace(inside, "").strip() == "After the solution."


def test_solution_start_without_end_is_an_error(ctx):
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("markdown", "````{solution-start} ex-1\n````"), _cell("code", "x = 1")]
    with pytest.raises(ce.ColabEditionError, match="solution-start without solution-end"):
        ce.convert_notebook(nb, ctx, version="0.1.0")


def test_setup_cell_installs_the_built_commit_with_progress():
    repo = ce.Repo(url="https://github.com/org/book", ref="0123456789abcdef0123456789abcdef01234567")
    cell = ce.colab_setup_cell(notebook_tools.SETUP_CELL, repo, "0.1.0")
    ast.parse(cell)
    assert cell.startswith("#@title Setup: install matae_utils 0123456 ")
    assert ('"matae_utils @ git+https://github.com/org/book@'
            '0123456789abcdef0123456789abcdef01234567"') in cell
    assert "--quiet" not in cell and "-q" not in cell.split()
    assert '"numpy", "pandas"' in cell and "RESTART NEEDED" in cell
    assert cell.rstrip().endswith("device = mu.setup(seed=0)")
    assert 'MATAE_VERSION = "0.1.0"' in cell


def test_setup_cell_skips_pip_when_matae_utils_is_installed(tmp_path):
    """Outside Colab with matae_utils importable (this venv), the cell must not call pip."""
    repo = ce.Repo(url="https://github.com/org/does-not-exist", ref="v0")
    cell = ce.colab_setup_cell("import matae_utils as mu\nprint('ok', mu.__name__)", repo, "0")
    proc = subprocess.run([sys.executable, "-c", cell], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok matae_utils"


def test_html_numbers_are_read_from_the_built_page():
    html = """<article class="bd-article"><h1>Fundamentals<a class="headerlink">#</a></h1>
    <div class="math notranslate nohighlight" id="equation-eq-fund-ae">
    <span class="eqno">(5)<a class="headerlink" href="#equation-eq-fund-ae">#</a></span>\\[x\\]</div>
    <figure class="align-default" id="fig-fund-pca"><img src="x.png"/><figcaption><p>
    <span class="caption-number">Fig. 4 </span><span class="caption-text">Cap</span></p></figcaption>
    </figure><div class="exercise admonition" id="ex-fund-1"><p class="admonition-title">
    <span class="caption-number">Exercise 6 </span> (A poorly determined subspace)</p></div>
    <a class="reference internal" href="#ex-fund-1"><span class="std std-numref">Exercise 6</span></a>
    <a class="reference internal" href="01_introduction.html#fund-x"><span>Intro</span></a></article>"""
    refs = ce.parse_html(html, "book/02_fund")
    assert refs.title == "Fundamentals"
    assert refs.equations == {"eq-fund-ae": "5"}
    assert refs.figures == {"fig-fund-pca": "Fig. 4"}
    assert refs.exercises == {"ex-fund-1": ("Exercise 6", "A poorly determined subspace")}
    assert refs.ref_texts[("book/02_fund", "ex-fund-1")] == "Exercise 6"
    assert refs.ref_texts[("book/01_introduction", "fund-x")] == "Intro"


# ----------------------------------------------------------- assignments' student versions (fast)
def _student_notebook() -> nbformat.NotebookNode:
    """A student version as ``make assignments`` writes it (otter's tags, locks and metadata)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["otter"] = {"assignment_name": "a9_demo"}
    locked = {"deletable": False, "editable": False}
    nb.cells = [
        _cell("markdown", "# Assignment 9 · Demo\n\nSee [the intro](../01_a.ipynb) and "
                          "[assignment 8](a8_other.ipynb)."),
        _cell("code", notebook_tools.SETUP_CELL, tags=["hide-input"]),
        _cell("code", "# otter setup: installs otter-grader when it is missing and writes\n"
                      "# this assignment's checks\nCHECKS = {'q1': 'x'}\ngrader = None",
              tags=["otter-setup"], cellView="form", jupyter={"source_hidden": True}),
        _cell("code", "answer = ...", tags=["otter_answer_cell"]),
        _cell("code", 'grader.check("q1")', **locked),
        _cell("markdown", "<!-- BEGIN QUESTION -->\n\n## Question 2 (graded by hand)"),
        _cell("code", "# Save your notebook first, then run this cell to export your submission.\n"
                      'grader.export("a9_demo-student.ipynb", pdf=False, run_tests=True)', **locked),
    ]
    return nb


def test_assignment_conversion_installs_the_built_commit_and_keeps_otters_cells(ctx):
    ctx.docname = "book/assignments/a9_demo"
    ctx.colab_paths = {"book/assignments/a8_other.ipynb": "assignments/a8_other-student.ipynb"}
    out = ce.convert_assignment(_student_notebook(), ctx, version="0.1.0")
    nbformat.validate(out)
    assert out.metadata["otter"] == {"assignment_name": "a9_demo"}  # otter matches submissions
    assert out.metadata["matae"]["source"] == "book/assignments/a9_demo.ipynb"
    intro, setup, otter_setup, answer, check, _manual, export = out.cells
    colab = "https://colab.research.google.com/github/org/book/blob/colab"
    assert f"[the intro]({colab}/book/01_a.ipynb)" in intro.source
    assert f"[assignment 8]({colab}/assignments/a8_other-student.ipynb)" in intro.source
    # the setup cell of the chapters: installs the commit the edition was built from
    assert setup.source == ce.colab_setup_cell(notebook_tools.SETUP_CELL, ctx.repo, "0.1.0")
    assert setup.metadata == {"cellView": "form"}
    # otter's setup cell stays collapsed, with a title; the checks it embeds are untouched
    assert otter_setup.metadata == {"cellView": "form", "jupyter": {"source_hidden": True}}
    assert otter_setup.source.startswith("#@title Otter setup")
    assert "CHECKS = {'q1': 'x'}" in otter_setup.source
    assert answer.metadata == {} and answer.source == "answer = ..."
    assert check.metadata == {"deletable": False, "editable": False}  # locked as otter made it
    assert check.source == 'grader.check("q1")'
    assert export.metadata == {"deletable": False, "editable": False}
    assert all("tags" not in c.metadata for c in out.cells)


@pytest.mark.parametrize("colab", [True, False], ids=["in-colab", "in-jupyter"])
def test_export_cell_does_not_raise_in_colab(colab, monkeypatch):
    """otter's ``Notebook.export`` raises in Colab ("not compatible with Google Colab"); the
    Colab edition's export cell prints how to hand the notebook in there and exports elsewhere."""
    import types

    source = ce.colab_export_cell(
        "# Save your notebook first, then run this cell to export your submission.\n"
        'grader.export("a9_demo-student.ipynb",\n              pdf=False, run_tests=True)')
    ast.parse(source)
    calls = []

    class Grader:
        def export(self, *args, **kwargs):
            if "google.colab" in sys.modules:
                raise RuntimeError("This method is not compatible with Google Colab")
            calls.append((args, kwargs))

    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    printed = []
    exec(source, {"grader": Grader(), "print": printed.append})
    if colab:
        assert calls == [] and "File > Download > Download .ipynb" in printed[0]
    else:
        assert printed == []
        assert calls == [(("a9_demo-student.ipynb",), {"pdf": False, "run_tests": True})]
    assert ce.colab_export_cell("x = 1") == "x = 1"


@pytest.fixture(scope="module")
def student_versions() -> list:
    """Every assignment's student version, made by scripts/assignments.py (otter assign)."""
    return ce.student_versions(ROOT)


def test_one_student_version_per_assignment_source(student_versions):
    import assignments

    sources = assignments.sources(ROOT / "book" / "assignments")  # a glob: new ones included
    assert [a.docname for a in student_versions] == [f"book/assignments/{s.stem}" for s in sources]
    for a, source in zip(student_versions, sources, strict=True):
        assert a.colab_path == f"{ce.ASSIGNMENTS_DIR}/{source.stem}-student.ipynb"
        # the export cell names the file the Colab branch holds (a download keeps that name)
        export = [c.source for c in a.notebook.cells if "grader.export(" in c.source]
        assert len(export) == 1 and f'grader.export("{Path(a.colab_path).name}"' in export[0]


def test_assignments_page_badges_open_the_student_versions(student_versions):
    """``book/assignments/index.md`` has one badge per assignment, to its student version on the
    colab branch (the path ``make colab`` writes it to)."""
    repo = _colab_repo()
    page = (ROOT / "book" / "assignments" / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((https://colab\.research\.google\.com/[^)\s]+)\)", page)
    wanted = [repo.colab_url(a.colab_path) for a in student_versions]
    assert sorted(links) == sorted(wanted), "index.md badges != the Colab edition's assignments"
    assert f"[![Open in Colab](../{ce.LOCAL_BADGE})]" in page  # the book's own badge (offline)


# ------------------------------------------------------------- one repository URL (fast)
def _config() -> dict:
    return ce.book_config(ROOT)


def _colab_repo() -> ce.Repo:
    return ce.Repo.from_config(_config())


def test_repository_url_lives_in_config_and_everything_agrees():
    repo = _colab_repo()
    assert notebook_tools.REPO_URL == repo.url == _config()["repository"]["url"].rstrip("/")
    assert f"git+{repo.url}" in notebook_tools.SETUP_CELL
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls and all(u.rstrip("/").startswith(repo.url) for u in urls.values()), urls
    cff = ROOT / "CITATION.cff"
    if cff.is_file():
        meta = yaml.safe_load(cff.read_text())
        for key in ("repository-code", "url"):
            if key in meta and "github.com" in str(meta[key]):
                assert str(meta[key]).rstrip("/").startswith(repo.url), (key, meta[key])


def _chapters() -> list[str]:
    return [d for d in ce.toc_docs(ROOT) if (ROOT / f"{d}.ipynb").is_file()]


def test_readme_badges_open_the_colab_edition():
    readme = (ROOT / "README.md").read_text()
    repo = _colab_repo()
    links = [u for u in re.findall(r"\]\((https://colab\.research\.google\.com/[^)\s]+)\)", readme)
             if "/assets/" not in u]  # the badge image itself
    assert links, "README has no Colab badge"
    for doc in _chapters():
        if re.match(r"book/\d", doc):  # every numbered chapter has a badge
            assert repo.colab_url(f"{doc}.ipynb") in links, f"README: no Colab-edition badge for {doc}"
    editions = {repo.colab_url(f"{doc}.ipynb") for doc in _chapters()}
    assert set(links) <= editions, sorted(set(links) - editions)


@pytest.mark.parametrize("doc", _chapters(), ids=lambda d: Path(d).name)
def test_chapter_badge_line_opens_its_colab_edition(doc):
    """The badge in the chapter (web book) opens the chapter's Colab edition; the Colab edition
    turns it into Colab's own badge pointing to the same place."""
    nb = notebook_tools.load(ROOT / f"{doc}.ipynb")
    text = "\n".join(notebook_tools.cell_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    links = re.findall(r"\]\((https://colab\.research\.google\.com/[^)\s]+)\)", text)
    assert links == [_colab_repo().colab_url(f"{doc}.ipynb")], links
    assert f"[![Open in Colab]({ce.LOCAL_BADGE})]" in text


# -------------------------------------------------------------------- publishing (fast)
def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())


def test_workflow_runs_the_readme_targets_and_publishes():
    flow = _workflow()
    on = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    steps = [s for job in flow["jobs"].values() for s in job.get("steps", [])]
    runs = "\n".join(s.get("run", "") for s in steps)
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "book", "colab"):
        assert re.search(rf"^\s*make {target}\b", runs, re.M), f"workflow does not run make {target}"
        assert f"make {target}" in readme, f"README does not document make {target}"
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    pages = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert pages["with"]["path"] == "_build/html"
    assert f"refs/heads/{_colab_repo().colab_branch}" in runs and "_build/colab" in runs
    assert flow["jobs"]["build"]["permissions"]["contents"] == "write"


def test_sphinx_hook_points_only_the_colab_button_at_the_colab_branch():
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("matae_sphinx", ROOT / "book/_ext/matae_sphinx.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    colab = "https://colab.research.google.com/github/o/r/blob/main/book/a.ipynb"
    binder = "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/book/a.ipynb"
    context = {"header_buttons": [{"type": "group", "label": "launch-buttons", "buttons": [
        {"url": binder}, {"url": colab}]}, {"type": "link", "url": "https://github.com/o/r"}]}
    app = SimpleNamespace(config={"html_theme_options": {
        "repository_branch": "main", "launch_buttons": {"colab_branch": "colab"}}})
    ext._colab_button_opens_colab_edition(app, "book/a", "page.html", context, None)
    buttons = context["header_buttons"][0]["buttons"]
    assert buttons == [{"url": binder}, {"url": colab.replace("/blob/main/", "/blob/colab/")}]
    assert _config()["launch_buttons"]["colab_branch"] == _colab_repo().colab_branch


def test_makefile_colab_target_builds_the_book_when_missing():
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\ncolab:", 1)[1].split("\n\n", 1)[0]
    assert "_build/html/index.html" in recipe and "$(MAKE) book" in recipe
    assert "scripts/colab_edition.py" in recipe
    assert "make colab" in text.split("help:", 1)[1].split("\n\n", 1)[0]


# ------------------------------------------------------------ the generated edition (slow)
@pytest.fixture(scope="session")
def edition(book, tmp_path_factory) -> dict:
    assert book["returncode"] == 0, "book build failed; see tests/test_book.py"
    out = tmp_path_factory.mktemp("colab")
    # MATAE_COLAB_ONLY="01_introduction 02_autoencoder_fundamentals": only these (while writing)
    only = os.environ.get("MATAE_COLAB_ONLY", "").split() or None
    summary = ce.generate(book["build"], out, root=ROOT, only=only)
    notebooks = {Path(f).stem: nbformat.read(f, as_version=4) for f in summary["files"]}
    assignments = {Path(f).stem: nbformat.read(f, as_version=4) for f in summary["assignments"]}
    return {**summary, "out": out, "notebooks": notebooks, "assignments": assignments,
            "only": only, "build": Path(book["build"])}


def _built_markdown(edition, name: str) -> str:
    """The Markdown of a chapter as the book build executed it (the generator's input)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(edition["build"] / ".jupyter_cache"))
    nb = ce.executed_notebook(ROOT / "book" / f"{name}.ipynb", cache)
    return "\n".join(ce._source(c) for c in nb.cells if c.cell_type == "markdown")


def _html(edition, name: str) -> str:
    return (edition["build"] / "html" / "book" / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_one_colab_notebook_per_chapter(edition):
    assert sorted(edition["notebooks"]) == sorted(Path(d).name for d in _chapters())
    assert not edition["warnings"], edition["warnings"]
    for name, nb in edition["notebooks"].items():
        nbformat.validate(nb)
        assert nb.metadata["colab"]["toc_visible"] is True
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.metadata == {"cellView": "form"} and "git+" in first.source, name
        assert (edition["out"] / "book" / f"{name}.ipynb").is_file()


@pytest.mark.slow
def test_no_myst_left_in_any_colab_notebook(edition):
    """Chapters and assignments alike (otter's own markup, ``<!-- BEGIN QUESTION -->``, stays)."""
    assert edition["assignments"] or edition["only"]
    for name, nb in {**edition["notebooks"], **edition["assignments"]}.items():
        for i, cell in enumerate(nb.cells):
            src = ce._source(cell)
            if cell.cell_type == "markdown":
                left = [m for m in MYST_LEFT if m in src]
                assert not left, f"{name} cell {i}: {left}: {src[:300]}"
                assert not re.search(r"^\([\w\-]+\)=\s*$|\$\$\s*\([\w\-]+\)\s*$", src, re.M), \
                    f"{name} cell {i}: MyST target or equation label left"
                assert ce.LOCAL_BADGE not in src
            assert "tags" not in cell.metadata and "mystnb" not in cell.metadata


def _outside_details(text: str) -> str:
    return re.sub(r"<details>.*?</details>", "", text, flags=re.S)


@pytest.mark.slow
def test_solutions_only_inside_details(edition, book):
    for name, nb in edition["notebooks"].items():
        src_md = _built_markdown(edition, name)
        n_solutions = len(re.findall(r"^`{3,}\{solution(-start)?\}", src_md, re.M))
        text = _markdown(nb)
        assert text.count("<summary><b>Solution to ") - text.count("(continued)</b>") \
            == n_solutions, name
        outside = _outside_details(text)
        assert "Solution to" not in outside, name
        # the prose of every solution appears only inside <details>
        for body in re.findall(r"^(`{3,})\{solution\}.*?\n(.*?)^\1\s*$", src_md, re.M | re.S):
            for line in body[1].splitlines():
                if len(line) > 50 and not re.search(r"[{}$`<]|\]\(|^\s*[:#]|^    ", line):
                    assert line.strip() in text, f"{name}: solution line lost: {line}"
                    assert line.strip() not in outside, f"{name}: solution outside <details>: {line}"
        gated = [c for c in nb.cells if c.cell_type == "code"
                 and c.source.startswith("#@title Solution to")]
        assert all(c.outputs == [] and c.metadata.get("cellView") == "form" for c in gated)


@pytest.mark.slow
def test_equations_carry_the_web_books_numbers_and_references_resolve(edition):
    for name, nb in edition["notebooks"].items():
        html = _html(edition, name)
        web = dict(re.findall(r'id="equation-([^"]+)">\s*<span class="eqno">\((\d+)\)', html))
        text = _markdown(nb)
        tagged = dict(re.findall(r'<a id="([^"]+)"></a>\s*\$\$\n.*?\\tag\{(\d+)\}\n\s*\$\$', text,
                                 re.S))
        assert tagged == web, name  # every numbered equation, with the web book's number
        refs = re.findall(r"\[\((\d+)\)\]\(#([^)]+)\)", text)
        assert len(refs) >= len(re.findall(r"class=\"reference internal\" href=\"#equation-",
                                           html)) - text.count("colab.research.google.com/github")
        for number, anchor in refs:
            assert tagged.get(anchor) == number, f"{name}: ({number}) -> #{anchor}"


@pytest.mark.slow
def test_glued_values_are_in_the_text(edition):
    from myst_nb.core.variables import format_plain_text

    for name, nb in edition["notebooks"].items():
        glue_json = edition["build"] / "jupyter_execute" / "book" / f"{name}.glue.json"
        values = {k: v["data"] for k, v in json.loads(glue_json.read_text()).items()}
        text = _markdown(nb)
        roles = re.findall(r"\{glue:text\}`([^`]+)`", _built_markdown(edition, name))
        assert roles, name
        for role in roles:
            key, _, fmt = role.rpartition(":") if ":" in role else (role, "", "s")
            assert format_plain_text(values[key]["text/plain"], fmt) in text, f"{name}: {role}"


@pytest.mark.slow
def test_exercises_and_figures_are_numbered_like_the_web_book(edition):
    for name, nb in edition["notebooks"].items():
        html = _html(edition, name)
        web_ex = re.findall(r'<span class="caption-number">(Exercise \d+) </span>', html)
        text = _markdown(nb)
        assert re.findall(r"^### (Exercise \d+)", text, re.M) == web_ex, name
        web_fig = re.findall(r'<span class="caption-number">(Fig\. \d+) </span>', html)
        captions = re.findall(r"^\*\*(Fig\. \d+)\.\*\*", text, re.M)
        assert captions == web_fig, name
        images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
        assert images >= len(web_fig), f"{name}: {images} images for {len(web_fig)} figures"


@pytest.mark.slow
def test_web_books_colab_buttons_open_the_colab_edition(book):
    repo = _colab_repo()
    for doc in _chapters():
        html = (Path(book["html"]) / f"{doc}.html").read_text(encoding="utf-8")
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html))
        assert repo.colab_url(f"{doc}.ipynb") in links, (doc, links)
        assert all(f"/blob/{repo.colab_branch}/" in u for u in links), links
        binder = re.findall(r'href="(https://mybinder\.org/[^"]+)"', html)
        assert all(f"/{repo.branch}?" in u for u in binder), binder  # Binder stays on main


# ------------------------------------------------- the assignments in the edition (slow)
def _assignment_sources(edition) -> list[Path]:
    import assignments

    return [s for s in assignments.sources(ROOT / "book" / "assignments")
            if not edition["only"] or s.stem in edition["only"]]


def _hidden_tests(master: dict) -> list[str]:
    """Names of the hidden test functions of an assignment source (otter's test cells)."""
    names = []
    for cell in master["cells"]:
        src = notebook_tools.cell_source(cell)
        if cell["cell_type"] == "code" and "BEGIN TEST CONFIG" in src \
                and re.search(r"^hidden:\s*true", src, re.M):
            names += [n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)]
    return names


@pytest.mark.slow
def test_one_colab_notebook_per_assignment_with_the_chapters_setup_cell(edition):
    sources = _assignment_sources(edition)
    assert sorted(edition["assignments"]) == sorted(f"{s.stem}-student" for s in sources)
    repo = ce.Repo.from_config(_config(), edition["ref"])
    setup = ce.colab_setup_cell(notebook_tools.SETUP_CELL, repo, ce.package_version(ROOT))
    assert f'git+{repo.url}@{edition["ref"]}"' in setup
    chapters = {next(c for c in nb.cells if c.cell_type == "code").source
                for nb in edition["notebooks"].values()}
    assert chapters <= {setup}  # every chapter installs the same commit the same way
    for source in sources:
        path = edition["out"] / ce.ASSIGNMENTS_DIR / f"{source.stem}-student.ipynb"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["colab"]["toc_visible"] is True
        assert nb.metadata["otter"]["assignment_name"] == source.stem
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.metadata == {"cellView": "form"} and first.source == setup, source.stem
    # the web book's assignments page opens exactly these notebooks
    html = (edition["build"] / "html" / "book" / "assignments" / "index.html").read_text()
    links = set(re.findall(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', html))
    wanted = {repo.colab_url(f"{ce.ASSIGNMENTS_DIR}/{s.stem}-student.ipynb") for s in sources}
    assert wanted <= links and all(f"/blob/{repo.colab_branch}/" in u for u in links), links


@pytest.mark.slow
def test_colab_assignments_hold_no_solutions_and_keep_their_checks(edition):
    repo = _colab_repo()
    edition_urls = {repo.colab_url(f"book/{n}.ipynb") for n in edition["notebooks"]} | {
        repo.colab_url(f"{ce.ASSIGNMENTS_DIR}/{n}.ipynb") for n in edition["assignments"]}
    for stem, nb in edition["assignments"].items():
        name = stem.removesuffix("-student")
        master = notebook_tools.load(ROOT / "book" / "assignments" / f"{name}.ipynb")
        hidden = _hidden_tests(master)
        assert hidden, name
        otter_setup = [c for c in nb.cells if c.source.startswith("#@title Otter setup")]
        assert len(otter_setup) == 1 and otter_setup[0].metadata["cellView"] == "form", name
        assert "CHECKS = {" in otter_setup[0].source
        others = {"cells": [json.loads(json.dumps(c)) for c in nb.cells if c not in otter_setup]}
        import assignments

        assert assignments.leaks(others, master, hidden) == [], name
        text = "\n".join(ce._source(c) for c in nb.cells)
        assert not [h for h in hidden if h in text] and "hidden: true" not in text, name
        # every auto-graded question keeps its locked grader.check cell
        questions = [yaml.safe_load(notebook_tools.cell_source(c)) for c in master["cells"]
                     if c["cell_type"] == "raw"
                     and notebook_tools.cell_source(c).lstrip().startswith("# BEGIN QUESTION")]
        auto = sorted(q["name"] for q in questions if not q.get("manual"))
        checks = [c for c in nb.cells if re.fullmatch(r'grader\.check\("q\d+"\)', c.source)]
        assert sorted(re.search(r"q\d+", c.source).group(0) for c in checks) == auto, name
        assert all(c.metadata.get("editable") is False for c in checks), name
        (export,) = [c for c in nb.cells if "grader.export(" in c.source]
        assert 'if "google.colab" in sys.modules:' in export.source
        links = {u.split("#")[0] for u in re.findall(
            r"https://colab\.research\.google\.com/github/[^)\s\"'>]+", text)}
        assert links <= edition_urls, (name, links - edition_urls)


# ------------------------------------------------------------------ Run all (slow, colab)
def _wheel_env(tmp: Path) -> tuple[Path, Path]:
    """A virtual environment with the wheel of matae_utils installed and the project venv's
    libraries visible (not reinstalled), and a Jupyter kernel spec that runs it."""
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("matae_utils-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True)
                .stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True)
    # the project venv's libraries (torch, pymatgen...) after the wheel; a plain path line does
    # not run that folder's .pth files, so the editable checkout of matae_utils stays invisible
    import site as site_module

    (site / "zz_project_libraries.pth").write_text("\n".join(site_module.getsitepackages()) + "\n")
    kernels = tmp / "jupyter" / "kernels" / "matae-wheel"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "matae wheel", "language": "python"}))
    return python, tmp / "jupyter"


@pytest.fixture(scope="session")
def wheel_kernel(tmp_path_factory) -> dict:
    """The ``matae-wheel`` kernel (:func:`_wheel_env`), built once for every Run-all test."""
    tmp = tmp_path_factory.mktemp("runall")
    python, jupyter_path = _wheel_env(tmp)
    return {"tmp": tmp, "venv": tmp / "venv", "jupyter_path": jupyter_path}


def _run_all(colab_nb, work: Path, wheel_kernel: dict) -> tuple[object, float]:
    """Run all of a Colab notebook in ``work`` as a reader would: nbclient, top to bottom, no
    cell tag honoured, ``allow_errors=False``, importing the wheel's copy of matae_utils (checked
    by a last cell). Returns the executed notebook and the seconds it took."""
    from nbclient import NotebookClient

    assert ROOT not in work.resolve().parents
    nb = nbformat.from_dict(json.loads(json.dumps(colab_nb)))
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
        if cell.cell_type == "code":
            cell.outputs = []
    nb.cells.append(nbformat.v4.new_code_cell(
        "import matae_utils, sys\nprint(matae_utils.__file__)\nprint(sys.executable)"))
    start = time.perf_counter()
    NotebookClient(nb, kernel_name="matae-wheel", timeout=900, allow_errors=False,
                   resources={"metadata": {"path": str(work)}}).execute()
    seconds = time.perf_counter() - start
    setup_out = "".join(o.get("text", "") for o in nb.cells[[
        c.cell_type for c in nb.cells].index("code")].outputs)
    assert "Installing matae_utils" not in setup_out, "the setup cell ran pip"
    probe = nb.cells[-1].outputs[0]["text"].split()
    venv = wheel_kernel["venv"].resolve()
    assert Path(probe[0]).resolve().is_relative_to(venv), probe
    assert Path(probe[1]).parent.parent.resolve() == venv, probe
    return nb, seconds


@pytest.mark.slow
@pytest.mark.colab
def test_every_colab_notebook_runs_all_from_the_installed_wheel(edition, wheel_kernel,
                                                               monkeypatch):
    """Run all of every chapter, as a Colab reader would (:func:`_run_all`), in a folder outside
    the repository."""
    monkeypatch.setenv("JUPYTER_PATH", str(wheel_kernel["jupyter_path"]))
    work = wheel_kernel["tmp"] / "work"
    work.mkdir()
    times = {}
    for name, colab_nb in sorted(edition["notebooks"].items()):
        _nb, times[name] = _run_all(colab_nb, work, wheel_kernel)
    total = sum(times.values())
    print("\nRun all of the Colab edition: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
          + f"; total {total:.0f} s")


@pytest.mark.slow
@pytest.mark.colab
def test_every_colab_assignment_runs_all_as_handed_out(edition, wheel_kernel, monkeypatch):
    """Run all of every assignment's student version, unanswered: its answers are ``...``, so
    every ``grader.check`` must *report* failing checks (otter returns a result, it does not
    raise) and nothing else may stop the run. The notebook is saved in its folder first, as in
    Jupyter, so that the export cell really builds the submission zip (in Colab it only prints
    how to hand the notebook in: tests above)."""
    monkeypatch.setenv("JUPYTER_PATH", str(wheel_kernel["jupyter_path"]))
    assert edition["assignments"] or edition["only"]
    times = {}
    for stem, colab_nb in sorted(edition["assignments"].items()):
        work = wheel_kernel["tmp"] / "assignments" / stem
        work.mkdir(parents=True)
        nbformat.write(colab_nb, str(work / f"{stem}.ipynb"))  # the saved notebook
        nb, times[stem] = _run_all(colab_nb, work, wheel_kernel)
        checks = [c for c in nb.cells if c.cell_type == "code"
                  and re.fullmatch(r'grader\.check\("q\d+"\)', c.source)]
        assert checks, stem
        for cell in checks:
            shown = json.dumps([o.get("data", {}).get("text/plain", "") for o in cell.outputs])
            assert "Test case failed" in shown and "AssertionError" in shown, (stem, cell.source)
        zips = list(work.glob(f"{stem}_*.zip"))
        assert len(zips) == 1, f"{stem}: the export cell wrote no submission zip"
    print("\nRun all of the assignments (unanswered): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
