"""Where a rendered template lands, so its `Code` path can be written relative to it.

`aws cloudformation package` resolves a function's local `Code` path against the folder of the
template file it reads. `render -o FILE` knows that folder; `render > FILE` does not, unless the
operating system can say which file standard output is. On Linux it can (/proc/self/fd/); the
answer is trusted only when it names the very same regular file, so a pipe, a terminal or a file
deleted since it was opened fall back to the working directory, and the caller says so.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

_DESCRIPTOR_LINKS = Path("/proc/self/fd")


@dataclass(frozen=True)
class TemplateLocation:
    """The folder the template's relative paths start from, and how it was found."""

    directory: Path
    known: bool  # False: stdout is not a file we could name; the working directory stands in


def template_location(output: str) -> TemplateLocation:
    """The folder of ``output`` ('-' for standard output), as an absolute path."""
    if output != "-":
        return TemplateLocation(Path(output).resolve().parent, known=True)
    stdout_file = stdout_regular_file()
    if stdout_file is not None:
        return TemplateLocation(stdout_file.parent, known=True)
    return TemplateLocation(Path.cwd(), known=False)


def stdout_regular_file() -> Path | None:
    """The regular file standard output is redirected to, when the system can name it."""
    try:
        descriptor = sys.stdout.fileno()
        opened = os.fstat(descriptor)
    except (AttributeError, OSError, ValueError):  # no real descriptor (e.g. captured output)
        return None
    if not stat.S_ISREG(opened.st_mode):
        return None
    try:
        path = Path(os.readlink(_DESCRIPTOR_LINKS / str(descriptor)))
        named = path.stat()
    except OSError:
        return None
    same_file = (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
    return path.resolve() if same_file and path.is_absolute() else None
