"""Every kind of bad input the command is known to meet, and what it must say.

Each row gives the command, the input, the exit code (2: bad input or environment; 1: a profile
that loads but renders something MediaConvert or CloudFormation would reject) and a pattern the
one error message must match. No row may print a traceback or raise out of the command.
Most rows run through click's CliRunner; the hostile ones also run in a real process, where
time and memory are what they would be for a user.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediapipe_cfn.cli import main
from mediapipe_cfn.profile.loader import MAX_NESTING_DEPTH, MAX_PROFILE_BYTES, MAX_VALUES

Setup = Callable[[Path, pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class Bad:
    """One row: ``args`` may name ``{profile}`` (``text`` written to a file) and ``{tmp}``."""

    id: str
    args: tuple[str, ...]
    exit_code: int
    message: str  # regex searched in stderr
    text: str | bytes | None = None
    setup: Setup | None = None
    files: dict[str, str] = field(default_factory=dict)


def _profile(id_: str, text: str | bytes, message: str, exit_code: int = 2) -> Bad:
    return Bad(id_, ("render", "-p", "{profile}", "-o", "{tmp}/t.yaml"), exit_code, message, text)


def _rung(name: str, width: int, height: int, kbps: int = 2000, qvbr: int = 7) -> str:
    return (
        f"{{name: {name}, width: {width}, height: {height}, max_bitrate_kbps: {kbps}, "
        f"qvbr_level: {qvbr}}}"
    )


LADDER_360 = f"video:\n  ladder:\n    - {_rung('360p', 640, 360, 700)}\n"


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _block_nesting(depth: int) -> str:
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth)) + "  " * depth + "x\n"


# --- YAML and file-level problems ----------------------------------------------------------------

YAML_ROWS = [
    _profile("empty-file", "", r"p\.yaml: the file is empty"),
    _profile("only-comments", "# nothing here\n\n", r"the file is empty"),
    _profile("null-document", "---\n", r"must be a mapping"),
    _profile("top-level-list", "- name: x\n", r"p\.yaml:1: the profile must be a mapping"),
    _profile("top-level-scalar", "hello\n", r"must be a mapping"),
    _profile("unclosed-flow", "queue: [\n", r"p\.yaml:1: not valid YAML"),
    _profile("tab-indent", "queue:\n\tbatch_size: 5\n", r"p\.yaml:2: not valid YAML"),
    _profile("duplicate-key", "name: a1\nname: b2\n", r"p\.yaml:2: .*duplicate key 'name'"),
    _profile(
        "duplicate-nested-key",
        "queue:\n  batch_size: 1\n  batch_size: 2\n",
        r"p\.yaml:3: .*duplicate key 'batch_size'",
    ),
    _profile(
        "unhashable-key", "? [a, b]\n: c\n", r"p\.yaml:1: not valid YAML: a list cannot be a key"
    ),
    _profile(
        "python-object-tag",
        "name: !!python/object/apply:os.system ['true']\n",
        r"not valid YAML: could not determine a constructor",
    ),
    _profile("custom-tag", "name: !Ref Something\n", r"not valid YAML: could not determine"),
    _profile(
        "two-documents",
        "name: a1\n---\nname: b2\n",
        r"p\.yaml:2: not valid YAML: but found another document",
    ),
    _profile("undefined-alias", "name: *nowhere\n", r"not valid YAML: found undefined alias"),
    _profile("alias-bomb", _billion_laughs(), rf"more than {MAX_VALUES} values"),
    _profile("flow-nesting-bomb", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", r"nest"),
    _profile(
        "block-nesting-too-deep",
        _block_nesting(MAX_NESTING_DEPTH + 5),
        rf"nested more than {MAX_NESTING_DEPTH} levels",
    ),
    _profile(
        "too-many-values",
        "".join(f"k{i}: {i}\n" for i in range(MAX_VALUES + 10)),
        rf"more than {MAX_VALUES} values",
    ),
    _profile(
        "larger-than-limit", "# padding\n" * (MAX_PROFILE_BYTES // 10 + 1), r"larger than 1024 KiB"
    ),
    _profile("latin-1-bytes", "description: caf\xe9\n".encode("latin-1"), r"cannot read the file"),
    _profile("utf-16", "name: a1\n".encode("utf-16"), r"cannot read the file"),
    _profile("nul-byte", "name: a\x00b\n", r"not valid YAML"),
    _profile("merge-of-scalar", "queue:\n  <<: 5\n", r"not valid YAML: expected a mapping or list"),
    _profile(
        "merge-brings-unknown-key",
        "queue:\n  <<: {batch_sise: 3}\n",
        r"p\.yaml:2: queue\.batch_sise: unknown key 'batch_sise' \(did you mean 'batch_size'\?\)",
    ),
    _profile("integer-key", "1: x\n", r"p\.yaml:1: not valid YAML: the key 1 is not text"),
    _profile("null-key", "~: x\n", r"the key None is not text"),
    _profile("bool-key", "true: x\n", r"the key True is not text"),
]

# --- Values the profile model refuses ----------------------------------------------------------

VALUE_ROWS = [
    _profile("unknown-top-key", "descripton: x\n", r"did you mean 'description'"),
    _profile(
        "unknown-nested-key", "queue:\n  batch_sise: 3\n", r"p\.yaml:2: queue\.batch_sise: unknown"
    ),
    _profile("name-int", "name: 5\n", r"name: expected a valid string, got int"),
    _profile("section-scalar", "queue: 5\n", r"queue: "),
    _profile("string-number", "queue: {batch_size: '10'}\n", r"queue\.batch_size: expected"),
    _profile("float-for-int", "queue: {batch_size: 10.5}\n", r"queue\.batch_size: expected"),
    _profile("bool-for-int", "queue: {batch_size: true}\n", r"queue\.batch_size: expected"),
    _profile("ladder-mapping", "video: {ladder: {}}\n", r"video\.ladder: expected a valid list"),
    _profile("extensions-string", "ingest: {extensions: mp4}\n", r"ingest\.extensions: expected"),
    _profile("gop-nan", "video: {gop_seconds: .nan}\n", r"video\.gop_seconds: "),
    _profile("max-size-inf", "ingest: {max_size_gb: .inf}\n", r"ingest\.max_size_gb: "),
    _profile("failure-rate-nan", "alarms: {job_failure_rate_percent: .nan}\n", r"alarms\.job_"),
    _profile("description-date", "description: 2020-01-01\n", r"description: expected"),
    _profile("description-null", "description: null\n", r"description: expected"),
    _profile("tags-list", "tags: [a]\n", r"tags: expected a valid dictionary"),
    _profile("tag-value-int", "tags: {team: 5}\n", r"tags\.team: expected a valid string"),
    _profile("name-pattern", "name: Bad_Name\n", r"name: 'Bad_Name' is not allowed: expected 2-32"),
    _profile("name-too-short", "name: a\n", r"name: 'a' is not allowed"),
    _profile("prefix-too-long", "naming: {prefix: " + "a" * 40 + "}\n", r"naming\.prefix: "),
    _profile("bucket-name", "naming: {uploads_bucket: Bad..B}\n", r"valid S3 bucket name"),
    _profile("aws-managed-key", "encryption: {kms_key_alias: alias/aws/s3}\n", r"AWS managed"),
    _profile("key-alias-form", "encryption: {kms_key_alias: mykey}\n", r"'alias/NAME'"),
    _profile("rotation-short", "encryption: {key_rotation_days: 10}\n", r"greater than or equal"),
    _profile("prefix-no-slash", "ingest: {prefix: uploads}\n", r"ingest\.prefix: "),
    _profile("no-extensions", "ingest: {extensions: []}\n", r"ingest\.extensions: .*at least 1"),
    _profile("extension-dot", "ingest: {extensions: ['.mp4']}\n", r"ingest\.extensions\[0\]"),
    _profile("max-size-zero", "ingest: {max_size_gb: 0}\n", r"greater than 0"),
    _profile("max-size-huge", "ingest: {max_size_gb: 6000}\n", r"less than or equal to 5000"),
    _profile("uploader-source", "ingest: {uploader_id: {source: header}}\n", r"'key_segment'"),
    _profile("uploader-segment", "ingest: {uploader_id: {segment: 11}}\n", r"segment: "),
    _profile("codec-av1", "video: {codec: av1}\n", r"video\.codec: must be 'h264' or 'h265'"),
    _profile("quality-tuning", "video: {quality_tuning: fast}\n", r"video\.quality_tuning"),
    _profile("gop-tiny", "video: {gop_seconds: 0.1}\n", r"video\.gop_seconds"),
    _profile("segment-not-gop-multiple", "video: {segment_seconds: 7}\n", r"whole multiple"),
    _profile("ladder-empty", "video: {ladder: []}\n", r"video\.ladder: .*at least 1"),
    _profile(
        "ladder-too-long",
        "video:\n  ladder:\n"
        + "".join(f"    - {_rung(f'r{i}', 1920 - 64 * i, 1080 - 36 * i)}\n" for i in range(16)),
        r"video\.ladder: .*at most 15",
    ),
    _profile(
        "rung-odd-width",
        f"video:\n  ladder:\n    - {_rung('x', 641, 360)}\n",
        r"video\.ladder\[0\]\.width: must be even",
    ),
    _profile(
        "rung-too-wide",
        f"video:\n  ladder:\n    - {_rung('x', 10000, 360)}\n",
        r"video\.ladder\[0\]\.width: .*8192",
    ),
    _profile(
        "rung-names-repeat",
        f"video:\n  ladder:\n    - {_rung('a', 1280, 720)}\n    - {_rung('a', 640, 360)}\n",
        r"names must be unique",
    ),
    _profile(
        "ladder-upside-down",
        f"video:\n  ladder:\n    - {_rung('a', 640, 360)}\n    - {_rung('b', 1280, 720)}\n",
        r"ordered by height",
    ),
    _profile(
        "rung-missing-field",
        "video:\n  ladder:\n    - {name: a, width: 640, height: 360, max_bitrate_kbps: 700}\n",
        r"video\.ladder\[0\]\.qvbr_level: Field required",
    ),
    _profile("rung-name-space", f"video:\n  ladder:\n    - {_rung('a b', 640, 360)}\n", r"'a b'"),
    _profile("rung-bitrate-low", f"video:\n  ladder:\n    - {_rung('a', 640, 360, 10)}\n", r"50"),
    _profile("audio-mp3", "audio: {codec: mp3}\n", r"audio\.codec: must be 'aac'"),
    _profile("audio-bitrate", "audio: {bitrate_kbps: 1000}\n", r"audio\.bitrate_kbps"),
    _profile("audio-rate", "audio: {sample_rate: 22050}\n", r"audio\.sample_rate: must be 44100"),
    _profile("audio-channels", "audio: {channels: 6}\n", r"audio\.channels: must be 1 or 2"),
    _profile(
        "no-outputs",
        "formats:\n  packaging: {hls: {enabled: false}, dash: {enabled: false}}\n"
        "  mp4: {enabled: false}\n",
        r"formats: at least one video output",
    ),
    _profile("packaging-mode", "formats: {packaging: {mode: hls}}\n", r"'cmaf' or 'separate'"),
    _profile("previews-empty", "formats: {mp4: {previews: []}}\n", r"formats\.mp4\.previews"),
    _profile(
        "preview-odd",
        "formats: {mp4: {previews: [{name: p, height: 361, max_bitrate_kbps: 900}]}}\n",
        r"previews\[0\]\.height: .*even",
    ),
    _profile(
        "preview-taller-than-ladder",
        LADDER_360
        + "formats: {mp4: {previews: [{name: p, height: 1080, max_bitrate_kbps: 5000}]}}\n",
        r"previews\[0\]\.height: \(1080\) is taller than the ladder's highest rendition \(360\)",
    ),
    _profile(
        "preview-name-collides",
        "formats: {mp4: {previews: [{name: 720p, height: 720, max_bitrate_kbps: 3000}]}}\n",
        r"previews\[0\]\.name: '720p' is already used",
    ),
    _profile(
        "six-previews",
        "formats:\n  mp4:\n    previews:\n"
        + "".join(
            f"      - {{name: p{i}, height: 360, max_bitrate_kbps: 900}}\n" for i in range(6)
        ),
        r"at most 5",
    ),
    _profile("jpeg-quality", "formats: {thumbnails: {quality: 0}}\n", r"thumbnails\.quality"),
    _profile("thumb-interval", "formats: {thumbnails: {interval_seconds: 0}}\n", r"interval"),
    _profile(
        "abr-bounds",
        "transcoding:\n  automated_abr: {enabled: true, min_bitrate_kbps: 6000, "
        "max_bitrate_kbps: 6000}\n",
        r"must be below max_bitrate_kbps",
    ),
    _profile("abr-renditions", "transcoding: {automated_abr: {max_renditions: 2}}\n", r"abr"),
    _profile("status-interval", "transcoding: {status_update_interval_seconds: 11}\n", r"must be"),
    _profile("priority", "transcoding: {priority: 100}\n", r"transcoding\.priority"),
    _profile("acceleration", "transcoding: {acceleration: always}\n", r"'disabled'"),
    _profile("job-grouping", "transcoding: {job_grouping: per_rendition}\n", r"'per_format'"),
    _profile(
        "loudness-target", "quality: {loudness: {target_lkfs: 3.0}}\n", r"loudness\.target_lkfs"
    ),
    _profile("true-peak", "quality: {loudness: {true_peak_dbtp: -9.0}}\n", r"true_peak_dbtp: .*-8"),
    _profile("tone-mapping", "quality: {tone_mapping: bright}\n", r"'preserve_details'"),
    _profile(
        "caption-extension",
        "quality: {captions: {sidecar_extensions: [ttml]}}\n",
        r"sidecar_extensions\[0\]: .*'vtt'",
    ),
    _profile("caption-language", "quality: {captions: {language: English}}\n", r"language"),
    _profile(
        "trick-play-separate",
        "formats: {packaging: {mode: separate}}\nquality: {trick_play: true}\n",
        r"quality\.trick_play: needs formats\.packaging\.mode 'cmaf'",
    ),
    _profile(
        "hdr-ladder-abr",
        "transcoding: {automated_abr: {enabled: true}}\nquality: {hdr_ladder: true}\n",
        r"quality\.hdr_ladder: cannot be combined with transcoding\.automated_abr",
    ),
    _profile(
        "transitions-backwards",
        "retention:\n  outputs:\n    transitions:\n"
        "      - {days: 120, storage_class: GLACIER_IR}\n"
        "      - {days: 30, storage_class: STANDARD_IA}\n",
        r"transitions\[1\]\.days: .*must be greater",
    ),
    _profile(
        "ia-too-early",
        "retention: {outputs: {transitions: [{days: 10, storage_class: STANDARD_IA}]}}\n",
        r"only after 30 days",
    ),
    _profile(
        "storage-class-typo",
        "retention: {outputs: {transitions: [{days: 90, storage_class: GLACIER_DEEP}]}}\n",
        r"storage_class: must be",
    ),
    _profile(
        "expire-before-transition",
        "retention: {uploads: {expiration_days: 10}}\n",
        r"retention\.uploads\.expiration_days: must be after the last transition",
    ),
    _profile(
        "multipart-zero",
        "retention: {uploads: {abort_incomplete_multipart_days: 0}}\n",
        r"_days: must be greater",
    ),
    _profile("visibility-short", "queue: {visibility_timeout_seconds: 30}\n", r"too short"),
    _profile(
        "backoff-inverted",
        "queue: {backoff_base_seconds: 600, backoff_max_seconds: 60}\n",
        r"backoff_max_seconds: must be >=",
    ),
    _profile(
        "batch-without-window",
        "queue: {batch_size: 20, max_batching_window_seconds: 0}\n",
        r"max_batching_window_seconds: must be at least 1",
    ),
    _profile(
        "dlq-retention-short",
        "queue: {message_retention_days: 14, dead_letter_retention_days: 2}\n",
        r"queue\.dead_letter_retention_days: \(2\) must be at least queue\.message_retention_days",
    ),
    _profile("retention-15-days", "queue: {message_retention_days: 15}\n", r"less than or equal"),
    _profile(
        "reserved-below-concurrency",
        "functions: {orchestrator: {memory_mb: 512, timeout_seconds: 60, "
        "reserved_concurrency: 5}}\n",
        r"reserved_concurrency: \(5\) must be at least queue\.max_concurrency",
    ),
    _profile("runtime-old", "functions: {runtime: python3.9}\n", r"'python3\.12' or 'python3\.13'"),
    _profile("architecture", "functions: {architecture: arm}\n", r"'arm64' or 'x86_64'"),
    _profile("log-retention", "functions: {log_retention_days: 2}\n", r"must be one of 1, 3"),
    _profile(
        "memory-low",
        "functions: {orchestrator: {memory_mb: 64, timeout_seconds: 60}}\n",
        r"functions\.orchestrator\.memory_mb",
    ),
    _profile(
        "timeout-high",
        "functions: {orchestrator: {memory_mb: 512, timeout_seconds: 1000}}\n",
        r"functions\.orchestrator\.timeout_seconds",
    ),
    _profile("function-missing", "functions: {orchestrator: {}}\n", r"memory_mb: Field required"),
    _profile("email", "alarms: {emails: [not-an-email]}\n", r"alarms\.emails\[0\]"),
    _profile("alarm-minutes", "alarms: {evaluation_minutes: 0}\n", r"alarms\.evaluation_minutes"),
    _profile("event-bus", "notifications: {event_bus: 'bad bus!'}\n", r"notifications\.event_bus"),
    _profile("reserved-tag", "tags: {'aws:team': x}\n", r"reserved by AWS"),
    _profile("tag-key-long", "tags: {" + "k" * 129 + ": x}\n", r"tags\."),
    _profile("tag-value-long", "tags: {team: " + "v" * 257 + "}\n", r"tags\.team: "),
    _profile("description-2000", "description: " + "x" * 2000 + "\n", r"at most 900 characters"),
    _profile("description-newline", 'description: "a\\nb"\n', r"one line of text"),
    _profile("output-path-dotdot", "output_path: '../{assetId}/'\n", r"'\.\.'"),
    _profile("output-path-dot", "output_path: 'a/./{assetId}/'\n", r"'\.'"),
    _profile("output-path-empty-segment", "output_path: 'a//{assetId}/'\n", r"'//'"),
    _profile("output-path-no-asset", "output_path: '{uploaderId}/'\n", r"must contain \{assetId\}"),
    _profile("output-path-placeholder", "output_path: '{user}/{assetId}/'\n", r"\['user'\]"),
    _profile("output-path-absolute", "output_path: '/{assetId}/'\n", r"must not start with '/'"),
    _profile("output-path-backslash", "output_path: 'a\\\\b/{assetId}/'\n", r"or '\\'"),
    _profile("output-path-long", "output_path: '" + "a" * 300 + "/{assetId}/'\n", r"at most 256"),
    _profile("environment", "environment: production\n", r"'dev', 'test' or 'prod'"),
    _profile("deletion-protection", "database: {deletion_protection: 'yes'}\n", r"valid boolean"),
    # delivery
    _profile(
        "delivery-certificate-region",
        "delivery: {enabled: true, custom_domain: {aliases: [video.example.com], certificate_arn: "
        "'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d'}}\n",
        r"delivery\.custom_domain\.certificate_arn: the certificate is in eu-west-1; CloudFront "
        r"only uses ACM certificates in us-east-1",
    ),
    _profile(
        "delivery-certificate-not-arn",
        "delivery: {custom_domain: {aliases: [video.example.com], certificate_arn: mycert}}\n",
        r"delivery\.custom_domain\.certificate_arn: expected an ACM certificate ARN",
    ),
    _profile(
        "delivery-alias-upper",
        "delivery: {custom_domain: {aliases: [Video.Example.com], certificate_arn: x}}\n",
        r"delivery\.custom_domain\.aliases: 'Video\.Example\.com' is not a lower-case DNS host",
    ),
    _profile(
        "delivery-alias-wildcard-first",
        "delivery: {custom_domain: {aliases: ['*.example.com'], certificate_arn: x}}\n",
        r"delivery\.custom_domain\.aliases: the first alias .* must not be a wildcard",
    ),
    _profile(
        "delivery-signed-star-origin",
        'delivery: {enabled: true, signed: {enabled: true, public_key_pem: "-----BEGIN PUBLIC KEY'
        "-----\\n" + "A" * 200 + '\\n-----END PUBLIC KEY-----\\n"}}\n',
        r"delivery\.cors_allowed_origins: must list the players' origins",
    ),
    _profile(
        "delivery-signed-no-key",
        "delivery: {signed: {enabled: true}, cors_allowed_origins: ['https://a.example.com']}\n",
        r"delivery\.signed\.public_key_pem: signed delivery needs the PEM of an RSA public key",
    ),
    _profile(
        "delivery-origin-with-path",
        "delivery: {cors_allowed_origins: ['https://a.example.com/player']}\n",
        r"delivery\.cors_allowed_origins: .* is not an origin",
    ),
    _profile(
        "delivery-star-and-origin",
        "delivery: {cors_allowed_origins: ['*', 'https://a.example.com']}\n",
        r"delivery\.cors_allowed_origins: '\*' allows every origin",
    ),
    _profile(
        "delivery-geo-without-countries",
        "delivery: {geo_restriction: {type: allowlist}}\n",
        r"delivery\.geo_restriction\.countries: must name at least one country for 'allowlist'",
    ),
    _profile(
        "delivery-geo-type",
        "delivery: {geo_restriction: {type: whitelist, countries: [DE]}}\n",
        r"delivery\.geo_restriction\.type: must be 'none', 'allowlist' or 'blocklist'",
    ),
    _profile(
        "delivery-web-acl-regional",
        "delivery: {web_acl_arn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/a/"
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789'}\n",
        r"delivery\.web_acl_arn: expected empty or a WAFv2 web ACL ARN with CLOUDFRONT scope",
    ),
    _profile(
        "delivery-price-class",
        "delivery: {price_class: PriceClass_50}\n",
        r"delivery\.price_class: must be 'PriceClass_100', 'PriceClass_200' or 'PriceClass_All'",
    ),
    _profile(
        "delivery-manifest-ttl",
        "delivery: {manifest_ttl_seconds: 0}\n",
        r"delivery\.manifest_ttl_seconds: .*greater than or equal to 1",
    ),
]

# --- Profiles that load but render what AWS would refuse (exit 1, findings listed) ---------------

REJECTED_ROWS = [
    _profile(
        "h264-8k-rung",
        f"video:\n  ladder:\n    - {_rung('8k', 7680, 4320, 60000, 9)}\n"
        f"    - {_rung('1080p', 1920, 1080, 6000, 9)}\n",
        r"H\.264 at 7680x4320 needs a level above 4\.2.*\n.*problem\(s\) in its MediaConvert",
        exit_code=1,
    ),
    _profile(
        "hevc-in-hls-ts",
        "video: {codec: h265}\nformats: {packaging: {mode: separate}}\n",
        r"HEVC in an HLS transport-stream group",
        exit_code=1,
    ),
    _profile(
        "bitrate-far-too-high",
        f"video:\n  ladder:\n    - {_rung('tiny', 416, 234, 40000)}\n"
        "formats: {mp4: {enabled: false}}\n",
        r"\[transcoding\] .*MaxBitrate",
        exit_code=1,
    ),
]

# --- Command line and environment ---------------------------------------------------------------


def _no_mkstemp(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's folder refuses new files (the handler zip's folder does not)."""
    real = tempfile.mkstemp

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if str(kwargs.get("prefix", "")).startswith(".t.yaml"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr("tempfile.mkstemp", refuse)


def _disk_fills_on_rename(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up as the template (not the zip) is renamed into place."""
    real = os.replace

    def full(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if str(target).endswith("t.yaml"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(source, target, *args, **kwargs)

    monkeypatch.setattr("os.replace", full)


def _zip_unwritable(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(directory: Path) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied", str(directory))

    monkeypatch.setattr("mediapipe_cfn.artifacts.write_handler_zip", refuse)


def _region_unset(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


R = ("render",)
E = ("estimate",)
CLI_ROWS = [
    Bad("profile-missing", (*R, "-p", "{tmp}/nope.yaml"), 2, r"no such file, and not a built-in"),
    Bad("profile-unknown-name", (*R, "-p", "prdo"), 2, r"prdo: no such file.*built-ins: default"),
    Bad("profile-is-directory", (*R, "-p", "{tmp}"), 2, r"not a regular file"),
    Bad("profile-is-device", (*R, "-p", "/dev/null"), 2, r"/dev/null: not a regular file"),
    Bad("format-xml", (*R, "--format", "xml"), 2, r"'xml' is not one of 'yaml', 'json'"),
    Bad("unknown-option", (*R, "--bogus"), 2, r"No such option '--bogus'"),
    Bad("unknown-command", ("deploy",), 2, r"No such command 'deploy'"),
    Bad("output-is-directory", (*R, "-o", "{tmp}"), 2, r": is a directory; give -o a file name"),
    Bad("output-dir-missing", (*R, "-o", "{tmp}/no/t.yaml"), 2, r"the directory .*/no does not"),
    Bad(
        "output-unwritable",
        (*R, "-o", "{tmp}/t.yaml"),
        2,
        r"t\.yaml: cannot write the template: Permission denied",
        setup=_no_mkstemp,
    ),
    Bad(
        "output-disk-full",
        (*R, "-o", "{tmp}/t.yaml"),
        2,
        r"t\.yaml: cannot write the template: No space left on device",
        setup=_disk_fills_on_rename,
    ),
    Bad(
        "output-dev-full",
        (*R, "-o", "/dev/full", "--artifacts-dir", "{tmp}/artifacts"),
        2,
        r"/dev/full: cannot write the template: No space left on device",
    ),
    Bad(
        "artifacts-dir-is-file",
        (*R, "-o", "{tmp}/t.yaml", "--artifacts-dir", "{tmp}/file.txt"),
        2,
        r"'--artifacts-dir'.*is a file",
        files={"file.txt": "x"},
    ),
    Bad(
        "artifacts-unwritable",
        (*R, "-o", "{tmp}/t.yaml"),
        2,
        r"error: .*artifacts: Permission denied",
        setup=_zip_unwritable,
    ),
    Bad("region-unknown", ("validate", "--region", "xx-nowhere-1"), 2, r"not an AWS region"),
    Bad("region-empty", ("validate", "--region", ""), 2, r"'': not an AWS region"),
    Bad(
        "region-typo-with-good",
        ("validate", "--region", "us-east-1", "--region", "eu-west-9"),
        2,
        r"'eu-west-9': not an AWS region",
        setup=_region_unset,
    ),
    Bad("validate-empty-profile", ("validate", "-p", "{profile}"), 2, r"the file is empty", ""),
    Bad("estimate-empty-profile", (*E, "-p", "{profile}"), 2, r"the file is empty", ""),
    Bad("minutes-inf", (*E, "--avg-minutes", "inf"), 2, r"'--avg-minutes': inf is not in the"),
    Bad("minutes-nan", (*E, "--avg-minutes", "nan"), 2, r"'nan' is not a finite number"),
    Bad("minutes-minus-inf", (*E, "--avg-minutes", "-inf"), 2, r"-inf is not in the range"),
    Bad("minutes-negative", (*E, "--avg-minutes", "-1"), 2, r"-1\.0 is not in the range 0<x"),
    Bad("minutes-zero", (*E, "--avg-minutes", "0"), 2, r"0\.0 is not in the range"),
    Bad("minutes-overflow", (*E, "--avg-minutes", "1e400"), 2, r"inf is not in the range"),
    Bad("minutes-text", (*E, "--avg-minutes", "ten"), 2, r"'ten' is not a valid number"),
    Bad("minutes-too-long", (*E, "--avg-minutes", "20000"), 2, r"not in the range 0<x<=10080"),
    Bad("uploads-negative", (*E, "--uploads-per-day", "-5"), 2, r"-5 is not in the range"),
    Bad("uploads-float", (*E, "--uploads-per-day", "1e3"), 2, r"'1e3' is not a valid integer"),
    Bad("uploads-huge", (*E, "--uploads-per-day", str(10**30)), 2, r"is not in the range"),
    Bad("source-unknown", (*E, "--source", "4320p"), 2, r"'4320p' is not one of"),
    Bad("prices-missing", (*E, "--prices", "{tmp}/nope.json"), 2, r"does not exist"),
    Bad("prices-directory", (*E, "--prices", "{tmp}"), 2, r"is a directory"),
]


def _prices(id_: str, content: str, message: str) -> Bad:
    return Bad(id_, (*E, "--prices", "{tmp}/p.json"), 2, message, files={"p.json": content})


PER_MINUTE = '{"mediaconvert": {"per_normalized_minute": {"Basic": %s}}}'
PRICE_ROWS = [
    _prices("prices-bad-json", "{", r"p\.json: cannot estimate: Expecting property name"),
    _prices("prices-not-object", "[1]", r"a price file must hold a JSON object"),
    _prices("prices-negative", PER_MINUTE % "-1", r"Basic: expected a finite number >= 0, got -1"),
    _prices("prices-infinity", PER_MINUTE % "Infinity", r"Infinity is not a price"),
    _prices("prices-nan", PER_MINUTE % "NaN", r"NaN is not a price"),
    _prices("prices-overflow", PER_MINUTE % "1e999", r"Basic: expected a finite number"),
    _prices("prices-string", PER_MINUTE % '"cheap"', r'got "cheap"'),
    _prices("prices-bool", PER_MINUTE % "true", r"got true"),
    _prices("prices-section-number", '{"mediaconvert": 3}', r"mediaconvert: expected an object"),
    _prices("prices-empty-file", "", r"p\.json: cannot estimate: Expecting value"),
]

RESERVED_ARN = "arn:aws:mediaconvert:us-east-1:123456789012:queues/reserved"
CAPACITY_ROWS = [
    _profile(
        "capacity-route-unknown-queue",
        "capacity:\n  routing:\n    default: [reserved, stack]\n",
        r"capacity\.routing\.default\[0\]: unknown queue 'reserved'; allowed: stack",
    ),
    _profile(
        "capacity-queue-arn-bad",
        "capacity:\n  queues:\n    reserved:\n      arn: arn:aws:sqs:us-east-1:1:q\n",
        r"capacity\.queues\.reserved\.arn: .*MediaConvert queue ARN",
    ),
    _profile(
        "capacity-queue-named-stack",
        f"capacity:\n  queues:\n    stack:\n      arn: {RESERVED_ARN}\n",
        r"capacity\.queues\.stack: 'stack' names the stack's own queue",
    ),
    _profile(
        "capacity-reserved-with-budget",
        f"capacity:\n  queues:\n    r:\n      arn: {RESERVED_ARN}\n      reserved_slots: 2\n"
        "      in_flight_budget: 5\n",
        r"capacity\.queues\.r\.in_flight_budget: a reserved queue's budget is reserved_slots",
    ),
    _profile(
        "capacity-backlog-on-demand",
        f"capacity:\n  queues:\n    r:\n      arn: {RESERVED_ARN}\n      spill_backlog: 2\n",
        r"capacity\.queues\.r\.spill_backlog: applies to reserved queues",
    ),
    _profile(
        "capacity-route-twice",
        "capacity:\n  routing:\n    default: [stack, stack]\n",
        r"capacity\.routing\.default: names a queue twice",
    ),
    _profile(
        "capacity-job-kind-unknown",
        "capacity:\n  routing:\n    by_job_kind:\n      webm: [stack]\n",
        r"capacity\.routing\.by_job_kind.*webm",
    ),
    _profile(
        "capacity-budget-zero",
        "capacity:\n  stack_queue_budget: 0\n",
        r"capacity\.stack_queue_budget: .*greater than or equal to 1",
    ),
    _profile(
        "capacity-same-arn-twice",
        f"capacity:\n  queues:\n    a:\n      arn: {RESERVED_ARN}\n"
        f"    b:\n      arn: {RESERVED_ARN}\n",
        r"capacity\.queues: two entries name the same queue ARN",
    ),
    _profile(
        "capacity-fallback-region-unknown",
        "capacity:\n  fallback:\n    region: mars-east-1\n",
        r"capacity\.fallback\.region: .*'us-west-2'",
    ),
    _profile(
        "capacity-fallback-queue-elsewhere",
        f"capacity:\n  fallback:\n    region: us-west-2\n    queue_arn: {RESERVED_ARN}\n",
        r"capacity\.fallback\.queue_arn: must be a queue in the fallback region us-west-2",
    ),
    _profile(
        "capacity-fallback-other-account",
        f"capacity:\n  queues:\n    a:\n      arn: {RESERVED_ARN}\n"
        "  fallback:\n    region: us-west-2\n"
        "    queue_arn: arn:aws:mediaconvert:us-west-2:210987654321:queues/Default\n",
        r"capacity\.fallback\.queue_arn: must be in the account of the other queues",
    ),
    _profile(
        "capacity-fallback-open-too-short",
        "capacity:\n  fallback:\n    region: us-west-2\n    open_seconds: 5\n",
        r"capacity\.fallback\.open_seconds: .*greater than or equal to 30",
    ),
    _profile(
        "capacity-queues-in-two-regions",
        f"capacity:\n  queues:\n    a:\n      arn: {RESERVED_ARN}\n"
        f"    b:\n      arn: {RESERVED_ARN.replace('us-east-1', 'eu-west-1')}\n",
        r"capacity\.queues: must all be in the stack's region and account; they are in "
        r"eu-west-1 in 123456789012, us-east-1 in 123456789012",
    ),
    Bad(
        "utilisation-zero",
        (*E, "--utilisation", "0"),
        2,
        r"'--utilisation': 0\.0 is not in the range 0<x<=1",
    ),
]

ROWS = YAML_ROWS + VALUE_ROWS + REJECTED_ROWS + CLI_ROWS + PRICE_ROWS + CAPACITY_ROWS


def _materialise(row: Bad, tmp: Path) -> list[str]:
    for name, content in row.files.items():
        (tmp / name).write_text(content, encoding="utf-8")
    if row.text is not None:
        profile = tmp / "p.yaml"
        if isinstance(row.text, bytes):
            profile.write_bytes(row.text)
        else:
            profile.write_text(row.text, encoding="utf-8")
    return [arg.format(profile=tmp / "p.yaml", tmp=tmp) for arg in row.args]


def test_the_table_covers_over_a_hundred_kinds() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS) >= 100


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_gets_one_clear_message(
    row: Bad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anything a row writes by default lands here
    args = _materialise(row, tmp_path)
    if row.setup is not None:
        row.setup(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == row.exit_code, result.stderr
    assert re.search(row.message, result.stderr), result.stderr
    assert "Traceback" not in result.output + result.stderr
    if row.exit_code == 2 and row.args[0] != "estimate":
        assert result.stdout == ""
    assert not (tmp_path / "t.yaml").exists(), "a refused render left a template behind"
    assert not list(tmp_path.glob(".t.yaml.*")), "a temporary file was left behind"


# --- The hostile ones, in a real process ---------------------------------------------------------


MEMORY_LIMIT_BYTES = 1024**3  # the hostile inputs below took gigabytes before they were bounded


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mediapipe_cfn", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        preexec_fn=_limit_memory,
    )
    return result, time.perf_counter() - start


HOSTILE = {
    "alias-bomb": (_billion_laughs(), rf"more than {MAX_VALUES} values"),
    "fifty-mebibytes": ("# padding to fifty MiB\n" * (50 * 1024 * 1024 // 23), r"larger than"),
    "flow-nesting": ("a: " + "[" * 500_000 + "]" * 500_000 + "\n", r"nest"),
    "block-nesting": (_block_nesting(200), rf"nested more than {MAX_NESTING_DEPTH}"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_profile_is_refused_fast_in_a_real_process(name: str, tmp_path: Path) -> None:
    text, message = HOSTILE[name]
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    result, seconds = _run(["render", "-p", "p.yaml", "-o", "t.yaml"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert re.search(message, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert seconds < 5, f"{name} took {seconds:.1f} s"
    assert not (tmp_path / "t.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["estimate", "--avg-minutes", "nan"], r"'nan' is not a finite number"),
        (["validate", "--region", "mars-north-1"], r"not an AWS region"),
        (["render", "-o", "."], r"is a directory"),
    ],
)
def test_usage_errors_in_a_real_process(args: list[str], message: str, tmp_path: Path) -> None:
    result, _ = _run(args, tmp_path)
    assert result.returncode == 2
    assert re.search(message, result.stderr)
    assert "Traceback" not in result.stderr


def test_stdout_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "mediapipe_cfn", "render"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert result.returncode == 2
    assert "stdout: cannot write the template: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_write_keeps_the_previous_template(tmp_path: Path) -> None:
    """The temporary file is renamed over the target: a failure leaves the old one whole."""
    target = tmp_path / "t.yaml"
    target.write_text("previous\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _disk_fills_on_rename(tmp_path, monkeypatch)
        result = CliRunner().invoke(main, ["render", "-o", str(target)])
    assert result.exit_code == 2
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["t.yaml"]


def test_a_written_template_is_readable_by_others(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        result = CliRunner().invoke(main, ["render", "-o", str(tmp_path / "t.yaml")])
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.yaml").stat().st_mode & 0o777 == 0o644
