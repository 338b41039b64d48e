"""SNS topics: alarms for operators and, if the profile asks, final asset states for consumers.

Both topics are encrypted with the pipeline key and refuse requests that are not over TLS. Only
CloudWatch alarms of this account and region may publish to the alarm topic; the status
processor publishes asset events with its own role (same account, so no topic grant is needed).
"""

from __future__ import annotations

import hashlib
from typing import Any

from awacs import sns as sns_actions
from awacs.aws import Action, ArnLike, Bool, Principal, StringEquals
from troposphere import Ref
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, arn, deny, document, service_principal
from mediapipe_cfn.template import BuildContext

# Logical IDs of resources only this component refers to.
ASSET_EVENTS_TOPIC_POLICY = "AssetEventsTopicPolicy"
ALARM_EMAIL_SUBSCRIPTION_PREFIX = "AlarmEmailSubscription"


def insecure_transport_denial(topic_id: str) -> Any:
    # Every SNS action: a request over plain HTTP has no business with this topic.
    return deny(
        "DenyInsecureTransport",
        [Action("sns", "*")],
        [Ref(topic_id)],
        Bool("aws:SecureTransport", "false"),
        principal=Principal("*"),
    )


def alarm_topic(ctx: BuildContext) -> Topic:
    return Topic(
        ids.ALARM_TOPIC,
        # E-mails from the topic show this as the sender.
        DisplayName=f"{ctx.profile.naming.prefix} alarms",
        KmsMasterKeyId=_refs.key_arn(),
        Tags=_refs.tags(ctx),
    )


def alarm_topic_policy() -> TopicPolicy:
    return TopicPolicy(
        ids.ALARM_TOPIC_POLICY,
        Topics=[Ref(ids.ALARM_TOPIC)],
        PolicyDocument=document(
            allow(
                "CloudWatchAlarmsOfThisAccountPublish",
                [sns_actions.Publish],
                [Ref(ids.ALARM_TOPIC)],
                StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
                ArnLike("aws:SourceArn", arn("cloudwatch", "alarm:*")),
                principal=service_principal("cloudwatch"),
            ),
            insecure_transport_denial(ids.ALARM_TOPIC),
        ),
    )


def subscription_id(email: str) -> str:
    """Logical ID of an e-mail subscription, derived from the address.

    Deriving it from the address rather than the list position means removing one address
    does not replace (and make people re-confirm) the subscriptions listed after it.
    """
    digest = hashlib.sha256(email.encode("utf-8")).hexdigest()[:10]
    return f"{ALARM_EMAIL_SUBSCRIPTION_PREFIX}{digest}"


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


def asset_events_topic(ctx: BuildContext) -> Topic:
    return Topic(
        ids.ASSET_EVENTS_TOPIC,
        DisplayName=f"{ctx.profile.naming.prefix} asset events",
        KmsMasterKeyId=_refs.key_arn(),
        Tags=_refs.tags(ctx),
    )


def asset_events_topic_policy() -> TopicPolicy:
    return TopicPolicy(
        ASSET_EVENTS_TOPIC_POLICY,
        Topics=[Ref(ids.ASSET_EVENTS_TOPIC)],
        PolicyDocument=document(insecure_transport_denial(ids.ASSET_EVENTS_TOPIC)),
    )


def build(ctx: BuildContext) -> None:
    ctx.add(alarm_topic(ctx))
    ctx.add(alarm_topic_policy())
    for subscription in email_subscriptions(ctx):
        ctx.add(subscription)
    ctx.output("AlarmTopicArn", Ref(ids.ALARM_TOPIC), "ARN of the SNS topic alarms notify.")
    if ctx.profile.notifications.sns_on_final_state:
        ctx.add(asset_events_topic(ctx))
        ctx.add(asset_events_topic_policy())
        ctx.output(
            "AssetEventsTopicArn",
            Ref(ids.ASSET_EVENTS_TOPIC),
            "ARN of the SNS topic that announces assets reaching SUCCEEDED or FAILED.",
        )
