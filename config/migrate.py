"""Upgrade config files written by an older ledhost.

A config file says which format it is written in with a top-level ``config_version``;
a file without one is version 1, what ledhost 0.1 wrote. Each format change is one
:class:`Step` in :data:`STEPS`, a small function that turns a version ``N`` document into
version ``N + 1`` and says what it changed. Steps edit the mapping they are given in
place, because the same step then works on plain data (:func:`migrate_document`, which
gives it a deep copy and so stays pure) and on a :mod:`tomlkit` document
(:func:`migrate_file`, which keeps the user's comments, key order and formatting).

Only :func:`migrate_file` does I/O: it reads the file and writes the upgrade through
:func:`config.atomic.atomic_write`, which keeps the old file as a backup. A file the
upgrade would change only by stamping ``config_version`` is left alone: every step
touches only keys an older version used, so such a file reads the same under either
version, and rewriting (and backing up) every hand-written file for a stamp is noise.
A file newer than :data:`CURRENT_VERSION` is an error: this ledhost would misread it.

Adding a version: raise :data:`CURRENT_VERSION`, append a step, and document the new
format in ``default.toml`` (which carries the current stamp).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

from config.atomic import BACKUP_DIR, atomic_write
from config.errors import ConfigError, ConfigIssue
from config.schema import describe_value

if TYPE_CHECKING:
    import tomlkit

__all__ = [
    "CURRENT_VERSION",
    "STEPS",
    "VERSION_COMMENT",
    "VERSION_KEY",
    "Step",
    "document_version",
    "migrate_document",
    "migrate_file",
]

#: The config format this ledhost writes and reads.
CURRENT_VERSION: Final = 2
#: The top-level key that holds a file's format version.
VERSION_KEY: Final = "config_version"
#: The comment written above the stamp when a file is upgraded.
VERSION_COMMENT: Final = (
    "# Format of this file. ledhost upgrades older files (keeping the old one in "
    ".ledhost-backups/)\n# and refuses newer ones; do not change it by hand."
)

#: A step's function: edits a document in place, returns one note per change made.
#: The second argument names the file (or layer) in errors.
StepFunction = Callable[[MutableMapping[str, Any], str], list[str]]


@final
@dataclass(frozen=True, slots=True)
class Step:
    """One format change: upgrades a version ``version`` document to ``version + 1``."""

    #: The version this step reads; it writes ``version + 1``.
    version: int
    #: What changed in ``version + 1``, in one sentence (for docs and release notes).
    summary: str
    #: Edits the document in place; returns a note per change it made (none: untouched).
    apply: StepFunction


def _rename_key(table: MutableMapping[str, Any], old: str, new: str) -> None:
    """Rename ``table[old]`` to ``table[new]`` where it stands, keeping its comment.

    tomlkit has no public rename: deleting and re-adding a key would move it to the end
    of its table, away from the comment above it. Its container's ``_replace``, which
    ``__setitem__`` itself uses, swaps the key in place. Should that ever change, or the
    key sit in a layout it cannot handle (dotted keys), the fallback moves the key to
    the end: the data is still right, and :func:`migrate_file` checks the result
    against :func:`migrate_document` anyway.
    """
    if type(table) is dict:
        items = [(new if key == old else key, value) for key, value in table.items()]
        table.clear()
        table.update(items)
        return
    # Imported here: ``import config`` (every worker does) need not load tomlkit.
    import tomlkit
    from tomlkit.container import Container
    from tomlkit.items import Item

    container = getattr(table, "value", None)
    if isinstance(container, Container):
        try:
            item = container.item(old)
            if isinstance(item, Item):
                container._replace(old, new, item)
                return
        except (AttributeError, KeyError, TypeError, tomlkit.exceptions.TOMLKitError):
            pass
    table[new] = table.pop(old)


def _rename_setting(
    document: MutableMapping[str, Any], source: str, section: str, old: str, new: str, version: int
) -> list[str]:
    """Rename ``[section] old`` to ``new`` (as of ``version``); a file that sets both is
    the user's to settle."""
    table = document.get(section)
    if not isinstance(table, MutableMapping) or old not in table:
        return []
    if new in table:
        message = (
            f"was renamed to {new!r} in config version {version}, and {section}.{new} is set too: "
            f"delete one of them"
        )
        raise ConfigError([ConfigIssue(source, f"{section}.{old}", message)])
    _rename_key(table, old, new)
    return [f"renamed {section}.{old} to {section}.{new}"]


def _chain_length_to_chain(document: MutableMapping[str, Any], source: str) -> list[str]:
    return _rename_setting(document, source, "display", "chain_length", "chain", 2)


#: Every format change, oldest first: ``STEPS[i]`` upgrades version ``i + 1``.
STEPS: Final[tuple[Step, ...]] = (
    Step(
        1,
        "display.chain_length is called display.chain, as rgbmatrix's --led-chain.",
        _chain_length_to_chain,
    ),
)


def document_version(document: MutableMapping[str, Any], source: str = "config") -> int:
    """Return the format version a parsed config declares (1 when it declares none).

    :param document: the parsed file.
    :param source: names the file in errors.
    :raises ConfigError: the version is not a positive integer, or is newer than
        :data:`CURRENT_VERSION` (the message says to upgrade ledhost).
    """
    if VERSION_KEY not in document:
        return 1
    version = document[VERSION_KEY]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        message = (
            f"expected an integer from 1 to {CURRENT_VERSION} (the format version ledhost "
            f"stamps), found {describe_value(version)}"
        )
        raise ConfigError([ConfigIssue(source, VERSION_KEY, message)])
    if version > CURRENT_VERSION:
        message = (
            f"the file is written in config version {version}, by a newer ledhost; this "
            f"ledhost reads versions up to {CURRENT_VERSION}: upgrade ledhost "
            "(or restore an older copy from .ledhost-backups/ beside the file)"
        )
        raise ConfigError([ConfigIssue(source, VERSION_KEY, message)])
    return int(version)


def _upgrade(document: MutableMapping[str, Any], version: int, source: str) -> list[str]:
    notes: list[str] = []
    for step in STEPS[version - 1 :]:
        notes += step.apply(document, source)
    return notes


def migrate_document(
    doc: MutableMapping[str, Any], *, source: str = "config"
) -> tuple[dict[str, Any], list[str]]:
    """Upgrade parsed config data to :data:`CURRENT_VERSION`, without touching ``doc``.

    The loader applies it to what it read, so an older file that could not be written
    back (read-only, or a layout :func:`migrate_file` could not edit) still loads.

    :param doc: the parsed file (as :func:`tomllib.loads` returns it).
    :param source: names the file in errors.
    :returns: ``(upgraded copy with config_version stamped, one note per change)``; the
        notes are empty when nothing but the stamp changed.
    :raises ConfigError: see :func:`document_version`; also a file that sets both an old
        and a new name of a renamed setting.
    """
    version = document_version(doc, source)
    upgraded: dict[str, Any] = copy.deepcopy(dict(doc))
    notes = _upgrade(upgraded, version, source)
    upgraded[VERSION_KEY] = CURRENT_VERSION
    return upgraded, notes


def _stamp(document: tomlkit.TOMLDocument) -> str:
    """Render ``document`` with ``config_version`` set to the current version.

    An existing stamp is updated where it stands. A new one goes first in the file: a
    top-level key must come before every ``[table]``, and at the top a reader sees it.
    """
    import tomlkit

    if VERSION_KEY in document:
        document[VERSION_KEY] = CURRENT_VERSION
        return tomlkit.dumps(document)
    return f"{VERSION_COMMENT}\n{VERSION_KEY} = {CURRENT_VERSION}\n\n{tomlkit.dumps(document)}"


def _by_hand(source: str, why: str) -> str:
    return (
        f"{source} was upgraded in memory only, and will be on every start, because {why}; "
        "to upgrade the file, make these changes yourself and add "
        f"'{VERSION_KEY} = {CURRENT_VERSION}' at its top"
    )


def migrate_file(path: str | os.PathLike[str], *, backups: int = 5) -> list[str]:
    """Upgrade a config file in place, keeping its comments; call it before loading.

    The upgraded text is written with :func:`config.atomic.atomic_write`, which first
    copies the old file to ``.ledhost-backups/`` beside it. A symbolic link is followed:
    the file it leads to is upgraded (and backed up beside itself).

    A file that cannot be read or parsed is left alone for the loader to report. A file
    that cannot be written (read-only, or a layout tomlkit cannot edit faithfully) is not
    an error either: the loader upgrades what it read in memory on every start, and the
    last note says so and how to fix the file by hand.

    :param path: the config file.
    :param backups: how many backups of the file to keep.
    :returns: notes for the user: empty when the file is current or needs no change;
        else a first line naming the file and versions, then one line per change.
    :raises ConfigError: the file is newer than this ledhost, or sets both an old and a
        new name of a renamed setting (:func:`migrate_document`).
    """
    target = Path(path).resolve()
    source = str(path)
    try:
        text = target.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    version = document_version(data, source)
    upgraded, changes = migrate_document(data, source=source)
    if not changes:
        return []
    head = f"{source} is in config version {version}; this ledhost reads {CURRENT_VERSION}:"
    import tomlkit

    document = tomlkit.parse(text)
    _upgrade(document, version, source)
    new_text = _stamp(document)
    if tomllib.loads(new_text) != upgraded:
        return [head, *changes, _by_hand(source, "ledhost could not edit its layout faithfully")]
    if not os.access(target, os.W_OK):
        return [head, *changes, _by_hand(source, "the file is read-only")]
    try:
        atomic_write(target, new_text, backups=backups, private=True)
    except OSError as exc:
        why = f"it could not be written ({exc.strerror or exc})"
        return [head, *changes, _by_hand(source, why)]
    kept = target.parent / BACKUP_DIR
    head = (
        f"upgraded {source} from config version {version} to {CURRENT_VERSION} "
        f"(the old file is kept in {kept}):"
    )
    return [head, *changes]
