"""The worker process: runs exactly one plugin instance in a process of its own.

Started either forked from the zygote (:mod:`host.spawner`) or spawned with the plugin
environment's interpreter as ``python -m host.worker``; both end in :func:`run`, which
sets the process up (own process group, death with the parent, signals), then boots and
serves the plugin with :class:`host.worker_loop.Worker` and turns how that ended into an
exit status from :mod:`host.exitcodes`. Nothing here imports host-side modules beyond the
wire formats, so the worker stays small in every plugin environment.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import sys
from typing import NoReturn

from host import exitcodes
from host.errors import ProtocolError
from host.worker_boot import BootError
from host.worker_loop import MAX_STRIP_WIDTH, Worker, WorkerArgs

__all__ = ["MAX_STRIP_WIDTH", "WorkerArgs", "main", "run", "run_forked"]


def _set_parent_death_signal() -> None:
    """Die with the parent even while stuck in plugin code (Linux ``PR_SET_PDEATHSIG``).

    The control channel's EOF covers a worker that is listening; this covers one that is
    busy in an endless loop when the host dies.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def run(args: WorkerArgs) -> int:
    """Run a worker to the end and return its exit status."""
    _set_parent_death_signal()
    if os.getpid() != os.getsid(0):
        os.setsid()  # own process group, so the host can signal the plugin's children too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(exitcodes.OK))
    worker = Worker(args)
    try:
        worker.boot()
        if args.describe:
            return exitcodes.OK
        worker.wait_for_start()
        worker.serve()
    except BootError as exc:
        _report_boot_error(worker, str(exc))
        return exc.status
    except (EOFError, ConnectionError):
        return exitcodes.HOST_GONE
    except ProtocolError as exc:
        _report_boot_error(worker, f"protocol error: {exc}")
        return exitcodes.HANDSHAKE_FAILED
    except Exception as exc:
        # A bug in the worker or a plugin doing something unexpected outside a hook: tell
        # the host what it was instead of leaving only a traceback on a console nobody reads.
        with contextlib.suppress(Exception):
            worker.report_error("worker", exc)
        return exitcodes.CRASHED
    worker.shutdown()
    return exitcodes.OK


def _report_boot_error(worker: Worker, message: str) -> None:
    try:
        worker.channel.send({"t": "error", "hook": "boot", "message": message, "fatal": True})
    except (EOFError, OSError, ProtocolError):
        pass


def run_forked(args: WorkerArgs) -> NoReturn:
    """Entry point in a child of the zygote (multiprocessing forkserver)."""
    status = run(args)
    _exit(status)


def _exit(status: int) -> NoReturn:
    logging.shutdown()
    sys.stdout.flush()
    os._exit(status)


def parse_args(argv: list[str] | None = None) -> WorkerArgs:
    parser = argparse.ArgumentParser(prog="python -m host.worker")
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--frame-fds", required=True, help="memfd,ready,free")
    parser.add_argument("--size", required=True, help="WIDTHxHEIGHT")
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--trace", action="store_true")
    ns = parser.parse_args(argv)
    memfd, ready, free = (int(x) for x in ns.frame_fds.split(","))
    width, height = (int(x) for x in ns.size.split("x"))
    return WorkerArgs(
        plugin_id=ns.plugin,
        instance_id=ns.instance,
        control_fd=ns.control_fd,
        frame_fds=(memfd, ready, free),
        width=width,
        height=height,
        slots=ns.slots,
        paths=tuple(ns.path),
        describe=ns.describe,
        trace=ns.trace,
    )


def main(argv: list[str] | None = None) -> NoReturn:
    _exit(run(parse_args(argv)))


if __name__ == "__main__":
    main()
