"""Edit the two fields a failover changes - ``writer_region`` and a region's
``database_generation`` - in the configuration file itself.

The edit is a minimal line change (comments, order and layout stay), so that the change is a
one-line diff to review and commit. Before anything is written, the new text is parsed and
validated with :mod:`tapstack.config`, and its data must differ from the old data in exactly
the one intended field: a line edit that touched anything else is refused.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tapstack.config import ConfigError, TapStackConfig, parse_config

WRITER_KEY = "writer_region"
GENERATION_KEY = "database_generation"
SLOTS = ("primary", "secondary")

_TOP_LEVEL = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:(?P<rest>.*)$")
_VALUE = re.compile(
    r"^(?P<head>\s*(?P<key>[A-Za-z_][\w-]*)\s*:\s*)(?P<value>[^#\s][^#]*?)?(?P<tail>\s*(#.*)?)$"
)


class ConfigFileError(ValueError):
    """The file cannot be edited as asked; ``str(error)`` says why in one line."""


@dataclass(frozen=True)
class ConfigChange:
    """One edit of the configuration file: its text before and after, and the validated
    configuration the new text gives."""

    path: Path
    before: str
    after: str
    config: TapStackConfig
    summary: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the edit (empty when nothing changed)."""
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=_shown(self.path, "a/"),
                tofile=_shown(self.path, "b/"),
            )
        )

    def commit_advice(self) -> str:
        """What to run so the change is reviewed like any other."""
        return f'commit {self.path}: git add {self.path} && git commit -m "{self.summary}"'


def _shown(path: Path, side: str) -> str:
    """The path as ``git diff`` shows it (``a/config/x.yaml``) when it is inside the working
    directory; else as it is."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else side + relative


def edit_config(
    path: str | os.PathLike[str],
    *,
    writer_region: str | None = None,
    rebuild: str | None = None,
) -> ConfigChange:
    """Make ``writer_region`` the writer (``writer_region:`` added when missing) and/or
    rebuild ``rebuild``'s database: its ``database_generation`` goes to the next one that
    may replicate from the writer (added when missing). One edit, validated once: moving the
    writer and rebuilding the region that gives it up are valid only together."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    data = _load(before, path)
    expected, after, summary = copy.deepcopy(data), before, []
    if writer_region is not None:
        _slot_of(data, writer_region, path)
        expected[WRITER_KEY] = writer_region
        after = _set_top_level(after, WRITER_KEY, writer_region)
        summary.append(f"writer region {writer_region}")
        after = _promoted_version(data, expected, after, path, summary)
    if rebuild is not None:
        slot = _slot_of(data, rebuild, path)
        generation = next_generation(expected, slot)
        expected[slot][GENERATION_KEY] = generation
        after = _set_in_section(after, slot, GENERATION_KEY, str(generation), path)
        summary.append(f"rebuild the {rebuild} database (generation {generation})")
    if not summary:
        raise ConfigFileError("nothing to change: name writer_region or rebuild")
    return _validated(path, before, after, expected, "tapstack: " + "; ".join(summary))


def _promoted_version(
    data: dict[str, Any], expected: dict[str, Any], text: str, path: Path, summary: list[str]
) -> str:
    """Mid-upgrade (``replica_engine_version`` newer than ``engine_version``), the replica
    being promoted runs the newer version and RDS cannot downgrade it: the writer's pin
    becomes the replica's, in the same edit."""
    database = data.get("database") or {}
    replica = database.get("replica_engine_version")
    if not replica or str(replica) == str(database.get("engine_version")):
        return text
    expected["database"]["engine_version"] = str(replica)
    summary.append(f"engine_version {replica} (the promoted replica's)")
    return _set_in_section(text, "database", "engine_version", f'"{replica}"', path)


def next_generation(data: dict[str, Any], slot: str) -> int:
    """The lowest ``database_generation`` above ``slot``'s current one whose instance is
    younger than the writer's, so that it can replicate from it (``tapstack.config`` orders
    instances by ``(generation, slot)``, the primary's first)."""
    current = int(data[slot].get(GENERATION_KEY, 0))
    writer = data.get(WRITER_KEY) or data["primary"]["region"]
    writer_slot = _slot_of(data, writer, Path("?"))
    if writer_slot == slot:
        return current + 1
    writer_generation = int(data[writer_slot].get(GENERATION_KEY, 0))
    younger = writer_generation if slot == "secondary" else writer_generation + 1
    return max(current + 1, younger)


def _slot_of(data: dict[str, Any], region: str, path: Path) -> str:
    for slot in SLOTS:
        if isinstance(data.get(slot), dict) and data[slot].get("region") == region:
            return slot
    configured = ", ".join(str((data.get(s) or {}).get("region")) for s in SLOTS)
    raise ConfigFileError(f"{path}: {region!r} is not one of the configured regions ({configured})")


def write(change: ConfigChange) -> None:
    """Write the new text atomically (a temporary file renamed over the old one)."""
    if not change.changed:
        return
    descriptor, temporary = tempfile.mkstemp(dir=change.path.parent, prefix=".tapstack-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(change.after)
    os.chmod(temporary, change.path.stat().st_mode & 0o777)
    os.replace(temporary, change.path)


def revert(change: ConfigChange) -> TapStackConfig:
    """Put back the text ``change`` replaced (when the file still holds its new text);
    return the configuration the old text describes."""
    if change.changed and change.path.read_text(encoding="utf-8") == change.after:
        write(dataclasses.replace(change, before=change.after, after=change.before))
    return parse_config(_load(change.before, change.path), str(change.path))


def _load(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: the file must hold a YAML mapping of fields")
    return data


def _validated(
    path: Path, before: str, after: str, expected: dict[str, Any], summary: str
) -> ConfigChange:
    """The change, once the new text validates and says exactly what was meant."""
    if _load(after, path) != expected:
        raise ConfigFileError(
            f"{path}: the line edit would change more than {summary!r}; edit the file by hand"
        )
    try:
        config = parse_config(expected, str(path))
    except ConfigError as exc:
        raise ConfigFileError(
            f"{path}: the change would make the configuration invalid: {'; '.join(exc.problems)}"
        ) from None
    return ConfigChange(path, before, after, config, summary)


def _replace_value(line: str, value: str) -> str:
    """``key: old  # comment`` -> ``key: value  # comment``."""
    match = _VALUE.match(line.rstrip("\n"))
    if match is None:
        raise ConfigFileError(f"cannot edit the line {line.strip()!r}")
    newline = "\n" if line.endswith("\n") else ""
    return f"{match['head']}{value}{match['tail']}{newline}"


def _set_top_level(text: str, key: str, value: str) -> str:
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = _TOP_LEVEL.match(line)
        if match and match["key"] == key:
            lines[index] = _replace_value(line, value)
            return "".join(lines)
    # Missing: after the secondary section, beside the regions it chooses between.
    end = _section_end(lines, "secondary")
    comment = "# the region whose database writes (tapstack failover/switchover change it)\n"
    return "".join([*lines[:end], "\n", comment, f"{key}: {value}\n", *lines[end:]])


def _section_bounds(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of ``section:``, index after its last indented line), or None."""
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if (m := _TOP_LEVEL.match(line)) and m["key"] == section
        ),
        None,
    )
    if start is None:
        return None
    end = start + 1
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped and not lines[index][0].isspace() and not stripped.startswith("#"):
            break
        if stripped and lines[index][0].isspace():
            end = index + 1
    return start, end


def _section_end(lines: list[str], section: str) -> int:
    bounds = _section_bounds(lines, section)
    return bounds[1] if bounds else len(lines)


def _set_in_section(text: str, section: str, key: str, value: str, path: Path) -> str:
    lines = text.splitlines(keepends=True)
    bounds = _section_bounds(lines, section)
    if bounds is None or _inline_value(lines[bounds[0]]):
        raise ConfigFileError(f"{path}: {section} must be a block mapping (one field a line)")
    start, end = bounds
    fields = [i for i in range(start + 1, end) if _is_field(lines[i])]
    if not fields:
        raise ConfigFileError(f"{path}: {section} has no fields")
    indent = lines[fields[0]][: len(lines[fields[0]]) - len(lines[fields[0]].lstrip())]
    for index in fields:
        if re.match(rf"^{indent}{re.escape(key)}\s*:", lines[index]):
            lines[index] = _replace_value(lines[index], value)
            return "".join(lines)
    lines.insert(fields[-1] + 1, f"{indent}{key}: {value}\n")
    return "".join(lines)


def _inline_value(line: str) -> str:
    """What follows ``key:`` on a top-level line, without a comment (a flow mapping)."""
    match = _TOP_LEVEL.match(line)
    return match["rest"].split("#")[0].strip() if match else ""


def _is_field(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and line[0].isspace()
