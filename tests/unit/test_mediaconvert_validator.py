"""Tests for the offline MediaConvert validator (botocore service model)."""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from mediapipe_cfn.mediaconvert import validator
from mediapipe_cfn.mediaconvert.validator import (
    Finding,
    MediaConvertValidationError,
    assert_valid,
    validate_create_job_request,
    validate_job_settings,
    validate_job_template_settings,
    validate_probe_request,
    validate_shape,
)

MP4 = "Settings.OutputGroups[0].Outputs[0]"
CMAF_VIDEO = "Settings.OutputGroups[1].Outputs[0]"
CMAF_AUDIO = "Settings.OutputGroups[1].Outputs[1]"


def _h264_qvbr() -> dict[str, Any]:
    return {
        "Codec": "H_264",
        "H264Settings": {
            "RateControlMode": "QVBR",
            "QvbrSettings": {"QvbrQualityLevel": 7},
            "MaxBitrate": 5_000_000,
            "GopSize": 2.0,
            "GopSizeUnits": "SECONDS",
            "CodecProfile": "HIGH",
            "SceneChangeDetect": "TRANSITION_DETECTION",
        },
    }


def _aac() -> list[dict[str, Any]]:
    return [
        {
            "AudioSourceName": "Audio Selector 1",
            "CodecSettings": {
                "Codec": "AAC",
                "AacSettings": {
                    "Bitrate": 96_000,
                    "CodingMode": "CODING_MODE_2_0",
                    "SampleRate": 48_000,
                },
            },
        }
    ]


def valid_job_settings() -> dict[str, Any]:
    """One MP4 file output (H.264 QVBR + AAC) and one CMAF group."""
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [
            {
                "FileInput": "s3://ingest-bucket/uploads/movie.mov",
                "TimecodeSource": "ZEROBASED",
                "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
                "VideoSelector": {},
            }
        ],
        "OutputGroups": [
            {
                "Name": "File Group",
                "OutputGroupSettings": {
                    "Type": "FILE_GROUP_SETTINGS",
                    "FileGroupSettings": {"Destination": "s3://media-bucket/mp4/"},
                },
                "Outputs": [
                    {
                        "NameModifier": "_1080p",
                        "ContainerSettings": {"Container": "MP4", "Mp4Settings": {}},
                        "VideoDescription": {
                            "Width": 1920,
                            "Height": 1080,
                            "CodecSettings": _h264_qvbr(),
                        },
                        "AudioDescriptions": _aac(),
                    }
                ],
            },
            {
                "Name": "CMAF",
                "OutputGroupSettings": {
                    "Type": "CMAF_GROUP_SETTINGS",
                    "CmafGroupSettings": {
                        "Destination": "s3://media-bucket/cmaf/",
                        "SegmentLength": 6,
                        "FragmentLength": 2,
                        "WriteHlsManifest": "ENABLED",
                        "WriteDashManifest": "ENABLED",
                    },
                },
                "Outputs": [
                    {
                        "NameModifier": "_video_720p",
                        "ContainerSettings": {"Container": "CMFC"},
                        "VideoDescription": {
                            "Width": 1280,
                            "Height": 720,
                            "CodecSettings": _h264_qvbr(),
                        },
                    },
                    {
                        "NameModifier": "_audio",
                        "ContainerSettings": {"Container": "CMFC"},
                        "AudioDescriptions": _aac(),
                    },
                ],
            },
        ],
    }


def valid_create_job_request() -> dict[str, Any]:
    return {
        "Role": "arn:aws:iam::123456789012:role/MediaConvertRole",
        "Settings": valid_job_settings(),
        "Queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
        "UserMetadata": {"pipeline": "demo", "asset-id": "abc-123"},
        "StatusUpdateInterval": "SECONDS_60",
        "AccelerationSettings": {"Mode": "PREFERRED"},
        "Priority": 0,
    }


# --------------------------------------------------------------------------
# Valid documents
# --------------------------------------------------------------------------


def test_valid_job_settings_has_no_findings() -> None:
    assert validate_job_settings(valid_job_settings()) == []


def test_valid_job_settings_are_valid_template_settings_without_file_input() -> None:
    settings = valid_job_settings()
    del settings["Inputs"][0]["FileInput"]  # templates take the input at job time
    assert validate_job_template_settings(settings) == []


def test_valid_create_job_request_has_no_findings() -> None:
    assert validate_create_job_request(valid_create_job_request()) == []


def test_valid_probe_request_has_no_findings() -> None:
    params = {"InputFiles": [{"FileUrl": "s3://ingest-bucket/uploads/movie.mov"}]}
    assert validate_probe_request(params) == []


def test_validation_does_not_mutate_the_document() -> None:
    settings = valid_job_settings()
    before = copy.deepcopy(settings)
    validate_job_settings(settings)
    assert settings == before


# --------------------------------------------------------------------------
# Broken JobSettings: (id, mutation, expected path, message fragment)
# --------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _out(settings: dict[str, Any], group: int, output: int) -> dict[str, Any]:
    return settings["OutputGroups"][group]["Outputs"][output]


def _video(settings: dict[str, Any], group: int = 0, output: int = 0) -> dict[str, Any]:
    return _out(settings, group, output)["VideoDescription"]


def _h264(settings: dict[str, Any]) -> dict[str, Any]:
    return _video(settings)["CodecSettings"]["H264Settings"]


def _set_width(value: Any) -> Mutation:
    def mutate(settings: dict[str, Any]) -> None:
        _video(settings)["Width"] = value

    return mutate


def _rename_width(settings: dict[str, Any]) -> None:
    _video(settings)["Widht"] = _video(settings).pop("Width")


def _audio_sample_rate(settings: dict[str, Any]) -> None:
    aac = _out(settings, 1, 1)["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
    aac["SampleRate"] = 100


BROKEN_JOB_SETTINGS: list[tuple[str, Mutation, str, str]] = [
    (
        "bad-video-codec-enum",
        lambda s: _video(s)["CodecSettings"].update(Codec="H265X"),
        f"{MP4}.VideoDescription.CodecSettings.Codec",
        "'H265X' is not one of: AV1, AVC_INTRA, FRAME_CAPTURE, GIF, H_264, H_265,",
    ),
    (
        "width-above-max",
        _set_width(20000),
        f"{MP4}.VideoDescription.Width",
        "20000 is above the maximum 8192",
    ),
    (
        "height-below-min",
        lambda s: _video(s).update(Height=16),
        f"{MP4}.VideoDescription.Height",
        "16 is below the minimum 32",
    ),
    (
        "negative-min-ad-avail-offset",
        lambda s: s.update(AdAvailOffset=-2000),
        "Settings.AdAvailOffset",
        "-2000 is below the minimum -1000",
    ),
    (
        "unknown-key-with-hint",
        _rename_width,
        f"{MP4}.VideoDescription.Widht",
        "unknown key 'Widht' (did you mean 'Width'?)",
    ),
    (
        "unknown-key-without-hint-lists-members",
        lambda s: s["TimecodeConfig"].update(Zzz=1),
        "Settings.TimecodeConfig.Zzz",
        "unknown key 'Zzz' (allowed: Anchor, Source, Start, TimestampOffset)",
    ),
    (
        "width-as-string",
        _set_width("1920"),
        f"{MP4}.VideoDescription.Width",
        "expected an integer, got str '1920'",
    ),
    (
        "bool-where-int",
        _set_width(True),
        f"{MP4}.VideoDescription.Width",
        "expected an integer, got bool True",
    ),
    (
        "float-where-int",
        _set_width(1920.0),
        f"{MP4}.VideoDescription.Width",
        "expected an integer, got float 1920.0",
    ),
    (
        "none-where-int",
        _set_width(None),
        f"{MP4}.VideoDescription.Width",
        "expected an integer, got None",
    ),
    (
        "bool-where-double",
        lambda s: _h264(s).update(GopSize=True),
        f"{MP4}.VideoDescription.CodecSettings.H264Settings.GopSize",
        "expected a number, got bool True",
    ),
    (
        "qvbr-quality-above-max",
        lambda s: _h264(s)["QvbrSettings"].update(QvbrQualityLevel=11),
        f"{MP4}.VideoDescription.CodecSettings.H264Settings.QvbrSettings.QvbrQualityLevel",
        "11 is above the maximum 10",
    ),
    (
        "rate-control-enum",
        lambda s: _h264(s).update(RateControlMode="qvbr"),
        f"{MP4}.VideoDescription.CodecSettings.H264Settings.RateControlMode",
        "'qvbr' is not one of: CBR, QVBR, VBR",
    ),
    (
        "string-too-short",
        lambda s: _out(s, 0, 0).update(NameModifier=""),
        f"{MP4}.NameModifier",
        "string of length 0 is shorter than the minimum length 1",
    ),
    (
        "string-too-long",
        lambda s: _out(s, 0, 0).update(Extension="x" * 257),
        f"{MP4}.Extension",
        "string of length 257 is longer than the maximum length 256",
    ),
    (
        "destination-not-s3",
        lambda s: s["OutputGroups"][0]["OutputGroupSettings"]["FileGroupSettings"].update(
            Destination="media-bucket/mp4/"
        ),
        "Settings.OutputGroups[0].OutputGroupSettings.FileGroupSettings.Destination",
        "'media-bucket/mp4/' does not match the pattern ^s3:\\/\\/.*$",
    ),
    (
        "file-input-not-s3-or-https",
        lambda s: s["Inputs"][0].update(FileInput="ftp://host/movie.mov"),
        "Settings.Inputs[0].FileInput",
        "'ftp://host/movie.mov' does not match the pattern",
    ),
    (
        "container-enum",
        lambda s: _out(s, 1, 0)["ContainerSettings"].update(Container="CMAF"),
        f"{CMAF_VIDEO}.ContainerSettings.Container",
        "'CMAF' is not one of: CMFC, F4V, GIF, ISMV, M2TS, M3U8, MOV, MP4, MPD, MXF,",
    ),
    (
        "output-groups-not-a-list",
        lambda s: s.update(OutputGroups={"Name": "x"}),
        "Settings.OutputGroups",
        "expected a list, got dict {'Name': 'x'}",
    ),
    (
        "list-item-not-an-object",
        lambda s: s["OutputGroups"][1].update(Outputs=["_audio"]),
        "Settings.OutputGroups[1].Outputs[0]",
        "expected an object (dict), got str '_audio'",
    ),
    (
        "nested-deep-in-list",
        _audio_sample_rate,
        f"{CMAF_AUDIO}.AudioDescriptions[0].CodecSettings.AacSettings.SampleRate",
        "100 is below the minimum 8000",
    ),
    (
        "map-value-in-audio-selectors",
        lambda s: s["Inputs"][0]["AudioSelectors"]["Audio Selector 1"].update(
            DefaultSelection="YES"
        ),
        'Settings.Inputs[0].AudioSelectors["Audio Selector 1"].DefaultSelection',
        "'YES' is not one of: DEFAULT, NOT_DEFAULT",
    ),
    (
        "map-not-a-dict",
        lambda s: s["Inputs"][0].update(AudioSelectors=[{"DefaultSelection": "DEFAULT"}]),
        "Settings.Inputs[0].AudioSelectors",
        "expected an object (dict), got list",
    ),
    (
        "timecode-pattern",
        lambda s: s["TimecodeConfig"].update(Start="25:00:00:00"),
        "Settings.TimecodeConfig.Start",
        "'25:00:00:00' does not match the pattern",
    ),
    (
        "language-code-enum-lists-every-value",
        lambda s: _out(s, 0, 0)["AudioDescriptions"][0].update(LanguageCode="EN"),
        f"{MP4}.AudioDescriptions[0].LanguageCode",
        "ENG, ENM, EPO, EST, EUS",  # the middle of a 190+ value enum
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [case[1:] for case in BROKEN_JOB_SETTINGS],
    ids=[case[0] for case in BROKEN_JOB_SETTINGS],
)
def test_broken_job_settings(mutate: Mutation, path: str, fragment: str) -> None:
    settings = valid_job_settings()
    mutate(settings)
    findings = validate_job_settings(settings)
    assert len(findings) == 1, findings
    assert findings[0].path == path
    assert fragment in findings[0].message


def test_value_can_break_two_rules_at_once() -> None:
    settings = valid_job_settings()
    settings["Inputs"][0]["TimecodeStart"] = "1:00:00:00"  # 10 chars, min and max are 11
    findings = validate_job_settings(settings)
    assert [f.path for f in findings] == ["Settings.Inputs[0].TimecodeStart"] * 2
    assert "shorter than the minimum length 11" in findings[0].message
    assert "does not match the pattern" in findings[1].message


def test_long_enum_message_lists_every_allowed_value() -> None:
    allowed = sorted(validator._shapes()["LanguageCode"]["enum"])
    assert len(allowed) > 150
    (finding,) = validate_shape("EN", "LanguageCode", root="LanguageCode")
    assert finding.message == f"'EN' is not one of: {', '.join(allowed)}"


def test_settings_root_not_a_dict() -> None:
    assert validate_job_settings([]) == [  # type: ignore[arg-type]
        Finding("Settings", "expected an object (dict), got list []")
    ]


def test_custom_root() -> None:
    settings = valid_job_settings()
    _video(settings)["Width"] = 1
    (finding,) = validate_job_settings(settings, root="Job.Settings")
    assert finding.path == "Job.Settings.OutputGroups[0].Outputs[0].VideoDescription.Width"


def test_template_settings_use_input_template_shape() -> None:
    # InputTemplate has no FileInput: the file is given when the job is created.
    (finding,) = validate_job_template_settings(valid_job_settings())
    assert finding.path == "Settings.Inputs[0].FileInput"
    assert finding.message.startswith("unknown key 'FileInput'")


def test_findings_follow_document_order() -> None:
    settings = valid_job_settings()
    _audio_sample_rate(settings)  # group 1
    _video(settings)["Width"] = 1  # group 0
    settings["AdAvailOffset"] = 5000  # top-level key added last
    assert [f.path for f in validate_job_settings(settings)] == [
        f"{MP4}.VideoDescription.Width",
        f"{CMAF_AUDIO}.AudioDescriptions[0].CodecSettings.AacSettings.SampleRate",
        "Settings.AdAvailOffset",
    ]


# --------------------------------------------------------------------------
# CreateJob and Probe requests
# --------------------------------------------------------------------------

BROKEN_CREATE_JOB: list[tuple[str, dict[str, Any], list[str], str, str]] = [
    ("missing-role", {}, ["Role"], "Role", "required key 'Role' is missing"),
    ("missing-settings", {}, ["Settings"], "Settings", "required key 'Settings' is missing"),
    (
        "status-interval-enum",
        {"StatusUpdateInterval": "SECONDS_61"},
        [],
        "StatusUpdateInterval",
        "'SECONDS_61' is not one of: SECONDS_10, SECONDS_12, SECONDS_120,",
    ),
    (
        "acceleration-mode-missing",
        {"AccelerationSettings": {}},
        [],
        "AccelerationSettings.Mode",
        "required key 'Mode' is missing",
    ),
    (
        "acceleration-mode-enum",
        {"AccelerationSettings": {"Mode": "ON"}},
        [],
        "AccelerationSettings.Mode",
        "'ON' is not one of: DISABLED, ENABLED, PREFERRED",
    ),
    ("priority-above-max", {"Priority": 51}, [], "Priority", "51 is above the maximum 50"),
    ("priority-below-min", {"Priority": -51}, [], "Priority", "-51 is below the minimum -50"),
    (
        "user-metadata-value-not-a-string",
        {"UserMetadata": {"pipeline": "demo", "retries": 3}},
        [],
        'UserMetadata["retries"]',
        "expected a string, got int 3",
    ),
    (
        "user-metadata-key-not-a-string",
        {"UserMetadata": {7: "seven"}},
        [],
        "UserMetadata[7]",
        "map key: expected a string, got int 7",
    ),
    (
        "user-metadata-not-a-map",
        {"UserMetadata": [("pipeline", "demo")]},
        [],
        "UserMetadata",
        "expected an object (dict), got list",
    ),
    (
        "unknown-top-level-key",
        {"Rolee": "arn:aws:iam::123456789012:role/x"},
        [],
        "Rolee",
        "unknown key 'Rolee' (did you mean 'Role'?)",
    ),
    (
        "nested-settings-error",
        {"Settings": {"OutputGroups": [{"Outputs": [{"Preset": 5}]}]}},
        [],
        "Settings.OutputGroups[0].Outputs[0].Preset",
        "expected a string, got int 5",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "remove", "path", "fragment"),
    [case[1:] for case in BROKEN_CREATE_JOB],
    ids=[case[0] for case in BROKEN_CREATE_JOB],
)
def test_broken_create_job_request(
    overrides: dict[str, Any], remove: list[str], path: str, fragment: str
) -> None:
    params = valid_create_job_request() | overrides
    for key in remove:
        del params[key]
    findings = validate_create_job_request(params)
    assert len(findings) == 1, findings
    assert findings[0].path == path
    assert fragment in findings[0].message


def test_missing_required_keys_are_reported_sorted_before_members() -> None:
    findings = validate_create_job_request({"Priority": 99})
    assert [str(f) for f in findings] == [
        "Role: required key 'Role' is missing",
        "Settings: required key 'Settings' is missing",
        "Priority: 99 is above the maximum 50",
    ]


def test_create_job_request_root_not_a_dict() -> None:
    (finding,) = validate_create_job_request("job")  # type: ignore[arg-type]
    assert finding == Finding("", "expected an object (dict), got str 'job'")
    assert str(finding) == "expected an object (dict), got str 'job'"


BROKEN_PROBE: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown-key-with-hint",
        {"InputFiles": [{"FileURL": "s3://b/k.mov"}]},
        "InputFiles[0].FileURL",
        "unknown key 'FileURL' (did you mean 'FileUrl'?)",
    ),
    (
        "input-files-not-a-list",
        {"InputFiles": "s3://b/k.mov"},
        "InputFiles",
        "expected a list, got str 's3://b/k.mov'",
    ),
    (
        "file-url-not-a-string",
        {"InputFiles": [{"FileUrl": "s3://b/a.mov"}, {"FileUrl": ["s3://b/b.mov"]}]},
        "InputFiles[1].FileUrl",
        "expected a string, got list ['s3://b/b.mov']",
    ),
]


@pytest.mark.parametrize(
    ("params", "path", "fragment"),
    [case[1:] for case in BROKEN_PROBE],
    ids=[case[0] for case in BROKEN_PROBE],
)
def test_broken_probe_request(params: dict[str, Any], path: str, fragment: str) -> None:
    (finding,) = validate_probe_request(params)
    assert finding.path == path
    assert fragment in finding.message


# --------------------------------------------------------------------------
# Scalar shapes the request trees don't exercise (validated directly)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "value", "fragment"),
    [
        ("__boolean", 1, "expected a boolean, got int 1"),
        ("__boolean", "true", "expected a boolean, got str 'true'"),
        ("__long", 2.5, "expected an integer, got float 2.5"),
        ("__long", False, "expected an integer, got bool False"),
        ("__double", "1.5", "expected a number, got str '1.5'"),
        ("__timestampUnix", True, "expected a timestamp"),
        ("__timestampIso8601", [], "expected a timestamp"),
        ("__string", b"bytes", "expected a string, got bytes b'bytes'"),
    ],
)
def test_scalar_type_errors(shape: str, value: Any, fragment: str) -> None:
    (finding,) = validate_shape(value, shape, root="X")
    assert finding.path == "X"
    assert fragment in finding.message


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        ("__boolean", False),
        ("__long", 2**40),
        ("__double", 3),
        ("__double", -1.5),
        ("__timestampUnix", 1_700_000_000),
        ("__timestampUnix", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("__timestampIso8601", "2024-01-01T00:00:00Z"),
    ],
)
def test_scalar_values_accepted(shape: str, value: Any) -> None:
    assert validate_shape(value, shape) == []


def test_unknown_shape_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown MediaConvert shape 'NoSuchShape'"):
        validate_shape({}, "NoSuchShape")


def test_long_values_are_truncated_in_messages() -> None:
    (finding,) = validate_shape("x" * 500, "__stringMin1Max256", root="Name")
    assert finding.message == "string of length 500 is longer than the maximum length 256"
    (finding,) = validate_shape(["y" * 500], "__string", root="Name")
    assert len(finding.message) < 120
    assert finding.message.endswith("...")


# --------------------------------------------------------------------------
# Error type and helpers
# --------------------------------------------------------------------------


def test_finding_str() -> None:
    assert str(Finding("Settings.Inputs[0]", "boom")) == "Settings.Inputs[0]: boom"


def test_assert_valid_passes_on_no_findings() -> None:
    assert_valid([], "job settings")


def test_assert_valid_raises_with_every_finding_one_per_line() -> None:
    findings = validate_create_job_request({"Priority": 99})
    with pytest.raises(MediaConvertValidationError) as excinfo:
        assert_valid(findings, "CreateJob request")
    error = excinfo.value
    assert isinstance(error, ValueError)
    assert error.findings == findings
    lines = str(error).splitlines()
    assert "CreateJob request" in lines[0]
    assert lines[1:] == [f"  {f}" for f in findings]


# --------------------------------------------------------------------------
# The model itself
# --------------------------------------------------------------------------


def test_every_model_pattern_compiles() -> None:
    shapes = validator._shapes()
    patterns = {shape["pattern"] for shape in shapes.values() if "pattern" in shape}
    assert len(patterns) > 30  # sanity: the model does carry patterns
    assert [p for p in patterns if validator._compile_pattern(p) is None] == []


def test_model_is_loaded_once() -> None:
    assert validator._service_model() is validator._service_model()


def test_importing_the_module_does_not_import_botocore() -> None:
    code = "import sys, mediapipe_cfn.mediaconvert.validator\nsys.exit('botocore' in sys.modules)\n"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_the_model_read_without_botocore_is_botocores() -> None:
    """render reads the model file directly (fast, no botocore import); it must be the same."""
    from botocore.loaders import Loader

    from mediapipe_cfn.mediaconvert.validator import _service_model

    assert _service_model() == Loader().load_service_model("mediaconvert", "service-2")
