"""Size of the handler zip and the import time of each handler, as a cold start sees them.

Each handler is imported in a fresh interpreter (``-S -I``: no site-packages) whose path holds
only the extracted zip and the packages the Lambda Python runtime provides (boto3 and its
dependencies), which is what the function's init phase does before the first event. The figure
is the median of N runs; the import of boto3 alone is shown for reference, since the runtime
pays for it in any Python function that uses the SDK.

    python benchmarks/handler_cold_start.py [--runs 9]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from mediapipe_cfn.artifacts import build_handler_zip, handler_zip_name

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
HANDLERS = {
    "ingest-orchestrator": "mediapipe_handlers.ingest_orchestrator",
    "job-status-processor": "mediapipe_handlers.job_status_processor",
    "(boto3 alone)": "boto3",
}


def runtime_dir(target: Path) -> Path:
    """A folder holding (links to) the packages the Lambda runtime provides."""
    target.mkdir()
    for package in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{package} is not installed here")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source)
    return target


def import_seconds(module: str, paths: list[Path]) -> float:
    code = (
        "import sys, time\n"
        f"sys.path[:0] = {[str(p) for p in paths]!r}\n"
        "start = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - start)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per handler")
    args = parser.parse_args()

    data = build_handler_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        unpacked = sum(info.file_size for info in entries)
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            archive.extractall(root / "code")
            paths = [root / "code", runtime_dir(root / "runtime")]
            print(f"zip: {handler_zip_name()}")
            print(
                f"  {len(data):,} bytes ({len(data) / 2**20:.2f} MiB) compressed, "
                f"{unpacked:,} bytes unpacked, {len(entries)} files"
            )
            print(f"import time, fresh interpreter, median of {args.runs} runs:")
            for label, module in HANDLERS.items():
                times = [import_seconds(module, paths) for _ in range(args.runs)]
                print(
                    f"  {label:22s} {statistics.median(times) * 1000:7.1f} ms "
                    f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})"
                )


if __name__ == "__main__":
    main()
