"""What a worker is started with: declared once, serialised once, read once.

The host builds a :class:`WorkerArgs` per worker; a zygote fork hands the object over as
it is, and a spawned worker gets it on its command line as one JSON argument
(:meth:`WorkerArgs.to_argv` / :meth:`WorkerArgs.from_argv`), decoded against the same
declaration, so the two launch paths cannot disagree on a field.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["WorkerArgs"]

_Fd = Annotated[int, msgspec.Meta(ge=0)]
_Pixels = Annotated[int, msgspec.Meta(ge=1, le=16384)]


class WorkerArgs(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a worker needs to start; plain data so it crosses fork or a command line."""

    plugin_id: str
    instance_id: str
    control_fd: _Fd
    #: The frame bus: memfd, "ready" eventfd, "free" eventfd.
    frame_fds: tuple[_Fd, _Fd, _Fd]
    width: _Pixels
    height: _Pixels
    slots: Annotated[int, msgspec.Meta(ge=1, le=16)] = 3
    #: Extra ``sys.path`` entries (a plugin environment's site-packages, test plugins).
    paths: tuple[str, ...] = ()
    #: The distribution discovery chose for ``plugin_id``, and the folder holding its
    #: metadata: the worker loads that one, whatever else offers the same id ("": the
    #: first found on ``sys.path``, for tools that start a worker by id alone).
    distribution: str = ""
    location: str = ""
    #: With ``distribution``: the value of its ``plugin_id`` entry point and its version,
    #: as discovery read them. The worker loads that value as it is instead of reading
    #: every distribution's metadata at ``location`` again (~0.8 MiB of copied pages per
    #: forked worker; issue 15). "": the worker looks the entry point up itself.
    entry_point: str = ""
    version: str = ""
    #: Only report hello (modes, schema) and exit: ``ledhost plugins`` uses this.
    describe: bool = False
    #: Log every hook call (the ``LEDHOST_TRACE_PLUGINS`` switch).
    trace: bool = False
    #: Memory limit in bytes (0: none); see :func:`host.worker.main.limit_address_space`.
    memory_limit: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: ``RLIMIT_NOFILE`` for the worker (0: leave as inherited).
    max_open_files: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Niceness to add.
    nice: Annotated[int, msgspec.Meta(ge=0, le=19)] = 0
    #: User and group to switch to when started as root (``None``: keep).
    uid: Annotated[int, msgspec.Meta(ge=0)] | None = None
    gid: Annotated[int, msgspec.Meta(ge=0)] | None = None
    #: Keep the network; ``False``: enter an empty network namespace before plugin code
    #: runs (see :func:`host.worker.main.contain`).
    network: bool = True
    #: The cgroup directory the worker joins before plugin code runs ("": none; see
    #: :mod:`host.supervise.worker_cgroups`).
    cgroup: str = ""
    #: The instance's data folder, made ``HOME`` (and the ``XDG_*_HOME`` folders below
    #: it) for a worker that runs as a uid of its own: such a
    #: uid has no passwd entry and no home, and the host's (``/root``) is not its to
    #: write ("": keep the inherited ``HOME``).
    home: str = ""
    #: Seconds between heartbeats.
    heartbeat: Annotated[float, msgspec.Meta(gt=0.0, le=3600.0)] = 1.0

    @property
    def fds(self) -> tuple[int, ...]:
        """Every file descriptor the worker must inherit, and no other."""
        return (self.control_fd, *self.frame_fds)

    def to_argv(self) -> list[str]:
        """The arguments after ``python -m host.worker``."""
        return [msgspec.json.encode(self).decode()]

    @classmethod
    def from_argv(cls, argv: list[str]) -> WorkerArgs:
        """Read what :meth:`to_argv` wrote.

        :raises SystemExit: with a usage message naming the bad field (this runs as the
            worker's ``main``; nothing else is listening yet).
        """
        if len(argv) != 1:
            raise SystemExit("usage: python -m host.worker '<WorkerArgs as JSON>'")
        try:
            return msgspec.json.decode(argv[0], type=cls)
        except msgspec.MsgspecError as exc:
            raise SystemExit(f"python -m host.worker: bad arguments: {exc}") from None
