"""Fixtures shared by the integration tests: the pipeline in moto, and an operator of it."""

from __future__ import annotations

import sys
from pathlib import Path

HANDLER_TESTS = str(Path(__file__).resolve().parents[1] / "handlers")
if HANDLER_TESTS not in sys.path:
    sys.path.insert(0, HANDLER_TESTS)

from operations_harness import operator  # noqa: E402
from test_end_to_end import pipeline  # noqa: E402

__all__ = ["operator", "pipeline"]
