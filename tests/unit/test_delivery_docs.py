"""docs/delivery.md is true: its signing module runs and signs what CloudFront verifies, its
profile snippets load, and its caching table names the template's behaviours."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mediapipe_cfn.components import delivery
from mediapipe_cfn.profile import parse_profile

DOC = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"
BASE_URL = "https://video.example.com"
ASSET_PREFIX = "alice/5d2f0c7e9b1a4c3d8e6f7a8b9c0d1e2f/"
KEY_PAIR_ID = "K2JCJMDEHXQW5F"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, key.public_key()


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    (code,) = blocks("python")
    namespace: dict[str, Any] = {"__name__": "delivery_example"}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


def from_cloudfront_base64(text: str) -> bytes:
    assert not set(text) & set("+=/"), "CloudFront's cookie alphabet replaces + = /"
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")))


def cloudfront_wildcard(pattern: str, url: str) -> bool:
    """A custom policy's Resource as CloudFront matches it: '*' any characters, '?' one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, url) is not None


def test_signed_cookies_open_every_file_of_one_asset_and_nothing_else(
    example: dict[str, Any], key_pair: tuple[bytes, Any]
) -> None:
    private_pem, public_key = key_pair
    before = time.time()
    cookies = example["signed_cookies"](BASE_URL, ASSET_PREFIX, KEY_PAIR_ID, private_pem)
    assert sorted(cookies) == [
        "CloudFront-Key-Pair-Id",
        "CloudFront-Policy",
        "CloudFront-Signature",
    ]
    assert cookies["CloudFront-Key-Pair-Id"] == KEY_PAIR_ID
    policy = from_cloudfront_base64(cookies["CloudFront-Policy"])
    signature = from_cloudfront_base64(cookies["CloudFront-Signature"])
    # What CloudFront does with the cookies: verify the signature over the policy with the
    # key group's public key (raises if it does not match).
    public_key.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    (statement,) = json.loads(policy)["Statement"]
    resource = statement["Resource"]
    expires = statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
    assert before + 2 * 3600 - 5 <= expires <= time.time() + 2 * 3600
    for path in ("cmaf/master.m3u8", "cmaf/1080p_00001.m4s", "mp4/master_preview.mp4"):
        assert cloudfront_wildcard(resource, f"{BASE_URL}/{ASSET_PREFIX}{path}"), path
    other_asset = f"{BASE_URL}/alice/0000000000000000000000000000000f/cmaf/master.m3u8"
    assert not cloudfront_wildcard(resource, other_asset)
    assert not cloudfront_wildcard(resource, f"https://elsewhere.example.com/{ASSET_PREFIX}x")


def test_a_tampered_policy_fails_verification(
    example: dict[str, Any], key_pair: tuple[bytes, Any]
) -> None:
    from cryptography.exceptions import InvalidSignature

    private_pem, public_key = key_pair
    cookies = example["signed_cookies"](BASE_URL, ASSET_PREFIX, KEY_PAIR_ID, private_pem)
    policy = from_cloudfront_base64(cookies["CloudFront-Policy"]).replace(
        ASSET_PREFIX.encode(), b"alice/"
    )
    with pytest.raises(InvalidSignature):
        public_key.verify(
            from_cloudfront_base64(cookies["CloudFront-Signature"]),
            policy,
            padding.PKCS1v15(),
            hashes.SHA1(),
        )


def test_signed_url_carries_a_verifiable_canned_policy(
    example: dict[str, Any], key_pair: tuple[bytes, Any]
) -> None:
    private_pem, public_key = key_pair
    url = f"{BASE_URL}/{ASSET_PREFIX}mp4/master_preview.mp4"
    signed = example["signed_url"](url, KEY_PAIR_ID, private_pem, dt.timedelta(minutes=5))
    assert signed.startswith(url + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(signed).query).items()}
    assert query["Key-Pair-Id"] == KEY_PAIR_ID
    canned = json.dumps(
        {
            "Statement": [
                {
                    "Resource": url,
                    "Condition": {"DateLessThan": {"AWS:EpochTime": int(query["Expires"])}},
                }
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = from_cloudfront_base64(query["Signature"])
    public_key.verify(signature, canned, padding.PKCS1v15(), hashes.SHA1())


def test_the_profile_snippets_load(key_pair: tuple[bytes, Any]) -> None:
    _, public_key = key_pair
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    snippets = blocks("yaml")
    assert len(snippets) == 2
    public, signed = snippets
    assert parse_profile(public, "delivery.md").delivery.enabled
    data = yaml.safe_load(signed)
    data["delivery"]["signed"]["public_key_pem"] = pem
    profile = parse_profile(yaml.safe_dump(data), "delivery.md")
    assert profile.delivery.signed.enabled
    assert profile.delivery.custom_domain is not None


def test_the_caching_table_names_the_templates_behaviours() -> None:
    text = DOC.read_text("utf-8")
    section = text.split("## Caching", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    patterns = re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)
    assert patterns == list(delivery.MANIFEST_PATH_PATTERNS)
    assert "managed `CachingOptimized`" in table
