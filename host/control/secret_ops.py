"""Write-only secrets over the control socket: set or remove one, list which are set.

A secret (a top-level option a plugin's schema marks ``"writeOnly": true``, see
:mod:`config.secrets`) is written to the secrets file and never read back: the list says
which keys each instance declares and which are set, never a value, and no reply, log
line or error names one.

A write is refused whole, with nothing written, unless all of this holds:

1. the instance is in the config, and its worker has told the host its schema (in its
   hello): the host never runs plugin code, so until then it cannot know which keys are
   secret (``unknown_schema``);
2. the key is one the schema marks secret (``not_secret``, listing those it has);
3. the config, loaded again with the new secrets file exactly as the file watcher would
   load it, is valid (``invalid_config``);
4. the reconfigurer applied it: a running worker checked the value against its own schema
   first, as for any config edit (``refused``). An instance that is not running checks it
   when it starts; a quarantined one (say, for want of this very key) is retried at once.

Only then is the secrets file replaced (:func:`config.atomic.atomic_write`, mode 0600, no
backup copies: a copy of a secret is one more place to leak it). The file watcher then
sees a file that matches the running config and changes nothing. Comments and other
tables in the file are kept (tomlkit).

Validation loads from a private temp file beside the secrets file (``mkstemp``: 0600), so
the loader reads exactly what would be written.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

from config import HostConfig, load_config
from config.atomic import atomic_write, make_dirs
from config.secrets import scrub_text, secret_keys, secret_strings
from host.control.handlers_base import Pending, Refused
from host.ipc import control
from host.reload import ReloadResult

__all__ = ["list_secrets", "write_secret"]


def _declared(host: Any, instance: str) -> frozenset[str] | None:
    """The keys the instance's plugin marks secret; ``None`` while its schema is unknown."""
    handle = host.supervisor.handles.get(instance)
    schema = None if handle is None else handle.schema
    return None if schema is None else secret_keys(schema)


def _entry(host: Any, instance: str) -> dict[str, Any]:
    section = host.cfg.plugins[instance]
    declared = _declared(host, instance)
    return {
        "plugin": section.plugin_id,
        # None: the worker has not said which keys are secret (not started, disabled).
        "secret_keys": None if declared is None else sorted(declared),
        "set": sorted(section.secrets),
    }


def list_secrets(host: Any) -> dict[str, Any]:
    """Per instance: its plugin, the keys it declares secret, the keys that are set."""
    return {iid: _entry(host, iid) for iid in host.cfg.plugins}


def _secrets_file(host: Any) -> Path:
    path = host.cfg.secrets_path
    if path is None:
        raise Refused("no_secrets_file", "the host runs without a secrets file; nothing to write")
    path = Path(path)
    if path.is_symlink():
        # A write would replace the link with a file (config.atomic never follows links):
        # the secrets then would no longer be where the user keeps them.
        raise Refused(
            "refused",
            f"the secrets file {path} is a link (to {os.path.realpath(path)}); edit the file "
            "it points to by hand",
        )
    make_dirs(path.parent)  # the default's ~/.config/ledhost may not exist yet (0700)
    return path


def _document(path: Path) -> Any:
    """The secrets file as a tomlkit document (a new one when there is no file)."""
    import tomlkit

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except OSError as exc:
        raise Refused("refused", f"cannot read the secrets file {path}: {exc.strerror}") from None
    try:
        return tomlkit.parse(text)
    except Exception:  # noqa: BLE001 - its message may quote the file, hence a secret
        raise Refused(
            "invalid_config",
            f"the secrets file {path} is not valid TOML (the text is not shown: it may hold a "
            "secret); fix it by hand first",
        ) from None


def _changed(host: Any, req: control.SecretSet | control.SecretDelete, path: Path) -> str:
    """The secrets file's new text, after the checks that need no worker."""
    import tomlkit

    section = host.cfg.plugins.get(req.instance)
    if section is None:
        known = ", ".join(host.cfg.plugins) or "none"
        raise Refused(
            "no_such_instance", f"the config has no plugin instance {req.instance!r} ({known})"
        )
    document = _document(path)
    plugins: Any = document.setdefault("plugins", tomlkit.table(is_super_table=True))
    table: Any = plugins.get(req.instance)
    if isinstance(req, control.SecretDelete):
        if table is None or req.key not in table:
            raise Refused(
                "not_set", f"{req.key!r} is not set in the secrets file for {req.instance!r}"
            )
        table.pop(req.key)
        if not table:
            plugins.pop(req.instance)
        return tomlkit.dumps(document)
    declared = _declared(host, req.instance)
    if declared is None:
        raise Refused(
            "unknown_schema",
            f"plugin instance {req.instance!r} has not told the host its config schema yet "
            "(it is disabled or has not started), so its secrets are not known: enable it "
            "first",
        )
    if req.key not in declared:
        secret = ", ".join(sorted(declared)) or "none"
        raise Refused(
            "not_secret",
            f"{req.key!r} is not a secret of plugin {section.plugin_id!r} (its secrets: "
            f"{secret}); set ordinary options with config_set",
        )
    if table is None:
        table = plugins[req.instance] = tomlkit.table()
    table[req.key] = req.value
    return tomlkit.dumps(document)


def _renamed(cfg: HostConfig, temp: str, path: Path) -> HostConfig:
    """``cfg`` as if loaded from ``path``: messages must name the real secrets file."""

    def fix(text: str) -> str:
        return str(path) if text == temp else text

    plugins = {
        iid: dataclasses.replace(
            section,
            secrets_source=fix(section.secrets_source),
            key_sources={key: fix(src) for key, src in section.key_sources.items()},
        )
        for iid, section in cfg.plugins.items()
    }
    return dataclasses.replace(cfg, plugins=plugins, secrets_path=path)


def _loaded(host: Any, path: Path, text: str, scrub: tuple[str, ...]) -> HostConfig:
    """The config as the host would load it with ``text`` as its secrets file."""
    fd, temp = tempfile.mkstemp(prefix=".secrets-check-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        options = host.options
        try:
            new = load_config(
                host.cfg.path,
                env=options.config_env,
                overrides=options.config_overrides,
                secrets_path=temp,
            )
        except Exception as exc:  # ConfigError names every issue, never a secret value
            message = scrub_text(str(exc), scrub).replace(temp, str(path))
            raise Refused("invalid_config", message[:4000]) from None
    finally:
        os.unlink(temp)
    return _renamed(new, temp, path)


def write_secret(host: Any, req: control.SecretSet | control.SecretDelete) -> Pending:
    """Check, apply, then write one secret change; the reply waits for the workers."""
    path = _secrets_file(host)
    text = _changed(host, req, path)
    scrub = secret_strings({"value": req.value}) if isinstance(req, control.SecretSet) else ()
    new = _loaded(host, path, text, scrub)
    result: list[ReloadResult] = []
    host.reconfigurer.apply(new, result.append)

    def poll(now: float) -> control.Ok | control.Failed | None:
        if not result:
            return None
        if result[0].error is not None:
            message = scrub_text(str(result[0].error), scrub)[:4000]
            return control.Failed(code="refused", message=message, id=req.id)
        try:
            atomic_write(path, text, mode=0o600)
        except OSError as exc:
            # Applied but not kept: say so; the running host has it until it restarts.
            message = f"applied, but the secrets file {path} could not be written: {exc.strerror}"
            return control.Failed(code="not_saved", message=message, id=req.id)
        return control.Ok(id=req.id, data=_entry(host, req.instance))

    return Pending(poll)
