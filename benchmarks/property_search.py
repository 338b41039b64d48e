"""Search for pipeline bugs with the stateful property test, at a larger scale than CI runs it.

Runs tests/handlers/test_pipeline_properties.py's state machine for ``--examples`` examples of
up to ``--steps`` steps each and prints what happened: examples and steps run, faults fired,
quiescent points checked, violations found (with Hypothesis's minimal failing sequence) and
the wall time per example.

    python benchmarks/property_search.py --examples 300 --steps 40
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO / "tests" / "handlers", REPO / "handlers"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (random if unset)")
    arguments = parser.parse_args()

    from hypothesis import seed as fixed_seed
    from hypothesis.stateful import run_state_machine_as_test
    from test_pipeline_properties import PipelineMachine, property_settings

    def run() -> None:
        run_state_machine_as_test(
            PipelineMachine, settings=property_settings(arguments.examples, arguments.steps)
        )

    test = fixed_seed(arguments.seed)(run) if arguments.seed is not None else run
    started = time.perf_counter()
    failure: str | None = None
    output = io.StringIO()
    try:
        # The handlers' log lines and metric documents go to stdout: keep the report readable.
        with contextlib.redirect_stdout(output):
            test()
    except Exception:  # a Violation, or a group of them when Hypothesis found several
        failure = traceback.format_exc()
    elapsed = time.perf_counter() - started

    totals = PipelineMachine.totals
    examples = totals["examples"]
    print(f"examples run:            {examples} (asked for {arguments.examples})")
    print(f"steps run:               {totals['steps']} (at most {arguments.steps} per example)")
    for name in sorted(set(totals) - {"examples", "steps"}):
        print(f"{name + ':':<25}{totals[name]}")
    print(f"violations found:        {0 if failure is None else 1}")
    print(f"wall time:               {elapsed:.1f} s")
    if examples:
        print(f"per example:             {elapsed / examples:.2f} s")
    if failure is not None:
        # Hypothesis prints the minimal failing sequence of steps to stdout while reporting.
        reported = [line for line in output.getvalue().splitlines() if not line.startswith("{")]
        print("\nminimal failing example:")
        print("\n".join(reported[-80:]))
        print(failure[-4000:])
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
