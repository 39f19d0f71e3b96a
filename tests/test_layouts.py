"""Layouts: several instances on the panel at once, each worker drawing at its region's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config import ConfigError, load_config
from config.layouts import Region
from host.display.layout_show import LayoutShow
from host.ipc.framebus import Frame
from tests.conftest import TEST_PLUGINS, run_host

DESK = {
    "regions": [
        {"mode": "solid", "x": 0, "y": 0, "width": 22, "height": 32},
        {"mode": "interrupter:alert", "x": 22, "y": 0, "width": 42, "height": 32},
    ]
}


def test_layout_config_parses_and_round_trips() -> None:
    cfg = load_config(
        None,
        env={},
        overrides={
            "plugins": {"solid": {}, "interrupter": {}},
            "layouts": {"desk": DESK},
            "rotation": {"modes": ["@desk"]},
        },
    )
    assert cfg.layouts["desk"].regions[1] == Region("interrupter", "alert", 22, 0, 42, 32)
    assert load_config(None, env={}, overrides=cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "regions, needle",
    [
        ([{"mode": "solid", "x": 0, "y": 0, "width": 65, "height": 32}], "width: expected"),
        ([{"mode": "solid", "x": 50, "y": 0, "width": 20, "height": 32}], "does not fit"),
        (
            [
                {"mode": "solid", "x": 0, "y": 0, "width": 30, "height": 32},
                {"mode": "interrupter", "x": 20, "y": 0, "width": 30, "height": 32},
            ],
            "overlaps region 0",
        ),
        (
            [
                {"mode": "solid", "x": 0, "y": 0, "width": 10, "height": 32},
                {"mode": "solid", "x": 10, "y": 0, "width": 10, "height": 32},
            ],
            "once per layout",
        ),
        ([{"mode": "soild", "x": 0, "y": 0, "width": 10, "height": 32}], "did you mean 'solid'"),
        ([], "one or more regions"),
    ],
)
def test_bad_layouts_name_the_region_and_the_problem(
    regions: list[dict[str, object]], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        load_config(
            None,
            env={},
            overrides={
                "plugins": {"solid": {}, "interrupter": {}},
                "layouts": {"desk": {"regions": regions}},
            },
        )
    assert "layouts.desk.regions" in str(info.value)


def test_rotation_naming_a_missing_layout_suggests_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'desk'"):
        load_config(
            None,
            env={},
            overrides={
                "plugins": {"solid": {}, "interrupter": {}},
                "layouts": {"desk": DESK},
                "rotation": {"modes": ["@dsk"]},
            },
        )


def test_layout_view_blits_each_region_and_leaves_the_rest_dark() -> None:
    cfg = load_config(
        None,
        env={},
        overrides={"plugins": {"solid": {}, "interrupter": {}}, "layouts": {"desk": DESK}},
    )
    show = LayoutShow(cfg.layouts["desk"], 64, 32)

    class Handle:
        instance_id = "solid"

    assert not show.view().any()
    good = Frame(np.full((32, 22, 3), 7, np.uint8), 1, 1, 0.0)
    assert show.set_frame(Handle(), good)  # type: ignore[arg-type]
    assert not show.set_frame(Handle(), Frame(np.zeros((32, 64, 3), np.uint8), 1, 2, 0.0))  # type: ignore[arg-type]
    out = show.view()
    assert (out[:, :22] == 7).all() and not out[:, 22:].any()


def test_host_shows_two_instances_at_once_each_at_its_region_size(tmp_path: Path) -> None:
    """Verify a layout end to end: both workers draw at their region size, side by side."""
    overrides = {
        "workers": {"user": ""},
        "plugins": {"solid": {"fps": 20}, "interrupter": {"after": 1e6}},
        "layouts": {"desk": DESK},
        "rotation": {"modes": ["@desk"]},
    }

    def together(pushes: list[tuple[np.ndarray, float, float]]) -> list[np.ndarray]:
        """Frames with solid's grey on the left and the alert's red on the right."""
        return [
            f
            for f, _, _ in list(pushes)
            if (f[:, 22:, 0] == 255).all() and not f[:, 22:, 1:].any() and f[:, :22].any()
        ]

    def seen(pushes: list[tuple[np.ndarray, float, float]]) -> bool:
        both = together(pushes)
        return len(both) >= 10 and len({int(f[0, 0, 0]) for f in both}) > 5

    host, backend, stats = run_host(
        overrides,
        120.0,  # a bound only: the run ends once both regions showed together, moving
        tmp_path,
        until=lambda _, backend: seen(backend.pushes),
        only=("solid", "interrupter"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    assert [s["mode"] for s in stats["modes_shown"]] == ["@desk:layout"]
    both = together(backend.pushes)
    assert len(both) >= 10, "the two regions never showed together"
    # The left region is solid's flat grey ramp, drawn at 22x32: uniform per frame.
    for frame in both:
        left = frame[:, :22]
        assert (left == left[0, 0, 0]).all()
    # The grey moves on (solid draws 20 frames a second) while the red region stays.
    assert len({int(f[0, 0, 0]) for f in both}) > 5
    assert stats["plugins"]["solid"]["restarts"] == 0
    assert stats["plugins"]["solid"]["last_error"] is None


def test_a_long_text_slides_through_its_region(tmp_path: Path) -> None:
    """Verify a strip mode in a region: the text scrolls inside it, the rest stays put."""
    overrides = {
        "workers": {"user": ""},
        "plugins": {
            "solid": {"fps": 2},
            "text": {"message": "A message far too long for its region", "speed": 40},
        },
        "layouts": {
            "desk": {
                "regions": [
                    {"mode": "solid", "x": 0, "y": 0, "width": 22, "height": 32},
                    {"mode": "text", "x": 22, "y": 0, "width": 42, "height": 32},
                ]
            }
        },
        "rotation": {"modes": ["@desk"]},
    }
    host, backend, stats = run_host(
        overrides,
        120.0,  # a bound only: the run ends once the text has moved 31 times
        tmp_path,
        until=lambda _, backend: sum(f[:, 22:].any() for f, _, _ in backend.pushes) > 30,
        only=("solid", "text"),
        plugin_paths=(str(TEST_PLUGINS),),
    )
    rights = [f[:, 22:].copy() for f, _, _ in backend.pushes if f[:, 22:].any()]
    assert len(rights) > 30, len(rights)
    # Each step moves the text one pixel left within the region (40 px/s).
    moved = sum(
        np.array_equal(a[:, 1:], b[:, :-1]) for a, b in zip(rights, rights[1:], strict=False)
    )
    assert moved > len(rights) // 2, (moved, len(rights))
