"""The package's on-disk cache (one module for every cache: Magpie features, XRD peaks).

Results that are slow to compute and depend only on their inputs and on library versions
are stored as ``.npz`` files in :func:`cache_dir`. The rules, the same for every cache:

* one file per result, named ``{kind}-{sha256 of the key}.npz``, so a change of input,
  settings or library version gives a new file instead of a wrong hit;
* writes are atomic (temporary file + rename), so a crash never leaves half a file under
  the final name; a failed write only warns;
* reads are guarded: a missing file is a miss, a corrupt or truncated file (or one whose
  arrays fail the caller's check) is a miss with a warning, and the caller recomputes
  and overwrites it. Nothing is unpickled (``allow_pickle=False``);
* only successful results are written: callers never cache a failure;
* :func:`clear_cache` deletes every cache of the package, on disk and in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CACHE_ENV", "cache_dir", "clear_cache", "cache_path", "read_npz", "write_npz", "memory"]

#: Environment variable naming the cache directory.
CACHE_ENV = "MATAE_CACHE"
#: The kinds of cached results (the file-name prefixes that :func:`clear_cache` deletes).
KINDS = ("features", "xrd-peaks", "materials-project")

#: What reading a damaged ``.npz`` can raise (truncated zip, bad CRC, missing array,
#: wrong dtype or shape reported by the caller's check).
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)

_MEMORY: dict[str, dict[Any, Any]] = {}


def cache_dir() -> Path:
    """Directory of matae's on-disk cache (created only when something is written).

    Returns:
        pathlib.Path: ``$MATAE_CACHE`` if set, else ``$XDG_CACHE_HOME/matae`` if
        ``XDG_CACHE_HOME`` is set, else ``~/.cache/matae``. Everything in it can be
        deleted safely; it is recomputed when needed.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "matae"
    return Path.home() / ".cache" / "matae"


def clear_cache() -> int:
    """Delete every cache of the package: Magpie features, XRD peak lists and Materials
    Project downloads.

    Removes the files of :func:`cache_dir` whose names start with one of the cache
    kinds (``features-``, ``xrd-peaks-``, and their temporary files), and empties the
    in-memory caches. Other files in the directory are left alone, so pointing
    ``MATAE_CACHE`` at a shared directory is safe.

    Returns:
        int: number of files removed.
    """
    for store in _MEMORY.values():
        store.clear()
    directory = cache_dir()
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        if path.is_file() and path.name.startswith(tuple(f"{kind}-" for kind in KINDS)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def memory(kind: str) -> dict[Any, Any]:
    """The in-memory cache of one kind (a dict emptied by :func:`clear_cache`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; known: {KINDS}")
    return _MEMORY.setdefault(kind, {})


def cache_path(kind: str, key: Any) -> Path:
    """File of a result: ``cache_dir() / f"{kind}-{sha256(json(key))}.npz"``.

    Args:
        kind: One of :data:`KINDS`.
        key: JSON-serialisable description of everything the result depends on
            (inputs, settings, library versions, a format number).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; known: {KINDS}")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"{kind}-{digest}.npz"


def read_npz(
    path: Path, check: Callable[[dict[str, np.ndarray]], None] | None = None
) -> dict[str, np.ndarray] | None:
    """Arrays of a cache file, or None (a miss) if it is missing or unusable.

    Args:
        path: The file.
        check: Optional validation of the loaded arrays; it raises ``ValueError`` (or
            ``KeyError`` for a missing array) when they are not what the caller wrote.

    Returns:
        dict or None: ``{name: array}``; None when the file is missing, or damaged (a
        ``UserWarning`` then names the file and the reason; the caller recomputes).
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        if check is not None:
            check(arrays)
    except _READ_ERRORS as exc:
        warnings.warn(
            f"Ignoring unreadable cache file {path} ({type(exc).__name__}: {exc}); "
            "recomputing and overwriting it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return arrays


def write_npz(path: Path, **arrays: np.ndarray) -> bool:
    """Write arrays to ``path`` atomically (temporary file + rename).

    Returns:
        bool: True if written; False (with a ``UserWarning``) when the directory is not
        writable: the computation goes on, only uncached.
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # e.g. the directory is a file: nothing to remove
            tmp.unlink()
        warnings.warn(
            f"Could not write the cache file {path} ({exc}); the result is not cached. "
            f"Set {CACHE_ENV} to a writable directory, or pass cache=False.",
            UserWarning,
            stacklevel=3,
        )
        return False
    return True
