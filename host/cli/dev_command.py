"""``ledhost dev [PATH]``: a plugin in a real worker beside a live browser preview.

Parses the arguments, refuses a non-loopback address unless asked twice, and serves
:mod:`host.author.devweb` with waitress until Ctrl-C. The work is in
:mod:`host.author.devsession`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from host.cli.plugin_args import (
    UsageError,
    add_target_arguments,
    parse_size,
    plugin_paths,
    read_plugin_options,
    store_root,
    worker_rules,
)

__all__ = ["add_dev_parser", "cmd_dev"]

#: Default port of the dev server (the admin UI's default plus one, so both can run).
DEFAULT_PORT = 8766


def add_dev_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    dev = sub.add_parser(
        "dev",
        parents=[common],
        help="run a plugin in a real worker with a live browser preview, reloading on edits",
    )
    add_target_arguments(dev, default=".")
    dev.add_argument("--size", default="64x32", help="panel WIDTHxHEIGHT (default 64x32)")
    dev.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    dev.add_argument(
        "--config",
        type=Path,
        help="a TOML file with the plugin's options (a plugin section or a ledhost config)",
    )
    dev.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dev.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --bind to a non-loopback address (the page has no login: anyone who "
        "reaches it can run your plugin with any config)",
    )


def _loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def cmd_dev(ns: argparse.Namespace) -> int:
    import waitress  # type: ignore[import-untyped]

    from host.author.devsession import DevSession
    from host.author.devweb import create_dev_app
    from host.author.target import resolve_into

    width, height = parse_size(ns.size)
    if not 0 <= ns.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if not _loopback(ns.bind):
        if not ns.allow_remote:
            raise UsageError(
                f"--bind {ns.bind} is not a loopback address; the dev page has no login. "
                "Add --allow-remote if you really want it reachable from other machines"
            )
        print(
            f"ledhost dev: WARNING: listening on {ns.bind} without a login: anyone who can "
            "reach this port can run your plugin with any config",
            file=sys.stderr,
            flush=True,
        )
    paths = plugin_paths(ns)
    rules = worker_rules()
    store = store_root()
    with tempfile.TemporaryDirectory(prefix="ledhost-dev-") as scratch:
        where = Path(scratch) / "target"
        data_dir = Path(scratch) / "data"
        data_dir.mkdir()
        if rules.uid is not None or rules.uid_range is not None:
            # The worker's user must reach its data folder and the generated metadata.
            os.chmod(scratch, 0o711)
            os.chmod(data_dir, 0o711)

        def resolve() -> Any:
            return resolve_into(ns.target, where, plugin_paths=paths, store=store)

        target = resolve()
        options: dict[str, Any] = {}
        if ns.config is not None:
            _, options = read_plugin_options(ns.config, target.spec.plugin_id)
        session = DevSession(
            resolve, width=width, height=height, options=options, rules=rules, data_dir=data_dir
        )
        app = create_dev_app(session)
        app.config["DEV_ANY_HOST"] = not _loopback(ns.bind)
        server = waitress.create_server(
            app, host=ns.bind, port=ns.port, threads=8, ident="ledhost-dev"
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        session.start()
        shown = f"[{ns.bind}]" if ":" in ns.bind else ns.bind
        print(
            f"ledhost dev: {target.spec.plugin_id} at {width}x{height} on "
            f"http://{shown}:{server.effective_port}/ (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            session.stop()
    return 0
