"""The profile: every knob of a rendered pipeline, as a strict typed model.

Every field has a default, so ``{}`` is the built-in default pipeline. Unknown keys are
errors (``extra="forbid"``) and values are not coerced across types (``strict=True``): a profile
that says ``batch_size: "10"`` is a mistake worth hearing about, not guessing around.
Units are part of field names (``_seconds``, ``_kbps``, ``_mb``) so a profile reads unambiguously.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Storage classes a lifecycle rule may move objects to, with the minimum storage duration S3
# bills for each (days); a transition that leaves a class before it wastes money.
STORAGE_CLASS_MIN_DAYS: dict[str, int] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "INTELLIGENT_TIERING": 0,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}
# S3 will not transition objects to the IA classes before they are 30 days old.
STORAGE_CLASS_MIN_AGE_DAYS: dict[str, int] = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
StorageClass = Literal[
    "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"
]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

# CloudFormation refuses a template Description over 1,024 characters; the profile's description
# follows a prefix of at most 72 (profile name and environment), so 900 always fits.
DESCRIPTION_MAX_LENGTH = 900
# S3 keys are at most 1,024 bytes; the prefix leaves room for the IDs and the file names.
OUTPUT_PATH_MAX_LENGTH = 256

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$"
BUCKET_NAME_PATTERN = r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
RENDITION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
# What each pattern means, for error messages a person can act on.
PATTERN_HELP: dict[str, str] = {
    NAME_PATTERN: "2-32 lower-case letters, digits or '-', starting and ending with a letter "
    "or digit",
    r"^$|^alias/[A-Za-z0-9/_-]{1,250}$": "empty (create a key) or 'alias/NAME'",
    BUCKET_NAME_PATTERN: "empty (generated) or a valid S3 bucket name: 3-63 lower-case letters, "
    "digits, '.' or '-'",
    RENDITION_NAME_PATTERN: "1-40 letters, digits, '_' or '-'",
    r"^[^\x00-\x1f\x7f]*$": "one line of text without control characters",
}


class RuleViolation(ValueError):
    """A cross-field rule broken at ``path`` (dotted, relative to the model that checks it).

    The loader joins ``path`` to the model's own location to point at the offending key.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class Strict(BaseModel):
    """Base of every profile section: unknown keys rejected, no type coercion, immutable."""

    # Fields are documented by docstrings under them, read only for the JSON Schema and the
    # reference doc (mediapipe_cfn/profile/docstrings.py): not at every start-up.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """pydantic's JSON Schema, with each field's docstring as its description."""
        from mediapipe_cfn.profile.docstrings import with_descriptions

        return with_descriptions(super().model_json_schema(*args, **kwargs), cls)


class Naming(Strict):
    """How resources are named."""

    prefix: Annotated[str, Field(pattern=NAME_PATTERN)] = Field(
        "mediapipe",
        description="Short name used in resource names, metric namespace and the pipeline id.",
    )
    uploads_bucket: Annotated[str, Field(pattern=BUCKET_NAME_PATTERN)] = Field(
        "", description="Uploads bucket name; empty lets CloudFormation generate one."
    )
    outputs_bucket: Annotated[str, Field(pattern=BUCKET_NAME_PATTERN)] = Field(
        "", description="Outputs bucket name; empty lets CloudFormation generate one."
    )


class Encryption(Strict):
    """The KMS key that encrypts buckets, queues, topics, table and logs."""

    kms_key_alias: Annotated[str, Field(pattern=r"^$|^alias/[A-Za-z0-9/_-]{1,250}$")] = Field(
        "",
        description=(
            "Existing customer managed key as 'alias/NAME' (its key policy must let this "
            "stack's roles and services use it); empty creates a key with rotation."
        ),
    )
    key_rotation_days: Annotated[int, Field(ge=90, le=2560)] = Field(
        365, description="Rotation period of the created key."
    )

    @field_validator("kms_key_alias")
    @classmethod
    def _customer_managed(cls, value: str) -> str:
        # AWS managed keys (alias/aws/...) have fixed key policies this stack cannot use.
        if value.startswith("alias/aws/"):
            raise ValueError(
                "AWS managed keys (alias/aws/...) cannot be used; name a customer managed key"
            )
        return value


class UploaderIdSource(Strict):
    """Where an upload's ``uploaderId`` comes from."""

    source: Literal["key_segment", "none"] = Field(
        "key_segment",
        description=(
            "'key_segment': a path segment of the object key after the ingest prefix; "
            "'none': every asset gets the uploaderId 'unknown'."
        ),
    )
    segment: Annotated[int, Field(ge=0, le=10)] = Field(
        0, description="Index of the key segment after the prefix (0: uploads/<id>/video.mp4)."
    )


class Ingest(Strict):
    """Which uploads are accepted."""

    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9!_.*'()/-]{1,200}/$")] = Field(
        "uploads/", description="Key prefix watched for uploads; ends with '/'."
    )
    extensions: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z0-9]{1,8}$")]], Field(min_length=1)
    ] = Field(
        default_factory=lambda: ["mp4", "mov", "m4v", "mkv", "webm", "mxf", "avi", "ts", "mpg"],
        description="Accepted file extensions, lower case, without the dot.",
    )
    max_size_gb: Annotated[float, Field(gt=0, le=5000)] = Field(
        50.0, description="Largest accepted upload in GiB (S3's object limit is 5 TiB)."
    )
    uploader_id: UploaderIdSource = Field(default_factory=UploaderIdSource)
    """Where each asset's uploaderId comes from."""
    working_copy_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9!_.*'()/-]{1,200}/$")] = Field(
        "sources/",
        description=(
            "Key prefix, in the uploads bucket, of each asset's immutable copy of the uploaded "
            "version (<prefix><assetId>/source.<ext>) that every job reads; ends with '/' and "
            "must not overlap the ingest prefix."
        ),
    )
    working_copy_expiration_days: Annotated[int, Field(ge=1, le=365)] = Field(
        7, description="Delete working copies this many days after they are made."
    )

    @model_validator(mode="after")
    def _working_copy_apart_from_uploads(self) -> Ingest:
        # A copy under the ingest prefix would be queued as a new upload; an ingest prefix
        # inside the copies' prefix would have its uploads expire with the copies.
        copies, uploads = self.working_copy_prefix, self.prefix
        if copies.startswith(uploads) or uploads.startswith(copies):
            raise RuleViolation(
                "working_copy_prefix",
                f"'{copies}' overlaps the ingest prefix '{uploads}': neither may start with the "
                "other",
            )
        return self


class Rendition(Strict):
    """One rung of the adaptive bitrate ladder."""

    name: Annotated[str, Field(pattern=RENDITION_NAME_PATTERN)]
    """Name modifier of the rendition's files, unique in the ladder (e.g. 720p)."""
    width: Annotated[int, Field(ge=96, le=8192)]
    """Frame width in pixels (even). Sources are never upscaled past their own size."""
    height: Annotated[int, Field(ge=96, le=4320)]
    """Frame height in pixels (even); the ladder is pruned by the source's short side."""
    max_bitrate_kbps: Annotated[int, Field(ge=50, le=80000)]
    """QVBR peak bitrate cap in kb/s."""
    qvbr_level: Annotated[int, Field(ge=1, le=10)]
    """QVBR quality level: 9 for big screens, 7 for PCs, 6 for phones."""

    @model_validator(mode="after")
    def _even_dimensions(self) -> Rendition:
        # H.264/H.265 with 4:2:0 chroma needs even frame sizes.
        for axis in ("width", "height"):
            if getattr(self, axis) % 2:
                raise RuleViolation(axis, "must be even for 4:2:0 video")
        return self


def default_ladder() -> list[Rendition]:
    """Apple HLS authoring sizes with AWS's QVBR starting points (see docs/transcoding.md)."""
    rungs = [
        ("1080p", 1920, 1080, 6000, 9),
        ("720p", 1280, 720, 4000, 8),
        ("540p", 960, 540, 2000, 7),
        ("432p", 768, 432, 1100, 7),
        ("360p", 640, 360, 700, 7),
        ("234p", 416, 234, 300, 6),
    ]
    return [
        Rendition(name=n, width=w, height=h, max_bitrate_kbps=b, qvbr_level=q)
        for n, w, h, b, q in rungs
    ]


class Audio(Strict):
    """The audio rendition shared by every video output."""

    codec: Literal["aac"] = "aac"
    """Audio codec of every output."""
    bitrate_kbps: Annotated[int, Field(ge=32, le=320)] = 128
    """Audio bitrate in kb/s (stereo AAC: 96-160 is typical)."""
    sample_rate: Literal[44100, 48000] = 48000
    """Audio sample rate in Hz."""
    channels: Literal[1, 2] = 2
    """1 (mono) or 2 (stereo)."""


class Video(Strict):
    """Encoder settings shared by every rendition."""

    codec: Literal["h264", "h265"] = Field(
        "h264", description="h265 moves jobs to the Professional tier."
    )
    quality_tuning: Literal["single_pass_hq", "multi_pass_hq"] = Field(
        "single_pass_hq", description="multi_pass_hq moves jobs to the Professional tier."
    )
    gop_seconds: Annotated[float, Field(ge=0.5, le=10)] = Field(
        2.0, description="Closed GOP length; segments must be a whole number of GOPs."
    )
    segment_seconds: Annotated[int, Field(ge=1, le=30)] = Field(
        6, description="HLS/DASH segment length."
    )
    ladder: Annotated[list[Rendition], Field(min_length=1, max_length=15)] = Field(
        default_factory=default_ladder, description="Renditions, highest first."
    )

    @model_validator(mode="after")
    def _ladder_rules(self) -> Video:
        names = [r.name for r in self.ladder]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise RuleViolation("ladder", f"rendition names must be unique; repeated: {duplicates}")
        heights = [r.height for r in self.ladder]
        if heights != sorted(heights, reverse=True) or len(set(heights)) != len(heights):
            raise RuleViolation(
                "ladder", "must be ordered by height, highest first, without repeats"
            )
        if (self.segment_seconds / self.gop_seconds) % 1:
            raise RuleViolation(
                "segment_seconds",
                f"({self.segment_seconds}) must be a whole multiple of "
                f"gop_seconds ({self.gop_seconds}) so every segment starts on a keyframe",
            )
        return self


class AdaptiveFormat(Strict):
    enabled: bool = True
    """Write this format's manifest."""


class Packaging(Strict):
    """How HLS and DASH are delivered."""

    mode: Literal["cmaf", "separate"] = Field(
        "cmaf",
        description=(
            "'cmaf': one CMAF group writes both .m3u8 and .mpd over one set of fMP4 segments "
            "(each rendition encoded once). 'separate': an HLS (TS) group and a DASH-ISO group "
            "for legacy players; bills the ladder twice."
        ),
    )
    hls: AdaptiveFormat = Field(default_factory=AdaptiveFormat)
    """HLS (.m3u8) output."""
    dash: AdaptiveFormat = Field(default_factory=AdaptiveFormat)
    """DASH (.mpd) output."""


class Mp4Preview(Strict):
    name: Annotated[str, Field(pattern=RENDITION_NAME_PATTERN)]
    """Name modifier of the file, unique among renditions and previews."""
    height: Annotated[int, Field(ge=96, le=2160)]
    """Frame height in pixels (even); width follows the source's aspect ratio."""
    max_bitrate_kbps: Annotated[int, Field(ge=50, le=40000)]
    """QVBR peak bitrate cap in kb/s."""
    qvbr_level: Annotated[int, Field(ge=1, le=10)] = 7
    """QVBR quality level."""

    @field_validator("height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even for 4:2:0 video")
        return value


class Mp4(Strict):
    """Progressive MP4 files, e.g. for previews and downloads."""

    enabled: bool = True
    """Write progressive MP4 files."""
    previews: Annotated[list[Mp4Preview], Field(min_length=1, max_length=5)] = Field(
        default_factory=lambda: [Mp4Preview(name="preview", height=540, max_bitrate_kbps=2000)]
    )
    """One MP4 file per entry."""


class Thumbnails(Strict):
    """JPEG frame captures and an optional poster image."""

    enabled: bool = True
    """Write JPEG thumbnails."""
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    """One capture every this many seconds."""
    width: Annotated[int, Field(ge=32, le=4096)] = 640
    """Capture width in pixels."""
    height: Annotated[int, Field(ge=32, le=2160)] = 360
    """Capture height in pixels."""
    max_captures: Annotated[int, Field(ge=1, le=10000000)] = 60
    """Most captures per asset."""
    quality: Annotated[int, Field(ge=1, le=100)] = 80
    """JPEG quality, 1-100."""
    poster: bool = Field(True, description="Also write a single poster frame.")


class Formats(Strict):
    packaging: Packaging = Field(default_factory=Packaging)
    """Adaptive streaming (HLS and DASH)."""
    mp4: Mp4 = Field(default_factory=Mp4)
    """Progressive MP4 previews."""
    thumbnails: Thumbnails = Field(default_factory=Thumbnails)
    """Thumbnails and poster."""


class AutomatedAbr(Strict):
    """MediaConvert picks the ladder per title (Professional tier, multi-pass)."""

    enabled: bool = False
    """Let MediaConvert choose the renditions (replaces video.ladder)."""
    max_renditions: Annotated[int, Field(ge=3, le=15)] = 6
    """Most renditions MediaConvert may create."""
    min_bitrate_kbps: Annotated[int, Field(ge=100, le=8000)] = 300
    """Lowest rendition bitrate in kb/s."""
    max_bitrate_kbps: Annotated[int, Field(ge=300, le=8000)] = 6000
    """Highest rendition bitrate in kb/s."""


class Transcoding(Strict):
    job_grouping: Literal["per_format", "per_asset"] = Field(
        "per_format",
        description=(
            "'per_format': one MediaConvert job per format (independent status and retry); "
            "'per_asset': one job with every output group (fewer API calls, all-or-nothing)."
        ),
    )
    acceleration: Literal["disabled", "preferred", "enabled"] = Field(
        "disabled", description="Accelerated transcoding bills the whole job as Professional."
    )
    status_update_interval_seconds: Literal[
        10, 12, 15, 20, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600
    ] = 60
    """How often MediaConvert reports job progress."""
    priority: Annotated[int, Field(ge=-50, le=50)] = 0
    """Job priority in the queue, -50 (last) to 50 (first)."""
    automated_abr: AutomatedAbr = Field(default_factory=AutomatedAbr)
    """Automated ABR ladder (Professional tier)."""
    retry_attempts: Annotated[int, Field(ge=0, le=5)] = Field(
        2, description="Resubmissions of a job that failed with a retryable MediaConvert error."
    )
    retry_base_delay_seconds: Annotated[int, Field(ge=0, le=900)] = 60
    """Delay before the first resubmission; doubles each time (max 900)."""


class Loudness(Strict):
    """Loudness normalisation of every audio output (ITU-R BS.1770-3 measurement)."""

    enabled: bool = True
    """Correct every audio output to the target loudness."""
    target_lkfs: Annotated[float, Field(ge=-59, le=0)] = Field(
        -16.0,
        description=(
            "Integrated loudness target in LKFS (= LUFS). -16 is the streaming level for "
            "phones and laptops (AES TD1004); -23 is EBU R128 broadcast, -24 ATSC A/85."
        ),
    )
    true_peak_dbtp: Annotated[float, Field(ge=-8, le=0)] = Field(
        -1.0, description="True-peak limiter threshold in dBTP (room for lossy encoding)."
    )


class Captions(Strict):
    """Captions carried into the adaptive outputs as WebVTT (TTML for DASH-ISO)."""

    sidecar_extensions: list[Literal["vtt", "srt", "scc"]] = Field(
        default_factory=lambda: ["vtt", "srt", "scc"],
        description=(
            "Caption files looked for beside each upload: same key with this extension; the "
            "first found wins. Empty: no sidecar captions."
        ),
    )
    language: Annotated[str, Field(pattern=r"^[a-z]{3}$")] = Field(
        "eng",
        description=(
            "ISO 639-2 language code of sidecar captions, and of embedded captions whose "
            "language Probe does not report."
        ),
    )
    embedded: bool = Field(
        True, description="Pass through CEA-608/708 captions that Probe finds in the source."
    )


class Quality(Strict):
    """What the pipeline does for HDR, interlaced, loud or quiet and captioned sources."""

    hdr_ladder: bool = Field(
        False,
        description=(
            "For HDR10/HLG sources, also encode an HEVC Main10 HDR ladder (renditions of 720p "
            "and up) next to the tone-mapped SDR ladder; needs packaging mode 'cmaf'."
        ),
    )
    tone_mapping: Literal["auto", "preserve_details", "vibrant"] = Field(
        "auto",
        description=(
            "HDR-to-SDR tone mapper. 'auto': vibrant for HDR10 (AWS's advice for PQ content), "
            "preserve_details for HLG (which MediaConvert applies to HLG in any case)."
        ),
    )
    deinterlace: bool = Field(
        True, description="Deinterlace (adaptive) sources Probe reports as interlaced."
    )
    loudness: Loudness = Field(default_factory=Loudness)
    """Loudness normalisation and true-peak limiting."""
    surround_rendition: bool = Field(
        False,
        description=(
            "For 5.1 sources, also encode a 5.1 AAC audio rendition (384 kb/s) in the CMAF "
            "group; the stereo downmix stays the default. Needs packaging mode 'cmaf'."
        ),
    )
    poster_position_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        30,
        description=(
            "The poster is the thumbnail nearest this point of the video (never the first "
            "frame when the clip has a later capture)."
        ),
    )
    trick_play: bool = Field(
        False,
        description=(
            "Image-based trick play: tiled thumbnails referenced from the HLS and DASH "
            "manifests of the CMAF group (needs packaging mode 'cmaf')."
        ),
    )
    captions: Captions = Field(default_factory=Captions)
    """Sidecar and embedded captions."""


class Transition(Strict):
    days: Annotated[int, Field(ge=0, le=36500)]
    """Age of the object, in days, when it moves."""
    storage_class: StorageClass
    """The S3 storage class it moves to."""


class OutputRetention(Strict):
    transitions: list[Transition] = Field(
        default_factory=lambda: [
            Transition(days=30, storage_class="STANDARD_IA"),
            Transition(days=120, storage_class="GLACIER_IR"),
        ]
    )
    """Storage class transitions, in increasing order of days."""
    expiration_days: Annotated[int, Field(ge=1, le=36500)] | None = Field(
        None, description="Delete outputs after this many days; null keeps them."
    )
    min_transition_size_kb: Annotated[int, Field(ge=0, le=10485760)] = Field(
        128,
        description=(
            "Only objects larger than this move; tiny segments cost more to transition than "
            "they save."
        ),
    )


class UploadRetention(Strict):
    transitions: list[Transition] = Field(
        default_factory=lambda: [Transition(days=30, storage_class="GLACIER_IR")]
    )
    """Storage class transitions of the originals, in increasing order of days."""
    expiration_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    """Delete originals after this many days; null keeps them."""
    noncurrent_version_expiration_days: Annotated[int, Field(ge=1, le=36500)] = 30
    """Delete overwritten or deleted versions after this many days."""
    abort_incomplete_multipart_days: Annotated[int, Field(ge=1, le=365)] = 7
    """Clean up unfinished multipart uploads after this many days."""


class Retention(Strict):
    outputs: OutputRetention = Field(default_factory=OutputRetention)
    """Lifecycle of the outputs bucket."""
    uploads: UploadRetention = Field(default_factory=UploadRetention)
    """Lifecycle of the uploads bucket."""
    access_logs_expiration_days: Annotated[int, Field(ge=1, le=36500)] = 365
    """Delete S3 server access logs after this many days."""


class Queue(Strict):
    """Buffering between uploads and the orchestrator."""

    batch_size: Annotated[int, Field(ge=1, le=100)] = 10
    """Messages per orchestrator invocation."""
    max_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 5
    """How long Lambda waits to fill a batch."""
    max_concurrency: Annotated[int, Field(ge=2, le=1000)] = Field(
        20, description="Most orchestrator instances the queue drives (ProcessingConcurrency)."
    )
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] = 420
    """Processing queue visibility timeout (>= 6 x orchestrator timeout + batching window)."""
    max_receive_count: Annotated[int, Field(ge=2, le=1000)] = 6
    """Receives before a message moves to the dead-letter queue (crash detection needs 2)."""
    message_retention_days: Annotated[int, Field(ge=1, le=14)] = 4
    """How long an unprocessed upload event is kept."""
    dead_letter_retention_days: Annotated[int, Field(ge=1, le=14)] = 14
    """How long a dead-lettered message is kept for redrive."""
    backoff_base_seconds: Annotated[int, Field(ge=1, le=900)] = 30
    """First retry delay of a transient failure; doubles per receive."""
    backoff_max_seconds: Annotated[int, Field(ge=1, le=43200)] = 900
    """Cap of the retry delay."""


class FunctionSettings(Strict):
    memory_mb: Annotated[int, Field(ge=128, le=10240)]
    """Memory in MB (CPU scales with it)."""
    timeout_seconds: Annotated[int, Field(ge=3, le=900)]
    """Timeout of one invocation."""
    reserved_concurrency: Annotated[int, Field(ge=1, le=1000)] | None = None
    """Reserved concurrent executions; null shares the account pool."""


class Lambda(Strict):
    runtime: Literal["python3.12", "python3.13"] = "python3.13"
    """Lambda Python runtime."""
    architecture: Literal["arm64", "x86_64"] = "arm64"
    """arm64 (Graviton) costs less per GB-second than x86_64."""
    log_retention_days: int = 30
    """Retention of the functions' and job events' log groups."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Handler log level."""
    tracing: Literal["Active", "PassThrough"] = "Active"
    """X-Ray tracing mode."""
    orchestrator: FunctionSettings = Field(
        default_factory=lambda: FunctionSettings(memory_mb=512, timeout_seconds=60)
    )
    """ingest-orchestrator function."""
    status_processor: FunctionSettings = Field(
        default_factory=lambda: FunctionSettings(
            memory_mb=256, timeout_seconds=30, reserved_concurrency=None
        )
    )
    """job-status-processor function."""
    reconciler: FunctionSettings = Field(
        default_factory=lambda: FunctionSettings(
            memory_mb=256, timeout_seconds=120, reserved_concurrency=1
        )
    )
    """reconciler function; reserved concurrency 1 keeps to one run at a time."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention_allowed(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


class Reliability(Strict):
    """The reconciler: the scheduled safety net that finishes assets nothing else finished."""

    reconcile_every_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    """How often the reconciler runs."""
    stuck_after_minutes: Annotated[int, Field(ge=15, le=10080)] | None = Field(
        None,
        description=(
            "An asset not final this long after its last update is stuck and the reconciler "
            "finishes it; null derives it from the profile (see docs/architecture.md): the "
            "processing queue's whole retry schedule or a job's update cadence plus its "
            "longest resubmission delay, whichever is longer, and at least 15."
        ),
    )
    crash_limit: Annotated[int, Field(ge=1, le=999)] = Field(
        2,
        description=(
            "Receives of one queue message that may end the orchestrator (out of memory, "
            "timeout, crash) before its asset is FAILED with HANDLER_CRASHED; below "
            "queue.max_receive_count."
        ),
    )
    stuck_alarm_threshold: Annotated[int, Field(ge=1)] = 1
    """Alarm when one reconciler run finds this many stuck assets."""


class Observability(Strict):
    """Where MediaConvert job events are kept."""

    job_event_log: Literal["function", "log_group", "log_group_shared_policy"] = Field(
        "function",
        description=(
            "'function': the job-status processor logs each raw job event in its own log "
            "group (no account-level resource); 'log_group': a job events log group fed by "
            "the job-state rule, with a per-stack CloudWatch Logs resource policy (an account "
            "holds at most 10); 'log_group_shared_policy': the log group and rule target, "
            "relying on one account-wide policy an administrator creates (docs/operations.md)."
        ),
    )


class Database(Strict):
    point_in_time_recovery: bool = True
    """Continuous backups of MediaAssets (35 days)."""
    deletion_protection: bool | None = Field(None, description="null: on in prod, off elsewhere.")


class Alarms(Strict):
    queue_depth: Annotated[int, Field(ge=1)] = 500
    """Alarm when this many uploads wait in the processing queue."""
    oldest_message_age_seconds: Annotated[int, Field(ge=60)] = 1800
    """Alarm when the oldest waiting upload is this old."""
    job_failure_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    """Alarm when this share of MediaConvert jobs fails."""
    lambda_errors: Annotated[int, Field(ge=1)] = 5
    """Alarm when a function errors this many times in the period."""
    evaluation_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    """Period of every alarm."""
    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Subscribed to the alarm topic (each must confirm)."
    )


class Notifications(Strict):
    event_bus: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,256}$")] = Field(
        "default", description="EventBridge bus that receives MediaAsset Processed/Failed."
    )
    sns_on_final_state: bool = Field(
        False, description="Also publish final states to an SNS topic for subscribers."
    )


# --- delivery (CloudFront in front of the outputs bucket) -------------------------------------

# ACM certificates for CloudFront must live in us-east-1, whatever the stack's Region.
ACM_CERTIFICATE_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]{1,128}$"
)
# A WAF web ACL for CloudFront has the CLOUDFRONT scope: it is global and lives in us-east-1.
WEB_ACL_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]{1,128}/[a-f0-9-]{36}$"
)
DOMAIN_NAME_PATTERN = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
# An http(s) origin as a browser sends it in the Origin header: scheme, host, optional port.
CORS_ORIGIN_PATTERN = r"^https?://(\*\.)?[a-z0-9.-]{1,253}(:[0-9]{1,5})?$"
PEM_PUBLIC_KEY_PATTERN = (
    r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]{100,4000}\n?-----END PUBLIC KEY-----\n?$"
)


class CustomDomain(Strict):
    """Serve playback from your own host names instead of the cloudfront.net domain."""

    aliases: Annotated[list[str], Field(min_length=1, max_length=10)]
    """Host names (CNAMEs) of the distribution; the first one is used in playback URLs."""
    certificate_arn: str
    """ARN of an ACM certificate in us-east-1 covering every alias (TLS 1.2 or newer is served)."""

    @field_validator("aliases")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        if value and value[0].startswith("*."):
            raise ValueError(
                "the first alias is the host of playback URLs: it must not be a wildcard"
            )
        for name in value:
            if len(name) > 253 or not re.match(DOMAIN_NAME_PATTERN, name):
                raise ValueError(
                    f"{name!r} is not a lower-case DNS host name (e.g. video.example.com)"
                )
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_in_us_east_1(cls, value: str) -> str:
        if re.match(ACM_CERTIFICATE_ARN_PATTERN, value):
            return value
        region = value.split(":")[3] if value.count(":") >= 5 else ""
        if value.startswith("arn:") and ":acm:" in value and region != "us-east-1":
            raise ValueError(
                f"the certificate is in {region or 'no Region'}; CloudFront only uses ACM "
                "certificates in us-east-1 (request or import one there)"
            )
        raise ValueError(
            "expected an ACM certificate ARN 'arn:aws:acm:us-east-1:<account>:certificate/<id>'"
        )


class GeoRestriction(Strict):
    """Countries that may, or may not, play the outputs."""

    type: Literal["none", "allowlist", "blocklist"] = "none"
    """'allowlist': only these countries; 'blocklist': all but these; 'none': everyone."""
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(default_factory=list)
    """ISO 3166-1 alpha-2 country codes (e.g. DE, US)."""

    @model_validator(mode="after")
    def _countries_match_type(self) -> GeoRestriction:
        if self.type == "none" and self.countries:
            raise RuleViolation("countries", "must be empty when type is 'none'")
        if self.type != "none" and not self.countries:
            raise RuleViolation("countries", f"must name at least one country for '{self.type}'")
        return self


class SignedDelivery(Strict):
    """Only viewers holding a CloudFront signed URL or signed cookies can play."""

    enabled: bool = False
    """Require signed URLs or cookies on every request."""
    public_key_pem: str = ""
    """PEM ('-----BEGIN PUBLIC KEY-----...') of the RSA key pair your backend signs with; the
    stack parameter DeliveryPublicKeyPem defaults to it."""

    @model_validator(mode="after")
    def _key_when_enabled(self) -> SignedDelivery:
        if self.enabled and not re.match(PEM_PUBLIC_KEY_PATTERN, self.public_key_pem):
            raise RuleViolation(
                "public_key_pem",
                "signed delivery needs the PEM of an RSA public key "
                "('-----BEGIN PUBLIC KEY-----' ... '-----END PUBLIC KEY-----')",
            )
        return self


class Delivery(Strict):
    """A CloudFront distribution in front of the outputs bucket (docs/delivery.md)."""

    enabled: bool = False
    """Add the distribution, and playback URLs to each processed asset."""
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = Field(
        "PriceClass_100",
        description=(
            "Edge locations used: 100 (North America, Europe, Israel), 200 (adds most of Asia, "
            "the Middle East and Africa) or All."
        ),
    )
    manifest_ttl_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        30,
        description=(
            "How long edges cache .m3u8, .mpd and manifest.json (a re-processed asset's "
            "manifests are seen within this time); segments, MP4 and images are cached long."
        ),
    )
    cors_allowed_origins: Annotated[list[str], Field(min_length=1, max_length=50)] = Field(
        default_factory=lambda: ["*"],
        description=(
            "Origins of the web pages whose players may fetch the outputs; '*' allows any page "
            "(public delivery only: signed cookies need the exact origins)."
        ),
    )
    origin_shield_region: Annotated[str, Field(pattern=r"^$|^[a-z]{2}(-[a-z]+)+-[0-9]$")] = Field(
        "", description="Region of an Origin Shield cache in front of the bucket; empty: none."
    )
    geo_restriction: GeoRestriction = Field(default_factory=GeoRestriction)
    """Country allow or block list."""
    web_acl_arn: str = Field(
        "",
        description="ARN of a WAF web ACL (CLOUDFRONT scope, us-east-1) to attach; empty: none.",
    )
    custom_domain: CustomDomain | None = None
    """Your own host names and their ACM certificate; null: the cloudfront.net domain."""
    signed: SignedDelivery = Field(default_factory=SignedDelivery)
    """Signed URLs or cookies."""

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.match(CORS_ORIGIN_PATTERN, origin):
                raise ValueError(
                    f"{origin!r} is not an origin: expected '*' or 'https://host[:port]' "
                    "(scheme and host, no path)"
                )
        if "*" in value and len(value) > 1:
            raise ValueError("'*' allows every origin; it cannot be combined with others")
        return value

    @field_validator("web_acl_arn")
    @classmethod
    def _web_acl(cls, value: str) -> str:
        if value and not re.match(WEB_ACL_ARN_PATTERN, value):
            raise ValueError(
                "expected empty or a WAFv2 web ACL ARN with CLOUDFRONT scope "
                "'arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>'"
            )
        return value

    @model_validator(mode="after")
    def _signed_needs_exact_origins(self) -> Delivery:
        # Signed cookies travel only on credentialed requests, and browsers refuse a
        # credentialed response whose Access-Control-Allow-Origin is '*'.
        if self.signed.enabled and self.cors_allowed_origins == ["*"]:
            raise RuleViolation(
                "cors_allowed_origins",
                "must list the players' origins (e.g. https://www.example.com) when "
                "signed.enabled is true: signed cookies need credentialed CORS, which '*' denies",
            )
        return self


# --- capacity: MediaConvert queues, routing, priority, in-flight budgets ----------------------

# The stack's own on-demand queue, as routes name it.
STACK_QUEUE = "stack"
QUEUE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,30}$"
# An existing queue, in the stack's region and account (checked at deploy by a Rule).
QUEUE_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:mediaconvert:[a-z0-9-]+:[0-9]{12}:queues/[A-Za-z0-9_-]{1,128}$"
)
PATTERN_HELP[QUEUE_NAME_PATTERN] = "1-31 lower-case letters, digits or '_', starting with a letter"
PATTERN_HELP[QUEUE_ARN_PATTERN] = (
    "a MediaConvert queue ARN: arn:aws:mediaconvert:REGION:ACCOUNT:queues/NAME"
)
# Jobs an asset gets, as routes and priorities name them (contract.Format values).
JOB_KINDS = ("cmaf", "hls", "dash", "mp4", "thumbnails", "all")
JobKind = Literal["cmaf", "hls", "dash", "mp4", "thumbnails", "all"]
# The in-flight budget of an on-demand queue when the profile gives none: the concurrent jobs
# the example queue of the MediaConvert guide runs; set it to your account's "Concurrent jobs
# per on-demand queue" quota (Service Quotas console), which is the true ceiling.
DEFAULT_ON_DEMAND_BUDGET = 100
# Held budget entries live in one DynamoDB item per queue (400 KB): far below this many.
MAX_IN_FLIGHT_BUDGET = 2000


class ExistingQueue(Strict):
    """A MediaConvert queue the stack does not create (e.g. a reserved queue)."""

    arn: Annotated[str, Field(pattern=QUEUE_ARN_PATTERN)]
    """The queue's ARN; it must be in the stack's account and region."""
    reserved_slots: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT_BUDGET)] | None = None
    """Reserved transcode slots bought for it; null for an on-demand queue."""
    spill_backlog: Annotated[int, Field(ge=0, le=MAX_IN_FLIGHT_BUDGET)] = 0
    """Reserved queues: jobs allowed to wait for a slot before new jobs spill to the next
    queue of their route."""
    in_flight_budget: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT_BUDGET)] | None = None
    """On-demand queues: jobs submitted and not yet finished, at most (null: 100). Reserved
    queues take reserved_slots + spill_backlog."""

    @model_validator(mode="after")
    def _one_kind_of_budget(self) -> ExistingQueue:
        if self.reserved_slots is not None and self.in_flight_budget is not None:
            raise RuleViolation(
                "in_flight_budget",
                "a reserved queue's budget is reserved_slots + spill_backlog; remove one of them",
            )
        if self.reserved_slots is None and self.spill_backlog:
            raise RuleViolation("spill_backlog", "applies to reserved queues (reserved_slots) only")
        return self

    @property
    def budget(self) -> int:
        if self.reserved_slots is not None:
            return min(MAX_IN_FLIGHT_BUDGET, self.reserved_slots + self.spill_backlog)
        return self.in_flight_budget or DEFAULT_ON_DEMAND_BUDGET


class Routing(Strict):
    """Which queues a job may go to, tried in order: the first with budget left takes it."""

    default: Annotated[
        list[Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]], Field(min_length=1, max_length=6)
    ] = Field(default_factory=lambda: [STACK_QUEUE])
    """Route of every job kind not listed under by_job_kind ('stack' is the stack's queue)."""
    by_job_kind: dict[
        JobKind,
        Annotated[
            list[Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]],
            Field(min_length=1, max_length=6),
        ],
    ] = Field(default_factory=dict)
    """Routes of particular job kinds, e.g. mp4: [stack] keeps previews off a reserved queue."""


class UploaderClass(Strict):
    """Uploaders whose jobs get a priority adjustment."""

    name: Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]
    """The class's name (logs and metrics)."""
    uploaders: Annotated[
        list[Annotated[str, Field(pattern=r"^[A-Za-z0-9!_.*'()?\[\]-]{1,200}$")]],
        Field(min_length=1, max_length=50),
    ]
    """Uploader ids, shell-style patterns allowed ('backfill-*')."""
    priority: Annotated[int, Field(ge=-100, le=100)]
    """Added to the job's priority; the sum is kept within MediaConvert's -50..50."""


class JobPriority(Strict):
    """MediaConvert job priority: transcoding.priority + job kind + uploader class."""

    by_job_kind: dict[JobKind, Annotated[int, Field(ge=-100, le=100)]] = Field(default_factory=dict)
    """Added for a job kind, e.g. cmaf: 10, mp4: -10 (previews wait behind the ladder)."""
    uploader_classes: Annotated[list[UploaderClass], Field(max_length=20)] = Field(
        default_factory=list
    )
    """Uploader classes; the first that matches an asset's uploader applies."""


# --- capacity.fallback: a secondary MediaConvert region behind a circuit breaker -----------

# Regions with MediaConvert (botocore's endpoint data for the aws partition; a unit test keeps
# the two equal).
MEDIACONVERT_REGIONS = (
    "af-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
MediaConvertRegion = Literal[MEDIACONVERT_REGIONS]  # type: ignore[valid-type]


class Fallback(Strict):
    """Jobs go to MediaConvert in a secondary region while the primary keeps failing.

    The stack's region must differ from ``region``: a CloudFormation Rule refuses the deploy
    otherwise (the stack's region is known only then)."""

    region: MediaConvertRegion
    """The secondary region's name, e.g. us-west-2; a region with MediaConvert."""
    queue_arn: Annotated[str, Field(pattern=QUEUE_ARN_PATTERN)] | None = None
    """A queue in the secondary region (null: that region's Default queue)."""
    in_flight_budget: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT_BUDGET)] = (
        DEFAULT_ON_DEMAND_BUDGET
    )
    """Jobs submitted to the secondary queue and not yet finished, at most."""
    open_after_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    """CreateJob failures of the primary (throttled after the SDK's retries, or a 5xx) within
    failure_window_seconds that open the breaker."""
    failure_window_seconds: Annotated[int, Field(ge=10, le=3600)] = 120
    """The window in which failures are counted; an older count starts again at one."""
    open_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    """How long the breaker stays open before one job probes the primary again."""

    @model_validator(mode="after")
    def _queue_in_region(self) -> Fallback:
        if self.queue_arn is not None and self.queue_arn.split(":")[3] != self.region:
            raise RuleViolation(
                "queue_arn", f"must be a queue in the fallback region {self.region}"
            )
        return self


class Capacity(Strict):
    """MediaConvert capacity: queues, routing, priorities and in-flight budgets."""

    stack_queue_budget: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT_BUDGET)] = (
        DEFAULT_ON_DEMAND_BUDGET
    )
    """In-flight budget of the stack's own on-demand queue: jobs submitted to it and not yet
    finished, at most. Keep it at or under the account's 'Concurrent jobs per on-demand queue'
    quota (100 is the guide's example queue; check Service Quotas)."""
    queues: dict[Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)], ExistingQueue] = Field(
        default_factory=dict, max_length=5
    )
    """Existing queues by the name routes use ('stack' is taken by the stack's own queue)."""
    routing: Routing = Field(default_factory=Routing)
    """Queue order per job kind."""
    priority: JobPriority = Field(default_factory=JobPriority)
    """Job priority adjustments."""
    full_retry_seconds: Annotated[int, Field(ge=10, le=900)] = 60
    """When every queue of a job's route is at its budget, the asset is looked at again after
    this many seconds."""
    fallback: Fallback | None = None
    """A secondary MediaConvert region for jobs while the primary keeps throttling or failing
    (null: no fallback)."""

    @model_validator(mode="after")
    def _routes_name_known_queues(self) -> Capacity:
        if STACK_QUEUE in self.queues:
            raise RuleViolation(
                f"queues.{STACK_QUEUE}", "'stack' names the stack's own queue; choose another name"
            )
        known = {STACK_QUEUE, *self.queues}
        routes = {"routing.default": self.routing.default}
        routes |= {f"routing.by_job_kind.{k}": v for k, v in self.routing.by_job_kind.items()}
        for where, route in routes.items():
            for index, name in enumerate(route):
                if name not in known:
                    raise RuleViolation(
                        f"{where}[{index}]",
                        f"unknown queue {name!r}; allowed: {', '.join(sorted(known))}",
                    )
            if len(set(route)) != len(route):
                raise RuleViolation(where, "names a queue twice")
        arns = [q.arn for q in self.queues.values()]
        if len(set(arns)) != len(arns):
            raise RuleViolation("queues", "two entries name the same queue ARN")
        # Every queue must be in the stack's region and account, so all in the same ones.
        self._fallback_in_same_account(arns)
        places = {tuple(arn.split(":")[3:5]) for arn in arns}
        if len(places) > 1:
            listed = ", ".join(f"{region} in {account}" for region, account in sorted(places))
            raise RuleViolation(
                "queues", f"must all be in the stack's region and account; they are in {listed}"
            )
        return self

    def _fallback_in_same_account(self, arns: list[str]) -> None:
        """The fallback queue's account must be that of the other queues (the stack's)."""
        fallback_arn = self.fallback.queue_arn if self.fallback else None
        if fallback_arn is None:
            return
        accounts = {arn.split(":")[4] for arn in arns}
        if accounts and accounts != {fallback_arn.split(":")[4]}:
            raise RuleViolation(
                "fallback.queue_arn", "must be in the account of the other queues (the stack's)"
            )

    def budgets(self) -> dict[str, int]:
        """Queue name -> in-flight budget, the stack's queue first."""
        return {STACK_QUEUE: self.stack_queue_budget} | {
            name: queue.budget for name, queue in sorted(self.queues.items())
        }


class Profile(Strict):
    """A complete description of one pipeline deployment."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "default"
    """Profile name; shown in the template description."""
    description: Annotated[
        str, Field(max_length=DESCRIPTION_MAX_LENGTH, pattern=r"^[^\x00-\x1f\x7f]*$")
    ] = "The default pipeline."
    """One line on what this profile is for (it ends the template's Description)."""
    environment: Literal["dev", "test", "prod"] = "dev"
    """Deployment environment; prod turns on deletion protection and Retain policies."""
    naming: Naming = Field(default_factory=Naming)
    """Resource naming."""
    encryption: Encryption = Field(default_factory=Encryption)
    """KMS encryption."""
    ingest: Ingest = Field(default_factory=Ingest)
    """Accepted uploads."""
    video: Video = Field(default_factory=Video)
    """Video encoding and the bitrate ladder."""
    audio: Audio = Field(default_factory=Audio)
    """Audio encoding."""
    formats: Formats = Field(default_factory=Formats)
    """Output formats."""
    output_path: str = Field(
        "{uploaderId}/{assetId}/",
        description="Prefix of an asset's outputs; placeholders {uploaderId} and {assetId}.",
    )
    transcoding: Transcoding = Field(default_factory=Transcoding)
    """MediaConvert job options."""
    quality: Quality = Field(default_factory=Quality)
    """Colour, deinterlacing, loudness, poster, trick play and captions."""
    retention: Retention = Field(default_factory=Retention)
    """S3 lifecycle rules."""
    queue: Queue = Field(default_factory=Queue)
    """SQS buffering, retries and concurrency."""
    functions: Lambda = Field(default_factory=Lambda)
    """Lambda settings."""
    database: Database = Field(default_factory=Database)
    """MediaAssets table."""
    alarms: Alarms = Field(default_factory=Alarms)
    """CloudWatch alarm thresholds and e-mail subscribers."""
    notifications: Notifications = Field(default_factory=Notifications)
    """Downstream notifications of final asset states."""
    reliability: Reliability = Field(default_factory=Reliability)
    """The reconciler that finishes stuck assets and owed announcements."""
    delivery: Delivery = Field(default_factory=Delivery)
    """CloudFront delivery of the outputs to players."""
    observability: Observability = Field(default_factory=Observability)
    """Where MediaConvert job events are logged."""
    capacity: Capacity | None = None
    """MediaConvert queues, routing, job priorities and in-flight budgets (null: every job goes
    to the stack's on-demand queue, paced by queue.max_concurrency alone)."""
    tags: dict[
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")],
        Annotated[str, Field(max_length=256)],
    ] = Field(default_factory=dict)
    """Tags added to every taggable resource."""

    @field_validator("output_path")
    @classmethod
    def _output_path(cls, value: str) -> str:
        unknown = set(re.findall(r"{([^}]*)}", value)) - {"uploaderId", "assetId"}
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: assetId, uploaderId"
            )
        if "{assetId}" not in value:
            raise ValueError("must contain {assetId} so assets never share a prefix")
        if value.startswith("/") or not value.endswith("/"):
            raise ValueError("must not start with '/' and must end with '/'")
        if len(value) > OUTPUT_PATH_MAX_LENGTH:
            raise ValueError(f"is {len(value)} characters; at most {OUTPUT_PATH_MAX_LENGTH}")
        if re.search(r"[\x00-\x1f\x7f\\]", value):
            raise ValueError("must not contain control characters or '\\'")
        # '.', '..' and empty segments make S3 keys that tools resolve to another prefix.
        if any(segment in ("", ".", "..") for segment in value[:-1].split("/")):
            raise ValueError("must not contain '.', '..' or empty ('//') path segments")
        return value

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.lower().startswith("aws:"))
        if reserved:
            raise ValueError(f"keys starting with 'aws:' are reserved by AWS: {reserved}")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Profile:
        packaging = self.formats.packaging
        if not (packaging.hls.enabled or packaging.dash.enabled or self.formats.mp4.enabled):
            raise RuleViolation(
                "formats",
                "at least one video output must be enabled: packaging.hls, packaging.dash or mp4",
            )
        minimum_visibility = (
            6 * self.functions.orchestrator.timeout_seconds + self.queue.max_batching_window_seconds
        )
        if self.queue.visibility_timeout_seconds < minimum_visibility:
            raise RuleViolation(
                "queue.visibility_timeout_seconds",
                f"{self.queue.visibility_timeout_seconds} is too short: AWS recommends at least "
                "6 x functions.orchestrator.timeout_seconds + queue.max_batching_window_seconds "
                f"= {minimum_visibility} for an SQS event source",
            )
        if self.queue.backoff_max_seconds < self.queue.backoff_base_seconds:
            raise RuleViolation(
                "queue.backoff_max_seconds", "must be >= queue.backoff_base_seconds"
            )
        if self.queue.batch_size > 10 and self.queue.max_batching_window_seconds < 1:
            raise RuleViolation(
                "queue.max_batching_window_seconds",
                "must be at least 1 when queue.batch_size is above 10 (a Lambda rule for SQS)",
            )
        reserved = self.functions.orchestrator.reserved_concurrency
        if reserved is not None and reserved < self.queue.max_concurrency:
            raise RuleViolation(
                "functions.orchestrator.reserved_concurrency",
                f"({reserved}) must be at least queue.max_concurrency "
                f"({self.queue.max_concurrency}); otherwise throttled batches use up their "
                "receive count and land in the dead-letter queue",
            )
        crash_limit, receives = self.reliability.crash_limit, self.queue.max_receive_count
        if crash_limit > receives - 1:
            raise RuleViolation(
                "reliability.crash_limit",
                f"({crash_limit}) must be between 1 and queue.max_receive_count - 1 "
                f"({receives - 1}): a message must be able to end its asset FAILED before it "
                "reaches the dead-letter queue",
            )
        abr = self.transcoding.automated_abr
        if abr.enabled and abr.min_bitrate_kbps >= abr.max_bitrate_kbps:
            raise RuleViolation(
                "transcoding.automated_abr.min_bitrate_kbps", "must be below max_bitrate_kbps"
            )
        if self.queue.dead_letter_retention_days < self.queue.message_retention_days:
            # SQS keeps a message's original enqueue time when it moves to the dead-letter queue.
            raise RuleViolation(
                "queue.dead_letter_retention_days",
                f"({self.queue.dead_letter_retention_days}) must be at least "
                f"queue.message_retention_days ({self.queue.message_retention_days}): a message "
                "keeps its age when dead-lettered, so a shorter retention deletes it on arrival",
            )
        self._check_output_names()
        self._check_preview_heights()
        self._check_quality_options()
        for which in ("outputs", "uploads"):
            rules: OutputRetention | UploadRetention = getattr(self.retention, which)
            _check_transitions(f"retention.{which}", rules.transitions, rules.expiration_days)
        return self

    def _check_output_names(self) -> None:
        """Rendition and preview names become file name modifiers: they must not collide."""
        seen = {r.name for r in self.video.ladder}
        for index, preview in enumerate(self.formats.mp4.previews):
            if preview.name in seen:
                raise RuleViolation(
                    f"formats.mp4.previews[{index}].name",
                    f"'{preview.name}' is already used by another rendition or preview",
                )
            seen.add(preview.name)

    def _check_preview_heights(self) -> None:
        """A preview taller than the ladder's top rung would be upscaled past every rendition."""
        if not self.formats.mp4.enabled or self.transcoding.automated_abr.enabled:
            return
        top = max(r.height for r in self.video.ladder)
        for index, preview in enumerate(self.formats.mp4.previews):
            if preview.height > top:
                raise RuleViolation(
                    f"formats.mp4.previews[{index}].height",
                    f"({preview.height}) is taller than the ladder's highest rendition "
                    f"({top}); at most {top}",
                )

    def _check_quality_options(self) -> None:
        """HDR ladders, 5.1 renditions and trick play live in the CMAF group only."""
        quality, packaging = self.quality, self.formats.packaging
        for option in ("hdr_ladder", "surround_rendition", "trick_play"):
            if getattr(quality, option) and packaging.mode != "cmaf":
                raise RuleViolation(
                    f"quality.{option}",
                    f"needs formats.packaging.mode 'cmaf' (got '{packaging.mode}')",
                )
        if quality.hdr_ladder and self.transcoding.automated_abr.enabled:
            raise RuleViolation(
                "quality.hdr_ladder", "cannot be combined with transcoding.automated_abr"
            )

    @property
    def stuck_after_seconds(self) -> int:
        """The reconciler's deadline: the profile's value or :func:`derived_stuck_after_minutes`."""
        minutes = self.reliability.stuck_after_minutes
        return 60 * (derived_stuck_after_minutes(self) if minutes is None else minutes)

    @property
    def deletion_protection(self) -> bool:
        configured = self.database.deletion_protection
        return self.environment == "prod" if configured is None else configured


def _check_transitions(where: str, transitions: list[Transition], expiration: int | None) -> None:
    """Transitions must move forward in time and respect each class's billing minimums."""
    previous: Transition | None = None
    for index, step in enumerate(transitions):
        path = f"{where}.transitions[{index}].days"
        min_age = STORAGE_CLASS_MIN_AGE_DAYS.get(step.storage_class, 0)
        if step.days < min_age:
            raise RuleViolation(
                path, f"S3 moves objects to {step.storage_class} only after {min_age} days"
            )
        if previous is not None:
            if step.days <= previous.days:
                raise RuleViolation(
                    path, f"must be greater than the previous transition's {previous.days}"
                )
            _check_minimum_stay(path, previous, step.days)
        previous = step
    if expiration is not None and previous is not None:
        path = f"{where}.expiration_days"
        if expiration <= previous.days:
            raise RuleViolation(path, f"must be after the last transition ({previous.days} days)")
        _check_minimum_stay(path, previous, expiration)


def _check_minimum_stay(path: str, previous: Transition, leaves_at: int) -> None:
    stay = STORAGE_CLASS_MIN_DAYS[previous.storage_class]
    if leaves_at - previous.days < stay:
        raise RuleViolation(
            path,
            f"objects would leave {previous.storage_class} after {leaves_at - previous.days} "
            f"days, before its {stay}-day minimum storage charge (at least {previous.days + stay})",
        )


# Never below this: a deadline shorter than a few reconciler runs only makes noise.
MIN_STUCK_AFTER_MINUTES = 15
# Job resubmission delays are capped like this in the handlers.
JOB_RETRY_MAX_DELAY_SECONDS = 900
# Status updates a running job may miss (EventBridge delivers late, rarely out of order)
# before its asset looks stuck.
MISSED_STATUS_UPDATES = 2


def _doubling_delay(attempt: int, base: int, cap: int) -> int:
    """The handlers' backoff: base, 2 x base, 4 x base ... capped (0 before the first)."""
    return 0 if attempt < 1 else min(cap, base * 2 ** min(attempt - 1, 30))


def derived_stuck_after_minutes(profile: Profile) -> int:
    """How long an asset may go without an update while nothing is wrong, in whole minutes.

    The longer of two waits, so that neither ordinary path can look stuck:

    * a message's whole retry schedule on the processing queue: every receive until the
      dead-letter queue holds the message invisible for the visibility timeout (a receive
      that crashed) or the orchestrator's timeout plus its backoff (a transient failure),
      whichever is longer, after the batching window;
    * a running job's update cadence: ``MISSED_STATUS_UPDATES`` status updates, plus the
      longest delay before a failed job is resubmitted.
    """
    queue, orchestrator = profile.queue, profile.functions.orchestrator
    transcoding = profile.transcoding
    receives = queue.max_receive_count
    message_schedule = queue.max_batching_window_seconds + sum(
        max(
            queue.visibility_timeout_seconds,
            orchestrator.timeout_seconds
            + (
                0
                if receive == receives
                else _doubling_delay(receive, queue.backoff_base_seconds, queue.backoff_max_seconds)
            ),
        )
        for receive in range(1, receives + 1)
    )
    job_cadence = MISSED_STATUS_UPDATES * transcoding.status_update_interval_seconds + (
        _doubling_delay(
            transcoding.retry_attempts,
            transcoding.retry_base_delay_seconds,
            JOB_RETRY_MAX_DELAY_SECONDS,
        )
    )
    longest = max(message_schedule, job_cadence)
    return max(MIN_STUCK_AFTER_MINUTES, -(-longest // 60))
