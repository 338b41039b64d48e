"""The profile: model, loader and built-ins."""

from mediapipe_cfn.profile.loader import (
    DEFAULT_PROFILE,
    builtin_profiles,
    load_profile,
    parse_profile,
)
from mediapipe_cfn.profile.model import Profile, Rendition

__all__ = [
    "DEFAULT_PROFILE",
    "Profile",
    "Rendition",
    "builtin_profiles",
    "load_profile",
    "parse_profile",
]
