"""Preparing a run: which plugin instances run, with which rules, on which panel options.

Decisions made once before the host loop starts, apart from the loop itself
(:mod:`host.app`), including which secrets go on which instance's handle
(:func:`make_handle`). Only :func:`checked_rules` does I/O: it tries once that the worker user
can run workers.
"""

from __future__ import annotations

import logging
import os
import pwd
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from config import HostConfig, WorkersConfig, is_valid_id
from host.discovery import PluginSpec
from host.display.backends.panel import binding_options
from host.errors import HostError
from host.supervise.handle import WorkerHandle
from host.supervise.restart_policy import RestartPolicy
from host.supervise.rules import MIB, WorkerRules
from host.supervise.spawner import check_runs_as
from host.supervise.uidmap import range_conflicts

log = logging.getLogger("ledhost.host")


@dataclass(frozen=True)
class RunOptions:
    """What the CLI (or a test) asks of one run, beyond the config file."""

    duration: float | None = None
    snapshot: Path | None = None
    stats_json: Path | None = None
    backend: str | None = None
    #: Run exactly these instance ids, whatever the config enables (``--plugins``).
    only: tuple[str, ...] | None = None
    launcher: str = "zygote"
    #: Folders with more plugin distributions (tests, development checkouts).
    plugin_paths: tuple[str, ...] = ()
    #: Look for plugins pip-installed into ledhost's environment.
    environment_plugins: bool = True
    trace_plugins: bool = False
    #: Reload the config file when it changes and apply what can change live.
    watch_config: bool = True
    #: The environment and overrides the config was loaded with, to reload it the same
    #: way (``None``: ``os.environ``; no overrides).
    config_env: Mapping[str, str] | None = None
    config_overrides: Mapping[str, Any] | None = None
    #: More files the config is read from (the secrets file), watched as well.
    config_files: tuple[Path, ...] = ()
    #: Safe mode (``--safe`` or the one-shot flag file, :mod:`host.safemode`): builtin
    #: plugins only. Discovery then looks nowhere else (no plugin paths, no environment).
    safe_mode: bool = False
    #: What the self-check found at start (:mod:`store.selfcheck`), one line each.
    problems: tuple[str, ...] = ()


def matrix_options(cfg: HostConfig, backend: str = "emulator") -> dict[str, Any]:
    """The ``RGBMatrixOptions`` the display settings ask for, for ``backend``.

    Brightness is not among them: the compositor applies it, so it is the same on every
    backend, in snapshots and in the live preview. The emulator's own keys go only to the
    emulator: the hardware backends refuse them (a config meant for the emulator).
    """
    d = cfg.display
    options = binding_options(d)
    if backend != "emulator":
        options["piomatter_pinout"] = d.piomatter_pinout
        return options
    options["display_adapter"] = d.emulator_adapter
    options["browser"] = {"port": d.emulator_port}
    options["browser_bind"] = d.emulator_bind
    return options


def plan_instances(
    cfg: HostConfig, specs: dict[str, PluginSpec], only: tuple[str, ...] | None
) -> tuple[list[tuple[str, PluginSpec, dict[str, Any]]], list[tuple[str, str, str]]]:
    """Decide which instances run: ``([(instance, spec, options)], [(instance, plugin, why)])``."""
    wanted: list[tuple[str, str, dict[str, Any]]] = []
    if only is not None:
        bad = [iid for iid in only if not is_valid_id(iid)]
        if bad:
            raise HostError(
                f"invalid plugin instance id {bad[0]!r}: ids are 1-64 of a-z, 0-9, '_' or "
                "'-', starting with a letter"
            )
        for iid in only:
            section = cfg.plugins.get(iid)
            if section is not None:
                wanted.append((iid, section.plugin_id, dict(section.options)))
            else:
                wanted.append((iid, iid, {}))
    else:
        for iid, section in cfg.plugins.items():
            if section.enabled:
                wanted.append((iid, section.plugin_id, dict(section.options)))
    runnable = []
    missing = []
    for iid, plugin_id, options in wanted:
        spec = specs.get(plugin_id)
        if spec is None:
            missing.append((iid, plugin_id, f"no plugin named {plugin_id!r} is installed"))
        elif spec.blocked:
            why = f"{plugin_id} {spec.version} is blocked by the registry: {spec.blocked}"
            missing.append((iid, plugin_id, why))
        else:
            runnable.append((iid, spec, options))
    return runnable, missing


def make_handle(
    cfg: HostConfig, instance_id: str, spec: PluginSpec, options: dict[str, Any]
) -> WorkerHandle:
    """The :class:`WorkerHandle` of one planned instance, with its secrets and limits.

    The instance's secrets travel on the handle to its own worker only (in ``start``);
    an instance run with ``--plugins`` but absent from the config has none.

    :param options: the options :func:`plan_instances` planned for it.
    """
    section = cfg.plugins.get(instance_id)
    if section is None:
        return WorkerHandle(
            instance_id=instance_id, spec=spec, options=options, options_source="defaults"
        )
    handle = WorkerHandle(
        instance_id=instance_id,
        spec=spec,
        options=options,
        memory_limit=section.memory_limit_mb * MIB,
    )
    handle.take_section(section)
    handle.options = options
    return handle


def checked_rules(
    cfg: HostConfig, rules: WorkerRules | None = None, python: str = sys.executable
) -> WorkerRules:
    """``rules``, with the worker user checked to be able to run workers.

    With ``workers.user = "auto"`` an installation the unprivileged user cannot read
    (a Python under ``/root``) lets only ledhost's own plugins fall back to root, loudly;
    third-party plugins then do not start (:meth:`WorkerRules.refusal`). A user named
    explicitly must work or the host does not start.

    :param rules: the rules made from ``cfg``; ``None`` to make them here.
    :param python: the interpreter workers run (tests pass one the user cannot run).
    :raises HostError: the named user does not exist or cannot run workers.
    """
    if rules is None:
        try:
            rules = rules_from_config(cfg.workers)
        except ValueError as exc:
            raise HostError(str(exc)) from None
    if rules.uid is None:
        return rules
    if rules.uid_range is not None:
        conflict = range_conflicts(*rules.uid_range, cfg.paths.data_dir / "plugins")
        if conflict is not None:
            raise HostError(
                f"workers.uid_base {rules.uid_range[0]} (+{rules.uid_range[1]}): {conflict}; "
                "set workers.uid_base to a range nothing else uses"
            )
    problem = check_runs_as(rules.uid, rules.gid if rules.gid is not None else rules.uid, python)
    if problem is None:
        if rules.uid_range is not None:
            log.info("workers run as uids of their own, from %d", rules.uid_range[0])
        else:
            log.info("workers run as user %r", rules.user)
        return rules
    if cfg.workers.user != "auto":
        raise HostError(f"workers.user {cfg.workers.user!r} cannot run plugin workers: {problem}")
    log.warning(
        "ledhost's own plugins run as root and third-party plugins will not start: the "
        "workers' own uids cannot run ledhost's Python (%s). Install ledhost where other "
        "users can read it (e.g. a venv in /opt/ledhost) so plugins run unprivileged.",
        problem,
    )
    return replace(
        rules, uid=None, gid=None, user=None, uid_range=None, unprivileged_problem=problem
    )


def private_file_problems(cfg: HostConfig) -> list[str]:
    """The config and secrets files other users can read or write, each with its fix.

    Workers run as other users than the host: a config file or ``secrets.toml`` that
    "others" may read hands every plugin the secrets (API keys) of all the others; one
    they may write lets a plugin reconfigure the host. Checked at start, as root.
    """
    problems = []
    for path in (cfg.path, cfg.secrets_path):
        if path is None:
            continue
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o007:
            problems.append(
                f"{path} is open to other users (mode {mode:o}), plugin workers among "
                f"them: run 'chmod 600 {path}' (or 640 with a group of your own)"
            )
    return problems


def rules_from_config(workers: WorkersConfig, *, euid: int | None = None) -> WorkerRules:
    """Turn ``[workers]`` into :class:`WorkerRules`, resolving the worker user.

    :param euid: the host's effective uid (tests pass it); ``None`` asks the OS.
    :raises ValueError: naming the user when ``workers.user`` does not exist.
    """
    euid = os.geteuid() if euid is None else euid
    uid = gid = None
    user = None
    uid_range = None
    if euid == 0 and workers.user == "auto":
        uid = gid = workers.uid_base
        user = "per-instance"
        uid_range = (workers.uid_base, workers.uid_count)
    elif euid == 0 and workers.user and workers.user != "root":
        entry = _resolve_user(workers.user)
        uid, gid, user = entry.pw_uid, entry.pw_gid, entry.pw_name
    return WorkerRules(
        memory_limit=workers.memory_limit_mb * MIB,
        max_processes=workers.max_processes,
        max_open_files=workers.max_open_files,
        nice=workers.nice,
        render_timeout=workers.render_timeout,
        refresh_timeout=workers.refresh_timeout,
        setup_timeout=workers.setup_timeout,
        heartbeat_timeout=workers.heartbeat_timeout,
        stop_timeout=workers.stop_timeout,
        uid=uid,
        gid=gid,
        user=user,
        uid_range=uid_range,
        cgroups=workers.cgroups != "off",
        policy=RestartPolicy(
            start_secs=workers.stable_after,
            base_delay=workers.restart_delay,
            max_delay=max(workers.restart_max_delay, workers.restart_delay),
            max_failures=workers.quarantine_after,
            window=workers.quarantine_window,
        ),
    )


def _resolve_user(name: str) -> pwd.struct_passwd:
    candidates = ["ledhost", "nobody"] if name == "auto" else [name]
    for candidate in candidates:
        try:
            entry = pwd.getpwnam(candidate)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise ValueError(
                f"workers.user {candidate!r} is root; to run plugin code as root on purpose, "
                'say workers.user = "root"'
            )
        return entry
    raise ValueError(
        f"workers.user {name!r}: no such user"
        + (" (looked for 'ledhost' and 'nobody')" if name == "auto" else "")
        + "; create it or name another unprivileged user"
    )


__all__ = [
    "RunOptions",
    "checked_rules",
    "private_file_problems",
    "make_handle",
    "matrix_options",
    "plan_instances",
    "rules_from_config",
]
