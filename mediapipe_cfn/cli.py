"""The `mediapipe-cfn` command: a thin click layer over the library.

Heavy modules (cfn-lint, botocore's models, troposphere) are imported inside the commands that
need them, so `--help`, `profiles` and `schema` start quickly and `render` never loads cfn-lint.
Problems the user can fix print one message on stderr and exit 2; `validate` exits 1 when it
finds problems in an otherwise loadable profile.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mediapipe_cfn._version import __version__
from mediapipe_cfn.errors import MediapipeError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_LINT_REGIONS = ("us-east-1", "eu-west-1")


def _log(message: str) -> None:
    click.echo(message, err=True)


def _user_errors(func: F) -> F:
    """Turn the library's input errors into one message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MediapipeError as exc:
            _log(f"error: {exc}")
            sys.exit(2)
        except BrokenPipeError:
            # The reader of stdout went away (`| head`): nothing more to say to it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(2)
        except OSError as exc:  # the environment (disk, permissions), not the profile
            _log(f"error: {_os_error_text(exc)}")
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _os_error_text(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _refuse(profile_name: str, problems: list[Any], what: str) -> None:
    """List what AWS would reject, on stderr, and exit 1 as `validate` does on findings."""
    if not problems:
        return
    for problem in problems:
        _log(str(problem))
    _log(f"profile {profile_name}: {len(problems)} problem(s) {what}; template not written")
    sys.exit(1)


def check_output_path(path: Path) -> None:
    """Refuse an output path that cannot be a file, before any work is written."""
    if path.is_dir():
        raise MediapipeError(f"{path}: is a directory; give -o a file name")
    if not path.parent.is_dir():
        raise MediapipeError(f"{path}: the directory {path.parent} does not exist")


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file renamed over it.

    A device or pipe (``/dev/stdout``) cannot be renamed over; it is written directly.
    """
    check_output_path(path)
    try:
        if path.exists() and not path.is_file():
            with path.open("w", encoding="utf-8") as stream:
                stream.write(text)
            return
        _replace_with(path, text)
    except OSError as exc:
        raise MediapipeError(f"{path}: cannot write the template: {exc.strerror or exc}") from None


def _replace_with(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it owner-only
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and inf (click's range lets nan through)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _known_regions(ctx: click.Context, param: click.Parameter, regions: Any) -> Any:
    """--region values cfn-lint has a schema for (it would stop with a traceback otherwise)."""
    from cfnlint.helpers import REGIONS

    unknown = [region for region in regions if region not in REGIONS]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: not an AWS region; e.g. us-east-1, eu-west-1 "
            f"({len(REGIONS)} known)"
        )
    return regions


profile_option = click.option(
    "--profile",
    "-p",
    "profile_ref",
    metavar="PATH|NAME",
    default=None,
    help="Profile YAML file or built-in name (see `mediapipe-cfn profiles`). Default: default.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mediapipe-cfn")
def main() -> None:
    """Render a serverless S3 + MediaConvert video pipeline as a CloudFormation template."""


@main.command()
@profile_option
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="FILE|-",
    help="Where to write the template; '-' (default) is stdout.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)
@click.option(
    "--artifacts-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the handler zip. Default: 'artifacts' next to the template (for "
    "stdout, next to the file it is redirected to, else in the current directory).",
)
@_user_errors
def render(
    profile_ref: str | None, output: str, output_format: str, artifacts_dir: Path | None
) -> None:
    """Write the template and the handler zip it deploys.

    Then upload and deploy with `aws cloudformation package` and `aws cloudformation deploy`
    (see the README). Exits 1 without writing the template when MediaConvert or CloudFormation
    would reject it (the findings go to stderr); `validate` adds cfn-lint.
    """
    from mediapipe_cfn.artifacts import DEFAULT_ARTIFACTS_DIR, write_handler_zip
    from mediapipe_cfn.limits import template_limit_problems
    from mediapipe_cfn.output_location import template_location
    from mediapipe_cfn.profile.loader import load_profile
    from mediapipe_cfn.render import render_document
    from mediapipe_cfn.template import build_template
    from mediapipe_cfn.validation import transcoding_problems

    profile = load_profile(profile_ref)
    # The job settings MediaConvert would refuse stop the render before anything is written.
    _refuse(profile.name, transcoding_problems(profile), "in its MediaConvert settings")
    if output != "-":
        check_output_path(Path(output))
    location = template_location(output)
    zip_dir = location.directory / DEFAULT_ARTIFACTS_DIR if artifacts_dir is None else artifacts_dir
    zip_path = write_handler_zip(zip_dir.resolve())
    # `aws cloudformation package` resolves local paths relative to the template's folder.
    code_path = Path(os.path.relpath(zip_path, location.directory)).as_posix()
    template = build_template(profile, handler_code=code_path)
    document = template.to_dict()  # once: the text and the quota checks both read it
    text = render_document(document, output_format)  # type: ignore[arg-type]
    _refuse(
        profile.name,
        template_limit_problems(document, text),
        "CloudFormation would reject",
    )
    _log(f"profile {profile.name}: {len(template.resources)} resources")
    _log(f"wrote {zip_path}")
    if output == "-":
        where = "the template's folder" if location.known else "the working directory"
        _log(f"the template's Code path {code_path} is relative to {where}, {location.directory}")
        if not location.known:
            _log("(stdout is not a file; save the template there, or use -o FILE)")
        try:
            click.echo(text, nl=False)
        except BrokenPipeError:
            raise
        except OSError as exc:  # e.g. stdout redirected to a full disk
            raise MediapipeError(f"stdout: cannot write the template: {exc.strerror}") from None
    else:
        write_text_atomically(Path(output), text)
        _log(f"wrote {output}")
    _write_fallback_template(profile, output, location.directory, output_format)


def _write_fallback_template(
    profile: Any, output: str, directory: Path, output_format: str
) -> None:
    """With capacity.fallback, the fallback region's template, next to the main one."""
    fallback = profile.capacity.fallback if profile.capacity else None
    if fallback is None:
        return
    from mediapipe_cfn.fallback_template import fallback_file_name, fallback_template
    from mediapipe_cfn.render import render

    name = Path(output).name if output != "-" else f"{profile.name}.{output_format}"
    path = directory / fallback_file_name(name, fallback)
    write_text_atomically(path, render(fallback_template(profile), output_format))  # type: ignore[arg-type]
    _log(f"wrote {path} (deploy it in {fallback.region}: see docs/operations.md)")


@main.command()
@profile_option
@click.option(
    "--region",
    "regions",
    multiple=True,
    default=DEFAULT_LINT_REGIONS,
    show_default=True,
    callback=_known_regions,
    help="Region(s) to lint the template for; repeat the option for several.",
)
@click.option(
    "--security",
    is_flag=True,
    help="Also run the security gate: checkov, parliament and the least-privilege rules on "
    "the template (docs/security.md). Needs the tools `bash .ci/security-tools` installs.",
)
@_user_errors
def validate(profile_ref: str | None, regions: tuple[str, ...], security: bool) -> None:
    """Check a profile: its transcoding settings and a cfn-lint run on its template.

    With --security, also checkov and parliament on the template (docs/security.md).
    """
    from mediapipe_cfn.profile.loader import load_profile
    from mediapipe_cfn.validation import validate_profile

    if security:
        from mediapipe_cfn.security.tools import require_tools

        require_tools()  # says how to install checkov and parliament (exit 2) before any work
    profile = load_profile(profile_ref)
    report = validate_profile(profile, regions=list(regions))
    for line in report.lines():
        click.echo(line)
    ok = report.ok
    if security:
        from mediapipe_cfn.security import run_security_checks

        security_report = run_security_checks(profile)
        for line in security_report.lines():
            click.echo(line)
        ok = ok and security_report.ok
    if not ok:
        sys.exit(1)


# Far above any real pipeline; beyond them the arithmetic, not the estimate, is what breaks.
MAX_UPLOADS_PER_DAY = 100_000_000
MAX_AVG_MINUTES = 7 * 24 * 60  # a week-long recording
ESTIMATE_SOURCES = ("1080p", "2160p", "1440p", "portrait-1080p", "720p", "480p", "audio")


@main.command()
@profile_option
@click.option(
    "--uploads-per-day",
    type=click.IntRange(min=0, max=MAX_UPLOADS_PER_DAY),
    default=5000,
    show_default=True,
)
@click.option(
    "--avg-minutes",
    type=FiniteFloatRange(min=0, min_open=True, max=MAX_AVG_MINUTES),
    default=10.0,
    show_default=True,
    help="Average duration of an upload, in minutes.",
)
@click.option(
    "--source",
    type=click.Choice(ESTIMATE_SOURCES),
    default="1080p",
    show_default=True,
    help="What a typical upload looks like (the ladder is pruned to it).",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file of prices merged over the bundled table (only the figures you change).",
)
@click.option(
    "--utilisation",
    type=FiniteFloatRange(min=0, min_open=True, max=1),
    default=None,
    help="How busy reserved slots are planned to be (0-1]. Default: the price table's (0.8).",
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@_user_errors
def estimate(
    profile_ref: str | None,
    uploads_per_day: int,
    avg_minutes: float,
    source: str,
    prices_file: Path | None,
    utilisation: float | None,
    output_format: str,
) -> None:
    """Estimate a month's cost: MediaConvert, S3 over a year, and the request-driven rest;
    and reserved slots against on demand for the same work."""
    from mediapipe_cfn.errors import MediapipeError
    from mediapipe_cfn.mediaconvert.cost import estimate as estimate_cost
    from mediapipe_cfn.mediaconvert.cost import load_prices
    from mediapipe_cfn.mediaconvert.fallback_cost import fallback_transfer
    from mediapipe_cfn.mediaconvert.reserved import reserved_plan
    from mediapipe_cfn.profile.loader import load_profile

    profile = load_profile(profile_ref)
    try:
        prices = load_prices(prices_file)
        result = estimate_cost(
            profile,
            uploads_per_day=uploads_per_day,
            avg_minutes=avg_minutes,
            source=source,
            prices=prices,
        )
        plan = reserved_plan(
            profile,
            uploads_per_day=uploads_per_day,
            avg_minutes=avg_minutes,
            jobs_per_asset=len(result.jobs),
            on_demand_monthly=result.mediaconvert_cost,
            prices=prices,
            utilisation=utilisation,
        )
        transfer = fallback_transfer(
            profile,
            uploads_per_day=uploads_per_day,
            avg_minutes=avg_minutes,
            source=source,
            jobs_per_asset=len(result.jobs),
            prices=prices,
        )
    except (ValueError, KeyError, TypeError) as exc:
        where = f"{prices_file}: " if prices_file else ""
        raise MediapipeError(f"{where}cannot estimate: {exc}") from None
    if output_format == "json":
        document = {**result.to_dict(), "reserved": plan.to_dict()}
        if transfer is not None:
            document["fallback"] = transfer.to_dict()
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        click.echo(result.format_table())
        click.echo(plan.format_table())
        if transfer is not None:
            click.echo(transfer.format_table())


@main.group(invoke_without_command=True)
@click.pass_context
def profiles(ctx: click.Context) -> None:
    """List the built-in profiles (`profiles show NAME` prints one)."""
    if ctx.invoked_subcommand is not None:
        return
    from mediapipe_cfn.profile.loader import builtin_profiles, load_profile

    for name in builtin_profiles():
        click.echo(f"{name:<12} {load_profile(name).description}")


@profiles.command("show")
@click.argument("name")
@click.option(
    "--resolved",
    is_flag=True,
    help="Print the profile with every default filled in, instead of the file as written.",
)
@_user_errors
def profiles_show(name: str, resolved: bool) -> None:
    """Print built-in profile NAME."""
    from mediapipe_cfn.errors import ProfileError
    from mediapipe_cfn.profile.loader import builtin_profiles, load_profile

    files = builtin_profiles()
    if name not in files:
        raise ProfileError(name, "not a built-in profile; built-ins: " + ", ".join(files))
    if not resolved:
        click.echo(files[name].read_text(encoding="utf-8"), nl=False)
        return
    import yaml

    data = load_profile(name).model_dump(mode="json")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


@main.command()
def schema() -> None:
    """Print the profile's JSON Schema (for editor completion and CI checks)."""
    from mediapipe_cfn.profile.model import Profile

    click.echo(json.dumps(Profile.model_json_schema(), indent=2, sort_keys=True))


# Day-2 operations against a deployed stack (mediapipe_cfn/operations): assets, dlq, status.
def _add_operations_commands() -> None:
    from mediapipe_cfn.operations.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_operations_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
