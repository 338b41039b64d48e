"""Finding the third-party scanners: checkov and parliament.

Both live in their own virtualenv (checkov pins an older boto3 than this project needs), created
by ``bash .ci/security-tools``, which prints the two environment variables that point at them:

* ``MEDIAPIPE_CHECKOV``: the ``checkov`` executable (else ``checkov`` on ``PATH``);
* ``MEDIAPIPE_PARLIAMENT_PYTHON``: a Python interpreter that can import parliament (else the
  interpreter of a ``parliament`` script on ``PATH``, else this interpreter if it has parliament).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from mediapipe_cfn.errors import MediapipeError

CHECKOV_ENV: Final = "MEDIAPIPE_CHECKOV"
PARLIAMENT_PYTHON_ENV: Final = "MEDIAPIPE_PARLIAMENT_PYTHON"
# The versions the gate is tested with; .ci/security-tools installs exactly these.
CHECKOV_VERSION: Final = "3.3.30"
PARLIAMENT_VERSION: Final = "1.6.4"

# parliament imports pkg_resources, which newer setuptools no longer ship.
SETUPTOOLS_VERSION: Final = "75.8.0"

INSTALL_HINT: Final = (
    'Install them in their own virtualenv with `eval "$(bash .ci/security-tools)"` (it creates '
    f".venv-security and exports {CHECKOV_ENV} and {PARLIAMENT_PYTHON_ENV}), or by hand: "
    "`python3 -m venv .venv-security && .venv-security/bin/pip install "
    f"checkov=={CHECKOV_VERSION} parliament=={PARLIAMENT_VERSION} "
    f"setuptools=={SETUPTOOLS_VERSION}`, then `export "
    f"{CHECKOV_ENV}=$PWD/.venv-security/bin/checkov "
    f"{PARLIAMENT_PYTHON_ENV}=$PWD/.venv-security/bin/python`."
)


class SecurityToolsMissing(MediapipeError):
    """checkov or parliament cannot be found; the message says how to install them."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            "the security checks need checkov and parliament: "
            + "; ".join(missing)
            + ". "
            + INSTALL_HINT
        )


class SecurityToolError(MediapipeError):
    """A scanner ran but did not produce a usable answer (crash, unreadable output)."""


def _executable(path: str) -> Path | None:
    candidate = Path(path)
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def checkov_executable(environ: Mapping[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    configured = environ.get(CHECKOV_ENV)
    if configured:
        return _executable(configured)
    found = shutil.which("checkov", path=environ.get("PATH"))
    return Path(found) if found else None


def _script_interpreter(script: Path) -> Path | None:
    """The interpreter named on a console script's ``#!`` line."""
    try:
        first_line = script.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    except OSError:
        return None
    if not first_line.startswith("#!"):
        return None
    interpreter = first_line[2:].strip().split(" ")[0]
    return _executable(interpreter)


def parliament_python(environ: Mapping[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    configured = environ.get(PARLIAMENT_PYTHON_ENV)
    if configured:
        return _executable(configured)
    script = shutil.which("parliament", path=environ.get("PATH"))
    if script:
        interpreter = _script_interpreter(Path(script))
        if interpreter is not None:
            return interpreter
    if importlib.util.find_spec("parliament") is not None:
        return Path(sys.executable)
    return None


def missing_tools(environ: Mapping[str, str] | None = None) -> list[str]:
    """One sentence per scanner that cannot be found (empty when both can)."""
    environ = os.environ if environ is None else environ
    missing = []
    if checkov_executable(environ) is None:
        configured = environ.get(CHECKOV_ENV)
        missing.append(
            f"{CHECKOV_ENV}={configured} is not an executable file"
            if configured
            else f"checkov is not on PATH and {CHECKOV_ENV} is not set"
        )
    if parliament_python(environ) is None:
        configured = environ.get(PARLIAMENT_PYTHON_ENV)
        missing.append(
            f"{PARLIAMENT_PYTHON_ENV}={configured} is not an executable file"
            if configured
            else f"parliament is not installed and {PARLIAMENT_PYTHON_ENV} is not set"
        )
    return missing


def require_tools(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """``(checkov executable, parliament's Python)``, or :class:`SecurityToolsMissing`."""
    missing = missing_tools(environ)
    if missing:
        raise SecurityToolsMissing(missing)
    checkov = checkov_executable(environ)
    python = parliament_python(environ)
    assert checkov is not None and python is not None  # missing_tools() checked both
    return checkov, python
