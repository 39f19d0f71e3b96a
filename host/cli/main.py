"""The ``ledhost`` command line: ``run``, ``plugins``, ``render`` and ``config``.

Thin by design: parse, build what the command needs, report a failure as one line on
stderr with a non-zero status (2 for bad usage, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from host import __version__
from host.cli.author_commands import (
    AUTHOR_COMMANDS,
    add_check_parser,
    cmd_check,
    cmd_plugin_new,
    is_plugin_new,
)
from host.cli.config_commands import (
    PLUGIN_PATH_HELP,
    add_config_parser,
    cmd_config,
    migrate_and_note,
)
from host.cli.control_commands import COMMANDS as CONTROL_COMMANDS
from host.cli.control_commands import add_control_parsers, cmd_control
from host.cli.dev_command import add_dev_parser, cmd_dev
from host.cli.doctor_command import add_doctor_parser, cmd_doctor
from host.cli.harness_command import add_harness_parser, cmd_harness
from host.cli.mqtt_commands import add_mqtt_parser, cmd_mqtt_bridge
from host.cli.plugin_args import UsageError, read_plugin_options
from host.cli.plugin_args import parse_size as _parse_size
from host.cli.plugin_args import store_root as _store_root
from host.cli.plugin_args import worker_rules as _worker_rules
from host.cli.reconcile_command import add_reconcile_parser, cmd_reconcile, reconcile_at_start
from host.cli.selfupdate_command import add_selfupdate_parser, cmd_selfupdate
from host.cli.service_commands import add_service_parser, cmd_service
from host.cli.store_commands import STORE_COMMANDS, add_store_parsers, cmd_store
from host.cli.web_commands import add_web_parser, cmd_web
from host.errors import HostError
from host.safemode import SAFE_HELP

#: Environment switch: run exactly these plugin instances (comma-separated; empty = none).
PLUGINS_ENV = "LEDHOST_PLUGINS"
#: Environment switch: log every hook call in every worker.
TRACE_ENV = "LEDHOST_TRACE_PLUGINS"


def _parse_plugins(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(p.strip() for p in text.split(",") if p.strip())


@contextlib.contextmanager
def _translations_looked_up_once() -> Iterator[None]:
    """While it is entered, argparse asks gettext once per message, not once per parser.

    Every parser argparse makes translates the same few strings ("options", "show this
    help message and exit"...), and for each call gettext looks for catalogue files
    anew: ~120 lookups, ~10 ms of every command's start-up for ledhost's ~40 parsers
    (issue 15). Neither the environment nor the catalogues change within the call, so
    each message's first answer is its answer.
    """
    translate = getattr(argparse, "_", None)
    if translate is None:  # an argparse that translates otherwise: nothing to save
        yield
        return
    argparse._ = functools.cache(translate)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def build_parser() -> argparse.ArgumentParser:
    with _translations_looked_up_once():
        return _build_parser()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledhost", description="Drive an RGB LED matrix sign.")
    parser.add_argument("--version", action="version", version=f"ledhost {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    common.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="show the rotation on the display")
    run.add_argument("--config", type=Path, help="config file (default: the embedded one)")
    run.add_argument(
        "--backend",
        choices=["auto", "headless", "emulator", "hardware", "piomatter"],
        help="where frames go (default: display.backend of the config)",
    )
    run.add_argument("--duration", type=float, help="exit after this many seconds")
    run.add_argument("--snapshot", type=Path, help="write what was shown to a .gif or .png")
    run.add_argument("--stats-json", type=Path, help="write run statistics here at the end")
    run.add_argument("--plugins", help=f"run exactly these instances (also ${PLUGINS_ENV})")
    run.add_argument(
        "--launcher",
        choices=["zygote", "spawn"],
        default="zygote",
        help="start workers forked from a preloaded zygote, or as fresh interpreters",
    )
    run.add_argument(
        "--plugin-path",
        action="append",
        default=[],
        type=Path,
        help=PLUGIN_PATH_HELP,
    )
    run.add_argument("--safe", action="store_true", help=SAFE_HELP)

    plugins = sub.add_parser("plugins", parents=[common], help="list the plugins ledhost can run")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.add_argument(
        "--plugin-path", action="append", default=[], type=Path, help=PLUGIN_PATH_HELP
    )

    render = sub.add_parser("render", parents=[common], help="render a plugin's mode to an image")
    render.add_argument("target", metavar="PLUGIN[:MODE]")
    render.add_argument(
        "--frames", type=int, default=1, help="frames to render, 1-3600 (default 1; >1: a .gif)"
    )
    render.add_argument("--out", type=Path, required=True, help=".png or .gif")
    render.add_argument("--size", default="64x32", help="WIDTHxHEIGHT (default 64x32)")
    render.add_argument(
        "--config", type=Path, help="a TOML file with the plugin's options (a plugin section)"
    )
    render.add_argument("--scale", type=int, default=1, help="enlarge each LED this much")
    render.add_argument("--led", action="store_true", help="draw LEDs as round dots")
    render.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="give up if the plugin has not rendered after this many seconds (default 60)",
    )
    render.add_argument(
        "--plugin-path", action="append", default=[], type=Path, help=PLUGIN_PATH_HELP
    )

    add_config_parser(sub, common)
    add_control_parsers(sub, common)
    add_web_parser(sub, common)
    add_mqtt_parser(sub, common)
    add_store_parsers(sub, common)
    add_reconcile_parser(sub, common)
    add_doctor_parser(sub, common)
    add_check_parser(sub, common)
    add_dev_parser(sub, common)
    add_harness_parser(sub, common)
    add_service_parser(sub, common)
    add_selfupdate_parser(sub, common)
    return parser


#: Commands that run as long-lived services and log at INFO by default.
SERVICES = frozenset({"run", "web", "mqtt-bridge"})


#: Set once ``ledhost run``'s host has stopped and written what it writes: the process
#: may then end without the interpreter's finalization (:mod:`host.cli.entry`).
host_stopped = False


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)  # the parser is garbage from here (issue 15)
    # ``run`` and the processes it supervises (``web``, ``mqtt-bridge``) are services: they
    # log what they do, and an error in one (a 500's traceback) must reach the journal.
    # The one-shot commands report their own failure as one line, so their plugins' log
    # lines only show with -v.
    quiet_default = logging.INFO if ns.command in SERVICES else logging.CRITICAL
    level = logging.DEBUG if ns.verbose else logging.WARNING if ns.quiet else quiet_default
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from config import ConfigError
    from host.cli.startcheck import check_at_start

    ns.selfcheck = check_at_start(
        ns.command, getattr(ns, "config_command", None), getattr(ns, "backend", None)
    )
    try:
        if ns.command == "run":
            return cmd_run(ns)
        if ns.command == "plugins":
            return cmd_plugins(ns)
        if ns.command == "config":
            return cmd_config(ns)
        if ns.command == "web":
            return cmd_web(ns)
        if ns.command == "mqtt-bridge":
            return cmd_mqtt_bridge(ns)
        if ns.command in STORE_COMMANDS:
            return cmd_store(ns)
        if ns.command == "reconcile":
            return cmd_reconcile(ns)
        if ns.command == "doctor":
            return cmd_doctor(ns)
        if is_plugin_new(ns):
            return cmd_plugin_new(ns)
        if ns.command in AUTHOR_COMMANDS:
            return cmd_check(ns)
        if ns.command == "dev":
            return cmd_dev(ns)
        if ns.command == "harness":
            return cmd_harness(ns)
        if ns.command == "service":
            return cmd_service(ns)
        if ns.command == "self-update":
            return cmd_selfupdate(ns)
        if ns.command in CONTROL_COMMANDS:
            return cmd_control(ns)
        return cmd_render(ns)
    except UsageError as exc:
        print(f"ledhost: error: {exc}", file=sys.stderr)
        return 2
    except (HostError, ConfigError) as exc:
        text = str(exc).replace("\n", "\n  ")
        print(f"ledhost: error: {text}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"ledhost: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


def _check_writable(path: Path, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{path}: the file must end in {' or '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{path}: folder {folder} is not writable")


def cmd_run(ns: argparse.Namespace) -> int:
    if ns.launcher == "zygote":
        from host.supervise.spawner import fork_zygote_early

        # Before the config (no worker may inherit its secrets) and before host.app: what
        # only the host runs stays out of the zygote, so the pages the host then writes
        # are not also kept, stale, by the zygote and every worker (issue 15).
        fork_zygote_early()
    from config import load_config
    from host.app import Host, RunOptions
    from host.cli.logsetup import apply_logging
    from host.cli.startcheck import exit_status
    from host.safemode import safe_mode_asked
    from host.worker.secrets import forget_config_environment

    migrate_and_note(ns.config)
    # Live reloads read the environment as it was at start; everything the host starts
    # (zygote, workers, helpers) gets it without config overrides, which may be secrets.
    env = dict(os.environ)
    cfg = load_config(ns.config, env=env)
    forget_config_environment(os.environ)
    apply_logging(cfg.logging, verbose=ns.verbose, quiet=ns.quiet)
    safe = safe_mode_asked(ns.safe, cfg.paths.data_dir)
    only = _parse_plugins(ns.plugins if ns.plugins is not None else os.environ.get(PLUGINS_ENV))
    if ns.snapshot is not None:
        _check_writable(ns.snapshot, (".gif", ".png"))
    if ns.stats_json is not None:
        _check_writable(ns.stats_json, (".json",))
    if ns.duration is not None and ns.duration <= 0:
        raise UsageError("--duration must be positive")
    options = RunOptions(
        duration=ns.duration,
        snapshot=ns.snapshot,
        stats_json=ns.stats_json,
        backend=ns.backend,
        only=only,
        launcher=ns.launcher,
        plugin_paths=tuple(str(p.resolve()) for p in ns.plugin_path),
        trace_plugins=bool(os.environ.get(TRACE_ENV)),
        config_env=env,
        safe_mode=safe,
        problems=tuple(ns.selfcheck),
    )
    if not safe:  # safe mode: builtins only, and nothing installed on the way
        reconcile_at_start(cfg)  # before any worker starts; see host/cli/reconcile_command.py
    host = Host(cfg, options)
    status = host.run()
    global host_stopped
    host_stopped = True
    if host.restart_requested and status == 0:
        _restart()
    return exit_status(status, ns.selfcheck)


def _restart() -> None:
    """Run ``ledhost`` again with the same arguments in this process (same pid, so a
    service manager sees one service), after the host stopped cleanly."""
    print("ledhost: restarting as asked through the control socket", file=sys.stderr, flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "host", *sys.argv[1:]])


def cmd_plugins(ns: argparse.Namespace) -> int:
    from host.cli.probe import describe_plugins
    from host.discovery import discover

    specs = discover([str(p.resolve()) for p in ns.plugin_path], store=_store_root())
    described = describe_plugins(
        [s for s in specs.values() if not s.blocked], rules=_worker_rules()
    )
    rows = []
    for plugin_id, spec in specs.items():
        info = described.get(plugin_id, {})
        row: dict[str, Any] = {
            "id": plugin_id,
            "distribution": spec.distribution,
            "version": spec.version,
            "modes": [m["name"] for m in info.get("modes") or []],
            "found": spec.source,
            "entry_point": spec.value,
        }
        if "error" in info:
            row["error"] = info["error"]
        if spec.blocked:
            row["error"] = f"blocked by the registry: {spec.blocked}"
        rows.append(row)
    if ns.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            modes = ", ".join(row["modes"]) or f"error: {row.get('error')}"
            print(
                f"{row['id']:<16} {row['distribution']} {row['version']:<10} "
                f"[{row['found']}]  modes: {modes}"
            )
    return 0


def cmd_render(ns: argparse.Namespace) -> int:
    from host.cli.probe import render_mode
    from host.discovery import discover
    from host.display.backends.ledlook import led_look

    instance_id, _, mode = ns.target.partition(":")
    width, height = _parse_size(ns.size)
    if not 1 <= ns.frames <= 3600:
        raise UsageError("--frames must be between 1 and 3600")
    if not 0 < ns.timeout <= 3600:
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    if not 1 <= ns.scale <= 64:
        raise UsageError("--scale must be between 1 and 64")
    _check_writable(ns.out, (".png", ".gif"))
    plugin_id, options = instance_id, dict[str, Any]()
    if ns.config is not None:
        plugin_id, options = read_plugin_options(ns.config, instance_id)
    specs = discover([str(p.resolve()) for p in ns.plugin_path], store=_store_root())
    spec = specs.get(plugin_id)
    if spec is None:
        known = ", ".join(specs) or "none"
        raise HostError(f"unknown plugin {plugin_id!r} (installed: {known})")
    rules = _worker_rules()
    with tempfile.TemporaryDirectory(prefix="ledhost-render-") as data_dir:
        if rules.uid is not None:
            os.chmod(data_dir, 0o711)  # the worker user must reach its data folder inside
        frames, durations = render_mode(
            spec,
            mode or None,
            width=width,
            height=height,
            frames=ns.frames,
            options=options,
            data_dir=Path(data_dir),
            rules=rules,
            timeout=ns.timeout,
            note=lambda text: print(f"ledhost: note: {text}", file=sys.stderr),
        )
    from PIL import Image

    scale = ns.scale if ns.scale > 1 or not ns.led else 8
    images = [Image.fromarray(led_look(f, scale) if ns.led else _enlarge(f, scale)) for f in frames]
    _save_images(images, durations, ns.out)
    print(
        f"wrote {ns.out} ({len(images)} frame{'s' if len(images) != 1 else ''}, "
        f"{images[0].width}x{images[0].height})"
    )
    return 0


def _enlarge(frame: Any, scale: int) -> Any:
    if scale == 1:
        return frame
    return frame.repeat(scale, axis=0).repeat(scale, axis=1)


def _save_images(images: list[Any], durations: list[float], out: Path) -> None:
    """Encode the picture in memory, then write it with one ``atomic_write``.

    A viewer never sees half a picture, and a new file gets the mode the umask gives like
    any file the user creates (a picture is meant to be shared, not private).
    """
    import io

    from config.atomic import atomic_write

    buffer = io.BytesIO()
    if out.suffix.lower() == ".gif" and len(images) > 1:
        ms = [max(20, int(round(d * 1000))) for d in durations]
        images[0].save(
            buffer, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0
        )
    elif out.suffix.lower() == ".png":
        images[-1].save(buffer, format="PNG")
    else:
        images[0].save(buffer, format="GIF")
    atomic_write(out, buffer.getvalue())
