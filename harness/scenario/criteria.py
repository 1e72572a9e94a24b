"""What ought to reach someone, per failure mode: the criteria file of ``harness coverage``, user-editable.

::

    page:                          # a receiver whose integration pages (role pager) gets a firing notification
      postgres_primary_crashed: 5m # within 5 minutes of the fault's start (production time)
      errors_2pct: ~               # ~ : at any time during the mode
    notify:                        # someone, through any receiver, gets a firing notification
      disk_filled: 30m

Every mode named must be in the catalogue and have a fault (a healthy stack should reach nobody). The file is
validated whole before anything starts, each problem naming file, line and field. ``judge`` holds a matrix
against it: pure.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from harness.config import STACK_DIR
from harness.core.durations import format_duration, parse_duration
from harness.core.errors import HarnessError, InvalidFile, ValidationError
from harness.core.matrix import Matrix, ModeRow, Violation
from harness.core.model import yaml_line
from harness.scenario.failure_modes import FailureModes, is_baseline

DEFAULT_CRITERIA = STACK_DIR / "coverage-criteria.yaml"
REACHES = ("page", "notify")


class CriteriaInvalid(InvalidFile):
    what = "the coverage criteria"


@dataclass(frozen=True)
class Requirement:
    mode: str
    reach: str                    # "page" | "notify"
    within_s: float | None        # production seconds from the fault's start; None: any time in the mode
    file: str = ""
    line: int | None = None

    def describe(self) -> str:
        what = "page someone" if self.reach == "page" else "notify someone"
        return what + (f" within {format_duration(self.within_s)}" if self.within_s is not None else "")


@dataclass(frozen=True)
class Criteria:
    file: str
    requirements: tuple[Requirement, ...]

    def modes(self) -> list[str]:
        return [r.mode for r in self.requirements]


def parse_criteria(text: str, *, file: str = "<string>") -> Criteria:
    """Shape and durations; the mode names are checked against a catalogue by ``validate_criteria``."""
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(file, mark.line + 1 if mark is not None else None, "(syntax)",
                              str(getattr(exc, "problem", exc))) from None
    if doc is None:
        return Criteria(file, ())
    if not isinstance(doc, CommentedMap):
        raise ValidationError(file, 1, "(document)", "expected a mapping with `page:` and/or `notify:`",
                              hint="page: {postgres_primary_crashed: 5m}")
    errors: list[ValidationError] = []
    requirements: list[Requirement] = []
    seen: dict[str, tuple[str, int | None]] = {}
    for key in doc:
        if key not in REACHES:
            errors.append(ValidationError(file, yaml_line(doc, key), str(key), "unknown field",
                                          hint="allowed here: page (must page someone), notify (must reach "
                                               "someone)"))
            continue
        node = doc[key]
        if node is None:
            continue
        if not isinstance(node, CommentedMap):
            errors.append(ValidationError(file, yaml_line(doc, key), str(key), "expected a mapping of failure mode "
                                          "to a time limit (or ~ for none)", hint="page: {redis_crashed: 5m}"))
            continue
        for mode, value in node.items():
            line = yaml_line(node, mode)
            name = str(mode)
            if name in seen:
                other, other_line = seen[name]
                errors.append(ValidationError(file, line, f"{key}.{name}", f"already listed under {other} "
                                              f"(line {other_line})", hint="name each mode once; page implies "
                                              "notify"))
                continue
            seen[name] = (str(key), line)
            within = None
            if value is not None:
                try:
                    within = parse_duration(value)
                except ValueError as exc:
                    errors.append(ValidationError(file, line, f"{key}.{name}", str(exc),
                                                  hint="a time limit from the fault's start, e.g. 5m, or ~ "
                                                       "for none"))
                    continue
                if within <= 0:
                    errors.append(ValidationError(file, line, f"{key}.{name}", "must be > 0, or ~ for no limit"))
                    continue
            requirements.append(Requirement(name, str(key), within, file, line))
    if errors:
        raise CriteriaInvalid(errors)
    return Criteria(file, tuple(requirements))


def criteria_errors(criteria: Criteria, catalogue: FailureModes) -> list[ValidationError]:
    """Every requirement on a mode the catalogue lacks, on a baseline, or with a limit the mode cannot meet."""
    errors: list[ValidationError] = []
    for r in criteria.requirements:
        field_ = f"{r.reach}.{r.mode}"
        mode = catalogue.mode(r.mode)
        if mode is None:
            close = difflib.get_close_matches(r.mode, catalogue.names, n=3)
            errors.append(ValidationError(r.file, r.line, field_, f"no failure mode {r.mode!r} in {catalogue.file}",
                                          hint=f"did you mean {', '.join(close)}?" if close else
                                          "`harness coverage --list` lists the modes"))
        elif is_baseline(mode):
            errors.append(ValidationError(r.file, r.line, field_, f"{r.mode} has no fault: a healthy stack "
                                          "should reach nobody", hint="remove it; alerts firing on the "
                                          "baseline are a headline of every run"))
        elif r.within_s is not None:
            start = min(f.start for f in mode.faults)
            if r.within_s > mode.duration - start:
                errors.append(ValidationError(r.file, r.line, field_, f"{format_duration(r.within_s)} cannot be "
                                              f"met: the mode lasts {format_duration(mode.duration - start)} "
                                              "after its fault begins", hint="shorten the limit or lengthen "
                                              "the mode in the catalogue"))
    return errors


def load_criteria(path: str | Path, catalogue: FailureModes) -> Criteria:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read the coverage criteria {path}: {exc.strerror}",
                           hint="pass --criteria FILE, or restore stack/coverage-criteria.yaml") from None
    criteria = parse_criteria(text, file=str(path))
    errors = criteria_errors(criteria, catalogue)
    if errors:
        raise CriteriaInvalid(errors)
    return criteria


def _happened(row: ModeRow) -> str:
    if not row.firings:
        return "no alert fired"
    fired = ", ".join(row.fired)
    if not row.receivers:
        return f"fired {fired}; no receiver was notified" + (
            f" ({', '.join(row.refused)} refused the notification)" if row.refused else "")
    return f"fired {fired}; notified {', '.join(row.receivers)}, none of which pages"


def check(requirement: Requirement, row: ModeRow) -> str | None:
    """What went wrong for one requirement on its mode's row, or None when it was met."""
    if not row.ran:
        return f"the mode did not run: {row.error}"
    if requirement.reach == "page":
        at = row.time_to_page_s
        if at is None:
            return f"paged nobody: {_happened(row)}"
    else:
        at = row.time_to_notify_s
        if at is None:
            return f"notified nobody: {_happened(row)}"
    if requirement.within_s is not None and at > requirement.within_s:
        who = "paged" if requirement.reach == "page" else "notified"
        return f"{who} {format_duration(at)} after the fault began, later than {format_duration(requirement.within_s)}"
    return None


def judge(criteria: Criteria, matrix: Matrix) -> Matrix:
    """The matrix with the criteria's violations; requirements on modes the run did not include are listed as
    not judged."""
    violations: list[Violation] = []
    unjudged: list[str] = []
    for r in criteria.requirements:
        row = matrix.mode(r.mode)
        if row is None:
            unjudged.append(r.mode)
            continue
        problem = check(r, row)
        if problem is not None:
            violations.append(Violation(r.mode, r.describe(), problem, r.file, r.line))
    return Matrix(matrix.modes, matrix.alerts, criteria_file=criteria.file, violations=tuple(violations),
                  unjudged=tuple(unjudged))
