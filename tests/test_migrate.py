"""Upgrading config files written by an older ledhost (``config.migrate``).

Pure step tables with plain values, then real files: comments survive, the old file is
kept as a backup, a newer file is refused, a read-only file is upgraded in memory only.
"""

from __future__ import annotations

import copy
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from config.atomic import BACKUP_DIR, list_backups
from config.migrate import (
    CURRENT_VERSION,
    STEPS,
    VERSION_KEY,
    document_version,
    migrate_document,
    migrate_file,
)

V1_FILE = """\
# My sign: two panels side by side.
[display]
rows = 32  # one panel
# Two 64x32 panels on one connector.
chain_length = 2   # was 1 until the second panel came
brightness = 60

[plugins.clock]
timezone = "Europe/Berlin"  # kitchen clock
"""


# --- the step table ---------------------------------------------------------------------


def test_steps_cover_every_version_once_in_order() -> None:
    assert [step.version for step in STEPS] == list(range(1, CURRENT_VERSION))
    assert all(step.summary.endswith(".") for step in STEPS)


@pytest.mark.parametrize(
    ("doc", "expected", "notes"),
    [
        pytest.param(
            {"display": {"rows": 32, "chain_length": 2, "parallel": 1}},
            {"display": {"rows": 32, "chain": 2, "parallel": 1}},
            ["renamed display.chain_length to display.chain"],
            id="v1-renames-chain_length",
        ),
        pytest.param(
            {VERSION_KEY: 1, "display": {"chain_length": 3}},
            {"display": {"chain": 3}},
            ["renamed display.chain_length to display.chain"],
            id="explicit-v1",
        ),
        pytest.param(
            {"display": {"rows": 16}, "plugins": {"clock": {}}},
            {"display": {"rows": 16}, "plugins": {"clock": {}}},
            [],
            id="v1-without-old-keys-only-gets-the-stamp",
        ),
        pytest.param(
            {VERSION_KEY: 2, "display": {"chain": 2}},
            {"display": {"chain": 2}},
            [],
            id="current-is-untouched",
        ),
        pytest.param(
            {VERSION_KEY: 2, "display": {"chain_length": 2}},
            {"display": {"chain_length": 2}},
            [],
            id="v2-is-not-migrated-again",  # the loader then reports the unknown key
        ),
        pytest.param(
            {"plugins": {"x": {"chain_length": 2}}, "display": 5},
            {"plugins": {"x": {"chain_length": 2}}, "display": 5},
            [],
            id="only-display-is-touched",
        ),
        pytest.param({}, {}, [], id="empty"),
    ],
)
def test_migrate_document(doc: dict[str, Any], expected: dict[str, Any], notes: list[str]) -> None:
    before = copy.deepcopy(doc)
    upgraded, got_notes = migrate_document(doc, source="a.toml")
    assert upgraded == {VERSION_KEY: CURRENT_VERSION, **expected}
    assert got_notes == notes
    assert doc == before  # pure: the input is not touched


def test_migrate_document_keeps_the_renamed_key_in_place() -> None:
    upgraded, _ = migrate_document({"display": {"rows": 32, "chain_length": 2, "parallel": 1}})
    assert list(upgraded["display"]) == ["rows", "chain", "parallel"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (3, "written in config version 3, by a newer ledhost"),
        (99, "reads versions up to 2: upgrade ledhost"),
        ("2", "expected an integer from 1 to 2"),
        (True, "expected an integer from 1 to 2"),
        (0, "expected an integer from 1 to 2"),
        (2.0, "expected an integer from 1 to 2"),
    ],
)
def test_bad_or_newer_version_is_an_error_naming_file_and_key(version: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        migrate_document({VERSION_KEY: version}, source="/etc/ledhost.toml")
    [issue] = caught.value.errors
    assert (issue.source, issue.key) == ("/etc/ledhost.toml", VERSION_KEY)
    assert expected in issue.message


def test_old_and_new_name_both_set_is_left_to_the_user() -> None:
    with pytest.raises(ConfigError) as caught:
        migrate_document({"display": {"chain_length": 2, "chain": 3}}, source="a.toml")
    [issue] = caught.value.errors
    assert issue.key == "display.chain_length"
    assert "display.chain is set too: delete one of them" in issue.message


def test_document_version_defaults_to_1() -> None:
    assert document_version({}) == 1
    assert document_version({VERSION_KEY: CURRENT_VERSION}) == CURRENT_VERSION


# --- files ------------------------------------------------------------------------------


def test_migrate_file_keeps_comments_and_order_and_backs_up_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(V1_FILE)
    notes = migrate_file(path)
    assert notes[0].startswith(f"upgraded {path} from config version 1 to {CURRENT_VERSION}")
    assert str(tmp_path / BACKUP_DIR) in notes[0]
    assert notes[1:] == ["renamed display.chain_length to display.chain"]
    text = path.read_text()
    # Every line of the old file is still there, in order; only the renamed key differs.
    expected_body = V1_FILE.replace("chain_length = 2", "chain = 2")
    assert text.endswith(expected_body)
    head = text[: -len(expected_body)]
    assert f"\n{VERSION_KEY} = {CURRENT_VERSION}\n" in head and head.startswith("# ")
    assert tomllib.loads(text) == migrate_document(tomllib.loads(V1_FILE))[0]
    [backup] = list_backups(path)
    assert backup.path.read_text() == V1_FILE
    assert migrate_file(path) == []  # current now: nothing to do, no second backup
    assert len(list_backups(path)) == 1


def test_migrate_file_keeps_the_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(V1_FILE)
    path.chmod(0o640)
    migrate_file(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_explicit_old_stamp_is_updated_where_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(f"# header\n{VERSION_KEY} = 1  # old\n[display]\nchain_length = 2\n")
    migrate_file(path)
    assert path.read_text() == f"# header\n{VERSION_KEY} = 2  # old\n[display]\nchain = 2\n"


@pytest.mark.parametrize(
    "text",
    [
        "display.rows = 32\ndisplay.chain_length = 3 # c\n[plugins.clock]\n",
        "display = { rows = 32, chain_length = 4 }\n",
        '[display]\n"chain_length" = 5\n[display.extra]\n',
        "[display]\nchain_length = 2\n[plugins.clock]\n[display.x]\ny = 1\n",
    ],
    ids=["dotted-keys", "inline-table", "quoted-key", "sub-table-later"],
)
def test_unusual_layouts_are_upgraded_to_the_same_data(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(text)
    migrate_file(path)
    assert tomllib.loads(path.read_text()) == migrate_document(tomllib.loads(text))[0]


def test_a_file_needing_only_the_stamp_is_left_alone(tmp_path: Path) -> None:
    """Verify a v1 file that reads the same in v2 is not rewritten (or backed up)."""
    path = tmp_path / "ledhost.toml"
    path.write_text("[display]\nrows = 16\n")
    assert migrate_file(path) == []
    assert path.read_text() == "[display]\nrows = 16\n"
    assert not (tmp_path / BACKUP_DIR).exists()


def test_newer_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(f"{VERSION_KEY} = {CURRENT_VERSION + 1}\n[display]\nnew_thing = 1\n")
    with pytest.raises(ConfigError, match="by a newer ledhost.*upgrade ledhost"):
        migrate_file(path)
    assert path.read_text().startswith(f"{VERSION_KEY} = {CURRENT_VERSION + 1}")
    assert not (tmp_path / BACKUP_DIR).exists()


@pytest.mark.parametrize(
    "content", [None, "[display\n", b"\xff\xfe"], ids=["missing", "bad", "bin"]
)
def test_unreadable_files_are_left_to_the_loader(
    tmp_path: Path, content: str | bytes | None
) -> None:
    path = tmp_path / "ledhost.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert migrate_file(path) == []


def test_a_symlink_upgrades_the_file_it_leads_to(tmp_path: Path) -> None:
    real = tmp_path / "real" / "ledhost.toml"
    real.parent.mkdir()
    real.write_text(V1_FILE)
    link = tmp_path / "ledhost.toml"
    link.symlink_to(real)
    migrate_file(link)
    assert link.is_symlink()
    assert "chain = 2" in real.read_text()
    assert len(list_backups(real)) == 1


@pytest.fixture
def read_only_v1(tmp_path: Path) -> Iterator[Path]:
    """A v1 config file this process cannot write (immutable when running as root)."""
    path = tmp_path / "ledhost.toml"
    path.write_text(V1_FILE)
    path.chmod(0o444)
    immutable = False
    if os.access(path, os.W_OK):  # root ignores modes; an immutable file stops it too
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
        if not immutable:
            pytest.skip("cannot make a file read-only for root here (no chattr +i)")
    try:
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_file_is_upgraded_in_memory_with_a_warning(read_only_v1: Path) -> None:
    notes = migrate_file(read_only_v1)
    assert "renamed display.chain_length to display.chain" in notes
    assert "upgraded in memory only" in notes[-1] and "read-only" in notes[-1]
    assert read_only_v1.read_text() == V1_FILE
    assert not (read_only_v1.parent / BACKUP_DIR).exists()


def test_loader_reads_a_v1_file_it_cannot_upgrade(read_only_v1: Path) -> None:
    """Verify the loader upgrades what it read in memory (config.loader wiring)."""
    cfg = load_config(read_only_v1, env={})
    assert cfg.display.chain == 2 and cfg.display.width == 128


def test_loader_accepts_the_stamp_and_refuses_newer_files(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(f"{VERSION_KEY} = {CURRENT_VERSION}\n[display]\nchain = 2\n")
    assert load_config(path, env={}).display.chain == 2
    path.write_text(f"{VERSION_KEY} = {CURRENT_VERSION + 1}\n")
    with pytest.raises(ConfigError, match="upgrade ledhost"):
        load_config(path, env={})
