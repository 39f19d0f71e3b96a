"""Applying a reloaded config to the running host, without restarting what need not.

:class:`Reconfigurer` takes a newly loaded, valid :class:`~config.HostConfig`, diffs it
against the running one (:func:`config.diff.diff_configs`) and applies it in two steps:

1. **Check** what only the workers can judge: each changed running instance's worker
   validates its new options against its own schema (``configure`` with ``check``; the
   host never runs a plugin's schema) and answers while the host loop goes on
   (:meth:`Reconfigurer.poll`). One bad option refuses the whole edit with a
   :class:`~config.ConfigError`, before anything changed, so the running config stays
   whole (never half old, half new). A worker that dies or does not answer within its
   render deadline is restarted with the new options, which its next start validates.
2. **Apply**: ``configure`` goes to the changed instances only (their workers call the
   ``configure`` hook and redraw; the others hear nothing); added instances start,
   removed ones stop, instances with a new plugin id or memory limit get a new worker;
   brightness, gamma, frame rate, rotation, transitions, ticker, layouts and schedules
   change at once. The mode on screen may finish its turn; the next one follows the new
   rotation. The web process and the MQTT bridge start, stop or are replaced as
   ``[web]`` and ``[mqtt]`` now say (:mod:`host.sidecars`). Settings that need a restart
   (panel geometry) keep their running values (:func:`config.diff.keep_running_values`)
   and are reported.

It also adds the instances at start (:meth:`Reconfigurer.add_instances`), so the host
builds workers in one place, and owns the :class:`~host.reload.ConfigWatcher`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from config import ConfigError, ConfigIssue, HostConfig, PluginInstanceConfig, load_config
from config.diff import ConfigDiff, diff_configs, keep_running_values
from host.discovery import PluginSpec, discover
from host.planning import RunOptions, make_handle, plan_instances
from host.reload import ConfigWatcher, ReloadResult
from host.safemode import explain_missing
from host.schedule.lineup import Lineup
from host.schedule.timetable import Timetable
from host.sidecars import Sidecars
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState
from store.layout import StorePaths

if TYPE_CHECKING:
    from host.display.presenter import Presenter
    from host.schedule.rotation import Scheduler
    from host.supervise.supervisor import Supervisor


class LiveHost(Protocol):
    """What a reload changes in the running host (:class:`host.app.Host`).

    A protocol rather than the class, so this module does not import the one that
    imports it.
    """

    cfg: HostConfig
    missing: dict[str, dict[str, Any]]
    min_interval: float
    timetable: Timetable
    lineup: Lineup

    @property
    def sidecars(self) -> Sidecars: ...
    @property
    def options(self) -> RunOptions: ...
    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def presenter(self) -> Presenter: ...

    def rebuild_rotation(self) -> None: ...
    def restyle(self, now: float) -> None: ...
    def regroup(self, new: HostConfig, now: float) -> None: ...


log = logging.getLogger("ledhost.config")

#: Settings whose change means new colour tables and a redraw of what is shown.
_COLOUR_KEYS = frozenset({"display.brightness", "display.gamma"})


@dataclass
class _Check:
    """One worker's pending answer to a reload's check."""

    handle: WorkerHandle
    request: int
    pid: int | None
    deadline: float


@dataclass
class _PendingReload:
    """A reload waiting for its workers' checks."""

    new: HostConfig
    diff: ConfigDiff
    changed: list[str]
    done: Callable[[ReloadResult], None]
    checks: dict[str, _Check] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    #: Instances that did not answer: restarted with the new options.
    silent: list[str] = field(default_factory=list)


class Reconfigurer:
    """Adds the host's plugin instances and applies config reloads to it.

    :param host: the host to change; only its loop thread may call :meth:`apply`.
    """

    def __init__(self, host: LiveHost) -> None:
        self.host = host
        self.loaded_at = time.time()
        #: The reload waiting for its workers' checks, if any.
        self.pending: _PendingReload | None = None
        #: Watches the config file; ``None`` when there is no file (the built-in default)
        #: or the run asked not to (``RunOptions.watch_config``).
        self.watcher: ConfigWatcher | None = None
        options, path, secrets = host.options, host.cfg.path, host.cfg.secrets_path
        if path is not None and options.watch_config:
            load = functools.partial(
                load_config,
                path,
                env=options.config_env,
                overrides=options.config_overrides,
                secrets_path=secrets,
            )
            files = [path, *([secrets] if secrets is not None else []), *options.config_files]
            self.watcher = ConfigWatcher(files, load, self.apply)
            log.info("watching %s for changes", ", ".join(map(str, files)))

    def status(self) -> dict[str, Any]:
        """The ``config`` block of :meth:`host.director.Director.display_status`."""
        if self.watcher is not None:
            return self.watcher.status()
        path = self.host.cfg.path
        return {
            "path": None if path is None else str(path),
            "loaded_at": self.loaded_at,
            "reloads": 0,
            "last_error": None,
            "last_error_at": None,
            "restart_needed": [],
        }

    # -- instances ------------------------------------------------------------------------

    def add_instances(
        self,
        runnable: Iterable[tuple[str, PluginSpec, dict[str, Any]]],
        missing: Iterable[tuple[str, str, str]],
        now: float | None,
    ) -> None:
        """Give the supervisor a worker per runnable instance; record the missing ones.

        :param runnable: ``(instance, spec, options)`` from :func:`plan_instances`.
        :param missing: ``(instance, plugin id, why)`` of instances that cannot run.
        :param now: start the workers now (a reload); ``None`` at set-up, where the host
            starts them all together.
        """
        host = self.host
        for iid, plugin_id, why in missing:
            log.error("plugin instance %r: %s", iid, why)
            host.missing[iid] = {
                "plugin": plugin_id,
                "state": "stopped",
                "restarts": 0,
                "frames": 0,
                "last_error": why,
                "last_exit": None,
                "modes": [],
            }
        for iid, spec, opts in runnable:
            host.missing.pop(iid, None)
            handle = make_handle(host.cfg, iid, spec, opts)
            if now is None:
                host.supervisor.add(handle)
            else:
                host.supervisor.start_soon(handle, now)

    def restart_plugin(self, plugin_id: str, specs: dict[str, PluginSpec], now: float) -> None:
        """Its distribution changed on disk: new workers for every instance of the plugin,
        started from ``specs`` (the fresh lookup), with the options they had."""
        host = self.host
        instances = tuple(
            iid for iid, h in host.supervisor.handles.items() if h.spec.plugin_id == plugin_id
        )
        for iid in instances:
            host.scheduler.release(iid)
            host.supervisor.retire(host.supervisor.handles[iid], now)
        runnable, missing = plan_instances(host.cfg, specs, instances)
        self.add_instances(runnable, missing, now)

    # -- reloads --------------------------------------------------------------------------

    def apply(self, new: HostConfig, done: Callable[[ReloadResult], None]) -> None:
        """Apply ``new`` to the running host, or refuse it whole; tell ``done`` which.

        Returns at once: the changed running instances check their new options in their
        workers, and :meth:`poll` finishes the reload when all answered. A newer reload
        replaces one still waiting (which is refused, as superseded).
        """
        if self.pending is not None:
            superseded, self.pending = self.pending, None
            issue = ConfigIssue("reload", "", "superseded by a newer edit before it applied")
            superseded.done(ReloadResult(error=ConfigError([issue])))
        old = self.host.cfg
        diff = diff_configs(old, new)
        handles = self.host.supervisor.handles
        changed = [iid for iid in diff.changed_instances if iid in handles]
        # An instance picked by --plugins that the config now defines: new options.
        changed += [
            iid
            for iid in diff.added_instances
            if iid in handles and handles[iid].spec.plugin_id == new.plugins[iid].plugin_id
        ]
        pending = _PendingReload(new, diff, changed, done)
        now = time.monotonic()
        limit = self.host.supervisor.rules.render_timeout
        for iid in changed:
            handle = handles[iid]
            if handle.config is None or handle.process is None:
                continue  # not started yet, or refused: its next start checks them
            instance = new.plugins[iid]
            request = self.host.supervisor.configure(
                handle, instance.options, section=instance, check=True
            )
            pending.checks[iid] = _Check(handle, request, handle.pid, now + limit)
        self.pending = pending
        self.poll(now)

    def next_wakeup(self) -> float | None:
        """When :meth:`poll` must look again at the latest (a check's deadline)."""
        if self.pending is None or not self.pending.checks:
            return None
        return min(check.deadline for check in self.pending.checks.values())

    def poll(self, now: float) -> None:
        """Collect the workers' answers; finish the pending reload once all are in."""
        pending = self.pending
        if pending is None:
            return
        for iid, check in list(pending.checks.items()):
            handle = check.handle
            answer = handle.config_answers.get(check.request)
            if answer is not None:
                pending.issues.extend(
                    ConfigIssue(i.source, i.key, i.message) for i in answer.issues or ()
                )
            elif handle.process is not None and handle.pid == check.pid and now < check.deadline:
                continue  # still checking
            else:
                pending.silent.append(iid)
            del pending.checks[iid]
        if pending.checks:
            return
        self.pending = None
        if pending.issues:
            pending.done(ReloadResult(error=ConfigError(pending.issues)))
            return
        try:
            self._commit(pending, now)
        except Exception as exc:  # noqa: BLE001 - a reload must never end the host
            log.exception("could not apply the new config")
            pending.done(ReloadResult(error=exc))
            return
        pending.done(ReloadResult(diff=pending.diff))

    def _commit(self, pending: _PendingReload, now: float) -> None:
        """Every worker agreed (or will be restarted): apply the new config."""
        host = self.host
        old, new, diff = host.cfg, pending.new, pending.diff
        handles = host.supervisor.handles
        running = keep_running_values(old, new, diff)
        host.cfg = running
        if diff.instances_changed:
            self._change_instances(running, diff, now)
        for iid in pending.changed:
            handle = handles.get(iid)
            if handle is None:
                continue
            if iid in pending.silent and handle.process is not None:
                # Hung while checking: its next start validates the new options.
                handle.take_section(running.plugins[iid])
                host.supervisor.enforcer.kill(
                    handle, "did not answer the config check in time", now
                )
                continue
            self._configure(handle, running.plugins[iid], now)
        self._apply_display(old, running, diff, now)
        host.sidecars.apply(old, running, now)

    def _configure(self, handle: WorkerHandle, instance: PluginInstanceConfig, now: float) -> None:
        """New options (and secrets) for one instance: to its live worker, or for its
        next start."""
        supervisor = self.host.supervisor
        # Checked by the worker already: should it die before it applies them, its next
        # start gets these values.
        handle.take_section(instance)
        if handle.config is not None and handle.process is not None:
            supervisor.configure(handle, instance.options, section=instance)
            return
        if handle.process is None and handle.state in (WorkerState.EXITED, WorkerState.QUARANTINED):
            # Stopped by its old options, or by failures these options may fix: try again
            # with a clean record (the supervisor's "retry now").
            supervisor.retry(handle, now)

    def _change_instances(self, cfg: HostConfig, diff: ConfigDiff, now: float) -> None:
        """Stop removed and replaced instances; start added and replacing ones."""
        host = self.host
        only = host.options.only
        wanted = set(only) if only is not None else {p.instance_id for p in cfg.enabled_plugins}
        for iid, handle in list(host.supervisor.handles.items()):
            if iid not in wanted or iid in diff.restart_instances:
                host.scheduler.release(iid)
                host.supervisor.retire(handle, now)
                log.info(
                    "plugin instance %r stopped: %s",
                    iid,
                    "replaced" if iid in wanted else "removed",
                )
        for iid in [iid for iid in host.missing if iid not in wanted]:
            del host.missing[iid]
        fresh = tuple(
            iid
            for iid in (*diff.added_instances, *diff.restart_instances)
            if iid in wanted and iid not in host.supervisor.handles
        )
        if fresh:
            options = host.options
            specs = discover(
                options.plugin_paths,
                environment=options.environment_plugins,
                store=StorePaths.for_data_dir(cfg.paths.data_dir).root,
            )
            runnable, missing = plan_instances(cfg, specs, fresh)
            self.add_instances(runnable, explain_missing(options, missing), now)

    def _apply_display(
        self, old: HostConfig, new: HostConfig, diff: ConfigDiff, now: float
    ) -> None:
        """Frame rate, colours, schedule, rotation, ticker and layouts, from now on."""
        host = self.host
        keys = set(diff.live_keys)
        host.scheduler.max_dwell = new.rotation.max_dwell
        host.min_interval = host.presenter.min_interval = 1.0 / new.display.fps
        schedule = any(key.startswith("schedule.") for key in keys)
        if schedule:
            host.timetable = Timetable(new.schedule)
        if old.ticker != new.ticker or diff.layouts_changed:
            host.regroup(new, now)
        else:
            host.lineup.cfg = new
            host.lineup.entries.clear()
        host.rebuild_rotation()
        if schedule or keys & _COLOUR_KEYS:
            host.restyle(now)


__all__ = ["Reconfigurer"]
