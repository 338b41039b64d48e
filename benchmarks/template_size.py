"""How big each built-in profile's template is, and what the bytes are spent on.

For every built-in profile: the rendered YAML and JSON sizes, and how far each is over
CloudFormation's inline limit (51,200 bytes, the reason `deploy` uploads the template to S3) and
under the 1 MB limit of a template read from S3. Then, for one profile, the bytes of each
resource type (and of the other top-level sections), measured as compact JSON so that YAML
indentation does not blur the comparison.

    python benchmarks/template_size.py [--profile prod]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from mediapipe_cfn import build_template, builtin_profiles, load_profile, render

INLINE_LIMIT = 51_200
S3_LIMIT = 1_000_000


def compact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def bytes_by_type(document: dict[str, Any]) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for resource in document["Resources"].values():
        sizes[resource["Type"]] += compact_size(resource)
    for section in ("Parameters", "Conditions", "Outputs", "Metadata", "Mappings", "Rules"):
        if section in document:
            sizes[f"({section})"] += compact_size(document[section])
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="prod", help="profile to break down by type")
    args = parser.parse_args()

    print(f"{'profile':<10} {'yaml':>8} {'json':>8} {'compact':>8} {'resources':>9} {'/ 1 MB':>7}")
    for name in builtin_profiles():
        template = build_template(load_profile(name))
        yaml_size = len(render(template, "yaml").encode())
        json_size = len(render(template, "json").encode())
        compact = compact_size(template.to_dict())
        share = f"{yaml_size / S3_LIMIT:.1%}"
        print(
            f"{name:<10} {yaml_size:>8,} {json_size:>8,} {compact:>8,} "
            f"{len(template.resources):>9} {share:>7}"
        )
    print(f"inline limit {INLINE_LIMIT:,} bytes; S3 limit {S3_LIMIT:,} bytes")

    document = build_template(load_profile(args.profile)).to_dict()
    sizes = bytes_by_type(document)
    total = sum(sizes.values())
    print(f"\n{args.profile}: compact JSON bytes by resource type ({total:,} in all)")
    for kind, size in sizes.most_common():
        print(f"{size:>8,} {size / total:>6.1%}  {kind}")


if __name__ == "__main__":
    main()
