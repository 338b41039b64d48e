"""Locate the data that ships with the package: built-in profiles and handler sources.

In a wheel they are bundled under ``mediapipe_cfn/_bundled/``; in a source checkout (editable
install, tests) they are the top-level ``profiles/`` and ``handlers/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory of bundled data ``name`` ("profiles" or "handlers")."""
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mediapipe-cfn installation is missing its '{name}' data")


def library_file(relative: str) -> Path:
    """A file of this package, e.g. ``contract.py`` (bundled into the handler zips)."""
    return _PACKAGE_DIR / relative
