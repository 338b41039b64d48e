"""mediapipe-cfn: a serverless S3 + MediaConvert video pipeline as a CloudFormation template.

Public API::

    from mediapipe_cfn import load_profile, build_template, render

    profile = load_profile("prod")            # a built-in name or a path to a YAML file
    template = build_template(profile)        # a troposphere.Template you can extend
    text = render(template, "yaml")           # deterministic YAML (or "json")
    report = validate_template(template)      # cfn-lint and the project's own rules

Attributes are imported lazily (PEP 562): this module is also bundled into the Lambda zip, where
only the standard-library modules (``contract``, ``mediaconvert.settings``...) are present, and
lazy imports keep `import mediapipe_cfn` and the CLI's start-up fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mediapipe_cfn._version import __version__

_EXPORTS = {
    "load_profile": "mediapipe_cfn.profile.loader",
    "parse_profile": "mediapipe_cfn.profile.loader",
    "builtin_profiles": "mediapipe_cfn.profile.loader",
    "Profile": "mediapipe_cfn.profile.model",
    "build_template": "mediapipe_cfn.template",
    "BuildContext": "mediapipe_cfn.template",
    "Component": "mediapipe_cfn.template",
    "default_components": "mediapipe_cfn.template",
    "replace_component": "mediapipe_cfn.template",
    "without_component": "mediapipe_cfn.template",
    "render": "mediapipe_cfn.render",
    "validate_template": "mediapipe_cfn.validation",
    "TemplateError": "mediapipe_cfn.errors",
    "ProfileError": "mediapipe_cfn.errors",
    "MediapipeError": "mediapipe_cfn.errors",
}

__all__ = [
    "BuildContext",
    "Component",
    "MediapipeError",
    "Profile",
    "ProfileError",
    "TemplateError",
    "__version__",
    "build_template",
    "builtin_profiles",
    "default_components",
    "load_profile",
    "parse_profile",
    "render",
    "replace_component",
    "validate_template",
    "without_component",
]

if TYPE_CHECKING:
    from mediapipe_cfn.errors import MediapipeError, ProfileError, TemplateError
    from mediapipe_cfn.profile.loader import builtin_profiles, load_profile, parse_profile
    from mediapipe_cfn.profile.model import Profile
    from mediapipe_cfn.render import render
    from mediapipe_cfn.template import (
        BuildContext,
        Component,
        build_template,
        default_components,
        replace_component,
        without_component,
    )
    from mediapipe_cfn.validation import validate_template


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mediapipe_cfn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
