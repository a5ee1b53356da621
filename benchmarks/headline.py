"""Headline comparisons of the application chapters, from package code, with the chapters'
protocols (``benchmarks/run.py`` runs every function named in :data:`SUITES`).

Each suite returns rows: ``name``, ``value`` (mean over seeds or folds), ``std``, ``baseline``,
``target``, ``holds``, ``protocol``, ``dataset``, ``split`` and ``seed``.
"""

from __future__ import annotations

#: Suites run by ``make bench``, in this order.
SUITES: list[str] = []
