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

from config import load_config
from config.atomic import atomic_write
from config.secrets import REDACTED
from host.control.handlers_base import Pending, Refused
from host.ipc import control
from host.reload import ReloadResult

__all__ = ["read_section", "write_section"]


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


def read_section(cfg: Any, section: str) -> dict[str, Any]:
    """The running config's ``section``; secrets as ``"set"``."""
    shown: dict[str, Any] = _shown(_walk(cfg.to_dict(secrets="redact"), section))
    return shown


def write_section(host: Any, req: control.ConfigSet) -> Pending:
    """Validate, write and apply ``req.values`` into ``req.section`` of the config file."""
    import tomlkit

    cfg = host.cfg
    if cfg.path is None:
        raise Refused("no_config_file", "the host runs without a config file; nothing to write")
    current = _walk(cfg.to_dict(secrets="redact"), req.section)
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
    result: list[ReloadResult] = []
    host.reconfigurer.apply(new, result.append)

    def poll(now: float) -> control.Ok | control.Failed | None:
        if not result:
            return None
        if result[0].error is not None:
            return control.Failed(code="refused", message=str(result[0].error)[:4000], id=req.id)
        return control.Ok(id=req.id, data=read_section(host.cfg, req.section))

    return Pending(poll)


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
