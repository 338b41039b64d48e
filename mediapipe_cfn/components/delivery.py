"""CloudFront delivery: a distribution in front of the outputs bucket (``delivery.enabled``).

Players fetch the outputs from CloudFront; the bucket stays private. CloudFront signs its origin
requests with an origin access control (SigV4), and exactly this distribution may read, through
two grants this component adds to resources of the storage and encryption components:

* the outputs bucket policy allows ``s3:GetObject`` to ``cloudfront.amazonaws.com`` on the
  outputs' key prefix only when ``aws:SourceArn`` is this distribution;
* the created key's policy allows ``kms:Decrypt`` to CloudFront under the same condition (a
  stack on an existing key gets the statement as an output, for the key's administrator).

The key policy naming the distribution would close a dependency cycle (key -> distribution ->
bucket -> key), so with delivery on the outputs bucket names its default encryption key by the
key's alias ARN, which refers to no resource. Objects are still encrypted with the same key:
MediaConvert and the handlers name the key ARN on every put, and S3 resolves the alias only for a
put that names no key.

Caching suits video on demand: manifests (``.m3u8``, ``.mpd``, ``manifest.json``) are cached for
``delivery.manifest_ttl_seconds``; everything else under an asset (segments, MP4s, images) is
immutable once written and is cached long with the managed CachingOptimized policy. Cache keys
hold no cookies, headers or query strings: signed URLs and cookies are checked at the edge before
the cache is consulted, so they need none either.
"""

from __future__ import annotations

import json
import re
from typing import Any

from awacs import kms, s3
from awacs.aws import ArnEquals, Statement
from troposphere import Equals, GetAtt, If, Not, Output, Parameter, Ref, Sub, encode_to_dict
from troposphere import cloudfront as cf
from troposphere import s3 as ts3

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, arn, service_principal
from mediapipe_cfn.profile.model import ACM_CERTIFICATE_ARN_PATTERN, Delivery, Profile
from mediapipe_cfn.template import BuildContext

CLOUDFRONT_SERVICE = "cloudfront"
# CloudFront is global: its policy, key and access-control names are unique per account, not per
# Region, so they carry the Region besides the stack name.
GLOBAL_NAME_PREFIX = "${AWS::StackName}-${AWS::Region}"
ORIGIN_ID = "outputs-bucket"
# Managed policies (IDs from the CloudFront Developer Guide, "Use managed cache policies").
# CachingOptimized: no cookies, headers or query strings in the key; gzip and Brotli; default TTL
# one day, maximum one year -- right for segments, MP4s and images, which never change in place.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# Path patterns of the manifests players poll (short TTL); the default behaviour serves the rest.
MANIFEST_PATH_PATTERNS = ("*.m3u8", "*.mpd", "*/manifest.json")
# Standard (legacy) access logs: CloudFront writes them with an ACL grant, so the access-logs
# bucket keeps ACLs enabled (BucketOwnerPreferred) when delivery is on. Logging v2 would avoid
# ACLs but its delivery source must be created in us-east-1, which a stack elsewhere cannot do.
ACCESS_LOG_PREFIX = "cloudfront/"
# Headers a player may read from cross-origin responses (byte ranges, validators, sizes).
CORS_EXPOSE_HEADERS = ("Content-Length", "Content-Range", "Date", "ETag")
# How long a browser may reuse a CORS preflight answer.
CORS_MAX_AGE_SECONDS = 3000
VIEWER_METHODS = ("GET", "HEAD")
# Players make simple CORS requests (GET, with at most a Range header); no preflight is needed.
CORS_ALLOW_HEADERS = ("Range",)
# The profile's names -> CloudFront's.
GEO_RESTRICTION_TYPES = {"none": "none", "allowlist": "whitelist", "blocklist": "blacklist"}
# TLS policy for a custom domain: TLS 1.2 or newer with modern ciphers.
CUSTOM_DOMAIN_TLS_POLICY = "TLSv1.2_2021"


def build(ctx: BuildContext) -> None:
    delivery = ctx.profile.delivery
    if not delivery.enabled:
        return
    add_parameters(ctx, delivery)
    ctx.add(origin_access_control(ctx))
    ctx.add(manifest_cache_policy(ctx, delivery))
    ctx.add(cors_response_headers_policy(ctx, delivery))
    if delivery.signed.enabled:
        ctx.add(playback_public_key(ctx))
        ctx.add(playback_key_group(ctx))
    ctx.add(distribution(ctx, delivery))
    grant_distribution_read(ctx)
    let_distribution_decrypt(ctx)
    encrypt_outputs_by_key_alias(ctx)
    let_cloudfront_write_access_logs(ctx)
    add_outputs(ctx, delivery)


# --- parameters ------------------------------------------------------------------------------


def add_parameters(ctx: BuildContext, delivery: Delivery) -> None:
    if delivery.custom_domain is not None:
        ctx.template.add_parameter(
            Parameter(
                ids.P_DELIVERY_CERTIFICATE_ARN,
                Type="String",
                Default=delivery.custom_domain.certificate_arn,
                AllowedPattern=ACM_CERTIFICATE_ARN_PATTERN,
                ConstraintDescription="the ARN of an ACM certificate in us-east-1",
                Description="ACM certificate (us-east-1) of the playback host names.",
            )
        )
    if delivery.signed.enabled:
        ctx.template.add_parameter(
            Parameter(
                ids.P_DELIVERY_PUBLIC_KEY_PEM,
                Type="String",
                Default=delivery.signed.public_key_pem,
                AllowedPattern=r"^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$",
                ConstraintDescription="a PEM-encoded RSA public key",
                Description="Public key (PEM) that signed URLs and cookies are verified with.",
            )
        )


# --- policies and keys -----------------------------------------------------------------------


def origin_access_control(ctx: BuildContext) -> cf.OriginAccessControl:
    return cf.OriginAccessControl(
        ids.ORIGIN_ACCESS_CONTROL,
        OriginAccessControlConfig=cf.OriginAccessControlConfig(
            Name=Sub(f"{GLOBAL_NAME_PREFIX}-outputs"),
            Description="Signs CloudFront's requests to the outputs bucket (SigV4).",
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    )


def manifest_cache_policy(ctx: BuildContext, delivery: Delivery) -> cf.CachePolicy:
    """Short TTL for manifests; no managed policy caches for seconds rather than a day."""
    ttl = delivery.manifest_ttl_seconds
    return cf.CachePolicy(
        ids.MANIFEST_CACHE_POLICY,
        CachePolicyConfig=cf.CachePolicyConfig(
            Name=Sub(f"{GLOBAL_NAME_PREFIX}-manifests"),
            Comment=f"HLS/DASH manifests and manifest.json: cached for {ttl} s at most.",
            MinTTL=0,
            DefaultTTL=ttl,
            MaxTTL=ttl,
            ParametersInCacheKeyAndForwardedToOrigin=cf.ParametersInCacheKeyAndForwardedToOrigin(
                CookiesConfig=cf.CacheCookiesConfig(CookieBehavior="none"),
                HeadersConfig=cf.CacheHeadersConfig(HeaderBehavior="none"),
                QueryStringsConfig=cf.CacheQueryStringsConfig(QueryStringBehavior="none"),
                EnableAcceptEncodingGzip=True,
                EnableAcceptEncodingBrotli=True,
            ),
        ),
    )


def cors_response_headers_policy(ctx: BuildContext, delivery: Delivery) -> cf.ResponseHeadersPolicy:
    """CORS for browser players, answered at the edge from the profile's origins.

    Managed CORS policies allow every origin without credentials; signed cookies need the
    players' exact origins with credentials, so the policy is the stack's own.
    """
    credentials = delivery.signed.enabled
    return cf.ResponseHeadersPolicy(
        ids.CORS_RESPONSE_HEADERS_POLICY,
        ResponseHeadersPolicyConfig=cf.ResponseHeadersPolicyConfig(
            Name=Sub(f"{GLOBAL_NAME_PREFIX}-playback-cors"),
            Comment="CORS for browser players (hls.js, dash.js, Shaka, video.js).",
            CorsConfig=cf.CorsConfig(
                AccessControlAllowCredentials=credentials,
                AccessControlAllowHeaders=cf.AccessControlAllowHeaders(
                    Items=list(CORS_ALLOW_HEADERS)
                ),
                AccessControlAllowMethods=cf.AccessControlAllowMethods(Items=list(VIEWER_METHODS)),
                AccessControlAllowOrigins=cf.AccessControlAllowOrigins(
                    Items=list(delivery.cors_allowed_origins)
                ),
                AccessControlExposeHeaders=cf.AccessControlExposeHeaders(
                    Items=list(CORS_EXPOSE_HEADERS)
                ),
                AccessControlMaxAgeSec=CORS_MAX_AGE_SECONDS,
                OriginOverride=True,
            ),
        ),
    )


def playback_public_key(ctx: BuildContext) -> cf.PublicKey:
    return cf.PublicKey(
        ids.PLAYBACK_PUBLIC_KEY,
        PublicKeyConfig=cf.PublicKeyConfig(
            CallerReference=Sub(f"{GLOBAL_NAME_PREFIX}-playback-key"),
            Name=Sub(f"{GLOBAL_NAME_PREFIX}-playback"),
            Comment="Verifies the signed URLs and cookies of playback requests.",
            EncodedKey=Ref(ids.P_DELIVERY_PUBLIC_KEY_PEM),
        ),
    )


def playback_key_group(ctx: BuildContext) -> cf.KeyGroup:
    return cf.KeyGroup(
        ids.PLAYBACK_KEY_GROUP,
        KeyGroupConfig=cf.KeyGroupConfig(
            Name=Sub(f"{GLOBAL_NAME_PREFIX}-playback"),
            Comment="Keys trusted to sign playback URLs and cookies.",
            Items=[Ref(ids.PLAYBACK_PUBLIC_KEY)],
        ),
    )


# --- the distribution ------------------------------------------------------------------------


def distribution(ctx: BuildContext, delivery: Delivery) -> cf.Distribution:
    config: dict[str, Any] = {
        "Enabled": True,
        "Comment": f"{ctx.profile.naming.prefix} media pipeline: playback of the outputs",
        "Origins": [outputs_origin(delivery)],
        "DefaultCacheBehavior": cf.DefaultCacheBehavior(
            **behaviour_settings(delivery, CACHING_OPTIMIZED_POLICY_ID)
        ),
        "CacheBehaviors": [
            cf.CacheBehavior(
                PathPattern=pattern,
                **behaviour_settings(delivery, Ref(ids.MANIFEST_CACHE_POLICY)),
            )
            for pattern in MANIFEST_PATH_PATTERNS
        ],
        "HttpVersion": "http2and3",
        "IPV6Enabled": True,
        "PriceClass": delivery.price_class,
        "Logging": cf.Logging(
            Bucket=GetAtt(ids.ACCESS_LOGS_BUCKET, "DomainName"),
            Prefix=ACCESS_LOG_PREFIX,
            IncludeCookies=False,
        ),
        "Restrictions": cf.Restrictions(
            GeoRestriction=cf.GeoRestriction(
                RestrictionType=GEO_RESTRICTION_TYPES[delivery.geo_restriction.type],
                **(
                    {"Locations": list(delivery.geo_restriction.countries)}
                    if delivery.geo_restriction.countries
                    else {}
                ),
            )
        ),
        "ViewerCertificate": viewer_certificate(delivery),
    }
    if delivery.custom_domain is not None:
        config["Aliases"] = list(delivery.custom_domain.aliases)
    if delivery.web_acl_arn:
        config["WebACLId"] = delivery.web_acl_arn
    return cf.Distribution(
        ids.DISTRIBUTION,
        DistributionConfig=cf.DistributionConfig(**config),
        Tags=_refs.tags(ctx),
        Metadata=_refs.scanner_skip_metadata(*skipped_checks(delivery)),
    )


def outputs_origin(delivery: Delivery) -> cf.Origin:
    origin: dict[str, Any] = {
        "Id": ORIGIN_ID,
        "DomainName": GetAtt(ids.OUTPUTS_BUCKET, "RegionalDomainName"),
        "OriginAccessControlId": GetAtt(ids.ORIGIN_ACCESS_CONTROL, "Id"),
        # Empty: no legacy origin access identity; the origin access control signs instead.
        "S3OriginConfig": cf.S3OriginConfig(OriginAccessIdentity=""),
    }
    if delivery.origin_shield_region:
        origin["OriginShield"] = cf.OriginShield(
            Enabled=True, OriginShieldRegion=delivery.origin_shield_region
        )
    return cf.Origin(**origin)


def behaviour_settings(delivery: Delivery, cache_policy_id: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "TargetOriginId": ORIGIN_ID,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": list(VIEWER_METHODS),
        "CachedMethods": list(VIEWER_METHODS),
        # CloudFront compresses text types only (manifests, manifest.json), never video.
        "Compress": True,
        "CachePolicyId": cache_policy_id,
        "ResponseHeadersPolicyId": Ref(ids.CORS_RESPONSE_HEADERS_POLICY),
    }
    if delivery.signed.enabled:
        settings["TrustedKeyGroups"] = [Ref(ids.PLAYBACK_KEY_GROUP)]
    return settings


def viewer_certificate(delivery: Delivery) -> cf.ViewerCertificate:
    if delivery.custom_domain is None:
        return cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
    return cf.ViewerCertificate(
        AcmCertificateArn=Ref(ids.P_DELIVERY_CERTIFICATE_ARN),
        SslSupportMethod="sni-only",
        MinimumProtocolVersion=CUSTOM_DOMAIN_TLS_POLICY,
    )


def skipped_checks(delivery: Delivery) -> list[tuple[str, str]]:
    """Scanner checks that cannot apply to this distribution, each with its reason."""
    skips = []
    if not delivery.web_acl_arn:
        skips.append(
            (
                "CKV_AWS_68",
                "WAF is optional (delivery.web_acl_arn): a web ACL for CloudFront lives in "
                "us-east-1 and is billed per request; the outputs are read-only static files "
                "behind an origin that only this distribution can read.",
            )
        )
    if delivery.custom_domain is None:
        skips.append(
            (
                "CKV_AWS_174",
                "Without a custom domain the cloudfront.net certificate is used, whose TLS "
                "policy CloudFront fixes; with delivery.custom_domain, TLSv1.2_2021 is set.",
            )
        )
    return skips


# --- grants on the storage and encryption components' resources ----------------------------


def distribution_arn() -> Sub:
    """``arn:<partition>:cloudfront::<account>:distribution/<id>`` of this stack's distribution."""
    return arn(CLOUDFRONT_SERVICE, f"distribution/${{{ids.DISTRIBUTION}}}", region=False)


def readable_prefix(profile: Profile) -> str:
    """The outputs' fixed key prefix: ``output_path`` up to its first placeholder."""
    return re.split(r"{", profile.output_path, maxsplit=1)[0]


def cloudfront_read_statement(profile: Profile) -> Statement:
    return allow(
        "CloudFrontReadsOutputsForThisDistribution",
        [s3.GetObject],
        [_refs.objects_arn(ids.OUTPUTS_BUCKET, f"{readable_prefix(profile)}*")],
        ArnEquals("aws:SourceArn", distribution_arn()),
        principal=service_principal(CLOUDFRONT_SERVICE),
    )


def cloudfront_decrypt_statement() -> Statement:
    # "*" in a key policy is the key the policy belongs to.
    return allow(
        "CloudFrontDecryptsOutputsForThisDistribution",
        [kms.Decrypt],
        ["*"],
        ArnEquals("aws:SourceArn", distribution_arn()),
        principal=service_principal(CLOUDFRONT_SERVICE),
    )


def grant_distribution_read(ctx: BuildContext) -> None:
    if not ctx.has(ids.OUTPUTS_BUCKET_POLICY):
        return  # storage dropped: the distribution's reference to the bucket is reported instead
    policy = ctx.resource(ids.OUTPUTS_BUCKET_POLICY)
    policy.PolicyDocument.Statement.append(cloudfront_read_statement(ctx.profile))


def let_distribution_decrypt(ctx: BuildContext) -> None:
    """The created key's policy gets the statement; an existing key's administrator gets it as
    an output to add to that key's policy."""
    if ctx.has(ids.KMS_KEY):
        ctx.resource(ids.KMS_KEY).KeyPolicy.Statement.append(cloudfront_decrypt_statement())
    ctx.template.add_condition(
        ids.C_USE_EXISTING_KMS_KEY, Not(Equals(Ref(ids.P_KMS_KEY_ALIAS), ""))
    )
    ctx.template.add_output(
        Output(
            ids.O_DELIVERY_KEY_POLICY_STATEMENT,
            Condition=ids.C_USE_EXISTING_KMS_KEY,
            Description="Add this statement to the existing key's policy so that CloudFront "
            "can decrypt the outputs for this distribution (and no other).",
            Value=existing_key_statement_json(),
        )
    )


def existing_key_statement_json() -> Sub:
    """:func:`cloudfront_decrypt_statement` as JSON text, the distribution's ARN filled in."""
    statement = encode_to_dict(cloudfront_decrypt_statement())
    statement["Condition"]["ArnEquals"]["aws:SourceArn"] = "__DISTRIBUTION_ARN__"
    text = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    return Sub(text.replace("__DISTRIBUTION_ARN__", distribution_arn().data["Fn::Sub"]))


def encrypt_outputs_by_key_alias(ctx: BuildContext) -> None:
    """The outputs bucket's default key by alias ARN: no dependency on the key (module doc)."""
    if not ctx.has(ids.OUTPUTS_BUCKET):
        return
    bucket = ctx.resource(ids.OUTPUTS_BUCKET)
    rule = bucket.BucketEncryption.ServerSideEncryptionConfiguration[0]
    rule.ServerSideEncryptionByDefault.KMSMasterKeyID = If(
        ids.C_CREATE_KMS_KEY,
        arn("kms", f"alias/{ctx.profile.naming.prefix}-${{AWS::StackName}}"),
        _refs.existing_key_alias_arn(),
    )


def let_cloudfront_write_access_logs(ctx: BuildContext) -> None:
    """CloudFront standard logs are delivered with an ACL grant, so the access-logs bucket
    accepts ACLs; the bucket owner still owns each object written with bucket-owner-full-control.
    """
    if not ctx.has(ids.ACCESS_LOGS_BUCKET):
        return
    bucket = ctx.resource(ids.ACCESS_LOGS_BUCKET)
    bucket.OwnershipControls = ts3.OwnershipControls(
        Rules=[ts3.OwnershipControlsRule(ObjectOwnership="BucketOwnerPreferred")]
    )


# --- outputs ---------------------------------------------------------------------------------


def add_outputs(ctx: BuildContext, delivery: Delivery) -> None:
    ctx.output(ids.O_DISTRIBUTION_ID, Ref(ids.DISTRIBUTION), "CloudFront distribution ID.")
    ctx.output(
        ids.O_DISTRIBUTION_DOMAIN_NAME,
        GetAtt(ids.DISTRIBUTION, "DomainName"),
        "Domain name of the distribution (point custom host names here).",
    )
    ctx.output(
        ids.O_PLAYBACK_BASE_URL,
        _refs.playback_base_url(ctx.profile),
        "Base URL of playback: <base>/<output key> plays any output.",
    )
    if delivery.signed.enabled:
        ctx.output(
            ids.O_PLAYBACK_PUBLIC_KEY_ID,
            Ref(ids.PLAYBACK_PUBLIC_KEY),
            "ID of the playback public key: the Key-Pair-Id of signed URLs and cookies.",
        )
