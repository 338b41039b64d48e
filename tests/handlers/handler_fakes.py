"""Test doubles for what moto does not provide: MediaConvert, and the Lambda context.

:class:`FakeMediaConvert` behaves like the parts of the service the orchestrator uses. Every
``CreateJob`` request is checked against the MediaConvert service model with the strict
validator (a finding fails the test at the call), ``ClientRequestToken`` is honoured for a
minute like the real service, and :meth:`FakeMediaConvert.job_event` produces the EventBridge
events a job would emit, with output paths derived from the job's own settings.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_cfn.mediaconvert.validator import (
    validate_create_job_request,
    validate_probe_request,
)

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
ACCOUNT = "123456789012"
REGION = "us-east-1"
TOKEN_WINDOW = timedelta(minutes=1)

_ERROR_STATUS = {
    "BadRequestException": 400,
    "ForbiddenException": 403,
    "NotFoundException": 404,
    "ConflictException": 409,
    "UnprocessableEntityException": 422,
    "TooManyRequestsException": 429,
    "InternalServerErrorException": 500,
}


@functools.cache
def _mediaconvert_model() -> Any:
    # Loaded once: the model is large, and the property test makes thousands of calls.
    import botocore.session

    return botocore.session.get_session().get_service_model("mediaconvert")


def _validate(operation: str, request: Mapping[str, Any]) -> None:
    """Check ``request`` against the operation's input shape in botocore's model."""
    from botocore.validate import ParamValidator

    model = _mediaconvert_model()
    report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def load_event(relative: str) -> dict[str, Any]:
    """A JSON event from tests/events/."""
    return json.loads((EVENTS_DIR / relative).read_text(encoding="utf-8"))


def client_error(code: str, operation: str, message: str = "injected") -> ClientError:
    status = _ERROR_STATUS.get(code, 400)
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def probe_result(
    width: int | None = 1920,
    height: int | None = 1080,
    *,
    rotation: int = 0,
    duration: float = 60.0,
    video: bool = True,
    audio: bool = True,
) -> dict[str, Any]:
    """One ``ProbeResults`` element shaped like the service's answer."""
    tracks: list[dict[str, Any]] = []
    if video:
        tracks.append(
            {
                "Index": 1,
                "TrackType": "video",
                "Codec": "H_264",
                "Duration": duration,
                "VideoProperties": {
                    "Width": width,
                    "Height": height,
                    "Rotation": rotation,
                    "FrameRate": {"Numerator": 30000, "Denominator": 1001},
                    "BitDepth": 8,
                },
            }
        )
    if audio:
        tracks.append(
            {
                "Index": 2,
                "TrackType": "audio",
                "Codec": "AAC",
                "Duration": duration,
                "AudioProperties": {"Channels": 2, "SampleRate": 48000, "BitDepth": 16},
            }
        )
    return {
        "Container": {"Format": "mp4", "Duration": duration, "Tracks": tracks},
        "Metadata": {"MimeType": "video/mp4"},
    }


@dataclass
class FakeJob:
    id: str
    request: dict[str, Any]
    created_at: datetime
    status: str = "SUBMITTED"
    error_code: int | None = None
    duration_ms: int = 60_000
    # What the job read when it started (see FakeMediaConvert.read_input): the object's
    # version id and bytes, or None when the input did not exist.
    input_version_id: str | None = None
    input_bytes: bytes | None = None

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.request.get("UserMetadata") or {})


@dataclass
class FakeMediaConvert:
    """The MediaConvert operations the orchestrator calls, validated against the model."""

    queue_arn: str = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/test-queue"
    # The region this MediaConvert serves (one fake per region; job ARNs and events name it).
    region: str = REGION
    probe_by_uri: dict[str, Any] = field(default_factory=dict)
    default_probe: dict[str, Any] = field(default_factory=probe_result)
    jobs: list[FakeJob] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    create_job_findings: list[str] = field(default_factory=list)
    now: Any = None  # callable returning the current time; datetime.now(UTC) by default
    # Raised right after the next CreateJob has created its job: the caller dies before it
    # learns the job id (a Lambda timeout or crash at the worst possible moment).
    crash_after_create: BaseException | None = None
    # Reads a job's input when the job starts: uri -> (version id, bytes), None if missing.
    # Lets a test check which S3 object version each job transcoded.
    read_input: Any = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------------ control

    def fail_next(self, operation: str, *errors: Exception) -> None:
        """Raise ``errors`` (one per call) on the next calls of ``operation``."""
        self.failures.setdefault(operation, []).extend(errors)

    def _maybe_fail(self, operation: str) -> None:
        queued = self.failures.get(operation)
        if queued:
            raise queued.pop(0)

    @property
    def _id_tag(self) -> str:
        """Job ids differ between regions, as the real service's random ids do."""
        return "fake" if self.region == REGION else "fake-" + self.region.replace("-", "")

    def _now(self) -> datetime:
        return self.now() if self.now else datetime.now(UTC)

    # ------------------------------------------------------------------ API

    def probe(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("Probe", request))
        findings = validate_probe_request(request)
        assert not findings, [str(f) for f in findings]
        self._maybe_fail("Probe")
        results = []
        for input_file in request["InputFiles"]:
            answer = self.probe_by_uri.get(input_file["FileUrl"], self.default_probe)
            if isinstance(answer, Exception):
                raise answer
            results.append(copy.deepcopy(answer))
        return {"ProbeResults": results}

    def create_job(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("CreateJob", copy.deepcopy(request)))
        findings = [str(f) for f in validate_create_job_request(request)]
        self.create_job_findings.extend(findings)
        assert not findings, findings
        self._maybe_fail("CreateJob")
        now = self._now()
        token = request.get("ClientRequestToken")
        for job in self.jobs:
            if (
                token
                and job.request.get("ClientRequestToken") == token
                and now - job.created_at < TOKEN_WINDOW
            ):
                return {"Job": self._describe(job)}
        job = FakeJob(
            id=f"{1700000000000 + next(self._ids)}-{self._id_tag}{len(self.jobs):04d}",
            request=copy.deepcopy(request),
            created_at=now,
        )
        if self.read_input is not None:
            read = self.read_input(request["Settings"]["Inputs"][0]["FileInput"])
            if read is not None:
                job.input_version_id, job.input_bytes = read
        self.jobs.append(job)
        if self.crash_after_create is not None:
            crash, self.crash_after_create = self.crash_after_create, None
            raise crash
        return {"Job": self._describe(job)}

    def list_jobs(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("ListJobs", request))
        self._maybe_fail("ListJobs")
        queue = request.get("Queue")
        jobs = [j for j in self.jobs if queue in (None, j.request["Queue"])]
        jobs.sort(key=lambda j: j.created_at, reverse=request.get("Order") != "ASCENDING")
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 20)
        page = jobs[start : start + size]
        answer: dict[str, Any] = {"Jobs": [self._describe(j) for j in page]}
        if start + size < len(jobs):
            answer["NextToken"] = str(start + size)
        return answer

    def search_jobs(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("SearchJobs", request))
        _validate("SearchJobs", request)
        self._maybe_fail("SearchJobs")
        wanted = request.get("InputFile")
        queue = request.get("Queue")
        jobs = [
            j
            for j in self.jobs
            if queue in (None, j.request["Queue"])
            and (wanted is None or wanted in j.request["Settings"]["Inputs"][0]["FileInput"])
        ]
        jobs.sort(key=lambda j: j.created_at, reverse=request.get("Order") != "ASCENDING")
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 20)
        answer: dict[str, Any] = {"Jobs": [self._describe(j) for j in jobs[start : start + size]]}
        if start + size < len(jobs):
            answer["NextToken"] = str(start + size)
        return answer

    def get_job(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("GetJob", request))
        _validate("GetJob", request)
        self._maybe_fail("GetJob")
        return {"Job": self._describe(self._job(request["Id"]))}

    def cancel_job(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("CancelJob", request))
        _validate("CancelJob", request)
        self._maybe_fail("CancelJob")
        job = self._job(request["Id"])
        if job.status not in ("SUBMITTED", "PROGRESSING"):
            raise client_error("ConflictException", "CancelJob", "the job has finished")
        job.status = "CANCELED"
        return {}

    def get_queue(self, **request: Any) -> dict[str, Any]:
        """The queue's status and its jobs waiting and running (what the console shows)."""
        self.calls.append(("GetQueue", request))
        _validate("GetQueue", request)
        self._maybe_fail("GetQueue")
        arn = self.queue_arn
        if request["Name"] != arn.rsplit("/", 1)[-1]:
            raise client_error("NotFoundException", "GetQueue", f"no queue {request['Name']}")
        mine = [j for j in self.jobs if j.request["Queue"] == arn]
        return {
            "Queue": {
                "Arn": arn,
                "Name": request["Name"],
                "Status": "ACTIVE",
                "PricingPlan": "ON_DEMAND",
                "Type": "CUSTOM",
                "SubmittedJobsCount": sum(j.status == "SUBMITTED" for j in mine),
                "ProgressingJobsCount": sum(j.status == "PROGRESSING" for j in mine),
            }
        }

    def finish(self, job: FakeJob, status: str, error_code: int | None = None) -> None:
        """The service finishes ``job`` (what GetJob reports from now on)."""
        job.status, job.error_code = status, error_code

    def _job(self, job_id: str) -> FakeJob:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise client_error("NotFoundException", "GetJob", f"no job {job_id}")

    def _describe(self, job: FakeJob) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "Id": job.id,
            "Arn": f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobs/{job.id}",
            "CreatedAt": job.created_at,
            "Queue": job.request["Queue"],
            "Role": job.request["Role"],
            "Settings": job.request["Settings"],
            "UserMetadata": job.metadata,
            "Status": job.status,
        }
        if job.status == "COMPLETE":
            answer["OutputGroupDetails"] = [
                {"OutputDetails": [{"DurationInMs": job.duration_ms} for _ in group["Outputs"]]}
                for group in job.request["Settings"]["OutputGroups"]
            ]
        if job.error_code is not None:
            answer["ErrorCode"] = job.error_code
            answer["ErrorMessage"] = f"injected error {job.error_code}"
        return answer

    # ------------------------------------------------------------------ events

    def submitted(self, operation: str = "CreateJob") -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    def job_for(self, asset_id: str, job_format: str, attempt: int = 1) -> FakeJob:
        matches = [
            j
            for j in self.jobs
            if j.metadata.get("mediapipeAssetId") == asset_id
            and j.metadata.get("mediapipeFormat") == job_format
            and j.metadata.get("mediapipeAttempt") == str(attempt)
        ]
        assert len(matches) == 1, f"{len(matches)} jobs for {asset_id}/{job_format}/{attempt}"
        return matches[0]

    def job_event(
        self,
        job: FakeJob,
        status: str,
        *,
        timestamp_ms: int | None = None,
        duration_ms: int = 60_000,
        **detail: Any,
    ) -> dict[str, Any]:
        """The EventBridge ``MediaConvert Job State Change`` event of ``job``."""
        stamp = timestamp_ms if timestamp_ms is not None else int(self._now().timestamp() * 1000)
        body: dict[str, Any] = {
            "timestamp": stamp,
            "accountId": ACCOUNT,
            "queue": job.request["Queue"],
            "jobId": job.id,
            "status": status,
            "userMetadata": job.metadata,
        }
        if status == "COMPLETE":
            body["outputGroupDetails"] = complete_output_details(
                job.request["Settings"], duration_ms
            )
            body.setdefault("warnings", [])
        elif status == "STATUS_UPDATE":
            body["framesDecoded"] = 900
            body["jobProgress"] = {
                "phaseProgress": {
                    "PROBING": {"status": "COMPLETE", "percentComplete": 100},
                    "TRANSCODING": {"status": "PROGRESSING", "percentComplete": 50},
                    "UPLOADING": {"status": "PENDING", "percentComplete": 0},
                },
                "jobPercentComplete": 40,
                "currentPhase": "TRANSCODING",
                "retryCount": 0,
            }
        elif status == "ERROR":
            body.setdefault("errorCode", 1999)
            body.setdefault("errorMessage", "Unexpected transcoding error")
        elif status == "INPUT_INFORMATION":
            body["inputDetails"] = [
                {
                    "id": 1,
                    "uri": job.request["Settings"]["Inputs"][0]["FileInput"],
                    "video": [
                        {"width": 1920, "height": 1080, "frameRate": 29.97, "codec": "H_264"}
                    ],
                    "audio": [{"channels": 2, "sampleRate": 48000, "codec": "AAC"}],
                }
            ]
        body.update(detail)
        return {
            "version": "0",
            "id": f"evt-{job.id}-{status.lower()}-{stamp}",
            "detail-type": "MediaConvert Job State Change",
            "source": "aws.mediaconvert",
            "account": ACCOUNT,
            "time": datetime.fromtimestamp(stamp / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobs/{job.id}"],
            "detail": body,
        }


_GROUP_TYPES = {
    "CMAF_GROUP_SETTINGS": ("CMAF_GROUP", "CmafGroupSettings", (".m3u8", ".mpd")),
    "HLS_GROUP_SETTINGS": ("HLS_GROUP", "HlsGroupSettings", (".m3u8",)),
    "DASH_ISO_GROUP_SETTINGS": ("DASH_ISO_GROUP", "DashIsoGroupSettings", (".mpd",)),
    "FILE_GROUP_SETTINGS": ("FILE_GROUP", "FileGroupSettings", ()),
}


def complete_output_details(settings: Mapping[str, Any], duration_ms: int) -> list[dict[str, Any]]:
    """``outputGroupDetails`` as MediaConvert reports them for these job settings."""
    details = []
    for group in settings["OutputGroups"]:
        group_settings = group["OutputGroupSettings"]
        kind, key, playlist_suffixes = _GROUP_TYPES[group_settings["Type"]]
        destination = group_settings[key]["Destination"]
        outputs = [
            _output_detail(destination, output, duration_ms, kind) for output in group["Outputs"]
        ]
        entry: dict[str, Any] = {"type": kind, "outputDetails": outputs}
        if playlist_suffixes:
            entry["playlistFilePaths"] = [destination + suffix for suffix in playlist_suffixes]
        details.append(entry)
    return details


def _output_detail(
    destination: str, output: Mapping[str, Any], duration_ms: int, kind: str
) -> dict[str, Any]:
    modifier = output.get("NameModifier", "")
    video = output.get("VideoDescription") or {}
    codec = video.get("CodecSettings") or {}
    if codec.get("Codec") == "FRAME_CAPTURE":
        capture = codec["FrameCaptureSettings"]
        per_second = capture.get("FramerateNumerator", 1) / capture.get("FramerateDenominator", 1)
        count = min(int(capture.get("MaxCaptures", 1)), int(duration_ms / 1000 * per_second) + 1)
        return {"outputFilePaths": [f"{destination}{modifier}.{count - 1:07d}.jpg"]}
    extension = {
        "CMAF_GROUP": ".m3u8",
        "HLS_GROUP": ".m3u8",
        "DASH_ISO_GROUP": ".mp4",
    }.get(kind, "." + output.get("Extension", "mp4"))
    detail: dict[str, Any] = {
        "outputFilePaths": [f"{destination}{modifier}{extension}"],
        "durationInMs": duration_ms,
    }
    if "Width" in video and "Height" in video:
        detail["videoDetails"] = {
            "widthInPx": video["Width"],
            "heightInPx": video["Height"],
            "averageBitrate": 1_500_000,
            "qvbrAvgQuality": 8.2,
        }
    return detail


class SimulatedCrash(BaseException):
    """The function dies (a BaseException: nothing in the handler may catch it)."""


class FakeLambdaContext:
    """The attributes of the Lambda context object that the handlers and Powertools read."""

    def __init__(self, function_name: str = "test-function", remaining_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2024/01/01/[$LATEST]0123456789abcdef"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms
