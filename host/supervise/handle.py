"""The host's record of one plugin instance's worker: state, counters, what it offers.

No I/O here: the supervisor does the processes and channels, this holds what they tell.
Only :meth:`WorkerHandle.change_state` changes the state (checked against
:data:`~host.supervise.states.ALLOWED`), and every change is recorded, so the status API
and ``--stats-json`` see the same history. What a run of a worker changes is written by
the methods below (:meth:`~WorkerHandle.begin_run`, :meth:`~WorkerHandle.end_run`, the
ladder's :meth:`~WorkerHandle.request_stop`, :meth:`~WorkerHandle.terminate` and
:meth:`~WorkerHandle.mark_killed`, :meth:`~WorkerHandle.record_hello`...), so one place
says what a start resets and what an end keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from host.ipc.strip import StripImage as StripImage
from host.supervise.states import ALLOWED, ENDING_STATES, WorkerState

if TYPE_CHECKING:
    from config.model import PluginInstanceConfig
    from host.discovery import PluginSpec
    from host.ipc.channel import Channel
    from host.ipc.framebus import Frame, FrameBus
    from host.ipc.protocol import WorkerMessage
    from host.supervise.spawner import WorkerProcess


@dataclass(eq=False)
class WorkerHandle:
    """Everything the host knows about one instance's worker."""

    instance_id: str
    spec: PluginSpec
    options: dict[str, Any]
    #: Where ``options`` came from (a file path, "environment", "overrides"), for errors.
    options_source: str = "config"
    #: The values the secrets file set for this instance, not yet validated; they go to
    #: this instance's worker only, in ``start`` and ``configure``. Never shown: kept out
    #: of ``repr()`` and of :meth:`status`.
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The layer that set each key of ``options`` and ``secrets``, for errors.
    key_sources: dict[str, str] = field(default_factory=dict)
    #: The keys written in the config file itself (a secret there is an error).
    file_keys: frozenset[str] = frozenset()
    #: The secrets file, named when a secret is in the wrong place.
    secrets_file: str = ""
    #: This instance's memory limit in bytes; 0 means the host-wide one.
    memory_limit: int = 0
    #: The uid its worker runs as (``None``: the host's), its data folder's owner.
    run_uid: int | None = None
    state: WorkerState = WorkerState.STOPPED
    # -- counters and reasons shown to the user
    restarts: int = 0
    frames: int = 0
    last_error: str | None = None
    #: Wall-clock time of ``last_error``.
    last_error_at: float | None = None
    #: The worker's (scrubbed) traceback of the last hook that raised, if it sent one:
    #: ``ledhost dev`` shows it in its page.
    last_traceback: str | None = None
    #: Why the last run ended, in words: "hung in render_frame (...)", "killed by SIGSEGV".
    last_exit: str | None = None
    #: How the process itself ended (exit status or signal), e.g. "killed by SIGTERM".
    last_exit_status: str | None = None
    #: Why the last *failed* run ended, and when (wall clock): a clean stop at shutdown
    #: replaces ``last_exit`` but not this.
    last_failure: str | None = None
    last_failure_at: float | None = None
    #: Monotonic and wall-clock times the instance was quarantined (``None`` if it is not).
    quarantined_at: float | None = None
    quarantined_wall: float | None = None
    history: list[tuple[float, WorkerState]] = field(default_factory=list)
    failure_times: list[float] = field(default_factory=list)
    consecutive_failures: int = 0
    # -- what the worker said in hello
    modes: list[dict[str, Any]] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    hooks: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    #: ``{"name", "version"}`` of the distribution the worker loaded the plugin from.
    loaded_from: dict[str, str] | None = None
    action_seq: int = 0
    action_results: dict[int, dict[str, Any]] = field(default_factory=dict)
    content: dict[str, bool] = field(default_factory=dict)
    #: The validated options the worker has (``context.config``); never any secret.
    config: dict[str, Any] | None = None
    #: The last ``configure`` request sent, and the answers to the latest ones, by id.
    config_seq: int = 0
    config_answers: dict[int, Any] = field(default_factory=dict)
    #: Values of ``configure`` requests (not checks) awaiting the worker's answer:
    #: ``(options, secrets or None, section or None)``, taken when it accepts them.
    config_pending: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict, repr=False)
    #: ``refresh_data`` calls the current process finished (successful or not).
    refreshes: int = 0
    # -- the live process
    process: WorkerProcess | None = None
    #: The pid of the current or last worker process.
    pid: int | None = None
    #: Its start time (clock ticks after boot): with the pid, names it despite pid reuse.
    pid_start: int | None = None
    channel: Channel[WorkerMessage] | None = None
    bus: FrameBus | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    #: When the last heartbeat arrived: the worker beats only while a hook call runs.
    last_heartbeat: float = 0.0
    #: When the worker last showed it runs: a heartbeat, any message, a frame.
    last_sign: float = 0.0
    #: Hook calls under way at the last heartbeat: ``[(hook, seconds running)]``.
    busy: list[tuple[str, float]] = field(default_factory=list)
    #: What the host asked and still waits for, by request (``"activate"``,
    #: ``"configure 3"``, ``"action 7"``): when it was asked (monotonic).
    asked: dict[str, float] = field(default_factory=dict)
    #: When the active mode's next frame is due, as the worker stamped it on its last
    #: frame; ``None``: no frame is expected (a still mode, a strip, none active).
    frame_due: float | None = None
    #: When the current state began (monotonic): the stop ladder's rungs time from it.
    state_since: float = 0.0
    #: Why the host is ending the current run ("hung in render_frame (...)"), if it is.
    ending_reason: str | None = None
    #: Whether the host asked the current run to stop (a reload or shutdown): its end is
    #: then an exit, not a failure, even if it took SIGTERM or SIGKILL.
    stop_requested: bool = False
    #: The current run's cgroup (:mod:`host.supervise.worker_cgroups`), until it is removed.
    cgroup: Path | None = None
    #: What holds the current (or last) run's processes: ``"cgroup"`` or ``"process
    #: tree"``, and the limits the kernel enforces there (``memory.max``, ``pids.max``);
    #: every other limit is the host's process-tree rule.
    containment: str = "process tree"
    kernel_limits: tuple[str, ...] = ()
    #: Last measured resident memory (bytes) and process count of the worker's tree.
    rss: int = 0
    processes: int = 0
    #: ``(pid, start time)`` of the processes last seen below the worker, so children that
    #: left its session can still be found and killed after it died.
    tree: frozenset[tuple[int, int]] = frozenset()
    #: CPU seconds of earlier runs of this instance (before restarts).
    cpu_past: float = 0.0
    #: CPU seconds of the current run: sampled from /proc, final once ``bye`` arrives.
    cpu_seconds: float = 0.0
    cpu_final: bool = False
    # -- what is on screen from this worker
    token: int = 0
    active_mode: str | None = None
    #: ``(width, height)`` the active mode is drawn at: the display, or a layout region.
    active_size: tuple[int, int] = (0, 0)
    #: Whether this run's worker said hello: a second one is a protocol error, so a
    #: plugin cannot swap its modes (or claim another instance's) once it was checked.
    hello_seen: bool = False
    frame: Frame | None = None
    strip: StripImage | None = None

    def take_section(self, section: PluginInstanceConfig) -> None:
        """Take the options, secrets and their origins from the instance's config.

        For a handle made from a (re)loaded config: what the worker gets at its next
        ``start`` (its worker validates it then), or with ``configure``.
        """
        self.options = dict(section.options)
        self.options_source = section.source
        self.secrets = dict(section.secrets)
        self.key_sources = dict(section.key_sources)
        self.file_keys = section.file_keys
        self.secrets_file = section.secrets_source

    def change_state(self, new: WorkerState, now: float) -> None:
        """Move to ``new``, checking the edge is allowed."""
        if new is self.state:
            return
        if new not in ALLOWED[self.state]:
            raise AssertionError(
                f"plugin instance {self.instance_id!r}: {self.state.value} -> {new.value} "
                f"is not allowed (from {self.state.value}: "
                f"{sorted(s.value for s in ALLOWED[self.state])})"
            )
        self.state = new
        self.state_since = now
        self.history.append((now, new))
        del self.history[:-50]

    # -- a run of the worker, from start to reap ------------------------------------------

    def begin_run(
        self,
        process: WorkerProcess,
        pid_start: int | None,
        channel: Channel[WorkerMessage],
        bus: FrameBus,
        now: float,
    ) -> None:
        """A worker process was started (state STARTING): reset what one run knows."""
        self.process, self.pid, self.pid_start = process, process.pid, pid_start
        self.channel, self.bus = channel, bus
        self.started_at = self.last_heartbeat = self.last_sign = now
        self.busy = []
        self.asked.clear()
        self.frame_due = None
        self.hello_seen = False
        self.ending_reason, self.stop_requested = None, False
        self.tree = frozenset()
        self.token = 0
        self.active_mode = None
        self.frame = self.strip = None

    def end_run(self, exit_status: str) -> bool:
        """The process was reaped: forget what belonged to it, say how it ended.

        :param exit_status: how the process itself ended, in words.
        :returns: whether the end was asked for (a stop), rather than a failure.
        """
        self.process = None
        self.channel = None
        self.bus = None
        self.config_pending.clear()  # values its worker never confirmed die with it
        self.frame = self.strip = None
        self.active_mode = None
        self.busy = []
        self.asked.clear()
        self.frame_due = None
        self.rss = self.processes = 0
        self.cpu_past += self.cpu_seconds
        self.cpu_seconds, self.cpu_final = 0.0, False
        self.last_exit_status = exit_status
        self.last_exit = self.ending_reason or exit_status
        requested = self.stop_requested
        self.ending_reason, self.stop_requested = None, False
        return requested

    def request_stop(self, now: float) -> None:
        """The host asked the worker to stop (``stop`` sent): the ladder's first rung."""
        self.stop_requested = True
        if self.state in (WorkerState.STARTING, WorkerState.RUNNING):
            self.change_state(WorkerState.STOPPING, now)

    def terminate(self, reason: str, now: float) -> None:
        """SIGTERM went to the worker's group, for ``reason``: the second rung."""
        self.ending_reason = self.ending_reason or reason
        self.change_state(WorkerState.TERMINATING, now)

    def mark_killed(self, reason: str, now: float) -> None:
        """SIGKILL went to the worker's tree, for ``reason``: the last rung."""
        self.ending_reason = self.ending_reason or reason
        self.change_state(WorkerState.KILLING, now)

    @property
    def ending(self) -> bool:
        """Whether the host is ending the current run (a rung of the stop ladder)."""
        return self.state in ENDING_STATES

    def record_heartbeat(self, now: float, busy: list[tuple[str, float]]) -> None:
        self.last_heartbeat = self.last_sign = now
        self.busy = busy

    def owed_since(self) -> float | None:
        """Since when the worker owes the host a sign of life, or ``None`` if it owes none.

        An idle worker sends nothing (no beats, issue 15): its liveness shows when it is
        asked something, and a dead one closes its channel. It owes a sign while a call it
        reported runs (beats keep coming), while a request of the host is unanswered, and
        once its active mode's next frame is due. Owing since a moment, it is silent for
        ``now - max(since, last_sign)``: what ``heartbeat_timeout`` bounds.
        """
        owed = [*self.asked.values()]
        if self.busy:
            owed.append(self.last_heartbeat)
        if self.frame_due is not None:
            owed.append(self.frame_due)
        return min(owed) if owed else None

    def answered(self, request: str) -> None:
        """The worker answered ``request`` (a key of :attr:`asked`)."""
        self.asked.pop(request, None)

    def render_running_since(self) -> float | None:
        """When the ``render_frame`` call that draws the next frame began or begins (host
        clock), or ``None`` if none is under way or planned.

        From the last heartbeat's ``busy`` list where a beat named the call; else the next
        frame's due time the worker stamped on its last frame: it renders then, and does
        not tell the host of a call it times itself (``host.worker.render``). A delivered
        frame ends either (:meth:`render_done`, a new :attr:`frame_due`).
        """
        for hook, elapsed in self.busy:
            if hook == "render_frame":
                return self.last_heartbeat - elapsed
        return self.frame_due

    def render_done(self) -> None:
        """A frame arrived, so the render call that drew it has returned."""
        if any(hook == "render_frame" for hook, _ in self.busy):
            self.busy = [(hook, elapsed) for hook, elapsed in self.busy if hook != "render_frame"]

    def record_error(self, text: str, wall: float) -> None:
        self.last_error = text[:2000]
        self.last_error_at = wall

    def record_failure(self, now: float, wall: float, *, stable: bool) -> None:
        """The run ended unasked: count it (``stable``: it ran long enough to reset)."""
        self.last_failure = self.last_exit
        self.last_failure_at = wall
        if stable:
            self.consecutive_failures = 0
        self.consecutive_failures += 1
        self.failure_times.append(now)
        del self.failure_times[:-50]

    def quarantine(self, now: float, wall: float) -> None:
        self.change_state(WorkerState.QUARANTINED, now)
        self.quarantined_at, self.quarantined_wall = now, wall

    def back_off(self, until: float, now: float) -> None:
        self.restart_at = until
        self.change_state(WorkerState.BACKOFF, now)

    def forget_failures(self) -> None:
        """The user's "retry now": a clean record, so it gets every try again."""
        self.failure_times.clear()
        self.consecutive_failures = 0
        self.quarantined_at = self.quarantined_wall = None
        self.restart_at = None

    def mode_names(self) -> list[str]:
        return [m["name"] for m in self.modes]

    def has_content(self, mode: str) -> bool:
        return self.state is WorkerState.RUNNING and self.content.get(mode, True)

    def status(self, now: float) -> dict[str, Any]:
        """The per-plugin entry of ``--stats-json`` and the status API.

        :param now: the monotonic time, for durations such as ``quarantined_for``.
        """
        return {
            "plugin": self.spec.plugin_id,
            "state": self.state.value,
            "restarts": self.restarts,
            "failures": len(self.failure_times),
            "frames": self.frames,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_exit": self.last_exit,
            "last_exit_status": self.last_exit_status,
            "last_failure": self.last_failure,
            "last_failure_at": self.last_failure_at,
            "quarantined_at": self.quarantined_wall,
            "quarantined_for": (
                None if self.quarantined_at is None else round(now - self.quarantined_at, 3)
            ),
            "restart_in": (
                None if self.restart_at is None else round(max(0.0, self.restart_at - now), 3)
            ),
            "pid": self.pid,
            "memory_mb": round(self.rss / 1048576, 1),
            #: CPU its workers used, all restarts together (the UI turns two readings
            #: into a share of a core).
            "cpu_seconds": round(self.cpu_past + self.cpu_seconds, 3),
            "processes": self.processes,
            "containment": self.containment,
            "kernel_limits": list(self.kernel_limits),
            "modes": self.mode_names(),
        }
