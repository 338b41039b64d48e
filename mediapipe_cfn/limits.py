"""CloudFormation's template quotas, checked on the rendered template without cfn-lint.

`render` must refuse a template CloudFormation would reject, but loading cfn-lint costs seconds;
these are the quotas cfn-lint enforces on a template as a whole (template size, description,
section sizes, logical IDs, output and parameter descriptions), as plain figures. A unit test
reads the same figures from cfn-lint's own tables so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from mediapipe_cfn.validation import Finding

TEMPLATE_BODY_MAX_BYTES: Final = 1_000_000  # a template read from S3
DESCRIPTION_MAX_LENGTH: Final = 1024
# Section -> most entries it may hold.
SECTION_MAX_ENTRIES: Final[Mapping[str, int]] = {
    "Resources": 500,
    "Parameters": 200,
    "Outputs": 200,
    "Mappings": 200,
}
LOGICAL_ID_MAX_LENGTH: Final = 255
OUTPUT_DESCRIPTION_MAX_LENGTH: Final = 1024
PARAMETER_DESCRIPTION_MAX_LENGTH: Final = 4000
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
CHECK = "cloudformation"


def template_limit_problems(document: Mapping[str, Any], body: str) -> list[Finding]:
    """Every quota ``document`` (the template as a dict) or its rendered ``body`` breaks."""
    problems: list[Finding] = []
    size = len(body.encode("utf-8"))
    if size > TEMPLATE_BODY_MAX_BYTES:
        problems.append(
            Finding(CHECK, "template", f"{size:,} bytes; at most {TEMPLATE_BODY_MAX_BYTES:,}")
        )
    problems += _too_long(document.get("Description"), "Description", DESCRIPTION_MAX_LENGTH)
    for section, most in SECTION_MAX_ENTRIES.items():
        entries: Mapping[str, Any] = document.get(section) or {}
        if len(entries) > most:
            problems.append(Finding(CHECK, section, f"{len(entries)} entries; at most {most}"))
        for logical_id in entries:
            problems += _bad_logical_id(section, str(logical_id))
    for name, output in (document.get("Outputs") or {}).items():
        description = output.get("Description")
        where = f"Outputs.{name}.Description"
        problems += _too_long(description, where, OUTPUT_DESCRIPTION_MAX_LENGTH)
    for name, parameter in (document.get("Parameters") or {}).items():
        description = parameter.get("Description")
        where = f"Parameters.{name}.Description"
        problems += _too_long(description, where, PARAMETER_DESCRIPTION_MAX_LENGTH)
    return problems


def _too_long(text: Any, where: str, most: int) -> list[Finding]:
    if isinstance(text, str) and len(text) > most:
        return [Finding(CHECK, where, f"{len(text):,} characters; at most {most:,}")]
    return []


def _bad_logical_id(section: str, logical_id: str) -> list[Finding]:
    where = f"{section}.{logical_id[:40]}"
    if len(logical_id) > LOGICAL_ID_MAX_LENGTH:
        message = f"name of {len(logical_id)} characters; at most {LOGICAL_ID_MAX_LENGTH}"
        return [Finding(CHECK, where, message)]
    if not _LOGICAL_ID.match(logical_id):
        return [Finding(CHECK, where, "names may hold only the letters A-Z, a-z and digits")]
    return []
