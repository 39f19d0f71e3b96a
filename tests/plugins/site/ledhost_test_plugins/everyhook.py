"""Implements every hook and writes down each call, for ``tests/test_hooks.py``.

Each call made with a context appends one JSON line to ``<data_dir>/calls.jsonl`` (hook,
pid, thread, time and what the hook saw), so a test reads back what happened inside the
worker. The config chooses the behaviour: frame pacing, refresh schedule, strip shape.
Modes: ``frames`` (a fill of ``color``), ``strip`` (a strip), ``news`` (has content only
while ``<data_dir>/news.txt`` holds text at the last refresh), ``boom`` (``render_frame``
raises) and ``badstrip`` (``render_strip`` returns a Canvas, a plugin author's mistake).
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, Strip, hookimpl

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "color": {"type": "string", "default": "#00ff00"},
        "label": {"type": "string", "default": "hello"},
        "frame_delay": {"type": ["number", "null"], "minimum": 0, "default": 0.05},
        "refresh_every": {"type": ["number", "null"], "minimum": 0, "default": None},
        "refresh_sleep": {"type": "number", "minimum": 0, "default": 0},
        "strip_width": {"type": "integer", "minimum": 1, "default": 150},
        "strip_speed": {"type": "number", "default": 40},
        "strip_gap": {"type": ["integer", "null"], "default": None},
    },
    "additionalProperties": False,
}

_lock = threading.Lock()
#: What the last refresh found; read by has_content on the worker's main thread.
_news = {"has": False}


def _record(context: PluginContext, hook: str, **fields: Any) -> None:
    fields.update(hook=hook, pid=os.getpid(), thread=threading.current_thread().name, t=time.time())
    line = json.dumps(fields, default=str) + "\n"
    with _lock, open(context.data_dir / "calls.jsonl", "a") as f:
        f.write(line)


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("frames", title="Every hook: frames", duration=7.5)
    register("strip", title="Every hook: strip")
    register("news")
    register("boom")
    register("badstrip")


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _record(
        context,
        "setup",
        config=dict(context.config),
        secrets=dict(context.secrets),
        plugin_id=context.plugin_id,
        instance_id=context.instance_id,
        size=list(context.size),
        width=context.width,
        height=context.height,
        data_dir=str(context.data_dir),
        font_height=context.font("small").measure("A")[1],
    )


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _record(context, "configure", config=config, context_config=dict(context.config))


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    started = time.time()
    time.sleep(context.config["refresh_sleep"])
    news = context.data_dir / "news.txt"
    _news["has"] = news.exists() and bool(news.read_text().strip())
    delay: float | None = context.config["refresh_every"]
    _record(context, "refresh_data", started=started, ended=time.time(), returned=delay)
    return delay


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode == "news":
        return _news["has"]
    return None


@hookimpl
def render_strip(
    context: PluginContext, mode: str, height: int, ticker: bool
) -> Strip | Canvas | None:
    if mode == "badstrip":
        return Canvas(10, height)
    if mode != "strip":
        return None
    _record(context, "render_strip", mode=mode, height=height, ticker=ticker)
    config = context.config
    canvas = Canvas(config["strip_width"], height)
    canvas.clear(config["color"])
    return Strip(canvas=canvas, speed=config["strip_speed"], gap=config["strip_gap"])


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    _record(context, "render_frame", mode=mode, frame=frame, now=now)
    if mode == "boom":
        raise ValueError(f"boom on frame {frame}")
    canvas.clear(context.config["color"])
    delay: float | None = context.config["frame_delay"]
    return delay


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register(
        "echo",
        title="Echo",
        params_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
    )
    register("fail")
    register("redraw", title="Redraw now")
    register("badresult")


@hookimpl
def handle_action(context: PluginContext, name: str, params: dict[str, Any]) -> Any:
    _record(context, "handle_action", name=name, params=params)
    if name == "echo":
        return {"name": name, "params": params, "pid": os.getpid()}
    if name == "fail":
        raise RuntimeError("the action failed on purpose")
    if name == "redraw":
        context.request_redraw()
        return None
    if name == "badresult":
        return {"at": datetime.datetime.now()}  # not plain data: msgpack cannot send it
    return None


@hookimpl
def teardown(context: PluginContext) -> None:
    _record(context, "teardown")
