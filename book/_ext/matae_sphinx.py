"""Small Sphinx fixes for the matae book (registered in ``_config.yml`` as a local extension).

sphinx-thebe and sphinx-togglebutton add their inline configuration scripts with
``app.add_js_file(None, body=...)``, which Sphinx does not de-duplicate; in this Jupyter Book
stack they reach every page twice, and the second ``const THEBE_JS_URL`` is a JavaScript error in
every reader's console. This extension drops exact repeats of a script (same file, same body)
from each page; the browser tests (``tests/test_browser.py``) fail on any console error.
"""

from __future__ import annotations

from typing import Any


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


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
