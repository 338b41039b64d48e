"""The generated parts of docs/security.md: skips, allow-lists, least privilege, retention.

docs/security.md is prose with generated sections between markers::

    <!-- BEGIN GENERATED: skips -->
    ...
    <!-- END GENERATED: skips -->

Run ``python -m mediapipe_cfn.security.docs docs/security.md`` to rewrite them from the rendered
templates of the built-in profiles; a test fails when the committed file is stale, so the list
of checkov skips, the ``Resource: "*"`` allow-list and the least-privilege table cannot drift
from the templates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mediapipe_cfn.profile.model import Profile, Transition
from mediapipe_cfn.security.checkov import checkov_skips
from mediapipe_cfn.security.gate import rendered_template
from mediapipe_cfn.security.intrinsics import (
    ALTERNATIVES_NAME,
    DEFAULTS,
    SampleEnvironment,
    scenarios,
    sequence_of,
)
from mediapipe_cfn.security.parliament import LOW_FINDING_REASONS
from mediapipe_cfn.security.policies import IamPolicy, PolicyKind, extract_policies
from mediapipe_cfn.security.rules import RESOURCE_STAR_ALLOWED

# The profile whose roles the least-privilege table shows: the production pipeline.
LEAST_PRIVILEGE_PROFILE: Final = "prod"
SECTION: Final = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[a-z-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)


# --- checkov skips ---------------------------------------------------------------------------


def skips_section(templates: Mapping[str, Mapping[str, Any]]) -> str:
    """A table: check, resource, profiles, reason; one row per distinct skip."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for profile_name, template in templates.items():
        for skip in checkov_skips(template):
            rows.setdefault((skip.check_id, skip.resource, skip.reason), []).append(profile_name)
    lines = [
        "| Check | Resource | Profiles | Why it does not apply |",
        "| --- | --- | --- | --- |",
    ]
    for (check_id, resource, reason), profiles in sorted(rows.items()):
        where = "all" if len(profiles) == len(templates) else ", ".join(sorted(profiles))
        lines.append(f"| {check_id} | `{resource}` | {where} | {_cell(reason)} |")
    return "\n".join(lines) + "\n"


# --- allow-lists -----------------------------------------------------------------------------


def resource_star_section() -> str:
    lines = ['| Action | Why `Resource: "*"` |', "| --- | --- |"]
    for action, reason in sorted(RESOURCE_STAR_ALLOWED.items()):
        lines.append(f"| `{action}` | {_cell(reason)} |")
    return "\n".join(lines) + "\n"


def low_findings_section() -> str:
    lines = ["| parliament finding (LOW) | Why it is acceptable here |", "| --- | --- |"]
    for issue, reason in sorted(LOW_FINDING_REASONS.items()):
        lines.append(f"| `{issue}` | {_cell(reason)} |")
    return "\n".join(lines) + "\n"


# --- least privilege ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One Allow statement of a role's identity policy."""

    role: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[str, ...]


def role_grants(policies: Iterable[IamPolicy]) -> list[Grant]:
    grants = []
    for policy in policies:
        if policy.kind is not PolicyKind.IDENTITY:
            continue
        for statement in policy.statements():
            if statement.get("Effect") != "Allow":
                continue
            grants.append(
                Grant(
                    role=policy.logical_id,
                    sid=str(statement.get("Sid", "")),
                    actions=tuple(str(a) for a in sequence_of(statement.get("Action"))),
                    resources=tuple(str(r) for r in sequence_of(statement.get("Resource"))),
                    conditions=tuple(_conditions(statement.get("Condition") or {})),
                )
            )
    return grants


def _conditions(condition: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [
        f"{operator} {key} = {', '.join(str(v) for v in sequence_of(values))}"
        for operator, keys in sorted(condition.items())
        for key, values in sorted(keys.items())
    ]


def _grant_rows(grants: Sequence[Grant]) -> list[str]:
    lines = [
        "| Role | Statement | Actions | Resources | Conditions |",
        "| --- | --- | --- | --- | --- |",
    ]
    for grant in grants:
        lines.append(
            f"| {grant.role} | {grant.sid} | "
            + "<br>".join(f"`{a}`" for a in grant.actions)
            + " | "
            + "<br>".join(f"`{r}`" for r in grant.resources)
            + " | "
            + ("<br>".join(f"`{c}`" for c in grant.conditions) or "none")
            + " |"
        )
    return lines


def least_privilege_section(template: Mapping[str, Any], env: SampleEnvironment) -> str:
    """The roles' grants with the parameter defaults, then what the other parameters change."""
    defaults = role_grants(extract_policies(template, DEFAULTS, env))
    lines = _grant_rows(defaults)
    alternatives = [s for s in scenarios(template, env) if s.name == ALTERNATIVES_NAME]
    for scenario in alternatives:
        changed = [
            g for g in role_grants(extract_policies(template, scenario, env)) if g not in defaults
        ]
        if changed:
            values = ", ".join(f"`{k}={v}`" for k, v in sorted(scenario.parameters.items()))
            lines += [
                "",
                f"Statements that differ when the stack is deployed with {values}:",
                "",
                *_grant_rows(changed),
            ]
    return "\n".join(lines) + "\n"


# --- retention ---------------------------------------------------------------------------------


def _transitions(steps: Sequence[Transition]) -> str:
    return ", ".join(f"{step.storage_class} at {step.days} d" for step in steps) or "none"


def _expiry(days: int | None) -> str:
    return f"deleted at {days} d" if days is not None else "kept"


def retention_section(profiles: Sequence[Profile]) -> str:
    lines = [
        "| Profile | Uploads (current) | Uploads (overwritten/deleted versions) | Outputs "
        "| S3 access logs | Lambda and job-event logs | Queue / dead-letter queues "
        "| Assets table |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for profile in profiles:
        retention = profile.retention
        uploads, outputs = retention.uploads, retention.outputs
        backups = "PITR 35 d" if profile.database.point_in_time_recovery else "no PITR"
        kept = "retained on stack deletion" if profile.environment == "prod" else "deleted"
        lines.append(
            f"| {profile.name} "
            f"| {_transitions(uploads.transitions)}; {_expiry(uploads.expiration_days)} "
            f"| deleted {uploads.noncurrent_version_expiration_days} d after replacement; "
            "unfinished multipart uploads "
            f"{uploads.abort_incomplete_multipart_days} d "
            f"| {_transitions(outputs.transitions)} "
            f"(objects > {outputs.min_transition_size_kb} KB); {_expiry(outputs.expiration_days)} "
            f"| {retention.access_logs_expiration_days} d "
            f"| {profile.functions.log_retention_days} d "
            f"| {profile.queue.message_retention_days} d / "
            f"{profile.queue.dead_letter_retention_days} d (failure queues 14 d) "
            f"| {backups}; {kept} |"
        )
    return "\n".join(lines) + "\n"


# --- the document ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def builtin_templates() -> tuple[list[Profile], dict[str, dict[str, Any]]]:
    """The built-in profiles and their rendered templates (packaged form), by profile name."""
    from mediapipe_cfn.profile.loader import builtin_profiles, load_profile

    profiles = [load_profile(name) for name in builtin_profiles()]
    return profiles, {p.name: rendered_template(p) for p in profiles}


def generated_sections(
    profiles: Sequence[Profile],
    templates: Mapping[str, Mapping[str, Any]],
    env: SampleEnvironment | None = None,
) -> dict[str, str]:
    env = env or SampleEnvironment()
    return {
        "skips": skips_section(templates),
        "resource-star": resource_star_section(),
        "parliament-low": low_findings_section(),
        "least-privilege": least_privilege_section(templates[LEAST_PRIVILEGE_PROFILE], env),
        "retention": retention_section(profiles),
    }


def update_document(text: str, sections: Mapping[str, str]) -> str:
    """``text`` with every generated section replaced; every section must have its markers."""
    found = {match.group("name") for match in SECTION.finditer(text)}
    missing = sorted(set(sections) - found)
    if missing:
        raise ValueError(f"no markers for generated section(s): {', '.join(missing)}")

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        body = sections.get(name, match.group("body"))
        return f"{match.group(1)}{body}{match.group(4)}"

    return SECTION.sub(replace, text)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mediapipe_cfn.security.docs docs/security.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    profiles, templates = builtin_templates()
    text = path.read_text(encoding="utf-8")
    path.write_text(update_document(text, generated_sections(profiles, templates)), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
