"""Assemble the CloudFormation template from components.

A component is a named function that adds resources (and outputs) for one concern to the
template. :func:`build_template` runs :data:`DEFAULT_COMPONENTS` in order; other teams pass their
own list to add, replace or drop parts, and ``post_processors`` to edit the finished template
(see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, Output, Template

from mediapipe_cfn.profile.model import Profile


@dataclass
class BuildContext:
    """What a component reads and writes while the template is built."""

    profile: Profile
    template: Template
    # Lambda ``Code`` of both functions (they share one handler zip): a local zip path for
    # `aws cloudformation package`, or an {"S3Bucket": ..., "S3Key": ...} mapping.
    handler_code: Any
    extras: dict[str, Any] = field(default_factory=dict)

    def add(self, resource: AWSObject) -> AWSObject:
        return self.template.add_resource(resource)

    def resource(self, logical_id: str) -> AWSObject:
        """A resource added by an earlier component (KeyError if none)."""
        return self.template.resources[logical_id]

    def has(self, logical_id: str) -> bool:
        return logical_id in self.template.resources

    def output(self, logical_id: str, value: Any, description: str) -> Output:
        """Add an output exported as ``<stack name>-<logical id>`` for other stacks."""
        from troposphere import Export, Sub

        return self.template.add_output(
            Output(
                logical_id,
                Description=description,
                Value=value,
                Export=Export(Sub(f"${{AWS::StackName}}-{logical_id}")),
            )
        )


ComponentFunction = Callable[[BuildContext], None]


@dataclass(frozen=True)
class Component:
    """One concern of the template, e.g. ``storage`` or ``observability``."""

    name: str
    build: ComponentFunction


PostProcessor = Callable[[Template, Profile], None]


def default_components() -> tuple[Component, ...]:
    """The built-in components, in build order."""
    from mediapipe_cfn.components import DEFAULT_COMPONENTS

    return DEFAULT_COMPONENTS


def replace_component(
    components: Sequence[Component], name: str, build: ComponentFunction
) -> tuple[Component, ...]:
    """A copy of ``components`` with the one called ``name`` built by ``build`` instead."""
    names = [c.name for c in components]
    if name not in names:
        raise KeyError(f"no component named {name!r}; components: {', '.join(names)}")
    return tuple(Component(name, build) if c.name == name else c for c in components)


def without_component(components: Sequence[Component], name: str) -> tuple[Component, ...]:
    """A copy of ``components`` without the one called ``name``."""
    if name not in {c.name for c in components}:
        raise KeyError(f"no component named {name!r}")
    return tuple(c for c in components if c.name != name)


def build_template(
    profile: Profile,
    *,
    handler_code: Any = None,
    components: Iterable[Component] | None = None,
    post_processors: Iterable[PostProcessor] = (),
) -> Template:
    """Build the pipeline's template for ``profile``.

    ``handler_code`` defaults to the local path of the handler zip that
    :mod:`mediapipe_cfn.artifacts` writes into ``artifacts/`` next to the template.
    """
    from mediapipe_cfn.artifacts import default_handler_code

    template = Template()
    template.set_version("2010-09-09")
    template.set_description(
        f"mediapipe-cfn media pipeline '{profile.name}' ({profile.environment}): "
        f"{profile.description}"
    )
    context = BuildContext(
        profile=profile,
        template=template,
        handler_code=handler_code if handler_code is not None else default_handler_code(),
    )
    for component in components if components is not None else default_components():
        component.build(context)
    for post_process in post_processors:
        post_process(template, profile)
    return template
