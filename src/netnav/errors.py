"""The error tree of netnav.

``NetnavError``
    ``CaseError``: the case document is not a valid ``netnav-case/1`` document. Carries every
    problem found (field path, value given, what is allowed), never only the first.
    ``KnowledgeError``: a knowledge-base file is malformed or refers to something unknown.
    Carries the file, the entry id and the reason.
    ``UnknownOptionError``: an option id outside the vocabulary was asked about.

The CLI turns each into a message on stderr and exit code 2; no traceback (which could hold
patient data in local variables) reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CaseError",
    "CaseProblem",
    "GuideError",
    "KnowledgeError",
    "NetnavError",
    "SettingsError",
    "UnknownOptionError",
]


class NetnavError(Exception):
    """Base class of every error netnav raises on purpose."""


@dataclass(frozen=True)
class CaseProblem:
    """One thing wrong with a case document.

    ``path`` is the field path from the case root (``tumor.ki67_percent``,
    ``treatments[2].therapy``); ``value`` the offending value as given (``None`` when the
    field is missing); ``allowed`` says what would be accepted.
    """

    path: str
    message: str
    value: object = None
    allowed: str = ""

    def describe(self) -> str:
        parts = [f"{self.path or '(document)'}: {self.message}"]
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            parts.append(f"given {shown}")
        if self.allowed:
            parts.append(f"allowed: {self.allowed}")
        return "; ".join(parts)


class CaseError(NetnavError):
    """The case document is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[CaseProblem]) -> None:
        self.problems = problems
        lines = [p.describe() for p in problems]
        super().__init__(
            f"invalid case ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n  "
            + "\n  ".join(lines)
        )


class KnowledgeError(NetnavError):
    """A knowledge-base file is malformed: names the file, the entry and the reason."""

    def __init__(self, file: str, entry: str, reason: str) -> None:
        self.file = file
        self.entry = entry
        self.reason = reason
        super().__init__(f"knowledge base {file}: entry {entry!r}: {reason}")


class UnknownOptionError(NetnavError):
    """An option id that is not in the vocabulary of options.md."""

    def __init__(self, option: str, known: list[str]) -> None:
        self.option = option
        wanted = option.lower().replace("-", "_").replace(" ", "_")
        close = [k for k in known if wanted == k or wanted[:4] in k][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(
            f"unknown option id {option!r}{hint}; see `netnav knowledge list therapies`"
        )


class SettingsError(NetnavError):
    """The clinic settings file is malformed: names the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = file
        self.key = key
        self.reason = reason
        super().__init__(f"settings {file}: {key}: {reason}")


class GuideError(NetnavError):
    """A guide cannot be written as asked (unknown language or format, output not writable)."""
