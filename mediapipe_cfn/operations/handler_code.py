"""The handlers' own definitions of queue messages, failure kinds and asset ids.

A retry must be a message the orchestrator already handles, byte for byte; so the commands use
the handler package's code (bundled with this library) instead of a copy of it. Only its
standard-library-only modules are loaded: messages, lifecycle, uploads.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from mediapipe_cfn.resources import data_dir


def handler_module(name: str) -> ModuleType:
    """``mediapipe_handlers.<name>``, from the installed handler sources."""
    try:
        return importlib.import_module(f"mediapipe_handlers.{name}")
    except ModuleNotFoundError:
        sys.path.append(str(data_dir("handlers")))
        return importlib.import_module(f"mediapipe_handlers.{name}")
