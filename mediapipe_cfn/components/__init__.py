"""The built-in template components, one module per concern, in build order."""

from mediapipe_cfn.components import (
    capacity,
    compute,
    delivery,
    encryption,
    events,
    media,
    notifications,
    observability,
    parameters,
    queueing,
    state,
    storage,
    transcoding,
)
from mediapipe_cfn.template import Component

DEFAULT_COMPONENTS: tuple[Component, ...] = (
    Component("parameters", parameters.build),
    Component("encryption", encryption.build),
    Component("storage", storage.build),
    Component("delivery", delivery.build),
    Component("queueing", queueing.build),
    Component("state", state.build),
    Component("capacity", capacity.build),
    Component("media", media.build),
    Component("transcoding", transcoding.build),
    Component("compute", compute.build),
    Component("events", events.build),
    Component("notifications", notifications.build),
    Component("observability", observability.build),
)

__all__ = ["DEFAULT_COMPONENTS"]
