"""Logical IDs of the template's resources, parameters and conditions.

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

# Conditions
C_GENERATE_UPLOADS_BUCKET_NAME: Final = "GenerateUploadsBucketName"
C_GENERATE_OUTPUTS_BUCKET_NAME: Final = "GenerateOutputsBucketName"
C_CREATE_MEDIACONVERT_ROLE: Final = "CreateMediaConvertRole"
C_CREATE_KMS_KEY: Final = "CreateKmsKey"
C_IS_PROD: Final = "IsProduction"

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

# Notifications and observability
ALARM_TOPIC: Final = "AlarmTopic"
ALARM_TOPIC_POLICY: Final = "AlarmTopicPolicy"
ASSET_EVENTS_TOPIC: Final = "AssetEventsTopic"
DASHBOARD: Final = "PipelineDashboard"


def runtime_config_parameter_name(prefix: str) -> str:
    """SSM parameter name (a ``Sub`` pattern) of the configuration the handlers read."""
    return f"/{prefix}/${{AWS::StackName}}/runtime-config"
