"""Run parliament on policies read from stdin; print every finding as JSON on stdout.

This file is executed by the Python interpreter of the virtualenv that has parliament
installed, not imported by mediapipe_cfn: it uses only the standard library and parliament, and
stays compatible with the older Pythons such an environment may run.

Input:  {"policies": [{"name": str, "document": {...}}, ...], "community_auditors": bool}
Output: {"parliament_version": str,
         "results": [{"name": str, "findings": [{"issue", "severity", "title", "detail",
                                                  "location"}, ...]}, ...]}
"""

import json
import sys


def _plain(value):
    """A JSON-safe copy of a finding's detail or location (parliament puts objects there)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items(), key=str)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


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
        findings.append(
            {
                "issue": finding.issue,
                "severity": finding.severity,
                "title": finding.title,
                "detail": _plain(finding.detail),
                "location": _plain(finding.location),
            }
        )
    return sorted(findings, key=lambda f: json.dumps(f, sort_keys=True))


def _load_community_config():
    """The community auditors' finding types live in an override file next to them."""
    import os

    import parliament

    override = os.path.join(
        os.path.dirname(parliament.__file__), "community_auditors", "config_override.yaml"
    )
    parliament.override_config(override)


def main():
    request = json.load(sys.stdin)
    import parliament

    if request.get("community_auditors"):
        _load_community_config()

    results = []
    for entry in request["policies"]:
        text = json.dumps(entry["document"], sort_keys=True)
        results.append(
            {
                "name": entry["name"],
                "findings": _findings(text, bool(request.get("community_auditors", False))),
            }
        )
    json.dump(
        {"parliament_version": parliament.__version__, "results": results},
        sys.stdout,
        sort_keys=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
