"""The IAM policy evaluator, decision by decision, against hand-written documents."""

from __future__ import annotations

from typing import Any

import pytest

from mediapipe_cfn.security.evaluator import (
    ANONYMOUS,
    Decision,
    Grant,
    Operator,
    Principal,
    PrincipalMatch,
    Request,
    UnsupportedPolicyError,
    action_match,
    arn_match,
    condition_key_matches,
    evaluate_access,
    evaluate_policy,
    principal_match,
    wildcard_match,
)

ROLE = Principal.role("arn:aws:iam::111122223333:role/worker")
OTHER_ROLE = Principal.role("arn:aws:iam::111122223333:role/other")
FOREIGN_ROLE = Principal.role("arn:aws:iam::999988887777:role/worker")
EVENTS = Principal.service("events.amazonaws.com")
OBJECT = "arn:aws:s3:::bucket/uploads/a.mp4"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def request(action: str = "s3:GetObject", resource: str = OBJECT, **context: Any) -> Request:
    return Request(ROLE, action, resource, context)


# --- wildcards -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("a*c", "abbbc", True),
        ("a*c", "ac", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a.c", "abc", False),  # regex characters are literal
        ("[ab]", "a", False),
        ("*", "", True),
    ],
)
def test_wildcard_match(pattern: str, value: str, matches: bool) -> None:
    assert wildcard_match(pattern, value) is matches


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("s3:GetObject", "s3:getobject", True),  # actions are case-insensitive
        ("s3:Get*", "s3:GetObjectVersion", True),
        ("s3:*", "sqs:SendMessage", False),
        ("*", "kms:Decrypt", True),
    ],
)
def test_action_match(pattern: str, action: str, matches: bool) -> None:
    assert action_match(pattern, action) is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.mp4", True),
        ("arn:aws:s3:::bucket/uploads/*", "arn:aws:s3:::bucket/outputs/a", False),
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/a", False),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket-2/a", False),
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/a", False),  # ARNs are case-sensitive
        # The resource part spans colons: a log group's ":*" covers its streams.
        (
            "arn:aws:logs:us-east-1:111122223333:log-group:/aws/x:*",
            "arn:aws:logs:us-east-1:111122223333:log-group:/aws/x:log-stream:s1",
            True,
        ),
        # A wildcard in the first five segments does not cross a colon.
        ("arn:aws:kms:*:111122223333:key/k", "arn:aws:kms:us-east-1:111122223333:key/k", True),
        ("arn:aws:kms:*:111122223333:key/k", "arn:aws:kms:us-east-1:999988887777:key/k", False),
        ("arn:*:sqs:us-east-1:111122223333:q", "arn:aws:sqs:us-east-1:111122223333:q", True),
        ("*", "arn:aws:sqs:us-east-1:111122223333:q", True),
    ],
)
def test_arn_match(pattern: str, arn: str, matches: bool) -> None:
    assert arn_match(pattern, arn) is matches


# --- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "expected", "context", "holds"),
    [
        ("StringEquals", "a", {"k": "a"}, True),
        ("StringEquals", "a", {"k": "A"}, False),
        ("StringEquals", ["a", "b"], {"k": "b"}, True),  # values are ORed
        ("StringEquals", "a", {}, False),  # missing key: positive operators fail
        ("StringNotEquals", "a", {"k": "b"}, True),
        ("StringNotEquals", "a", {"k": "a"}, False),
        ("StringNotEquals", "a", {}, True),  # missing key: negated operators hold
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),
        ("StringEqualsIgnoreCase", "a", {"k": "A"}, True),
        ("StringLike", "arn:aws:kms:*:key/*", {"k": "arn:aws:kms:r:a:key/1"}, True),
        ("StringLike", "x?", {"k": "xy"}, True),
        ("StringNotLike", "x*", {"k": "yx"}, True),
        ("StringNotLike", "x*", {"k": "xy"}, False),
        ("StringNotLike", "x*", {}, True),
        ("ArnEquals", "arn:aws:events:r:1:rule/a", {"k": "arn:aws:events:r:1:rule/a"}, True),
        ("ArnEquals", "arn:aws:events:r:1:rule/a", {"k": "arn:aws:events:r:1:rule/b"}, False),
        (
            "ArnLike",
            "arn:aws:cloudwatch:r:1:alarm:*",
            {"k": "arn:aws:cloudwatch:r:1:alarm:x"},
            True,
        ),
        (
            "ArnLike",
            "arn:aws:cloudwatch:r:1:alarm:*",
            {"k": "arn:aws:cloudwatch:r:2:alarm:x"},
            False,
        ),
        ("ArnNotEquals", "arn:aws:sqs:r:1:q", {"k": "arn:aws:sqs:r:1:q"}, False),
        ("ArnNotLike", "arn:aws:sqs:r:1:*", {}, True),
        ("Bool", "false", {"k": False}, True),
        ("Bool", "false", {"k": "true"}, False),
        ("Bool", "true", {"k": True}, True),
        ("Bool", "false", {}, False),
        ("Null", "false", {"k": "v"}, True),  # Null false: the key must be present
        ("Null", "false", {}, False),
        ("Null", "true", {}, True),
        ("Null", "true", {"k": "v"}, False),
        ("StringEqualsIfExists", "a", {}, True),
        ("StringEqualsIfExists", "a", {"k": "b"}, False),
        ("StringNotEqualsIfExists", "a", {"k": "a"}, False),
        ("ArnLikeIfExists", "arn:aws:s3:::b", {}, True),
        ("ForAnyValue:StringEquals", "alias/a", {"k": ["alias/b", "alias/a"]}, True),
        ("ForAnyValue:StringEquals", "alias/a", {"k": ["alias/b"]}, False),
        ("ForAnyValue:StringEquals", "alias/a", {}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # vacuously true
        ("ForAnyValue:StringNotEquals", "a", {"k": ["a", "b"]}, True),
        ("NumericLessThanEquals", "10", {"k": 10}, True),
        ("NumericLessThan", "10", {"k": "10"}, False),
        ("NumericGreaterThan", "10", {"k": "not a number"}, False),
    ],
)
def test_condition_operators(
    operator: str, expected: Any, context: dict[str, Any], holds: bool
) -> None:
    assert condition_key_matches(operator, "k", expected, request(**context)) is holds


def test_condition_keys_are_case_insensitive() -> None:
    assert condition_key_matches(
        "Bool", "AWS:SecureTransport", "true", request(**{"aws:securetransport": True})
    )


@pytest.mark.parametrize(
    "text", ["DateLessThan", "IpAddress", "Maybe:StringEquals", "ForAnyValue:Null", "NullIfExists"]
)
def test_unsupported_operators_are_refused_not_ignored(text: str) -> None:
    with pytest.raises(UnsupportedPolicyError):
        Operator.parse(text)


def test_operator_parsing() -> None:
    assert Operator.parse("ForAnyValue:StringNotLikeIfExists") == Operator(
        base="StringLike", negated=True, if_exists=True, qualifier="ForAnyValue"
    )


def test_keys_within_a_block_and_blocks_are_anded() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"c": "true"}},
    }
    document = doc(statement)
    assert (
        evaluate_policy(document, request(a="1", b="2", c=True), resource_policy=False)
        is Grant.ALLOW
    )
    for missing in ({"a": "1", "b": "2"}, {"a": "1", "c": True}, {"b": "2", "c": True}):
        assert evaluate_policy(document, request(**missing), resource_policy=False) is Grant.NONE


# --- statements and principals ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "principal", "match"),
    [
        ("*", ANONYMOUS, PrincipalMatch.DIRECT),
        ({"AWS": "*"}, EVENTS, PrincipalMatch.DIRECT),
        ({"AWS": ROLE.identifier}, ROLE, PrincipalMatch.DIRECT),
        ({"AWS": [OTHER_ROLE.identifier]}, ROLE, PrincipalMatch.NONE),
        ({"AWS": "arn:aws:iam::111122223333:root"}, ROLE, PrincipalMatch.ACCOUNT),
        ({"AWS": "111122223333"}, ROLE, PrincipalMatch.ACCOUNT),
        ({"AWS": "arn:aws:iam::111122223333:root"}, FOREIGN_ROLE, PrincipalMatch.NONE),
        ({"Service": ["events.amazonaws.com"]}, EVENTS, PrincipalMatch.DIRECT),
        ({"Service": "sns.amazonaws.com"}, EVENTS, PrincipalMatch.NONE),
        ({"Service": "events.amazonaws.com"}, ROLE, PrincipalMatch.NONE),
    ],
)
def test_principal_match(element: Any, principal: Principal, match: PrincipalMatch) -> None:
    assert principal_match(element, principal) is match


def test_not_action_and_not_resource() -> None:
    not_action = doc({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})
    assert (
        evaluate_policy(not_action, request("s3:GetObject"), resource_policy=False) is Grant.ALLOW
    )
    assert (
        evaluate_policy(not_action, request("s3:DeleteObject"), resource_policy=False) is Grant.NONE
    )
    not_resource = doc(
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/uploads/*"}
    )
    assert evaluate_policy(not_resource, request(), resource_policy=False) is Grant.NONE
    outside = request(resource="arn:aws:s3:::bucket/outputs/a")
    assert evaluate_policy(not_resource, outside, resource_policy=False) is Grant.DENY


def test_not_principal_applies_to_everyone_else() -> None:
    document = doc(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ROLE.identifier},
            "Action": "s3:*",
            "Resource": "*",
        }
    )
    assert evaluate_policy(document, request(), resource_policy=True) is Grant.NONE
    other = Request(OTHER_ROLE, "s3:GetObject", OBJECT)
    assert evaluate_policy(document, other, resource_policy=True) is Grant.DENY


def test_single_statement_and_single_values_need_no_lists() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECT}}
    assert evaluate_policy(document, request(), resource_policy=False) is Grant.ALLOW


def test_unknown_elements_and_effects_are_refused() -> None:
    with pytest.raises(UnsupportedPolicyError):
        evaluate_policy(
            doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Extra": 1}),
            request(),
            resource_policy=False,
        )
    with pytest.raises(UnsupportedPolicyError):
        evaluate_policy(
            doc({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
            request(),
            resource_policy=False,
        )
    with pytest.raises(UnsupportedPolicyError):
        evaluate_policy(
            doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            request(),
            resource_policy=True,
        )


# --- combining policies ----------------------------------------------------------------------

ALLOW_GET = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"})
DENY_PLAIN_HTTP = doc(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::bucket/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)


def test_identity_allow_within_the_account() -> None:
    tls = request(**{"aws:SecureTransport": True})
    assert evaluate_access(tls, identity_policies=[ALLOW_GET]) is Decision.ALLOW
    assert evaluate_access(tls) is Decision.IMPLICIT_DENY


def test_explicit_deny_wins() -> None:
    plain = request(**{"aws:SecureTransport": False})
    decision = evaluate_access(
        plain, identity_policies=[ALLOW_GET], resource_policies=[DENY_PLAIN_HTTP]
    )
    assert decision is Decision.EXPLICIT_DENY
    assert not decision.allowed


def test_resource_policy_allows_a_named_principal_or_service_directly() -> None:
    named = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE.identifier},
            "Action": "s3:GetObject",
            "Resource": OBJECT,
        }
    )
    assert evaluate_access(request(), resource_policies=[named]) is Decision.ALLOW
    service = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:r:1:q",
        }
    )
    sent = Request(EVENTS, "sqs:SendMessage", "arn:aws:sqs:r:1:q")
    assert evaluate_access(sent, resource_policies=[service]) is Decision.ALLOW


def test_account_principal_in_a_resource_policy_only_delegates() -> None:
    account = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:GetObject",
            "Resource": OBJECT,
        }
    )
    assert evaluate_access(request(), resource_policies=[account]) is Decision.IMPLICIT_DENY
    assert (
        evaluate_access(request(), resource_policies=[account], identity_policies=[ALLOW_GET])
        is Decision.ALLOW
    )


def test_a_service_principal_cannot_use_identity_policies() -> None:
    sent = Request(EVENTS, "s3:GetObject", OBJECT)
    assert evaluate_access(sent, identity_policies=[ALLOW_GET]) is Decision.IMPLICIT_DENY


KEY = "arn:aws:kms:us-east-1:111122223333:key/k"
ROOT_KEY_POLICY = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
)
ALLOW_DECRYPT = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})


def test_key_policy_delegation_needs_an_iam_allow() -> None:
    decrypt = Request(ROLE, "kms:Decrypt", KEY)
    assert evaluate_access(decrypt, key_policy=ROOT_KEY_POLICY) is Decision.IMPLICIT_DENY
    assert (
        evaluate_access(decrypt, key_policy=ROOT_KEY_POLICY, identity_policies=[ALLOW_DECRYPT])
        is Decision.ALLOW
    )


def test_without_a_key_policy_grant_iam_is_not_enough() -> None:
    decrypt = Request(ROLE, "kms:Decrypt", KEY)
    other_only = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": OTHER_ROLE.identifier},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    assert (
        evaluate_access(decrypt, key_policy=other_only, identity_policies=[ALLOW_DECRYPT])
        is Decision.IMPLICIT_DENY
    )


def test_key_policy_can_grant_a_service_directly() -> None:
    decrypt = Request(EVENTS, "kms:Decrypt", KEY)
    service = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    assert evaluate_access(decrypt, key_policy=service) is Decision.ALLOW


def test_request_context_copies() -> None:
    base = request(a="1")
    changed = base.with_context(a=None, b="2")
    assert changed.value("a") == (False, [])
    assert changed.value("B") == (True, ["2"])
    assert base.value("a") == (True, ["1"])
