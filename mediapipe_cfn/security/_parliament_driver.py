"""Run parliament on policies read from stdin; print every finding as JSON on stdout.

This file is executed by the Python interpreter of the virtualenv that has parliament
installed, not imported by mediapipe_cfn: it uses only the standard library and parliament, and
stays compatible with the older Pythons such an environment may run.

Input:  {"policies": [{"name": str, "document": {...}, "community_auditors": bool}, ...]}
Output: {"parliament_version": str,
         "results": [{"name": str, "findings": [{"issue", "severity", "title", "detail",
                                                  "location", "resource_condition_of"}]}]}

``resource_condition_of`` lists, for an UNKNOWN_CONDITION_FOR_ACTION finding, the resource types
of the action whose condition keys include the key, according to parliament's own IAM data
(parliament looks only at the action-level keys when it raises that finding).
"""

import json
import os
import re
import sys

_UNKNOWN_CONDITION = re.compile(r"^Unknown condition (\S+) for action ([^:\s]+):(\S+)$")


def _plain(value):
    """A JSON-safe copy of a finding's detail or location (parliament puts objects there)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items(), key=str)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _resource_condition_of(issue, detail):
    """Resource types of the action that document the condition key (see the module doc)."""
    import parliament

    if issue != "UNKNOWN_CONDITION_FOR_ACTION" or not isinstance(detail, str):
        return []
    match = _UNKNOWN_CONDITION.match(detail)
    if match is None:
        return []
    key, prefix, action = match.groups()
    found = set()
    for service in parliament.iam_definition:
        if service["prefix"] != prefix:
            continue
        resources = {r["resource"]: r for r in service["resources"]}
        for privilege in service["privileges"]:
            if privilege["privilege"].lower() != action.lower():
                continue
            for resource_type in privilege["resource_types"]:
                name = resource_type["resource_type"].rstrip("*")
                if name in resources and key in resources[name]["condition_keys"]:
                    found.add(name)
    return sorted(found)


def _findings(policy_text, community_auditors):
    import parliament

    policy = parliament.analyze_policy_string(
        policy_text,
        ignore_private_auditors=True,
        include_community_auditors=community_auditors,
    )
    findings = []
    for finding in policy.findings:
        finding = parliament.enhance_finding(finding)
        detail = _plain(finding.detail)
        findings.append(
            {
                "issue": finding.issue,
                "severity": finding.severity,
                "title": finding.title,
                "detail": detail,
                "location": _plain(finding.location),
                "resource_condition_of": _resource_condition_of(finding.issue, detail),
            }
        )
    return sorted(findings, key=lambda f: json.dumps(f, sort_keys=True))


def _load_community_config():
    """The community auditors' finding types live in an override file next to them."""
    import parliament

    override = os.path.join(
        os.path.dirname(parliament.__file__), "community_auditors", "config_override.yaml"
    )
    parliament.override_config(override)


def main():
    request = json.load(sys.stdin)
    import parliament

    if any(entry.get("community_auditors") for entry in request["policies"]):
        _load_community_config()
    results = []
    for entry in request["policies"]:
        text = json.dumps(entry["document"], sort_keys=True)
        community = bool(entry.get("community_auditors", False))
        results.append({"name": entry["name"], "findings": _findings(text, community)})
    json.dump(
        {"parliament_version": parliament.__version__, "results": results},
        sys.stdout,
        sort_keys=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
