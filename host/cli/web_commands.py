"""``ledhost web``: run the web process (REST API) in the foreground.

The web package is imported only inside the command, so the host never loads Flask.
Bind and port come from ``[web]`` unless given; the auth store lives in the data dir
(``web-auth.json``, 0600), and so does the session key (``web-session.key``, 0600), so a
restart of the web process keeps its users logged in. ``--state-dir`` puts both in a
folder of their own instead (``ledhost run`` passes it when the web process runs as the
``ledhost`` user, who may write only there: :mod:`host.system.webuser`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host.cli.control_commands import socket_path


def add_web_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost web`` to the parser."""
    web = sub.add_parser("web", parents=[common], help="serve the REST API (the web process)")
    web.add_argument("--config", help="config file (default: as the host)")
    web.add_argument("--socket", help="the host's control socket (default: as the host)")
    web.add_argument("--bind", help="address to listen on (default: [web] bind)")
    web.add_argument("--port", type=int, help="TCP port (default: [web] port)")
    web.add_argument("--state-dir", type=Path, help="where its login store and session key live")


def cmd_web(ns: argparse.Namespace) -> int:
    """Serve until killed."""
    from config import load_config
    from web.server import serve

    cfg = load_config(ns.config, secrets_path=False)
    state = ns.state_dir or cfg.paths.data_dir
    options: dict[str, Any] = {
        "auth_file": state / "web-auth.json",
        "data_dir": state,
        "socket": socket_path(ns),
        "allowed_hosts": cfg.web.allowed_hosts,
    }
    serve(ns.bind or cfg.web.bind, ns.port or cfg.web.port, options)
    return 0
