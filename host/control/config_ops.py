"""Read and write one config section for the control socket.

Reads come from the running config with secrets redacted, then shown as ``"set"``: a
secret's value never leaves the host. Writes go through the same steps as an edit of the
file: the new file is validated by :func:`config.load_config` (the loader the file watcher
uses) before anything is written, written atomically with comments kept (tomlkit), then
applied live by the reconfigurer; the reply waits for that verdict. Secret keys are refused
here: they belong in the secrets file, which this path never writes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from config import is_valid_id, load_config
from config.atomic import atomic_write
from config.secrets import REDACTED
from host.control.handlers_base import Pending, Refused
from host.ipc import control
from host.reload import ReloadResult

__all__ = ["backup_text", "read_section", "restore_file", "write_section"]


def _walk(data: dict[str, Any], section: str) -> dict[str, Any]:
    node: Any = data
    for part in section.split("."):
        if not isinstance(node, dict) or part not in node:
            raise Refused("no_such_section", f"config has no section [{section}]")
        node = node[part]
    if not isinstance(node, dict):
        raise Refused("no_such_section", f"[{section}] is a value, not a section")
    return node


def _shown(value: Any) -> Any:
    if value == REDACTED:
        return "set"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    return value


def _current_or_new(cfg: Any, section: str) -> dict[str, Any]:
    """The section as it runs; a ``plugins.<id>`` or ``layouts.<name>`` not there yet is
    new (an admin adding a second clock, or a layout), empty until written; the loader
    judges it whole before anything is written. Other sections must exist."""
    try:
        return _walk(cfg.to_dict(secrets="redact"), section)
    except Refused:
        parts = section.split(".")
        if len(parts) == 2 and parts[0] in ("plugins", "layouts") and is_valid_id(parts[1]):
            return {}
        raise


def read_section(cfg: Any, section: str) -> dict[str, Any]:
    """The running config's ``section``; secrets as ``"set"``. ``layouts`` with none is
    empty rather than missing (a config without layouts still has the table's place)."""
    data = cfg.to_dict(secrets="redact")
    if section == "layouts" and "layouts" not in data:
        return {}
    shown: dict[str, Any] = _shown(_walk(data, section))
    return shown


def write_section(host: Any, req: control.ConfigSet) -> Pending:
    """Validate, write and apply ``req.values`` into ``req.section`` of the config file."""
    import tomlkit

    cfg = host.cfg
    if cfg.path is None:
        raise Refused("no_config_file", "the host runs without a config file; nothing to write")
    current = _current_or_new(cfg, req.section)
    secret = sorted(k for k in req.values if current.get(k) == REDACTED)
    if secret:
        raise Refused("secret", f"{', '.join(secret)}: secrets are set in the secrets file only")
    path = Path(cfg.path)
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table: Any = document
    for part in req.section.split("."):
        if part not in table:
            table[part] = tomlkit.table()
        table = table[part]
    for key, value in req.values.items():
        table[key] = value
    text = tomlkit.dumps(document)
    new = _validated(path, text, cfg.secrets_path)
    atomic_write(path, text, backups=5)
    return _applied(host, new, req.id, lambda: read_section(host.cfg, req.section))


def _applied(host: Any, new: Any, request_id: int, data: Any) -> Pending:
    """Apply ``new`` live; the reply waits for the reconfigurer's verdict."""
    result: list[ReloadResult] = []
    host.reconfigurer.apply(new, result.append)

    def poll(now: float) -> control.Ok | control.Failed | None:
        if not result:
            return None
        if result[0].error is not None:
            message = str(result[0].error)[:4000]
            return control.Failed(code="refused", message=message, id=request_id)
        return control.Ok(id=request_id, data=data())

    return Pending(poll)


def _file_of(host: Any) -> Path:
    if host.cfg.path is None:
        raise Refused("no_config_file", "the host runs without a config file; nothing to back up")
    return Path(host.cfg.path)


def backup_text(host: Any) -> dict[str, Any]:
    """The config file's text, comments kept, minus any secret written in it by mistake.

    Secrets live in the secrets file, which a backup never includes; a secret option found
    in the config file itself (the plugin refuses it there anyway) is left out, with a
    comment saying so, so a backup can be shared without leaking it.
    """
    import tomlkit

    path = _file_of(host)
    text = path.read_text(encoding="utf-8")
    running = host.cfg.to_dict(secrets="redact").get("plugins", {})
    document = tomlkit.parse(text)
    plugins: Any = document.get("plugins", {})
    dropped = []
    for instance, table in running.items():
        written = plugins.get(instance) if hasattr(plugins, "get") else None
        if not isinstance(table, dict) or written is None or not hasattr(written, "pop"):
            continue
        for key, value in table.items():
            if value == REDACTED and key in written:
                written.pop(key)
                dropped.append(f"plugins.{instance}.{key}")
    if dropped:
        document.add(tomlkit.comment(f"left out of this backup (secret): {', '.join(dropped)}"))
        text = tomlkit.dumps(document)
    return {"path": str(path), "text": text, "left_out": dropped}


def restore_file(host: Any, req: control.ConfigRestore) -> Pending:
    """Replace the config file with ``req.text`` if all of it is valid, then apply it."""
    path = _file_of(host)
    new = _validated(path, req.text, host.cfg.secrets_path)
    atomic_write(path, req.text, backups=5)
    return _applied(host, new, req.id, lambda: {"path": str(path)})


def _validated(path: Path, text: str, secrets_path: Any) -> Any:
    """The config ``text`` would load as; :class:`Refused` with every issue otherwise."""
    fd, temp = tempfile.mkstemp(prefix=".control-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            new = load_config(temp, secrets_path=secrets_path or False)
        except Exception as exc:  # ConfigError names every issue
            raise Refused("invalid_config", str(exc)[:4000]) from None
    finally:
        os.unlink(temp)
    # The loaded config must say it came from the real file, not the temporary one.
    import dataclasses

    return dataclasses.replace(new, path=path)
