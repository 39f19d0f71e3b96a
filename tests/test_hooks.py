"""One or more ``test_hook_<name>`` per hook in ``sdk.hookspecs``, through real workers.

Every test drives the ``everyhook`` test plugin (``tests/plugins/site``) in a real worker
subprocess through the real :class:`~host.supervise.supervisor.Supervisor` (the ``harness``
fixture).
The plugin appends one JSON line per hook call to ``calls.jsonl`` in its data dir, so a
test sees what the worker did as well as what reached the host. ``tests/test_docs.py``
checks that every hook has a test here.

Timing: the box is noisy, so waits are generous and no assertion needs a hook to be
prompt; pacing is checked with bounds that lateness can only make looser.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.discovery import PluginSpec
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState
from sdk import hookspecs
from tests.conftest import Harness

#: The everyhook config with every default filled in (its config_schema).
DEFAULTS: dict[str, Any] = {
    "color": "#00ff00",
    "label": "hello",
    "frame_delay": 0.05,
    "refresh_every": None,
    "refresh_sleep": 0,
    "strip_width": 150,
    "strip_speed": 40,
    "strip_gap": None,
}


@pytest.fixture
def everyhook(test_specs: dict[str, PluginSpec]) -> PluginSpec:
    return test_specs["everyhook"]


def start(
    harness: Harness, spec: PluginSpec, instance: str | None = None, **options: Any
) -> WorkerHandle:
    """Start ``spec`` with ``options`` and wait until its setup is done."""
    handle = harness.start(spec, options, instance=instance)
    harness.wait_running(handle)
    return handle


def data_dir(harness: Harness, handle: WorkerHandle) -> Path:
    return harness.supervisor.data_dir / handle.instance_id


def calls(harness: Harness, handle: WorkerHandle, hook: str | None = None) -> list[dict[str, Any]]:
    """The calls the plugin recorded, oldest first; a line being written is left out."""
    path = data_dir(harness, handle) / "calls.jsonl"
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]
    records = [json.loads(line) for line in complete]
    return [r for r in records if hook is None or r["hook"] == hook]


def wait_calls(
    harness: Harness, handle: WorkerHandle, hook: str, count: int = 1, **match: Any
) -> list[dict[str, Any]]:
    """Wait until ``hook`` was called ``count`` times (with fields equal to ``match``)."""

    def found() -> list[dict[str, Any]]:
        return [
            r for r in calls(harness, handle, hook) if all(r.get(k) == v for k, v in match.items())
        ]

    harness.wait_for(lambda: len(found()) >= count, what=f"{count} call(s) of {hook} {match}")
    return found()


def frames_of(harness: Harness, handle: WorkerHandle) -> list[np.ndarray]:
    return [
        pixels
        for instance, pixels, token in harness.frames
        if instance == handle.instance_id and token == handle.token
    ]


def wait_action(harness: Harness, handle: WorkerHandle, request_id: int) -> dict[str, Any]:
    harness.wait_for(
        lambda: request_id in handle.action_results or handle.state is not WorkerState.RUNNING,
        what=f"the answer to action request {request_id}",
    )
    assert request_id in handle.action_results, (handle.state, handle.last_error)
    return handle.action_results[request_id]


def spec_names() -> set[str]:
    return {
        name
        for name in dir(hookspecs)
        if hasattr(getattr(hookspecs, name), hookspecs.PROJECT_NAME + "_spec")
    }


# -- register_modes ----------------------------------------------------------------------


def test_hook_register_modes_reach_the_host_with_titles_and_durations(
    harness: Harness, everyhook: PluginSpec
) -> None:
    """Verify the modes ``register_modes`` registered reach the host in the hello."""
    handle = start(harness, everyhook)

    assert handle.modes == [
        {"name": "frames", "title": "Every hook: frames", "duration": 7.5},
        {"name": "strip", "title": "Every hook: strip", "duration": None},
        {"name": "news", "title": "news", "duration": None},
        {"name": "boom", "title": "boom", "duration": None},
        {"name": "badstrip", "title": "badstrip", "duration": None},
    ]
    # The hello also lists every implemented hook; everyhook implements them all.
    assert set(handle.hooks) == spec_names()


def test_hook_register_modes_duplicate_name_is_a_boot_error(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a plugin registering one mode name twice never runs, and says which name."""
    handle = harness.start(test_specs["dupmode"])
    harness.wait_for(
        lambda: handle.last_exit is not None or handle.state is WorkerState.RUNNING,
        what="dupmode to fail its boot",
    )
    assert handle.last_exit == "plugin hooks invalid"
    assert handle.last_error is not None and "duplicate mode name 'scores'" in handle.last_error
    assert handle.state in (WorkerState.BACKOFF, WorkerState.QUARANTINED)


@pytest.mark.parametrize(
    ("plugin", "shown"),
    [
        ("badmode", "'Big Mode'"),
        # A regex "$" also matches before a trailing newline: the name must not slip by.
        ("newlinemode", r"'news\n'"),
    ],
)
def test_hook_register_modes_invalid_name_is_a_boot_error(
    harness: Harness, test_specs: dict[str, PluginSpec], plugin: str, shown: str
) -> None:
    handle = harness.start(test_specs[plugin])
    harness.wait_for(
        lambda: handle.last_exit is not None or handle.state is WorkerState.RUNNING,
        what=f"{plugin} to fail its boot",
    )
    assert handle.last_exit == "plugin hooks invalid"
    assert handle.last_error is not None
    assert f"mode name {shown} is invalid" in handle.last_error


# -- config_schema -----------------------------------------------------------------------


def test_hook_config_schema_defaults_reach_setup(harness: Harness, everyhook: PluginSpec) -> None:
    """Verify the schema ``config_schema`` returns reaches the host, and its defaults
    are filled into the config ``setup`` sees."""
    handle = start(harness, everyhook, label="porch light", frame_delay=0.5)

    expected = {**DEFAULTS, "label": "porch light", "frame_delay": 0.5}
    assert handle.schema is not None
    assert handle.schema["properties"]["strip_width"] == {
        "type": "integer",
        "minimum": 1,
        "default": 150,
    }
    assert handle.config == expected
    (setup,) = wait_calls(harness, handle, "setup")
    assert setup["config"] == expected


def test_hook_config_schema_rejects_a_bad_option_before_setup(
    harness: Harness, everyhook: PluginSpec
) -> None:
    """Verify an option the schema does not know stops only this plugin, naming the key."""
    handle = harness.start(everyhook, {"lable": "typo"})
    harness.wait_for(lambda: handle.state is WorkerState.EXITED, what="everyhook to exit")

    assert handle.last_error is not None
    assert "plugins.everyhook.lable" in handle.last_error
    assert "did you mean 'label'" in handle.last_error
    assert handle.config is None
    assert calls(harness, handle, "setup") == []


def test_hook_config_schema_that_is_not_json_schema_is_a_boot_error(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a broken schema is the plugin's bug: exit status 4, the plugin named."""
    handle = harness.start(test_specs["badschema"])
    harness.wait_for(lambda: handle.last_exit is not None, what="badschema to fail its boot")
    assert handle.last_exit == "plugin hooks invalid"
    assert handle.last_error is not None and "badschema" in handle.last_error
    assert "fast" in handle.last_error


# -- setup -------------------------------------------------------------------------------


def test_hook_setup_gets_its_context_once_in_the_worker(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, instance="porch")

    (setup,) = wait_calls(harness, handle, "setup")
    assert setup["pid"] == handle.pid != os.getpid()
    assert setup["thread"] == "MainThread"
    assert setup["plugin_id"] == "everyhook"
    assert setup["instance_id"] == "porch"
    assert (setup["width"], setup["height"], setup["size"]) == (64, 32, [64, 32])
    assert setup["data_dir"] == str(harness.supervisor.data_dir / "porch")
    assert setup["secrets"] == {}
    assert setup["font_height"] > 0


def test_hook_setup_plugin_error_is_shown_as_written(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a PluginError reaches the user as its own words, with no type name."""
    handle = harness.start(test_specs["usererror"])
    harness.wait_for(lambda: handle.last_exit is not None, what="usererror to fail its boot")
    assert handle.last_exit == "plugin setup failed"
    assert handle.last_error == (
        "boot: setup failed: the API key was refused: check it in the plugin's settings"
    )


# -- configure ---------------------------------------------------------------------------


def test_hook_configure_applies_new_config_without_restart_and_renders_again(
    harness: Harness, everyhook: PluginSpec
) -> None:
    # A still image (frame_delay None) is drawn again only when something asks for it.
    handle = start(harness, everyhook, frame_delay=None)
    harness.supervisor.activate(handle, "frames")
    harness.wait_for(lambda: len(frames_of(harness, handle)) >= 1, what="a first frame")
    assert tuple(frames_of(harness, handle)[0][0, 0]) == (0, 255, 0)
    pid = handle.pid

    new = {"frame_delay": None, "color": "#ff0000", "label": "two"}
    harness.supervisor.configure(handle, new)
    harness.wait_for(
        lambda: any(tuple(f[0, 0]) == (255, 0, 0) for f in frames_of(harness, handle)),
        what="a frame in the new colour",
    )

    expected = {**DEFAULTS, **new}
    (configure,) = wait_calls(harness, handle, "configure")
    assert configure["config"] == expected
    assert configure["context_config"] == expected, "context.config is the new config too"
    assert handle.config == expected
    assert handle.pid == pid and handle.restarts == 0
    assert len(calls(harness, handle, "setup")) == 1
    renders = calls(harness, handle, "render_frame")
    assert [(r["mode"], r["frame"]) for r in renders] == [("frames", 0), ("frames", 1)]
    assert renders[1]["t"] >= configure["t"]


def test_hook_configure_with_a_bad_value_keeps_the_running_config(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, label="kept")
    request = harness.supervisor.configure(handle, {"frame_delay": "soon"})
    harness.wait_for(lambda: request in handle.config_answers, what="the worker's answer")
    issues = handle.config_answers[request].issues
    assert issues and issues[0].key == "plugins.everyhook.frame_delay", "the worker refused it"
    assert handle.config == {**DEFAULTS, "label": "kept"}
    harness.pump(0.3)
    assert calls(harness, handle, "configure") == []


# -- refresh_data ------------------------------------------------------------------------


def test_hook_refresh_data_runs_off_the_render_path_on_its_own_schedule(
    harness: Harness, everyhook: PluginSpec
) -> None:
    """Verify frames keep coming while refresh_data sleeps, and its delay spaces the calls."""
    handle = start(harness, everyhook, refresh_sleep=0.6, refresh_every=0.4, frame_delay=0.02)
    harness.supervisor.activate(handle, "frames")
    first, second = wait_calls(harness, handle, "refresh_data", count=2)[:2]

    renders = calls(harness, handle, "render_frame")
    assert {r["thread"] for r in renders} == {"MainThread"}
    assert {first["thread"], second["thread"]} == {"refresh"}
    during = [
        sum(1 for r in renders if call["started"] < r["t"] < call["ended"])
        for call in (first, second)
    ]
    assert max(during) >= 3, f"frames rendered while refresh_data slept: {during}"
    assert first["returned"] == 0.4
    gap = second["started"] - first["ended"]
    assert 0.35 <= gap < 10.0, f"the next refresh started {gap:.3f}s after the last ended"


def test_hook_refresh_data_returning_none_waits_for_a_config_change(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)  # refresh_every defaults to None
    (first,) = wait_calls(harness, handle, "refresh_data")
    assert first["returned"] is None
    harness.pump(0.8)
    assert len(calls(harness, handle, "refresh_data")) == 1

    harness.supervisor.configure(handle, {"label": "changed"})
    wait_calls(harness, handle, "refresh_data", count=2)


# -- has_content -------------------------------------------------------------------------


def test_hook_has_content_is_reported_and_follows_refreshed_data(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, refresh_every=0.1)
    others = {"frames": True, "strip": True, "boom": True, "badstrip": True}
    harness.wait_for(lambda: "news" in handle.content, what="content to be reported")
    # None (every mode but news) means "has content".
    assert handle.content == {**others, "news": False}
    assert not handle.has_content("news") and handle.has_content("frames")

    news = data_dir(harness, handle) / "news.txt"
    news.write_text("goal!")
    harness.wait_for(lambda: handle.content.get("news") is True, what="news to have content")
    assert handle.has_content("news")

    news.write_text("")
    harness.wait_for(lambda: handle.content.get("news") is False, what="news to go empty")
    assert handle.content == {**others, "news": False}


# -- render_strip ------------------------------------------------------------------------


def test_hook_render_strip_reaches_the_host_with_its_width_speed_and_gap(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, color="#0000ff", strip_speed=45, strip_gap=7)
    harness.supervisor.activate(handle, "strip")
    harness.wait_for(lambda: len(harness.strips) >= 1, what="a strip")

    instance, strip = harness.strips[0]
    assert instance == handle.instance_id
    assert (strip.mode, strip.token) == ("strip", handle.token)
    assert strip.pixels.shape == (32, 150, 3)
    assert (strip.pixels == np.array([0, 0, 255], dtype=np.uint8)).all()
    assert (strip.speed, strip.gap) == (45.0, 7)
    assert handle.strip is strip
    (call,) = wait_calls(harness, handle, "render_strip")
    assert call["height"] == 32
    assert call["ticker"] is False
    # A strip mode is drawn once: no render_frame for it, however long it is shown.
    harness.pump(0.3)
    assert calls(harness, handle, "render_frame") == []
    assert len(harness.strips) == 1

    # request_redraw() draws the strip again.
    request_id = harness.supervisor.request_action(handle, "redraw")
    assert wait_action(harness, handle, request_id)["ok"] is True
    harness.wait_for(lambda: len(harness.strips) >= 2, what="a second strip")
    assert len(calls(harness, handle, "render_strip")) == 2


def test_hook_render_strip_is_told_when_the_strip_feeds_the_ticker(
    harness: Harness, everyhook: PluginSpec
) -> None:
    """Verify the ticker flag of an activation reaches the hook, and only that one."""
    handle = start(harness, everyhook)
    harness.supervisor.activate(handle, "strip", None, True)
    harness.wait_for(lambda: len(harness.strips) >= 1, what="a strip")
    harness.supervisor.activate(handle, "strip")
    harness.wait_for(lambda: len(harness.strips) >= 2, what="a second strip")
    first, second = wait_calls(harness, handle, "render_strip", count=2)
    assert (first["ticker"], second["ticker"]) == (True, False)


def test_hook_render_strip_returning_a_canvas_is_a_reported_error_not_a_crash(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    harness.supervisor.activate(handle, "badstrip")
    harness.wait_for(lambda: handle.last_error is not None, what="an error")
    assert handle.last_error is not None
    assert handle.last_error.startswith("render_strip: TypeError: "), handle.last_error
    assert "Canvas" in handle.last_error
    assert harness.strips == []
    harness.pump(0.3)
    assert handle.state is WorkerState.RUNNING and handle.pid == pid


# -- render_frame ------------------------------------------------------------------------


def test_hook_render_frame_returned_delay_paces_frames_and_now_is_wall_time(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, frame_delay=0.1)
    harness.supervisor.activate(handle, "frames")
    renders = wait_calls(harness, handle, "render_frame", count=8)

    assert [r["frame"] for r in renders] == list(range(len(renders)))
    assert {r["mode"] for r in renders} == {"frames"}
    # `now` is when the frame was due: never after the call, and close to it.
    for r in renders:
        assert r["t"] - 2.0 < r["now"] <= r["t"] + 0.05, r
    # Frames are due 0.1s apart: the worker schedules from the due time, so lateness
    # delays frames but never makes them come faster than asked.
    steps = [b["now"] - a["now"] for a, b in itertools.pairwise(renders)]
    assert statistics.median(steps) == pytest.approx(0.1, abs=0.01)
    span = renders[-1]["t"] - renders[0]["now"]
    assert (len(renders) - 1) * 0.1 <= span + 0.01, "frames came faster than the delay"
    shown = frames_of(harness, handle)
    assert shown and all(tuple(f[0, 0]) == (0, 255, 0) for f in shown)

    # Activating the mode again starts counting frames from 0.
    count = len(calls(harness, handle, "render_frame"))
    harness.supervisor.activate(handle, "frames")
    harness.wait_for(
        lambda: any(r["frame"] == 0 for r in calls(harness, handle, "render_frame")[count:]),
        what="frame 0 again",
    )


def test_hook_render_frame_returning_none_is_a_still_image_until_redraw(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook, frame_delay=None)
    harness.supervisor.activate(handle, "frames")
    wait_calls(harness, handle, "render_frame")
    harness.pump(0.8)
    assert len(calls(harness, handle, "render_frame")) == 1

    harness.supervisor.request_action(handle, "redraw")
    renders = wait_calls(harness, handle, "render_frame", count=2)
    assert [r["frame"] for r in renders] == [0, 1]


def test_hook_render_frame_that_raises_is_reported_and_the_worker_keeps_running(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    harness.supervisor.activate(handle, "boom")
    harness.wait_for(lambda: handle.last_error is not None, what="the render error")

    assert handle.last_error == "render_frame: ValueError: boom on frame 0"
    # A failed frame stops that mode's frames until it is activated or redrawn again.
    harness.pump(0.3)
    assert len(calls(harness, handle, "render_frame")) == 1
    assert handle.state is WorkerState.RUNNING and handle.pid == pid
    assert frames_of(harness, handle) == []

    harness.supervisor.activate(handle, "frames")
    harness.wait_for(lambda: len(frames_of(harness, handle)) >= 3, what="frames after the error")
    assert handle.state is WorkerState.RUNNING and handle.pid == pid and handle.restarts == 0


# -- register_actions and handle_action --------------------------------------------------


def test_hook_register_actions_reach_the_host(harness: Harness, everyhook: PluginSpec) -> None:
    """Verify the actions ``register_actions`` registered reach the host in the hello."""
    handle = start(harness, everyhook)
    assert handle.actions == [
        {
            "name": "echo",
            "title": "Echo",
            "params": {"type": "object", "properties": {"x": {"type": "integer"}}},
        },
        {"name": "fail", "title": "fail", "params": None},
        {"name": "redraw", "title": "Redraw now", "params": None},
        {"name": "badresult", "title": "badresult", "params": None},
    ]
    with pytest.raises(ValueError, match=r"no action 'nope' \(actions: badresult, echo"):
        harness.supervisor.request_action(handle, "nope")


def test_hook_handle_action_result_reaches_the_host(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    first = harness.supervisor.request_action(handle, "echo", {"x": 3})
    second = harness.supervisor.request_action(handle, "echo")
    assert second == first + 1

    assert wait_action(harness, handle, first) == {
        "ok": True,
        "result": {"name": "echo", "params": {"x": 3}, "pid": handle.pid},
        "error": None,
    }
    assert wait_action(harness, handle, second)["result"]["params"] == {}
    (call,) = wait_calls(harness, handle, "handle_action", params={"x": 3})
    assert call["thread"] == "MainThread"


def test_hook_handle_action_that_raises_fails_the_request_and_the_worker_keeps_running(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    request_id = harness.supervisor.request_action(handle, "fail")

    assert wait_action(harness, handle, request_id) == {
        "ok": False,
        "result": None,
        "error": "RuntimeError: the action failed on purpose",
    }
    assert handle.last_error == "handle_action: RuntimeError: the action failed on purpose"
    again = harness.supervisor.request_action(handle, "echo", {"x": 1})
    assert wait_action(harness, handle, again)["ok"] is True
    assert handle.state is WorkerState.RUNNING and handle.pid == pid


def test_hook_handle_action_result_that_is_not_plain_data_fails_the_request_only(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    request_id = harness.supervisor.request_action(handle, "badresult")
    harness.wait_for(
        lambda: request_id in handle.action_results or handle.last_error is not None,
        what="an answer or an error",
    )
    assert request_id in handle.action_results, handle.last_error
    answer = handle.action_results[request_id]
    assert answer["ok"] is False and "not plain data" in answer["error"]
    assert handle.last_error is not None and handle.last_error.startswith("handle_action: ")
    harness.pump(0.3)
    assert handle.state is WorkerState.RUNNING and handle.pid == pid


# -- teardown ----------------------------------------------------------------------------


def test_hook_teardown_runs_on_a_graceful_stop(harness: Harness, everyhook: PluginSpec) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    harness.supervisor.stop_all(graceful_timeout=10.0)

    assert handle.state is WorkerState.EXITED
    assert handle.last_exit == "exited cleanly"
    (teardown,) = calls(harness, handle, "teardown")
    assert teardown["pid"] == pid and teardown["thread"] == "MainThread"


def test_hook_teardown_is_not_called_when_the_worker_is_killed(
    harness: Harness, everyhook: PluginSpec
) -> None:
    handle = start(harness, everyhook)
    pid = handle.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    harness.wait_for(lambda: handle.last_exit is not None, what="the kill to be noticed")

    assert handle.last_exit == "killed by SIGKILL (perhaps out of memory)"
    assert handle.state in (WorkerState.BACKOFF, WorkerState.STARTING, WorkerState.RUNNING)
    assert [c for c in calls(harness, handle, "teardown") if c["pid"] == pid] == []
