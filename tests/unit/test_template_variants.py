"""Profiles whose choices change which resources the template holds render cfn-lint clean too.

The built-in profiles are linted in test_template.py; these variants add or drop resources
(the job events log group and its policy, the reconciler's reservation, the schedule's edges).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from mediapipe_cfn.profile import Profile
from mediapipe_cfn.render import render
from mediapipe_cfn.template import build_template

LINT_REGIONS = ["us-east-1", "eu-west-1"]
PACKAGED_CODE = {"S3Bucket": "artifact-bucket", "S3Key": "0123456789abcdef"}

VARIANTS: dict[str, dict[str, Any]] = {
    "job events in a log group with its own policy": {
        "observability": {"job_event_log": "log_group"},
        "environment": "prod",
    },
    "job events in a log group under a shared policy": {
        "observability": {"job_event_log": "log_group_shared_policy"},
    },
    "reconciler in the shared concurrency pool, every minute": {
        "functions": {"reconciler": {"memory_mb": 128, "timeout_seconds": 50}},
        "reliability": {"reconcile_every_minutes": 1, "stuck_after_minutes": 15},
    },
    "hourly reconciler with SNS announcements": {
        "reliability": {"reconcile_every_minutes": 60, "stuck_alarm_threshold": 10},
        "notifications": {"sns_on_final_state": True},
    },
    "own working-copy prefix": {
        "ingest": {
            "prefix": "incoming/",
            "working_copy_prefix": "work/copies/",
            "working_copy_expiration_days": 365,
        },
        "retention": {"uploads": {"expiration_days": 400}},
    },
    "every capacity option on": yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "profiles" / "capacity-all.yaml").read_text()
    ),
}


@pytest.mark.parametrize("sections", VARIANTS.values(), ids=list(VARIANTS))
def test_variant_is_cfn_lint_clean(sections: dict[str, Any]) -> None:
    template = build_template(Profile.model_validate(sections), handler_code=PACKAGED_CODE)
    matches = lint(render(template, "yaml"), config=ManualArgs(regions=LINT_REGIONS))
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []
