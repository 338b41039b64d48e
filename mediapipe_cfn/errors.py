"""Errors the library raises for bad input; the CLI turns them into one message and exit 2."""

from __future__ import annotations


class MediapipeError(Exception):
    """Base of the errors a user can fix by changing their input."""


class ProfileError(MediapipeError):
    """A profile that cannot be used, located as precisely as the input allows."""

    def __init__(
        self, source: str, message: str, key_path: str = "", line: int | None = None
    ) -> None:
        self.source = source
        self.key_path = key_path
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class TemplateError(MediapipeError, ValueError):
    """A template that CloudFormation would reject, e.g. a reference to a resource nobody added."""
