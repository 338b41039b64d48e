"""Transcoding configuration: the runtime-config SSM parameter and MediaConvert job templates.

The SSM parameter is the single source of truth at run time: the orchestrator reads the
transcode spec from it and builds every job with :mod:`mediapipe_cfn.mediaconvert.settings`,
adapting the ladder to each source. The job templates hold the same settings, built by the same
function without a source, so operators can see and reuse them in the MediaConvert console; no
job is created from them (see docs/transcoding.md).
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, mediaconvert, ssm

from mediapipe_cfn import ids
from mediapipe_cfn.mediaconvert.settings import (
    acceleration_mode,
    job_formats,
    job_template_settings,
    status_update_interval,
)
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.runtime_config import runtime_config_json
from mediapipe_cfn.template import BuildContext

# SSM Standard parameters hold up to 4 KB; larger values need the (billed) Advanced tier.
STANDARD_TIER_MAX_BYTES = 4096


def build(ctx: BuildContext) -> None:
    add_runtime_config_parameter(ctx)
    add_job_templates(ctx)


def add_runtime_config_parameter(ctx: BuildContext) -> ssm.Parameter:
    """The handlers' configuration, as compact deterministic JSON."""
    profile = ctx.profile
    value = runtime_config_json(profile)
    size = len(value.encode("utf-8"))
    parameter = ctx.add(
        ssm.Parameter(
            ids.TRANSCODE_PARAMETER,
            Name=Sub(ids.runtime_config_parameter_name(profile.naming.prefix)),
            Type="String",
            Value=value,
            Tier="Standard" if size <= STANDARD_TIER_MAX_BYTES else "Advanced",
            Description=(
                f"Runtime configuration of media pipeline '{profile.name}' (ingest rules, "
                "output layout, retries, transcode spec), read by the pipeline's functions."
            ),
        )
    )
    ctx.output(
        ids.O_TRANSCODE_PARAMETER_NAME,
        Ref(parameter),
        "Name of the SSM parameter holding the pipeline's runtime configuration.",
    )
    return parameter  # type: ignore[return-value]


def add_job_templates(ctx: BuildContext) -> list[mediaconvert.JobTemplate]:
    """One job template per job an asset gets (e.g. JobTemplateCmaf), for the console."""
    profile = ctx.profile
    spec = transcode_spec(profile)
    templates = []
    for job_format in job_formats(spec):
        settings = job_template_settings(spec, job_format)
        template = mediaconvert.JobTemplate(
            ids.JOB_TEMPLATE_PREFIX + job_format.title(),
            Name=Sub(f"${{AWS::StackName}}-{job_format}"),
            Category=profile.naming.prefix,
            Description=(
                f"{job_format} job of media pipeline '{profile.name}', without a source "
                "(full ladder, FIT_NO_UPSCALE). Reference copy: the pipeline builds its jobs "
                "from the runtime-config parameter."
            ),
            Queue=GetAtt(ids.MEDIACONVERT_QUEUE, "Arn"),
            SettingsJson=settings,
            StatusUpdateInterval=status_update_interval(spec),
            Priority=int(spec["transcoding"]["priority"]),
            AccelerationSettings=mediaconvert.AccelerationSettings(
                Mode=acceleration_mode(spec, settings)
            ),
        )
        if profile.tags:
            template.Tags = dict(sorted(profile.tags.items()))
        templates.append(ctx.add(template))
    return templates  # type: ignore[return-value]
