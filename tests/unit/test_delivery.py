"""The delivery component: what the template holds with CloudFront on, and what it must not.

Assertions are on the rendered template's dict, so each promise of docs/delivery.md (the
behaviours, policies and grants) is checked where CloudFormation would read it. What the grants
*do* is proved with the policy evaluator in tests/security/test_security_delivery.py.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mediapipe_cfn import ids
from mediapipe_cfn.components import delivery
from mediapipe_cfn.profile import Profile, load_profile
from mediapipe_cfn.template import build_template

LINT_REGIONS = ["us-east-1", "eu-west-1"]
PACKAGED_CODE = {"S3Bucket": "artifact-bucket", "S3Key": "0123456789abcdef"}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
WEB_ACL = (
    "arn:aws:wafv2:us-east-1:123456789012:global/webacl/playback/"
    "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)
CLOUDFRONT_TYPES = (
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudFront::PublicKey",
    "AWS::CloudFront::KeyGroup",
)


@cache
def public_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def template_for(**delivery_section: Any) -> dict[str, Any]:
    sections: dict[str, Any] = {"delivery": {"enabled": True, **delivery_section}}
    return build_template(Profile.model_validate(sections), handler_code=PACKAGED_CODE).to_dict()


def signed_section() -> dict[str, Any]:
    return {
        "signed": {"enabled": True, "public_key_pem": public_key_pem()},
        "cors_allowed_origins": ["https://player.example.com"],
    }


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def config(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"][ids.DISTRIBUTION]["Properties"]["DistributionConfig"]


def behaviours(template: dict[str, Any]) -> list[dict[str, Any]]:
    distribution = config(template)
    return [distribution["DefaultCacheBehavior"], *distribution["CacheBehaviors"]]


def statements(template: dict[str, Any], logical_id: str, key: str) -> list[dict[str, Any]]:
    return template["Resources"][logical_id]["Properties"][key]["Statement"]


def mentions_cloudfront(statement: dict[str, Any]) -> bool:
    return "cloudfront" in json.dumps(statement.get("Principal", ""))


# --- on and off --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "enabled"), [("default", False), ("lean", False), ("prod", True), ("premium", True)]
)
def test_delivery_is_on_in_prod_and_premium_only(name: str, enabled: bool) -> None:
    template = build_template(load_profile(name), handler_code=PACKAGED_CODE).to_dict()
    found = [r for t in CLOUDFRONT_TYPES for r in resources_of(template, t)]
    assert bool(found) is enabled
    outputs = set(template["Outputs"])
    wanted = {ids.O_DISTRIBUTION_ID, ids.O_DISTRIBUTION_DOMAIN_NAME, ids.O_PLAYBACK_BASE_URL}
    assert (wanted <= outputs) is enabled
    assert not (wanted & outputs) or enabled


def test_without_delivery_no_policy_mentions_cloudfront() -> None:
    text = json.dumps(build_template(Profile(), handler_code=PACKAGED_CODE).to_dict())
    assert "cloudfront" not in text.lower()


# --- origin access -----------------------------------------------------------------------------


def test_the_origin_is_the_outputs_bucket_through_an_origin_access_control() -> None:
    template = template_for()
    oac = template["Resources"][ids.ORIGIN_ACCESS_CONTROL]["Properties"]
    assert oac["OriginAccessControlConfig"] | {"Name": None, "Description": None} == {
        "Name": None,
        "Description": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    (origin,) = config(template)["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [ids.OUTPUTS_BUCKET, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [ids.ORIGIN_ACCESS_CONTROL, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert "OriginShield" not in origin
    assert not resources_of(template, "AWS::CloudFront::CloudFrontOriginAccessIdentity")


def test_the_outputs_bucket_stays_private() -> None:
    bucket = template_for()["Resources"][ids.OUTPUTS_BUCKET]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


# --- caching -----------------------------------------------------------------------------------


def test_manifests_have_their_own_short_lived_behaviours() -> None:
    template = template_for(manifest_ttl_seconds=12)
    by_pattern = {b["PathPattern"]: b for b in config(template)["CacheBehaviors"]}
    assert sorted(by_pattern) == ["*.m3u8", "*.mpd", "*/manifest.json"]
    for behaviour in by_pattern.values():
        assert behaviour["CachePolicyId"] == {"Ref": ids.MANIFEST_CACHE_POLICY}
    policy = template["Resources"][ids.MANIFEST_CACHE_POLICY]["Properties"]["CachePolicyConfig"]
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 12, 12)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]


def test_segments_mp4s_and_images_use_the_managed_long_ttl_policy() -> None:
    default = config(template_for())["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == delivery.CACHING_OPTIMIZED_POLICY_ID
    assert "PathPattern" not in default


def test_every_behaviour_is_https_compressed_read_only_with_cors() -> None:
    for behaviour in behaviours(template_for()):
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["Compress"] is True
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        assert behaviour["CachedMethods"] == ["GET", "HEAD"]
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": ids.CORS_RESPONSE_HEADERS_POLICY}
        assert behaviour["TargetOriginId"] == delivery.ORIGIN_ID
        assert "TrustedKeyGroups" not in behaviour
        assert "ForwardedValues" not in behaviour  # legacy cache settings


def test_distribution_protocols_price_class_and_logging() -> None:
    template = template_for(price_class="PriceClass_200")
    distribution = config(template)
    assert distribution["HttpVersion"] == "http2and3"
    assert distribution["IPV6Enabled"] is True
    assert distribution["PriceClass"] == "PriceClass_200"
    assert distribution["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert distribution["Restrictions"] == {"GeoRestriction": {"RestrictionType": "none"}}
    assert "WebACLId" not in distribution and "Aliases" not in distribution
    assert distribution["Logging"] == {
        "Bucket": {"Fn::GetAtt": [ids.ACCESS_LOGS_BUCKET, "DomainName"]},
        "IncludeCookies": False,
        "Prefix": delivery.ACCESS_LOG_PREFIX,
    }
    logs_bucket = template["Resources"][ids.ACCESS_LOGS_BUCKET]["Properties"]
    # CloudFront's standard logs arrive with an ACL grant; the logs bucket accepts it.
    assert logs_bucket["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}
    ]
    assert set(logs_bucket["PublicAccessBlockConfiguration"].values()) == {True}


# --- CORS --------------------------------------------------------------------------------------


def cors(template: dict[str, Any]) -> dict[str, Any]:
    policy = template["Resources"][ids.CORS_RESPONSE_HEADERS_POLICY]["Properties"]
    return policy["ResponseHeadersPolicyConfig"]["CorsConfig"]


def test_public_cors_allows_every_page_without_credentials() -> None:
    settings = cors(template_for())
    assert settings["AccessControlAllowOrigins"] == {"Items": ["*"]}
    assert settings["AccessControlAllowCredentials"] is False
    assert settings["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    assert "Content-Range" in settings["AccessControlExposeHeaders"]["Items"]
    assert settings["OriginOverride"] is True


def test_cors_origins_come_from_the_profile() -> None:
    origins = ["https://www.example.com", "https://app.example.com:8443"]
    settings = cors(template_for(cors_allowed_origins=origins))
    assert settings["AccessControlAllowOrigins"] == {"Items": origins}


# --- options -----------------------------------------------------------------------------------


def test_origin_shield_geo_restriction_and_web_acl() -> None:
    template = template_for(
        origin_shield_region="eu-central-1",
        geo_restriction={"type": "allowlist", "countries": ["DE", "AT"]},
        web_acl_arn=WEB_ACL,
    )
    distribution = config(template)
    assert distribution["Origins"][0]["OriginShield"] == {
        "Enabled": True,
        "OriginShieldRegion": "eu-central-1",
    }
    assert distribution["Restrictions"]["GeoRestriction"] == {
        "RestrictionType": "whitelist",
        "Locations": ["DE", "AT"],
    }
    assert distribution["WebACLId"] == WEB_ACL
    skipped = template["Resources"][ids.DISTRIBUTION]["Metadata"]["checkov"]["skip"]
    assert "CKV_AWS_68" not in {s["id"] for s in skipped}


def test_blocklist_maps_to_cloudfronts_name() -> None:
    template = template_for(geo_restriction={"type": "blocklist", "countries": ["KP"]})
    assert config(template)["Restrictions"]["GeoRestriction"]["RestrictionType"] == "blacklist"


def test_custom_domain_uses_the_certificate_parameter_and_tls_1_2() -> None:
    aliases = ["video.example.com", "*.cdn.example.com"]
    template = template_for(custom_domain={"aliases": aliases, "certificate_arn": CERTIFICATE})
    distribution = config(template)
    assert distribution["Aliases"] == aliases
    assert distribution["ViewerCertificate"] == {
        "AcmCertificateArn": {"Ref": ids.P_DELIVERY_CERTIFICATE_ARN},
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert template["Parameters"][ids.P_DELIVERY_CERTIFICATE_ARN]["Default"] == CERTIFICATE
    assert template["Outputs"][ids.O_PLAYBACK_BASE_URL]["Value"] == "https://video.example.com"
    skipped = template["Resources"][ids.DISTRIBUTION]["Metadata"]["checkov"]["skip"]
    assert "CKV_AWS_174" not in {s["id"] for s in skipped}


def test_playback_base_url_is_the_distribution_domain_by_default() -> None:
    template = template_for()
    assert template["Outputs"][ids.O_PLAYBACK_BASE_URL]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [ids.DISTRIBUTION, "DomainName"]}]]
    }
    assert template["Outputs"][ids.O_DISTRIBUTION_ID]["Value"] == {"Ref": ids.DISTRIBUTION}


# --- signed delivery ---------------------------------------------------------------------------


def test_signed_delivery_trusts_a_key_group_of_the_parameters_public_key() -> None:
    template = template_for(**signed_section())
    parameter = template["Parameters"][ids.P_DELIVERY_PUBLIC_KEY_PEM]
    assert parameter["Default"] == public_key_pem()
    key = template["Resources"][ids.PLAYBACK_PUBLIC_KEY]["Properties"]["PublicKeyConfig"]
    assert key["EncodedKey"] == {"Ref": ids.P_DELIVERY_PUBLIC_KEY_PEM}
    group = template["Resources"][ids.PLAYBACK_KEY_GROUP]["Properties"]["KeyGroupConfig"]
    assert group["Items"] == [{"Ref": ids.PLAYBACK_PUBLIC_KEY}]
    for behaviour in behaviours(template):
        assert behaviour["TrustedKeyGroups"] == [{"Ref": ids.PLAYBACK_KEY_GROUP}]
    settings = cors(template)
    assert settings["AccessControlAllowCredentials"] is True
    assert settings["AccessControlAllowOrigins"] == {"Items": ["https://player.example.com"]}
    assert template["Outputs"][ids.O_PLAYBACK_PUBLIC_KEY_ID]["Value"] == {
        "Ref": ids.PLAYBACK_PUBLIC_KEY
    }


# --- grants ------------------------------------------------------------------------------------


def test_the_outputs_bucket_policy_lets_only_this_distribution_read() -> None:
    template = template_for()
    granted = [
        s
        for s in statements(template, ids.OUTPUTS_BUCKET_POLICY, "PolicyDocument")
        if mentions_cloudfront(s)
    ]
    assert granted == [
        {
            "Sid": "CloudFrontReadsOutputsForThisDistribution",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudfront.amazonaws.com"]},
            "Action": ["s3:GetObject"],
            "Resource": [{"Fn::Sub": "${OutputsBucket.Arn}/*"}],
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": {
                        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                        "distribution/${PlaybackDistribution}"
                    }
                }
            },
        }
    ]


def test_the_read_grant_is_scoped_to_the_outputs_fixed_prefix() -> None:
    profile = Profile.model_validate(
        {"delivery": {"enabled": True}, "output_path": "media/{uploaderId}/{assetId}/"}
    )
    template = build_template(profile, handler_code=PACKAGED_CODE).to_dict()
    (granted,) = [
        s
        for s in statements(template, ids.OUTPUTS_BUCKET_POLICY, "PolicyDocument")
        if mentions_cloudfront(s)
    ]
    assert granted["Resource"] == [{"Fn::Sub": "${OutputsBucket.Arn}/media/*"}]


def test_no_other_policy_grants_cloudfront_anything() -> None:
    template = template_for()
    for logical_id, key in (
        (ids.UPLOADS_BUCKET_POLICY, "PolicyDocument"),
        (ids.ACCESS_LOGS_BUCKET_POLICY, "PolicyDocument"),
    ):
        assert not [s for s in statements(template, logical_id, key) if mentions_cloudfront(s)]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            assert "cloudfront" not in json.dumps(resource).lower()


def test_the_created_keys_policy_lets_only_this_distribution_decrypt() -> None:
    template = template_for()
    granted = [s for s in statements(template, ids.KMS_KEY, "KeyPolicy") if mentions_cloudfront(s)]
    assert granted == [
        {
            "Sid": "CloudFrontDecryptsOutputsForThisDistribution",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudfront.amazonaws.com"]},
            "Action": ["kms:Decrypt"],
            "Resource": ["*"],
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": {
                        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                        "distribution/${PlaybackDistribution}"
                    }
                }
            },
        }
    ]


def test_an_existing_key_stack_outputs_the_same_statement_for_the_key_administrator() -> None:
    template = template_for()
    output = template["Outputs"][ids.O_DELIVERY_KEY_POLICY_STATEMENT]
    assert output["Condition"] == ids.C_USE_EXISTING_KMS_KEY
    assert template["Conditions"][ids.C_USE_EXISTING_KMS_KEY] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": ids.P_KMS_KEY_ALIAS}, ""]}]
    }
    text = output["Value"]["Fn::Sub"]
    (in_key_policy,) = [
        s for s in statements(template, ids.KMS_KEY, "KeyPolicy") if mentions_cloudfront(s)
    ]
    sub_arn = in_key_policy["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert json.loads(text) == in_key_policy | {
        "Condition": {"ArnEquals": {"aws:SourceArn": sub_arn}}
    }


def test_the_outputs_bucket_names_its_key_by_alias_to_avoid_a_dependency_cycle() -> None:
    template = template_for()
    rule = template["Resources"][ids.OUTPUTS_BUCKET]["Properties"]["BucketEncryption"]
    by_default = rule["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert by_default["KMSMasterKeyID"] == {
        "Fn::If": [
            ids.C_CREATE_KMS_KEY,
            {
                "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:"
                "alias/mediapipe-${AWS::StackName}"
            },
            {
                "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:"
                "${KmsKeyAlias}"
            },
        ]
    }
    alias = template["Resources"][ids.KMS_KEY_ALIAS]["Properties"]["AliasName"]
    assert alias == {"Fn::Sub": "alias/mediapipe-${AWS::StackName}"}
    # Without delivery the bucket keeps naming the key itself.
    plain = build_template(Profile(), handler_code=PACKAGED_CODE).to_dict()
    rule = plain["Resources"][ids.OUTPUTS_BUCKET]["Properties"]["BucketEncryption"]
    by_default = rule["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert by_default["KMSMasterKeyID"]["Fn::If"][1] == {"Fn::GetAtt": [ids.KMS_KEY, "Arn"]}


# --- cfn-lint ----------------------------------------------------------------------------------


def every_option() -> dict[str, Any]:
    return {
        **signed_section(),
        "price_class": "PriceClass_All",
        "origin_shield_region": "eu-west-1",
        "geo_restriction": {"type": "blocklist", "countries": ["KP"]},
        "web_acl_arn": WEB_ACL,
        "custom_domain": {"aliases": ["video.example.com"], "certificate_arn": CERTIFICATE},
    }


@pytest.mark.parametrize(
    "sections",
    [
        {"delivery": {"enabled": True, **every_option()}},
        {"delivery": {"enabled": True}, "encryption": {"kms_key_alias": "alias/media"}},
    ],
    ids=["every option", "existing key"],
)
def test_delivery_variants_are_cfn_lint_clean(sections: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    from mediapipe_cfn.render import render

    template = build_template(Profile.model_validate(sections), handler_code=PACKAGED_CODE)
    matches = lint(render(template, "yaml"), config=ManualArgs(regions=LINT_REGIONS))
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


# --- the handlers learn the playback base URL ----------------------------------------------------


def function_environments(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]


def test_every_function_gets_the_playback_base_url_only_with_delivery() -> None:
    from mediapipe_cfn.contract import Env

    on = template_for(
        custom_domain={"aliases": ["video.example.com"], "certificate_arn": CERTIFICATE}
    )
    assert [v[Env.PLAYBACK_BASE_URL] for v in function_environments(on)] == [
        "https://video.example.com"
    ] * 3
    off = build_template(Profile(), handler_code=PACKAGED_CODE).to_dict()
    assert all(Env.PLAYBACK_BASE_URL not in v for v in function_environments(off))


def test_account_wide_cloudfront_names_carry_the_stack_and_the_region() -> None:
    # CloudFront names are unique per account: two Regions' stacks of one name must not clash.
    template = template_for(**signed_section())
    names = [
        next(iter(r["Properties"].values()))["Name"]
        for r in template["Resources"].values()
        if r["Type"].startswith("AWS::CloudFront::")
        and r["Type"] != "AWS::CloudFront::Distribution"
    ]
    assert len(names) == 5
    for name in names:
        assert name["Fn::Sub"].startswith("${AWS::StackName}-${AWS::Region}-"), name
