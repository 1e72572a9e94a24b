"""The harness's error type: what failed, what was observed, where we looked, what to do next."""

from __future__ import annotations

from collections.abc import Sequence


class HarnessError(Exception):
    """A user-facing error. ``str()`` gives the full message, hint included."""

    def __init__(self, what: str, *, detail: str = "", hint: str = "") -> None:
        self.what = what
        self.detail = detail
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts = [self.what]
        if self.detail:
            parts.append(self.detail.rstrip())
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return "\n".join(parts)


class ValidationError(HarnessError):
    """Bad input in a user's file: names the file, the line and the field."""

    def __init__(self, file: str, line: int | None, field: str, problem: str, *, hint: str = "") -> None:
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {problem}", hint=hint)


class InvalidFile(HarnessError):
    """Every problem found in one kind of user file, reported together (each names its file, line and field)."""

    what = "the input"

    def __init__(self, errors: Sequence[ValidationError]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} problem(s) in {self.what}:",
                         detail="\n".join("  " + str(e).replace("\n", "\n    ") for e in self.errors))
