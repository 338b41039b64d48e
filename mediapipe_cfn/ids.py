"""Logical IDs of the template's resources, parameters, conditions and outputs.

They are part of the public contract: CloudFormation replaces a resource whose logical ID changes
(a bucket or table replaced is data lost), so these strings never change between versions.
Components refer to each other only through these names.
"""

from __future__ import annotations

from typing import Final

# Parameters
P_ENVIRONMENT: Final = "Environment"
P_UPLOADS_BUCKET_NAME: Final = "UploadsBucketName"
P_OUTPUTS_BUCKET_NAME: Final = "OutputsBucketName"
P_MEDIACONVERT_ROLE_ARN: Final = "MediaConvertRoleArn"
P_KMS_KEY_ALIAS: Final = "KmsKeyAlias"
P_PROCESSING_CONCURRENCY: Final = "ProcessingConcurrency"
P_DELIVERY_CERTIFICATE_ARN: Final = "DeliveryCertificateArn"
P_DELIVERY_PUBLIC_KEY_PEM: Final = "DeliveryPublicKeyPem"

# Conditions
C_GENERATE_UPLOADS_BUCKET_NAME: Final = "GenerateUploadsBucketName"
C_GENERATE_OUTPUTS_BUCKET_NAME: Final = "GenerateOutputsBucketName"
C_CREATE_MEDIACONVERT_ROLE: Final = "CreateMediaConvertRole"
C_CREATE_KMS_KEY: Final = "CreateKmsKey"
C_IS_PROD: Final = "IsProduction"
C_USE_EXISTING_KMS_KEY: Final = "UseExistingKmsKey"

# Encryption
KMS_KEY: Final = "PipelineKey"
KMS_KEY_ALIAS: Final = "PipelineKeyAlias"

# Storage
ACCESS_LOGS_BUCKET: Final = "AccessLogsBucket"
ACCESS_LOGS_BUCKET_POLICY: Final = "AccessLogsBucketPolicy"
UPLOADS_BUCKET: Final = "UploadsBucket"
UPLOADS_BUCKET_POLICY: Final = "UploadsBucketPolicy"
OUTPUTS_BUCKET: Final = "OutputsBucket"
OUTPUTS_BUCKET_POLICY: Final = "OutputsBucketPolicy"

# Queueing
PROCESSING_QUEUE: Final = "ProcessingQueue"
PROCESSING_DLQ: Final = "ProcessingDeadLetterQueue"
PROCESSING_QUEUE_POLICY: Final = "ProcessingQueuePolicy"
EVENTS_DLQ: Final = "EventDeliveryDeadLetterQueue"
EVENTS_DLQ_POLICY: Final = "EventDeliveryDeadLetterQueuePolicy"
STATUS_FAILURE_QUEUE: Final = "StatusProcessorFailureQueue"

# Events
UPLOAD_EVENTS_RULE: Final = "UploadCreatedRule"
JOB_STATE_RULE: Final = "JobStateChangeRule"
JOB_EVENTS_LOG_GROUP: Final = "JobEventsLogGroup"
JOB_EVENTS_LOG_POLICY: Final = "JobEventsLogResourcePolicy"

# State
ASSETS_TABLE: Final = "MediaAssetsTable"
# Only with a capacity section: the per-queue in-flight budgets.
CAPACITY_TABLE: Final = "CapacityTable"

# Configuration
TRANSCODE_PARAMETER: Final = "TranscodeConfigParameter"

# MediaConvert
MEDIACONVERT_ROLE: Final = "MediaConvertRole"
MEDIACONVERT_QUEUE: Final = "MediaConvertQueue"
JOB_TEMPLATE_PREFIX: Final = "JobTemplate"  # + format, e.g. JobTemplateCmaf

# Compute
ORCHESTRATOR_FUNCTION: Final = "IngestOrchestratorFunction"
ORCHESTRATOR_ROLE: Final = "IngestOrchestratorRole"
ORCHESTRATOR_LOG_GROUP: Final = "IngestOrchestratorLogGroup"
ORCHESTRATOR_EVENT_SOURCE: Final = "IngestOrchestratorQueueEventSource"
STATUS_FUNCTION: Final = "JobStatusProcessorFunction"
STATUS_ROLE: Final = "JobStatusProcessorRole"
STATUS_LOG_GROUP: Final = "JobStatusProcessorLogGroup"
STATUS_INVOKE_CONFIG: Final = "JobStatusProcessorInvokeConfig"
STATUS_INVOKE_PERMISSION: Final = "JobStatusProcessorEventsPermission"
RECONCILER_FUNCTION: Final = "ReconcilerFunction"
RECONCILER_ROLE: Final = "ReconcilerRole"
RECONCILER_LOG_GROUP: Final = "ReconcilerLogGroup"
RECONCILER_INVOKE_CONFIG: Final = "ReconcilerInvokeConfig"
RECONCILER_INVOKE_PERMISSION: Final = "ReconcilerSchedulePermission"
RECONCILE_SCHEDULE_RULE: Final = "ReconcileScheduleRule"

# Delivery
DISTRIBUTION: Final = "PlaybackDistribution"
ORIGIN_ACCESS_CONTROL: Final = "OutputsOriginAccessControl"
MANIFEST_CACHE_POLICY: Final = "ManifestCachePolicy"
CORS_RESPONSE_HEADERS_POLICY: Final = "PlaybackResponseHeadersPolicy"
PLAYBACK_PUBLIC_KEY: Final = "PlaybackPublicKey"
PLAYBACK_KEY_GROUP: Final = "PlaybackKeyGroup"

# Notifications
ALARM_TOPIC: Final = "AlarmTopic"
ALARM_TOPIC_POLICY: Final = "AlarmTopicPolicy"
# + a hash of the address (see notifications.subscription_id), e.g. AlarmEmailSubscription1a2b3c4d5e
ALARM_EMAIL_SUBSCRIPTION_PREFIX: Final = "AlarmEmailSubscription"
ASSET_EVENTS_TOPIC: Final = "AssetEventsTopic"
ASSET_EVENTS_TOPIC_POLICY: Final = "AssetEventsTopicPolicy"

# Observability
DASHBOARD: Final = "PipelineDashboard"
QUEUE_DEPTH_ALARM: Final = "ProcessingQueueDepthAlarm"
QUEUE_AGE_ALARM: Final = "ProcessingQueueOldestMessageAlarm"
JOB_FAILURE_RATE_ALARM: Final = "JobFailureRateAlarm"
PROCESSING_DLQ_ALARM: Final = "ProcessingDeadLetterQueueNotEmptyAlarm"
EVENTS_DLQ_ALARM: Final = "EventDeliveryDeadLetterQueueNotEmptyAlarm"
STATUS_FAILURE_QUEUE_ALARM: Final = "StatusProcessorFailureQueueNotEmptyAlarm"
ORCHESTRATOR_ERRORS_ALARM: Final = "IngestOrchestratorErrorsAlarm"
STATUS_ERRORS_ALARM: Final = "JobStatusProcessorErrorsAlarm"
RECONCILER_ERRORS_ALARM: Final = "ReconcilerErrorsAlarm"
STUCK_ASSETS_ALARM: Final = "StuckAssetsAlarm"
# Only with capacity.fallback: the breaker opened.
FALLBACK_ALARM: Final = "RegionalFallbackEngagedAlarm"

# Outputs. Each is exported as "<stack name>-<output ID>", the name other stacks import it by.
O_UPLOADS_BUCKET_NAME: Final = "UploadsBucketName"
O_OUTPUTS_BUCKET_NAME: Final = "OutputsBucketName"
O_ACCESS_LOGS_BUCKET_NAME: Final = "AccessLogsBucketName"
O_KMS_KEY_ARN: Final = "KmsKeyArn"
O_PROCESSING_QUEUE_URL: Final = "ProcessingQueueUrl"
O_PROCESSING_QUEUE_ARN: Final = "ProcessingQueueArn"
O_PROCESSING_DLQ_URL: Final = "ProcessingDeadLetterQueueUrl"
O_PROCESSING_DLQ_ARN: Final = "ProcessingDeadLetterQueueArn"
O_EVENTS_DLQ_URL: Final = "EventDeliveryDeadLetterQueueUrl"
O_EVENTS_DLQ_ARN: Final = "EventDeliveryDeadLetterQueueArn"
O_STATUS_FAILURE_QUEUE_URL: Final = "StatusProcessorFailureQueueUrl"
O_STATUS_FAILURE_QUEUE_ARN: Final = "StatusProcessorFailureQueueArn"
O_ASSETS_TABLE_NAME: Final = "MediaAssetsTableName"
O_ASSETS_TABLE_ARN: Final = "MediaAssetsTableArn"
O_CAPACITY_TABLE_NAME: Final = "CapacityTableName"
O_MEDIACONVERT_ROLE_ARN: Final = "MediaConvertJobRoleArn"
O_MEDIACONVERT_QUEUE_ARN: Final = "MediaConvertQueueArn"
O_TRANSCODE_PARAMETER_NAME: Final = "TranscodeConfigParameterName"
O_ORCHESTRATOR_FUNCTION_ARN: Final = "IngestOrchestratorFunctionArn"
O_STATUS_FUNCTION_ARN: Final = "JobStatusProcessorFunctionArn"
O_RECONCILER_FUNCTION_ARN: Final = "ReconcilerFunctionArn"
O_UPLOAD_EVENTS_RULE_ARN: Final = "UploadCreatedRuleArn"
O_JOB_STATE_RULE_ARN: Final = "JobStateChangeRuleArn"
O_JOB_EVENTS_LOG_GROUP_NAME: Final = "JobEventsLogGroupName"
O_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
O_ASSET_EVENTS_TOPIC_ARN: Final = "AssetEventsTopicArn"
O_DASHBOARD_URL: Final = "DashboardUrl"
O_DISTRIBUTION_ID: Final = "DistributionId"
O_DISTRIBUTION_DOMAIN_NAME: Final = "DistributionDomainName"
O_PLAYBACK_BASE_URL: Final = "PlaybackBaseUrl"
O_PLAYBACK_PUBLIC_KEY_ID: Final = "PlaybackPublicKeyId"
O_DELIVERY_KEY_POLICY_STATEMENT: Final = "DeliveryKeyPolicyStatement"


def runtime_config_parameter_name(prefix: str) -> str:
    """SSM parameter name (a ``Sub`` pattern) of the configuration the handlers read."""
    return f"/{prefix}/${{AWS::StackName}}/runtime-config"
