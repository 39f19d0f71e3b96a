"""What the supervisor enforces on a worker: deadlines and limits, decided purely.

:class:`WorkerRules` is the ``[workers]`` config turned into the numbers the supervisor
and the worker use. :func:`overdue` and :func:`over_limit` look at one worker's record and
say, in words meant for the user, why it must go -- or ``None``. They do no I/O and read
no clock (``now`` is passed in), like :mod:`host.supervise.restart_policy`; the supervisor does
the signalling (STYLE.md rules 14 and 17).

Hang detection has three layers, because a plugin can hang in three ways:

* a call that never returns while the interpreter still runs (a Python loop, a socket
  read without timeout): the worker's heartbeat thread reports the call and its age, and
  the call's own deadline applies (``render_timeout`` or ``refresh_timeout``);
* code that holds the interpreter for good (a C loop that never releases the GIL), or a
  stopped process: nothing comes, and ``heartbeat_timeout`` applies once the worker owes
  the host a sign of life (:meth:`~host.supervise.handle.WorkerHandle.owed_since`: a call
  it reported, a request unanswered, its next frame due). An idle worker owes none and
  sends none: if it dies its channel closes; if it hangs, that shows when it is asked;
* a worker that never finishes starting (import, handshake, ``setup``): ``setup_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from host.ipc.protocol import REFRESH_HOOKS
from host.supervise.restart_policy import DEFAULTS, RestartPolicy
from host.supervise.states import WorkerState

if TYPE_CHECKING:
    from host.supervise.handle import WorkerHandle

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WorkerRules:
    """Limits, deadlines and restart policy for every worker of one host."""

    # The defaults are the [workers] settings' own (config.settings, their one home).
    memory_limit: int = DEFAULTS["memory_limit_mb"] * MIB
    max_processes: int = DEFAULTS["max_processes"]
    max_open_files: int = DEFAULTS["max_open_files"]
    nice: int = DEFAULTS["nice"]
    render_timeout: float = DEFAULTS["render_timeout"]
    refresh_timeout: float = DEFAULTS["refresh_timeout"]
    setup_timeout: float = DEFAULTS["setup_timeout"]
    heartbeat_timeout: float = DEFAULTS["heartbeat_timeout"]
    stop_timeout: float = DEFAULTS["stop_timeout"]
    #: User and group workers switch to when the host is root; ``None`` keeps the host's.
    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    #: Set when the host is root, ``workers.user = "auto"``, and no unprivileged user
    #: can run workers (why not): builtins then run as root, third-party plugins not at all.
    unprivileged_problem: str | None = None
    #: ``(base, count)``: each instance runs as a uid of its own from this range
    #: (:mod:`host.supervise.uidmap`); ``uid`` is then only the one probed to run workers.
    uid_range: tuple[int, int] | None = None
    #: Put each worker in a cgroup of its own where the host may (``workers.cgroups``).
    cgroups: bool = True
    policy: RestartPolicy = RestartPolicy()

    def refusal(self, source: str) -> str | None:
        """Why a plugin found as ``source`` (a PluginSpec's) must not start, or ``None``.

        Plugin code runs as root only when the user asked for it (``workers.user =
        "root"``) or when it ships with ledhost itself: a third-party plugin running as
        root could read every secret and rewrite ledhost, so it does not start at all.
        """
        if self.unprivileged_problem is None or source == "builtin":
            return None
        return (
            "not started: plugins other than ledhost's own never run as root, and no "
            f"unprivileged user can run workers here ({self.unprivileged_problem}). Install "
            "ledhost where other users can read it (e.g. a venv in /opt/ledhost), or set "
            'workers.user = "root" to accept the risk'
        )

    @property
    def heartbeat(self) -> float:
        """Seconds between a worker's beats while a call runs: four per timeout."""
        return self.heartbeat_timeout / 4.0

    def deadline(self, hook: str) -> float:
        """How long one call of ``hook`` may take."""
        return self.refresh_timeout if hook in REFRESH_HOOKS else self.render_timeout

    def containment(self, memory_limit: int | None = None) -> dict[str, Any]:
        """The :class:`~host.worker.main.WorkerArgs` fields a worker applies to itself.

        :param memory_limit: an instance's own limit in bytes; ``None`` for the default.
        """
        return {
            "memory_limit": memory_limit or self.memory_limit,
            "max_open_files": self.max_open_files,
            "nice": self.nice,
            "uid": self.uid,
            "gid": self.gid,
            "heartbeat": self.heartbeat,
        }

    def memory_limit_of(self, handle: WorkerHandle) -> int:
        """The instance's own limit if it set one, else the host-wide one."""
        return handle.memory_limit or self.memory_limit


def overdue(handle: WorkerHandle, rules: WorkerRules, now: float) -> str | None:
    """Why ``handle``'s worker counts as hung at ``now``, or ``None`` if it does not.

    :returns: the reason as the user will read it, e.g. ``"hung in render_frame (no
        answer within 5 s)"``.
    """
    if handle.process is None:
        return None
    if handle.state is WorkerState.STARTING:
        if now - handle.started_at > rules.setup_timeout:
            if handle.config is not None:
                phase = "setup"
            elif handle.modes:
                phase = "checking its config"  # the worker runs its own schema
            else:
                phase = "starting (import or handshake)"
            return f"hung in {phase} (not ready within {rules.setup_timeout:g} s)"
        return None
    if handle.state is not WorkerState.RUNNING:
        return None
    since = handle.owed_since()
    silent = 0.0 if since is None else now - max(since, handle.last_sign)
    if silent > rules.heartbeat_timeout:
        return (
            f"hung: no heartbeat for {silent:.1f} s (code holding the interpreter, "
            f"limit {rules.heartbeat_timeout:g} s)"
        )
    for hook, elapsed in handle.busy:
        limit = rules.deadline(hook)
        if elapsed + (now - handle.last_heartbeat) >= limit:
            return f"hung in {hook} (no answer within {limit:g} s)"
    if _frame_timed(handle) and now >= _render_deadline(handle, rules):
        return f"hung in render_frame (no answer within {rules.render_timeout:g} s)"
    return None


def _frame_timed(handle: WorkerHandle) -> bool:
    """Whether the host times the active mode's next frame itself.

    The worker renders when the frame it stamped falls due and tells the host nothing of
    that call (no beat per frame), so the host times it from the due time -- unless a
    beat names a call of the worker's main thread, which then delays the frame and is
    held to its own deadline.
    """
    if handle.frame_due is None:
        return False
    return not any(hook not in REFRESH_HOOKS for hook, _ in handle.busy)


def _render_deadline(handle: WorkerHandle, rules: WorkerRules) -> float:
    """When the frame the host times (:func:`_frame_timed`) counts as a hung render
    (compared as :func:`_rung_deadline` says why)."""
    assert handle.frame_due is not None
    return handle.frame_due + rules.render_timeout


def _rung_deadline(handle: WorkerHandle, rules: WorkerRules) -> float:
    """When a worker on the STOPPING or TERMINATING rung is due for the next one.

    Both :func:`next_rung` (``now >= deadline``) and :func:`deadline_of` use this one
    sum, never ``now - start >= limit``: in floating point the two differ by an ulp at
    times (near 2**16 s of uptime, ``(t + 60.0) - t`` is 59.99999999999272), and a pass
    run at the very deadline it was woken for must take the rung, not find it not due.
    """
    return handle.state_since + rules.stop_timeout


#: What the next rung of the stop ladder does.
Rung = Literal["terminate", "kill"]


def next_rung(handle: WorkerHandle, rules: WorkerRules, now: float) -> tuple[Rung, str] | None:
    """The stop ladder, by state: what must happen to ``handle``'s worker at ``now``, why.

    - STARTING, RUNNING: a worker past a deadline (:func:`overdue`) gets SIGTERM;
    - STOPPING: one that did not stop within ``stop_timeout`` gets SIGTERM;
    - TERMINATING: one that ignored SIGTERM for ``stop_timeout`` gets SIGKILL;
    - KILLING and the rest: nothing to do (the exit follows, or there is no process).
    """
    if handle.process is None:
        return None
    state = handle.state
    if state is WorkerState.STOPPING:
        if now >= _rung_deadline(handle, rules):
            return "terminate", "did not stop when asked"
        return None
    if state is WorkerState.TERMINATING:
        if now >= _rung_deadline(handle, rules):
            return "kill", handle.ending_reason or "did not stop"
        return None
    reason = overdue(handle, rules, now)
    return ("terminate", reason) if reason is not None else None


def deadline_of(handle: WorkerHandle, rules: WorkerRules) -> float | None:
    """When :func:`next_rung` may next have something to do for ``handle`` (monotonic).

    The host's loop wakes then, so a silent worker's heartbeat timeout or an ignored
    SIGTERM is handled on time rather than at the next regular pass.
    """
    if handle.process is None:
        return None
    state = handle.state
    if state in (WorkerState.STOPPING, WorkerState.TERMINATING):
        return _rung_deadline(handle, rules)
    if state is WorkerState.STARTING:
        return handle.started_at + rules.setup_timeout
    if state is WorkerState.RUNNING:
        since = handle.owed_since()
        if since is None:
            return None  # idle, owing nothing: no wake-up for it
        silent = max(since, handle.last_sign) + rules.heartbeat_timeout
        if handle.frame_due is not None:
            return min(silent, _render_deadline(handle, rules))
        return silent
    return None


def over_limit(
    handle: WorkerHandle, rules: WorkerRules, rss_bytes: int, processes: int
) -> str | None:
    """Why the worker's measured use breaks a limit, or ``None``.

    :param rss_bytes: resident memory of the worker and its descendants.
    :param processes: how many processes that is, the worker included.
    """
    limit = rules.memory_limit_of(handle)
    if rss_bytes > limit:
        return (
            f"over memory limit ({rss_bytes / MIB:.0f} MiB resident, limit {limit / MIB:.0f} MiB)"
        )
    if processes > rules.max_processes:
        return f"too many processes ({processes}, limit {rules.max_processes})"
    return None
