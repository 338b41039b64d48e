"""`assets show`'s job rows: a regional-fallback job links to its own region's console."""

from __future__ import annotations

from mediapipe_cfn.contract import Attr
from mediapipe_cfn.operations.assets import format_rows


def test_a_fallback_job_links_to_the_console_of_its_own_region() -> None:
    item = {
        Attr.FORMATS: ["cmaf", "mp4"],
        Attr.FORMAT_STATUS: {
            "cmaf": {"status": "PROGRESSING", "jobId": "111-aaa", "region": "us-west-2"},
            "mp4": {"status": "SUBMITTED", "jobId": "222-bbb"},
        },
    }
    cmaf, mp4 = format_rows(item, "us-east-1")
    assert cmaf["console"].startswith("https://us-west-2.console.aws.amazon.com/")
    assert cmaf["console"].endswith("#/jobs/summary/111-aaa")
    assert mp4["console"].startswith("https://us-east-1.console.aws.amazon.com/")
