"""docs/security.md matches the templates: skips, allow-lists, least privilege, retention."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from sample_deployment import ENV

from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.security.checkov import checkov_skips
from mediapipe_cfn.security.docs import (
    LEAST_PRIVILEGE_PROFILE,
    SECTION,
    builtin_templates,
    generated_sections,
    role_grants,
    update_document,
)
from mediapipe_cfn.security.intrinsics import DEFAULTS
from mediapipe_cfn.security.parliament import LOW_FINDING_REASONS
from mediapipe_cfn.security.policies import extract_policies
from mediapipe_cfn.security.rules import RESOURCE_STAR_ALLOWED
from mediapipe_cfn.security.tools import CHECKOV_VERSION, PARLIAMENT_VERSION, SETUPTOOLS_VERSION

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
REGENERATE = "python -m mediapipe_cfn.security.docs docs/security.md"


@pytest.fixture(scope="module")
def builtins() -> tuple[list[Profile], dict[str, dict[str, Any]]]:
    return builtin_templates()


@pytest.fixture(scope="module")
def document() -> str:
    return DOC.read_text(encoding="utf-8")


def test_generated_sections_are_current(
    builtins: tuple[list[Profile], dict[str, dict[str, Any]]], document: str
) -> None:
    profiles, templates = builtins
    expected = update_document(document, generated_sections(profiles, templates, ENV))
    assert document == expected, f"docs/security.md is stale: run `{REGENERATE}`"


def test_every_skip_in_the_templates_is_documented_with_its_reason(
    builtins: tuple[list[Profile], dict[str, dict[str, Any]]], document: str
) -> None:
    _, templates = builtins
    skips = [skip for template in templates.values() for skip in checkov_skips(template)]
    assert skips, "the built-in templates skip some checks"
    rows = [line for line in document.splitlines() if line.startswith("| CKV_")]
    for skip in skips:
        assert skip.reason.strip(), f"{skip.check_id} on {skip.resource} has no reason"
        assert any(
            row.startswith(f"| {skip.check_id} |") and skip.resource in row and skip.reason in row
            for row in rows
        ), f"docs/security.md does not list {skip.check_id} on {skip.resource}: {skip.reason}"


def test_allow_lists_are_documented(document: str) -> None:
    for action, reason in RESOURCE_STAR_ALLOWED.items():
        assert f"| `{action}` | {reason} |" in document
    for issue, reason in LOW_FINDING_REASONS.items():
        assert f"| `{issue}` | {reason} |" in document


def test_least_privilege_table_covers_every_role_statement(
    builtins: tuple[list[Profile], dict[str, dict[str, Any]]], document: str
) -> None:
    _, templates = builtins
    grants = role_grants(extract_policies(templates[LEAST_PRIVILEGE_PROFILE], DEFAULTS, ENV))
    assert {g.role for g in grants} == {
        "IngestOrchestratorRole",
        "JobStatusProcessorRole",
        "MediaConvertRole",
        "ReconcilerRole",
    }
    for grant in grants:
        assert f"| {grant.role} | {grant.sid} |" in document


def test_other_profiles_grant_the_same_minus_sns(
    builtins: tuple[list[Profile], dict[str, dict[str, Any]]],
) -> None:
    """What the least-privilege section says about the profiles it does not show."""
    profiles, templates = builtins

    def without_sns(profile_name: str) -> set[Any]:
        grants = role_grants(extract_policies(templates[profile_name], DEFAULTS, ENV))
        return {
            dataclasses.replace(
                grant,
                conditions=tuple(re.sub(r", sns\.[^,]*", "", c) for c in grant.conditions),
            )
            for grant in grants
            if "sns:Publish" not in grant.actions
        }

    reference = without_sns(LEAST_PRIVILEGE_PROFILE)
    for profile in profiles:
        assert without_sns(profile.name) == reference, profile.name
        publishes = any(
            "sns:Publish" in g.actions
            for g in role_grants(extract_policies(templates[profile.name], DEFAULTS, ENV))
        )
        assert publishes is profile.notifications.sns_on_final_state


def test_update_document_needs_every_marker() -> None:
    with pytest.raises(ValueError, match="skips"):
        update_document("no markers here", {"skips": "x\n"})
    text = "a\n<!-- BEGIN GENERATED: skips -->\nold\n<!-- END GENERATED: skips -->\nb\n"
    assert update_document(text, {"skips": "new\n"}) == text.replace("old", "new")


def test_document_has_the_sections_the_issue_asks_for(document: str) -> None:
    for heading in (
        "## Threat model",
        "## Encryption",
        "## Least privilege",
        "## Data retention",
        "## checkov skips",
        '## `Resource: "*"` allow-list',
    ):
        assert heading in document
    for question in ("Who can upload", "Who can read outputs", "leaked uploader credential"):
        assert question in document
    assert {m.group("name") for m in SECTION.finditer(document)} == {
        "skips",
        "resource-star",
        "parliament-low",
        "least-privilege",
        "retention",
    }


def test_security_tools_script_pins_the_tested_versions() -> None:
    script = (REPO / ".ci" / "security-tools").read_text(encoding="utf-8")
    assert f'CHECKOV_VERSION="{CHECKOV_VERSION}"' in script
    assert f'PARLIAMENT_VERSION="{PARLIAMENT_VERSION}"' in script
    assert f'SETUPTOOLS_VERSION="{SETUPTOOLS_VERSION}"' in script
