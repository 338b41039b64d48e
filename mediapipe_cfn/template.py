"""Assemble the CloudFormation template from components.

A component is a named function that adds resources (and outputs) for one concern to the
template. :func:`build_template` runs :data:`DEFAULT_COMPONENTS` in order; other teams pass their
own list to add, replace or drop parts, and ``post_processors`` to edit the finished template
(see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
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
    # The component being built, named in errors about what it needs.
    component: str = ""

    def add(self, resource: AWSObject) -> AWSObject:
        return self.template.add_resource(resource)

    def resource(self, logical_id: str) -> AWSObject:
        """A resource added by an earlier component (KeyError naming both if none)."""
        try:
            return self.template.resources[logical_id]
        except KeyError:
            raise KeyError(
                f"component {self.component!r} needs resource {logical_id!r}, which no earlier "
                "component added (was the component that adds it dropped or replaced?)"
            ) from None

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
    check_references: bool = True,
) -> Template:
    """Build the pipeline's template for ``profile``.

    ``handler_code`` defaults to the local path of the handler zip that
    :mod:`mediapipe_cfn.artifacts` writes into ``artifacts/`` next to the template.

    Raises :class:`TypeError` for a ``profile`` that is not a :class:`Profile`, and
    :class:`~mediapipe_cfn.errors.TemplateError` when the finished template refers to a resource,
    parameter, condition or mapping that no component added (e.g. after
    :func:`without_component`), naming the missing item and the component that needs it.
    ``check_references=False`` skips that check, for a deliberately partial template such as a
    test of a few components alone.
    """
    from mediapipe_cfn.artifacts import default_handler_code

    _require_profile(profile)
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
    owners: dict[str, str] = {}
    for component in components if components is not None else default_components():
        context.component = component.name
        component.build(context)
        _claim(owners, template, f"component {component.name!r}")
    for post_process in post_processors:
        post_process(template, profile)
        _claim(owners, template, f"post-processor {getattr(post_process, '__name__', '?')!r}")
    if check_references:
        _refuse_dangling_references(template, owners)
    return template


def _require_profile(profile: object) -> None:
    if isinstance(profile, Profile):
        return
    if isinstance(profile, str | PurePath):
        hint = "load it with load_profile(path_or_name) first"
    elif isinstance(profile, Mapping):
        hint = "validate it with Profile.model_validate(data), or parse YAML with parse_profile"
    else:
        hint = "use load_profile(path_or_name) or parse_profile(yaml_text)"
    kind = type(profile).__name__
    raise TypeError(f"build_template() needs a mediapipe_cfn.Profile, got {kind}: {hint}")


_SECTIONS = ("Parameters", "Conditions", "Mappings", "Resources", "Outputs")


def _claim(owners: dict[str, str], template: Template, owner: str) -> None:
    """Record ``owner`` as the author of every template entry that has none yet."""
    for section, entries in zip(_SECTIONS, _template_sections(template), strict=True):
        for name in entries:
            owners.setdefault(f"{section}.{name}", owner)


def _template_sections(template: Template) -> tuple[Any, ...]:
    return (
        template.parameters,
        template.conditions,
        template.mappings,
        template.resources,
        template.outputs,
    )


def _refuse_dangling_references(template: Template, owners: dict[str, str]) -> None:
    from mediapipe_cfn.errors import TemplateError
    from mediapipe_cfn.references import dangling_references

    dangling = dangling_references(template.to_dict())
    if not dangling:
        return
    # missing item -> the component (or post-processor) that refers to it -> where it does
    needs: dict[tuple[str, str], dict[str, list[str]]] = {}
    kinds: dict[tuple[str, str], set[str]] = {}
    for reference in dangling:
        item = (reference.kind.split()[0], reference.target)  # a Ref may name either kind
        kinds.setdefault(item, set()).add(reference.kind)
        owner = owners.get(reference.owner, "build_template")
        needs.setdefault(item, {}).setdefault(owner, []).append(reference.where)
    problems = [
        f"{_kind_label(kinds[item])} {item[1]!r} needed by "
        + ", ".join(
            f"{owner} (at {places[0]}{f' and {len(places) - 1} more' if len(places) > 1 else ''})"
            for owner, places in sorted(by_owner.items())
        )
        for item, by_owner in sorted(needs.items())
    ]
    raise TemplateError(
        "the template refers to what no component added (was the component that adds it dropped "
        "or replaced?): " + "; ".join(problems)
    )


def _kind_label(kinds: set[str]) -> str:
    """``resource`` if any reference needs a resource (GetAtt, DependsOn), else the one kind."""
    return "resource" if "resource" in kinds else min(kinds)
