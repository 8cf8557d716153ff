"""The registry's tag grammar, GTO's (gto 1.10): pure functions and frozen values, no Git.

One table of tag forms and one regular expression, as gto keeps them::

    register    NAME@vSEMVER          deregister  NAME@vSEMVER!
    assign      NAME#STAGE#N          unassign    NAME#STAGE!#N
    deprecate   NAME@deprecated       (any form may end in #N; gto writes it on stage tags)

Names and stages follow gto's rule, ``[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?``; a monorepo name
``dir:name`` is spelled ``dir=name`` in a tag (``:`` is not allowed in Git ref names). Versions are
``v`` + a full SemVer 2.0. :func:`parse_tag` and :func:`format_tag` are inverse
(``parse_tag(format_tag(t)) == t``, tested with Hypothesis), and so are :func:`format_message` and
:func:`parse_message` for an event's message and the machine-readable trailer gitrun adds to it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from gitrun.errors import InvalidInputError, InvalidNameError

NAME_PATTERN = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
DIRNAME_PATTERN = r"[a-zA-Z0-9\-_./]+"
SEMVER_PATTERN = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="

_NAME_RE = re.compile(f"^{NAME_PATTERN}$")
_FULLNAME_RE = re.compile(f"^(?:{DIRNAME_PATTERN}{SEPARATOR_IN_NAME})?{NAME_PATTERN}$")
_SEMVER_RE = re.compile(f"^v{SEMVER_PATTERN}$")
_TAG_RE = re.compile(
    f"^(?P<artifact>(?:{DIRNAME_PATTERN}{SEPARATOR_IN_TAG})?{NAME_PATTERN})"
    f"(?:(?:#(?P<stage>{NAME_PATTERN})|@(?P<version>v{SEMVER_PATTERN}))(?P<cancel>!?)|@(?P<deprecated>deprecated))"
    r"(?:#(?P<counter>[0-9]+))?$"
)
_SHORTCUT_RE = re.compile(
    f"^(?P<artifact>(?:{DIRNAME_PATTERN}{SEPARATOR_IN_NAME})?{NAME_PATTERN})"
    f"(?:#(?P<stage>{NAME_PATTERN})|@(?P<version>latest|greatest|v{SEMVER_PATTERN}))$"
)

NAME_RULE = (
    "only letters, digits, '-', '_' and '/' are allowed, starting and ending with a letter or a digit "
    "(a monorepo name is dir:name)"
)


class Action(str, Enum):
    """What an event tag does; the value is gto's event name."""

    REGISTER = "registration"
    DEREGISTER = "deregistration"
    ASSIGN = "assignment"
    UNASSIGN = "unassignment"
    DEPRECATE = "deprecation"

    @property
    def priority(self) -> int:
        """gto's order of events made in the same second (``gto/base.py``)."""
        return _PRIORITY[self]


_PRIORITY = {
    Action.DEPRECATE: 2,
    Action.REGISTER: 3,
    Action.DEREGISTER: 4,
    Action.ASSIGN: 5,
    Action.UNASSIGN: 6,
}


# -- names, stages and versions ----------------------------------------------------------------
def is_valid_name(name: str) -> bool:
    return bool(_FULLNAME_RE.match(name)) and name.count(SEPARATOR_IN_NAME) <= 1


def validate_name(name: str) -> str:
    """``name`` when it is a valid model name (gto's rule), else an error quoting the rule."""
    if not isinstance(name, str) or not is_valid_name(name):
        raise InvalidNameError(f"invalid model name {name!r}: {NAME_RULE}")
    return name


def validate_stage(stage: str) -> str:
    if not isinstance(stage, str) or not _NAME_RE.match(stage):
        raise InvalidNameError(
            f"invalid stage {stage!r}: only letters, digits, '-', '_' and '/' are allowed, "
            "starting and ending with a letter or a digit"
        )
    return stage


def slug(name: str) -> str:
    """A GTO-valid name for an MLflow name outside gto's rule (``wine model`` -> ``wine-model``)."""
    if is_valid_name(name):
        return name
    text = re.sub(r"[^a-zA-Z0-9\-_/]+", "-", name.replace(SEPARATOR_IN_NAME, "-"))
    text = re.sub(r"-{2,}", "-", text).strip("-_/")
    if not text or not _NAME_RE.match(text):
        raise InvalidNameError(f"model name {name!r} has no letter or digit to make a registry name of; {NAME_RULE}")
    return text


def name_to_tag(name: str) -> str:
    return name.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)


def tag_to_name(text: str) -> str:
    return text.replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)


@dataclass(frozen=True, order=False)
class SemVer:
    """A SemVer 2.0 version, written with gto's ``v`` prefix (``v1.2.0-rc.1+build5``)."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None
    build: str | None = None

    @classmethod
    def parse(cls, text: str) -> SemVer:
        return _parse_semver(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> SemVer:
        match = _SEMVER_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidNameError(
                f"invalid version {text!r}: a version is 'v' and a full semantic version, e.g. v1.2.0 or v1.0.0-rc.1"
            )
        major, minor, patch, pre, build = match.groups()
        return cls(int(major), int(minor), int(patch), pre, build)

    @staticmethod
    def is_valid(text: str) -> bool:
        return bool(_SEMVER_RE.match(text))

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease is not None:
            text += f"-{self.prerelease}"
        if self.build is not None:
            text += f"+{self.build}"
        return text

    def key(self) -> tuple[Any, ...]:
        """SemVer precedence (a pre-release sorts before its release; numeric identifiers before
        alphanumeric ones), then the build metadata, so that the order is total."""
        if self.prerelease is None:
            pre: tuple[Any, ...] = (1,)
        else:
            pre = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split(".")))
        return (self.major, self.minor, self.patch, pre, self.build or "")

    def __lt__(self, other: SemVer) -> bool:
        return self.key() < other.key()

    def bump(self, part: str = "patch") -> SemVer:
        """The next version: ``part`` is major, minor or patch (a pre-release or build is dropped)."""
        if part == "major":
            return SemVer(self.major + 1, 0, 0)
        if part == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        if part == "patch":
            return SemVer(self.major, self.minor, self.patch + 1)
        raise InvalidInputError(f"unknown bump {part!r}: use major, minor or patch")


@functools.lru_cache(maxsize=4096)
def _parse_semver(text: str) -> SemVer:
    # cached: building a registry sorts every version several times (frozen values: sharing is safe)
    return SemVer._parse(text)


FIRST_VERSION = SemVer(0, 0, 1)  # gto's first version


def version_key(text: str) -> tuple[Any, ...]:
    """Sort key of a version name: SemVer ones by precedence, others (commit SHAs) after, by text."""
    if SemVer.is_valid(text):
        return (0, SemVer.parse(text).key(), "")
    return (1, (), text)


# -- tags ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagName:
    """What a registry tag's name says. ``name`` uses ``:`` for a monorepo prefix (``dir:name``)."""

    name: str
    action: Action
    version: str | None = None  # "v1.2.0" for registrations and deregistrations
    stage: str | None = None  # for assignments and unassignments
    counter: int | None = None

    def __post_init__(self) -> None:
        if (self.version is not None) != (self.action in (Action.REGISTER, Action.DEREGISTER)):
            raise InvalidInputError(
                f"a {self.action.value} tag {'needs' if self.version is None else 'has no'} version"
            )
        if (self.stage is not None) != (self.action in (Action.ASSIGN, Action.UNASSIGN)):
            raise InvalidInputError(f"a {self.action.value} tag {'needs' if self.stage is None else 'has no'} stage")


def format_tag(tag: TagName) -> str:
    """The tag name, in gto's grammar."""
    base = name_to_tag(validate_name(tag.name))
    cancel = "!" if tag.action in (Action.DEREGISTER, Action.UNASSIGN) else ""
    if tag.action == Action.DEPRECATE:
        text = f"{base}@deprecated"
    elif tag.version is not None:
        text = f"{base}@{SemVer.parse(tag.version)}{cancel}"
    else:
        assert tag.stage is not None
        text = f"{base}#{validate_stage(tag.stage)}{cancel}"
    if tag.counter is not None:
        if tag.counter < 0:
            raise InvalidInputError(f"a tag's counter is a non-negative number, not {tag.counter}")
        text += f"#{tag.counter}"
    return text


def parse_tag(text: str) -> TagName | None:
    """What the tag name ``text`` says, or None when it is not a registry tag."""
    match = _TAG_RE.match(text)
    if match is None:
        return None
    name = tag_to_name(match["artifact"])
    if name.count(SEPARATOR_IN_NAME) > 1:
        return None
    counter = int(match["counter"]) if match["counter"] is not None else None
    if match["deprecated"]:
        return TagName(name, Action.DEPRECATE, counter=counter)
    cancel = match["cancel"] == "!"
    if match["version"]:
        return TagName(
            name, Action.DEREGISTER if cancel else Action.REGISTER, version=match["version"], counter=counter
        )
    return TagName(name, Action.UNASSIGN if cancel else Action.ASSIGN, stage=match["stage"], counter=counter)


# -- shortcuts: NAME, NAME#STAGE, NAME@vX.Y.Z, NAME@latest ------------------------------------------
@dataclass(frozen=True)
class Shortcut:
    """A reference to a model version: by stage, by version, the latest, or the name alone (latest)."""

    name: str
    stage: str | None = None
    version: str | None = None
    latest: bool = False


def parse_shortcut(text: str) -> Shortcut | None:
    """``NAME#STAGE``, ``NAME@vX.Y.Z``, ``NAME@latest`` (``@greatest``) or a bare ``NAME``; None otherwise."""
    match = _SHORTCUT_RE.match(text)
    if match is None:
        return Shortcut(text, latest=True) if is_valid_name(text) else None
    name = match["artifact"]
    if not is_valid_name(name):
        return None
    version = match["version"]
    if version in ("latest", "greatest"):
        return Shortcut(name, latest=True)
    return Shortcut(name, stage=match["stage"], version=version)


# -- messages and gitrun's trailer -------------------------------------------------------------------
TRAILER_KEY = "Gitrun-Registry"
_TRAILER_RE = re.compile(rf"\n\n{TRAILER_KEY}: (\{{[^\n]*\}})\n?$")


def default_message(action: Action, name: str, version: str | None = None, stage: str | None = None) -> str:
    """gto's default message of each event (``gto/registry.py``)."""
    if action == Action.REGISTER:
        return f"Registering artifact {name} version {version}"
    if action == Action.DEREGISTER:
        return f"Deregistering artifact {name} version {version}"
    if action == Action.ASSIGN:
        return f"Assigning stage {stage} to artifact {name} version {version}"
    if action == Action.UNASSIGN:
        return f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
    return f"Deprecating artifact '{name}'"


def format_message(message: str, trailer: Mapping[str, Any] | None = None) -> str:
    """A tag message: ``message``, then (when given) the trailer ``Gitrun-Registry: {json}`` on its own
    paragraph, one line of compact JSON with sorted keys (gto shows it as part of the message)."""
    text = message.strip()
    if not text:
        raise InvalidInputError("an event's message may not be empty")
    if trailer:
        data = json.dumps(dict(trailer), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        text += f"\n\n{TRAILER_KEY}: {data}"
    return text + "\n"


def parse_message(text: str) -> tuple[str, dict[str, Any]]:
    """``(message, trailer)`` of a tag message (its signature already removed); a message gitrun did
    not write has an empty trailer."""
    body = text.rstrip("\n") + "\n"
    match = _TRAILER_RE.search(body)
    if match is None:
        return text.strip(), {}
    try:
        trailer = json.loads(match.group(1))
    except ValueError:
        return text.strip(), {}
    if not isinstance(trailer, dict):
        return text.strip(), {}
    return body[: match.start()].strip(), trailer


_SIGNATURE_RE = re.compile(r"^-----BEGIN (?:PGP|SSH) SIGNATURE-----$|^-----BEGIN SIGNED MESSAGE-----$", re.MULTILINE)


def split_signature(contents: str) -> tuple[str, str]:
    """``(message, signature)`` of an annotated tag's contents (Git appends the signature block)."""
    match = _SIGNATURE_RE.search(contents)
    if match is None:
        return contents, ""
    return contents[: match.start()], contents[match.start() :]


def signature_kind(signature: str) -> str:
    """ "ssh", "gpg" or "" (unsigned) for a signature block :func:`split_signature` found."""
    if not signature:
        return ""
    return "ssh" if signature.startswith("-----BEGIN SSH SIGNATURE-----") else "gpg"
