"""SNS topics: alarms for operators and, if the profile asks, final asset states for consumers.

Both topics are encrypted with the pipeline key and refuse requests that are not over TLS. Only
CloudWatch alarms of this account and region may publish to the alarm topic; the status
processor publishes asset events with its own role (same account, so no topic grant is needed).
"""

from __future__ import annotations

import hashlib

from awacs import sns as sns_actions
from awacs.aws import ArnLike, Statement, StringEquals
from troposphere import Ref
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, arn, deny_insecure_transport, document, service_principal
from mediapipe_cfn.template import BuildContext


def encrypted_topic(ctx: BuildContext, logical_id: str, purpose: str) -> Topic:
    return Topic(
        logical_id,
        # E-mails from the topic show this as the sender.
        DisplayName=f"{ctx.profile.naming.prefix} {purpose}",
        KmsMasterKeyId=_refs.key_arn(),
        Tags=_refs.tags(ctx),
    )


def tls_only_topic_policy(policy_id: str, topic_id: str, *grants: Statement) -> TopicPolicy:
    """The topic's policy: ``grants``, and every SNS action refused over plain HTTP."""
    return TopicPolicy(
        policy_id,
        Topics=[Ref(topic_id)],
        PolicyDocument=document(*grants, deny_insecure_transport("sns", [Ref(topic_id)])),
    )


def alarm_topic_policy() -> TopicPolicy:
    return tls_only_topic_policy(
        ids.ALARM_TOPIC_POLICY,
        ids.ALARM_TOPIC,
        allow(
            "CloudWatchAlarmsOfThisAccountPublish",
            [sns_actions.Publish],
            [Ref(ids.ALARM_TOPIC)],
            StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
            ArnLike("aws:SourceArn", arn("cloudwatch", "alarm:*")),
            principal=service_principal("cloudwatch"),
        ),
    )


def subscription_id(email: str) -> str:
    """Logical ID of an e-mail subscription, derived from the address.

    Deriving it from the address rather than the list position means removing one address
    does not replace (and make people re-confirm) the subscriptions listed after it.
    """
    digest = hashlib.sha256(email.encode("utf-8")).hexdigest()[:10]
    return f"{ids.ALARM_EMAIL_SUBSCRIPTION_PREFIX}{digest}"


def email_subscriptions(ctx: BuildContext) -> list[SubscriptionResource]:
    return [
        SubscriptionResource(
            subscription_id(email),
            Protocol="email",
            Endpoint=email,
            TopicArn=Ref(ids.ALARM_TOPIC),
        )
        for email in sorted(set(ctx.profile.alarms.emails))
    ]


def build(ctx: BuildContext) -> None:
    ctx.add(encrypted_topic(ctx, ids.ALARM_TOPIC, "alarms"))
    ctx.add(alarm_topic_policy())
    for subscription in email_subscriptions(ctx):
        ctx.add(subscription)
    ctx.output(ids.O_ALARM_TOPIC_ARN, Ref(ids.ALARM_TOPIC), "ARN of the SNS topic alarms notify.")
    if ctx.profile.notifications.sns_on_final_state:
        ctx.add(encrypted_topic(ctx, ids.ASSET_EVENTS_TOPIC, "asset events"))
        # The status processor publishes with its own role: no grant, only the TLS rule.
        ctx.add(tls_only_topic_policy(ids.ASSET_EVENTS_TOPIC_POLICY, ids.ASSET_EVENTS_TOPIC))
        ctx.output(
            ids.O_ASSET_EVENTS_TOPIC_ARN,
            Ref(ids.ASSET_EVENTS_TOPIC),
            "ARN of the SNS topic that announces assets reaching SUCCEEDED or FAILED.",
        )
