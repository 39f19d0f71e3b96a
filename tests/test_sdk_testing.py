"""``sdk.testing`` as a plugin author uses it: a real worker, golden images, recorded HTTP.

The plugin is a project folder written here (not installed), exactly what ``ledhost
plugin new`` leaves; :class:`~sdk.testing.WorkerRunner` runs it through ``ledhost
harness`` in a real worker. One runner serves the module where a test only reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdk.testing import (
    DEFAULT_NOW,
    RECORDING_FORMAT,
    PluginRunner,
    RecordedServer,
    WorkerError,
    WorkerRunner,
    assert_matches_golden,
)
from tests.conftest import worker_user
from tests.store_helpers import plugin_wheel

PYPROJECT = """\
[project]
name = "ledhost-sdkdemo"
version = "0.1.0"

[project.entry-points."ledhost.plugins"]
sdkdemo = "sdkdemo"

[project.entry-points."ledhost.permissions"]
sdkdemo = "network"
"""

PLUGIN = """\
import logging
import os

from sdk import Canvas, Strip, hookimpl, network_properties

log = logging.getLogger("sdkdemo")
STATE = {"refreshes": 0, "level": None}


@hookimpl
def register_modes(register):
    register("tick", title="Seconds")
    register("scroll", title="Scroller")
    register("fetched", title="Fetched level")


@hookimpl
def register_actions(register):
    register("double", title="Double a number")


@hookimpl
def config_schema():
    return {
        "type": "object",
        "properties": {
            "color": {"type": "string", "enum": ["red", "green"], "default": "green"},
            "step": {"type": "number", "minimum": 0.1, "default": 2.0},
            "nested": {"type": "object", "properties": {"n": {"type": "integer", "default": 3}}},
            "explode": {"type": "boolean", "default": False},
            **network_properties(base_url="http://127.0.0.1:9", refresh=600, stale_after=900),
        },
    }


@hookimpl
def refresh_data(context):
    os.write(1, b"noise a plugin writes to its stdout\\n")  # must not reach the JSON stream
    STATE["refreshes"] += 1
    if context.config["base_url"] != "http://127.0.0.1:9":
        fetched = context.fetch_json(context.config["base_url"] + "/level")
        STATE["level"] = fetched.value["level"]
    log.info("refresh %d", STATE["refreshes"])
    return None


@hookimpl
def has_content(context, mode):
    if mode == "fetched":
        return STATE["level"] is not None
    return True


@hookimpl
def render_strip(context, mode, height, ticker):
    if mode != "scroll":
        return None
    canvas = Canvas(10, height)
    canvas.clear((0, 0, 200))
    return Strip(canvas, speed=12.0, gap=3)


@hookimpl
def render_frame(context, canvas, mode, frame, now):
    if context.config["explode"]:
        raise ValueError("exploded on purpose")
    if mode == "fetched":
        canvas.clear((STATE["level"] or 0, 0, 0))
        return None
    on = (255, 0, 0) if context.config["color"] == "red" else (0, 255, 0)
    canvas.clear((0, 0, 0))
    canvas.paste_array(__import__("numpy").full((1, 1, 3), on, dtype="uint8"), int(now) % 8, 0)
    canvas.paste_array(__import__("numpy").full((1, 1, 3), 9, dtype="uint8"), frame % 8, 1)
    return context.config["step"]


@hookimpl
def handle_action(context, name, params):
    return {"doubled": params["n"] * 2, "refreshes": STATE["refreshes"]}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdkproject") / "sdkdemo"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "sdkdemo.py").write_text(PLUGIN)
    return folder


@pytest.fixture(scope="module")
def runner(project: Path) -> Iterator[WorkerRunner]:
    saved = os.environ.get("LEDHOST_WORKERS__USER")
    if worker_user() != "auto":  # the module fixture runs before the per-test env reset
        os.environ["LEDHOST_WORKERS__USER"] = worker_user()
    try:
        with WorkerRunner(project, size=(8, 4), config={"color": "red"}) as plugin:
            yield plugin
    finally:
        if saved is None:
            os.environ.pop("LEDHOST_WORKERS__USER", None)
        else:
            os.environ["LEDHOST_WORKERS__USER"] = saved


def test_worker_runner_fills_defaults_exactly_as_the_in_process_runner(
    runner: WorkerRunner, project: Path
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sdkdemo_inprocess", project / "sdkdemo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with PluginRunner(module, size=(8, 4), config={"color": "red"}, plugin_id="sdkdemo") as local:
        assert runner.config == dict(local.config)
    assert runner.config["nested"] == {"n": 3} and runner.config["step"] == 2.0
    assert [m["name"] for m in runner.modes] == ["tick", "scroll", "fetched"]
    assert "refresh_data" in runner.hooks and runner.schema is not None


def test_worker_runner_renders_frames_on_a_fake_clock(runner: WorkerRunner) -> None:
    frames = runner.render("tick", frames=3, now=DEFAULT_NOW + 1)
    assert [f.now for f in frames] == [DEFAULT_NOW + 1, DEFAULT_NOW + 3, DEFAULT_NOW + 5]
    assert [f.delay for f in frames] == [2.0, 2.0, 2.0]
    for index, frame in enumerate(frames):
        assert frame.pixels.shape == (4, 8, 3)
        lit = int(frame.now) % 8
        assert tuple(frame.pixels[0, lit]) == (255, 0, 0)  # drawn from the given clock
        assert tuple(frame.pixels[1, index]) == (9, 9, 9)  # frame counts from 0
    again = runner.render("tick", frames=1, now=DEFAULT_NOW + 1)
    assert np.array_equal(again[0].pixels, frames[0].pixels)  # a new activation: frame 0


def test_worker_runner_strip_and_action_and_logs(runner: WorkerRunner) -> None:
    strip = runner.render_strip("scroll")
    assert strip is not None and strip.shape == (4, 10, 3)
    assert tuple(strip[0, 0]) == (0, 0, 200)
    assert runner.render_strip("tick") is None
    with pytest.raises(WorkerError, match="drawn as a strip"):
        runner.render("scroll")
    assert runner.action("double", {"n": 21})["doubled"] == 42
    with pytest.raises(WorkerError, match="no action 'triple'"):
        runner.action("triple")
    assert any(line["message"] == "refresh 1" for line in runner.logs)


def test_worker_runner_configure_refresh_and_content(runner: WorkerRunner) -> None:
    assert runner.has_content("tick") is True
    assert runner.has_content("fetched") is False  # no data fetched yet
    with pytest.raises(WorkerError) as refused:
        runner.configure({"color": "blue"})
    assert refused.value.issues[0]["key"] == "plugins.sdkdemo.color"
    assert runner.config["color"] == "red"  # the running config is kept
    assert runner.configure({"color": "green"})["color"] == "green"
    (frame,) = runner.render("tick", now=DEFAULT_NOW)
    assert tuple(frame.pixels[0, int(DEFAULT_NOW) % 8]) == (0, 255, 0)
    before = runner.action("double", {"n": 0})["refreshes"]
    runner.refresh()
    assert runner.action("double", {"n": 0})["refreshes"] == before + 1


def test_worker_runner_reports_a_raising_render_with_its_traceback(project: Path) -> None:
    with WorkerRunner(project, size=(8, 4), config={"explode": True}) as plugin:
        with pytest.raises(WorkerError, match="exploded on purpose") as caught:
            plugin.render("tick")
        assert "sdkdemo.py" in str(caught.value)  # the worker's traceback is in the message
        assert caught.value.errors[0]["hook"] == "render_frame"
        assert plugin.render_strip("scroll") is not None  # the worker lives on


def test_worker_runner_names_an_invalid_start_config(project: Path) -> None:
    with pytest.raises(WorkerError) as caught:
        WorkerRunner(project, config={"step": 0}).start()
    assert "plugins.sdkdemo.step" in str(caught.value)
    assert caught.value.issues[0]["key"] == "plugins.sdkdemo.step"


def test_worker_runner_runs_a_wheel_as_the_store_would_install_it(tmp_path: Path) -> None:
    # The same targets as ``ledhost check`` and ``ledhost dev``: a folder, an id, a wheel.
    wheel = plugin_wheel(tmp_path, "wheeldemo", "1.0.0", colour=(10, 20, 30), mode="solid")
    with WorkerRunner(wheel, size=(8, 4)) as plugin:
        assert [m["name"] for m in plugin.modes] == ["solid"]
        (frame,) = plugin.render("solid")
    assert (frame.pixels == (10, 20, 30)).all()


def test_recorded_server_feeds_the_plugin_in_its_worker(project: Path, tmp_path: Path) -> None:
    (tmp_path / "level.json").write_text(json.dumps({"level": 77}))
    recording = tmp_path / "recording.json"
    recording.write_text(
        json.dumps(
            {"format": RECORDING_FORMAT, "routes": [{"path": "/level", "file": "level.json"}]}
        )
    )
    with RecordedServer() as server:
        server.load(recording)
        with WorkerRunner(project, size=(8, 4), config={"base_url": server.url}) as plugin:
            assert plugin.content["fetched"] is True
            (frame,) = plugin.render("fetched")
            assert tuple(frame.pixels[0, 0]) == (77, 0, 0)
        assert [seen.path for seen in server.seen] == ["/level"]


def test_recorded_server_formats_and_errors(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    recording = tmp_path / "r.json"
    recording.write_text(
        json.dumps(
            {
                "format": RECORDING_FORMAT,
                "routes": [
                    {"path": "/seq", "json": {"n": 1}},
                    {"path": "/seq", "status": 503, "body": "busy"},
                    {"path": "/icons/", "body": "any icon", "headers": {"X-Test": "yes"}},
                ],
            }
        )
    )
    with RecordedServer() as server:
        server.load(recording)
        with urllib.request.urlopen(server.url + "/seq") as answer:
            assert json.load(answer) == {"n": 1}
        for _ in range(2):  # then the last route, for ever
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(server.url + "/seq")
            assert caught.value.code == 503
        with urllib.request.urlopen(server.url + "/icons/sun.png") as answer:
            assert answer.read() == b"any icon" and answer.headers["X-Test"] == "yes"
        bad = tmp_path / "bad.json"
        bad.write_text(
            json.dumps(
                {"format": RECORDING_FORMAT, "routes": [{"path": "/x", "file": "a", "body": "b"}]}
            )
        )
        with pytest.raises(ValueError, match=r"routes\[0\]: give one of"):
            server.load(bad)
        bad.write_text(json.dumps({"routes": []}))
        with pytest.raises(ValueError, match="not a recording"):
            server.load(bad)


def test_golden_images_compare_regenerate_and_explain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = np.zeros((4, 8, 3), dtype=np.uint8)
    frame[1, 2] = (255, 0, 0)
    golden = tmp_path / "golden" / "tick_8x4.png"
    with pytest.raises(AssertionError, match="no golden image .* LEDHOST_UPDATE_GOLDEN=1"):
        assert_matches_golden(frame, golden)
    monkeypatch.setenv("LEDHOST_UPDATE_GOLDEN", "1")
    assert_matches_golden(frame, golden)  # regenerates
    monkeypatch.delenv("LEDHOST_UPDATE_GOLDEN")
    assert_matches_golden(frame, golden)
    changed = frame.copy()
    changed[3, 7] = (0, 0, 10)
    changed[0, 0] = (1, 1, 1)
    with pytest.raises(AssertionError) as caught:
        assert_matches_golden(changed, golden)
    text = str(caught.value)
    assert "2 pixels differ (first at x=0, y=0)" in text
    diff = Path(text.split(" and ")[1].split(";")[0])
    assert diff.name == "tick_8x4.diff.png" and diff.exists()
    assert tuple(np.asarray(Image.open(diff))[3, 7]) == (255, 0, 255)
    assert_matches_golden(changed, golden, tolerance=10)
    with pytest.raises(AssertionError, match="frame is"):
        assert_matches_golden(np.zeros((5, 8, 3), dtype=np.uint8), golden)


def test_harness_answers_bad_requests_with_errors_and_keeps_going(project: Path) -> None:
    """Verify the JSON-lines interface refuses what it cannot do, one answer per line."""
    import subprocess
    import sys

    env = {**os.environ}
    if worker_user() != "auto":
        env["LEDHOST_WORKERS__USER"] = worker_user()
    requests = [
        "not json",
        json.dumps({"op": "render", "mode": "tick", "now": 1.0}),
        json.dumps({"op": "start", "size": [0, 4]}),
        json.dumps({"op": "start", "size": [8, 4]}),
        json.dumps({"op": "teleport"}),
        json.dumps({"op": "start", "size": [8, 4]}),
        json.dumps({"op": "render", "mode": "nope", "now": 1.0}),
        json.dumps({"op": "render", "mode": "tick", "frames": 0, "now": 1.0}),
        json.dumps({"op": "stop"}),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "host", "harness", str(project)],
        input="\n".join(requests) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        True,
    ]
    assert answers[0]["error"].startswith("not JSON")
    assert answers[1]["error"] == "start the plugin first"
    assert "size" in answers[2]["error"]
    assert answers[3]["protocol"] == 1 and answers[3]["plugin"] == "sdkdemo"
    assert answers[4]["error"] == "unknown op 'teleport'"
    assert "started already" in answers[5]["error"]
    assert "no mode 'nope'" in answers[6]["error"]
    assert "frames: 1-1000" in answers[7]["error"]
    assert done.returncode == 0
