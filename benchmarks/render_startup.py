"""Wall time of `mediapipe-cfn render` on the default profile in a cold process.

Prints the median and spread of N runs (default 7) of a fresh interpreter rendering the default
profile to a temporary file (handler zip included), and which heavy modules the render loaded.
Budget from the project: median under 1.5 s on a 2-core machine.

    python benchmarks/render_startup.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY_MODULES = ("cfnlint", "boto3", "botocore")
PROBE = (
    "import sys, runpy; sys.argv = ['mediapipe-cfn', 'render', '-o', sys.argv[1]]\n"
    "try:\n    runpy.run_module('mediapipe_cfn', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
)


def run_once(out_dir: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out_dir / "template.yaml")],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, result.stdout.strip()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        run_once(Path(tmp))  # warm the OS file cache; not counted
        samples = []
        heavy = ""
        for _ in range(runs):
            seconds, heavy = run_once(Path(tmp))
            samples.append(seconds)
    print(f"render default profile, cold process, {runs} runs")
    print(f"  median {statistics.median(samples):.3f} s")
    print(f"  min    {min(samples):.3f} s  max {max(samples):.3f} s")
    print(f"  heavy modules loaded: {heavy or 'none'} (of {', '.join(HEAVY_MODULES)})")


if __name__ == "__main__":
    main()
