"""Wall time of `mediapipe-cfn render` in a fresh interpreter, per profile and zip state.

For each built-in profile named (default: default and prod), N runs (default 7) of a fresh
interpreter rendering to a temporary file, in two cases:

* cold zip: an empty artifacts folder each run, so the handler zip is built;
* warm zip: the intact zip from an earlier run is already there and is reused.

Prints the median and spread of the wall time of each, the median CPU time (user + system) of
the child process, which other load on the machine disturbs less, and which heavy modules the
render loaded. The project's target: a cold process rendering prod in under 0.25 s.

The child processes may write bytecode (PYTHONDONTWRITEBYTECODE is removed from their
environment), as an installed package has it: the uncounted first run writes it.

    python benchmarks/render_startup.py [RUNS] [PROFILE ...]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY_MODULES = ("cfnlint", "boto3", "botocore")
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PROBE = (
    "import sys, runpy\n"
    "sys.argv = ['mediapipe-cfn', 'render', '--profile', sys.argv[2], '-o', sys.argv[1]]\n"
    "try:\n    runpy.run_module('mediapipe_cfn', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(out_dir: Path, profile: str) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and the heavy modules loaded, of one render."""
    cpu = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out_dir / "template.yaml"), profile],
        check=True,
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    return time.perf_counter() - start, _children_cpu() - cpu, result.stdout.strip()


def measure(profile: str, runs: int, warm_zip: bool) -> tuple[list[float], list[float], str]:
    walls, cpus = [], []
    heavy = ""
    with tempfile.TemporaryDirectory() as tmp:
        run_once(Path(tmp), profile)  # warms the OS file cache (and writes the zip); not counted
        for index in range(runs):
            out_dir = Path(tmp) if warm_zip else Path(tmp) / f"cold-{index}"
            out_dir.mkdir(exist_ok=True)
            wall, cpu, heavy = run_once(out_dir, profile)
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus, heavy


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    profiles = sys.argv[2:] or ["default", "prod"]
    print(f"mediapipe-cfn render, fresh interpreter each run, {runs} runs per case")
    heavy = ""
    for profile in profiles:
        for warm_zip in (False, True):
            walls, cpus, heavy = measure(profile, runs, warm_zip)
            case = "warm zip" if warm_zip else "cold zip"
            print(
                f"  {profile:<8} {case}: wall median {statistics.median(walls):.3f} s "
                f"(min {min(walls):.3f}, max {max(walls):.3f}); "
                f"CPU median {statistics.median(cpus):.3f} s"
            )
    print(f"  heavy modules loaded: {heavy or 'none'} (of {', '.join(HEAVY_MODULES)})")


if __name__ == "__main__":
    main()
