"""A burst of uploads through the deployed pipeline, with a crash and a throttle storm inside.

Runs the end-to-end burst test (tests/integration/test_end_to_end.py) at a size of your choice:
the default profile rendered and deployed into moto, the handlers loaded from the built zip,
MediaConvert faked. Inside the burst, CreateJob is refused 60 times in a row (and one call in 40
throughout), the orchestrator dies right after one CreateJob, and the status processor dies once
between a final write and its announcements. The test asserts that every upload ends with one
final record, announced, and never two jobs for one attempt; this script prints what it measured:
wall time, crashes, CreateJob calls per job, reconciler runs and AWS calls per asset by service.

    python benchmarks/burst.py            # 2,000 uploads (1,980 valid, 10 broken, 10 not video)
    python benchmarks/burst.py 500
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INVALID_UPLOADS = 20  # the test adds 10 broken videos and 10 text files


def main(argv: list[str]) -> int:
    total = int(argv[1]) if len(argv) > 1 else 2000
    env = dict(os.environ, BURST_VALID=str(total - INVALID_UPLOADS))
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_end_to_end.py",
            "-k",
            "burst",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    lines = result.stdout.splitlines()
    figures = [line for line in lines if re.match(r"^burst of \d+", line)]
    summary = [line for line in lines if re.search(r"\d+ (passed|failed)", line)]
    for line in figures:
        print(line)
    print(f"pytest: {summary[-1] if summary else 'no summary'}; {elapsed:.0f} s in all")
    if result.returncode != 0:  # the assertion that failed, not the log lines after it
        failures = [line for line in lines if line.startswith(("E ", ">"))]
        print("\n".join(failures[:40]), file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
