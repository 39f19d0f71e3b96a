"""The image plugin: a slideshow of a folder, crisp pixel art, GIF timing, bad files skipped.

Every fixture is generated into ``tmp_path`` by ``tests/image_fixtures.py``. Golden images
live in ``tests/golden/image/``; after an intended change to how images are drawn,
regenerate and review them with::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_image.py
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import plugins_builtin.image as image
from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin.image import library
from plugins_builtin.image.player import Player, natural_key, planned_seconds
from sdk import Canvas, PluginConfigError
from sdk.testing import PluginRunner
from tests.golden import PANEL_SIZES, assert_golden, size_id
from tests.image_fixtures import (
    GIF_COLORS,
    GIF_DURATIONS_MS,
    animated_gif,
    checkerboard,
    corrupt_png,
    gradient_jpeg,
    huge_png_header,
    pixel_art_png,
)

MODE = image.MODE
T = 1_700_000_000.0
LOOP = sum(GIF_DURATIONS_MS) / 1000


def png(picture: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def write(folder: Path, name: str, data: bytes, *, mtime: float | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "pictures"
    path.mkdir()
    return path


def runner_for(folder: Path, size: tuple[int, int] = (64, 32), **config: Any) -> PluginRunner:
    return PluginRunner(
        image,
        size=size,
        config={"folder": str(folder), **config},
        data_dir=folder.parent / "data",
    )


def play(runner: PluginRunner, count: int, start: float = T) -> Iterator[tuple[Any, float]]:
    """Render ``count`` frames, each when the previous one said; yield (frame, now)."""
    now = start
    for index in range(count):
        frame = runner.render_frame(MODE, now=now, frame=index)
        yield frame, now
        assert frame.delay is not None
        now += frame.delay


def shown(runner: PluginRunner) -> str | None:
    return image._show(runner.context).player.current


# --- golden images -------------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("fit", ["fit", "fill"])
def test_image_pixel_art_golden(folder: Path, size: tuple[int, int], fit: str) -> None:
    """Verify the sprite is drawn in crisp blocks, its transparent corners showing the
    background colour."""
    write(folder, "sprite.png", pixel_art_png())
    with runner_for(folder, size, fit=fit, background="#203040") as runner:
        frame = runner.render_frame(MODE, now=T)
    assert_golden(f"image/sprite_{fit}_{size_id(size)}", frame.pixels)
    colours = {tuple(c) for c in frame.pixels.reshape(-1, 3)}
    assert colours <= {(32, 48, 64), (230, 40, 40), (250, 210, 40), (40, 90, 230)}


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("fit", ["fit", "fill"])
def test_image_photo_golden(folder: Path, size: tuple[int, int], fit: str) -> None:
    write(folder, "photo.jpg", gradient_jpeg())
    with runner_for(folder, size, fit=fit) as runner:
        frame = runner.render_frame(MODE, now=T)
    # A little tolerance: JPEG decoders may round differently between libjpeg builds.
    assert_golden(f"image/photo_{fit}_{size_id(size)}", frame.pixels, tolerance=3)


def test_image_checkerboard_is_exact_4x4_blocks_centred(folder: Path) -> None:
    write(folder, "check.png", png(checkerboard(8)))
    with runner_for(folder, (64, 32)) as runner:
        pixels = runner.render_frame(MODE, now=T).pixels
    expected = np.zeros((32, 64, 3), dtype=np.uint8)
    expected[:, 16:48] = np.asarray(checkerboard(8, cell=4))
    assert np.array_equal(pixels, expected)


def test_image_stretch_fills_the_display_exactly(folder: Path) -> None:
    write(folder, "check.png", png(checkerboard(8)))
    with runner_for(folder, (64, 32), fit="stretch") as runner:
        pixels = runner.render_frame(MODE, now=T).pixels
    assert np.array_equal(
        pixels, np.asarray(checkerboard(8).resize((64, 32), Image.Resampling.NEAREST))
    )


def test_image_smooth_resample_blends_a_reduced_checkerboard(folder: Path) -> None:
    write(folder, "check.png", png(checkerboard(32, cell=4)))  # 128x128, reduced to 32x32
    with runner_for(folder, (64, 32), resample="smooth") as runner:
        smooth = runner.render_frame(MODE, now=T).pixels
    assert len(np.unique(smooth[:, 16:48].reshape(-1, 3), axis=0)) > 2


# --- timing --------------------------------------------------------------------------------


def test_image_gif_delays_equal_the_gif_durations(folder: Path) -> None:
    write(folder, "anim.gif", animated_gif())
    with runner_for(folder, animation_plays=2) as runner:
        frames = list(play(runner, 8))
    delays = [frame.delay for frame, _ in frames]
    assert delays == pytest.approx([ms / 1000 for ms in GIF_DURATIONS_MS] * 2)
    colours = [tuple(frame.pixels[16, 32]) for frame, _ in frames]
    assert colours == GIF_COLORS * 2


def test_image_redraw_mid_frame_keeps_the_frame_and_its_remaining_time(folder: Path) -> None:
    write(folder, "anim.gif", animated_gif())
    with runner_for(folder) as runner:
        first = runner.render_frame(MODE, now=T, frame=0)
        second = runner.render_frame(MODE, now=T + 0.08, frame=1)
        again = runner.render_frame(MODE, now=T + 0.18, frame=2)
    assert np.array_equal(again.pixels, second.pixels)
    assert not np.array_equal(first.pixels, second.pixels)
    assert again.delay == pytest.approx(0.15)


def test_image_animation_plays_the_set_number_of_times_then_moves_on(folder: Path) -> None:
    write(folder, "a.gif", animated_gif())
    write(folder, "b.png", pixel_art_png())
    with runner_for(folder, animation_plays=3) as runner:
        frames = list(play(runner, 13))
        assert shown(runner) == "b.png"
    names_at = [now - T for _, now in frames]
    # 3 loops of 4 frames, then the still at exactly 3 loop lengths.
    assert names_at[12] == pytest.approx(3 * LOOP)
    assert frames[12][0].delay == pytest.approx(10.0)


def test_image_animation_plays_whole_loops_for_seconds_per_image(folder: Path) -> None:
    write(folder, "a.gif", animated_gif())
    write(folder, "b.png", pixel_art_png())
    with runner_for(folder, seconds_per_image=2, animation_plays=0) as runner:
        frames = list(play(runner, 13))
        assert shown(runner) == "b.png"
    # 0.87 s loops: 3 loops (2.61 s) are the fewest whole loops lasting 2 s.
    assert frames[12][1] - T == pytest.approx(3 * LOOP)
    assert planned_seconds([0.5, 0.5], 0, 2.2) == 3.0


def test_image_stills_advance_every_seconds_per_image(folder: Path) -> None:
    for name in ["img10.png", "img2.png", "img1.png"]:
        write(folder, name, pixel_art_png())
    with runner_for(folder, seconds_per_image=7) as runner:
        order = []
        for frame, _ in play(runner, 4):
            order.append(shown(runner))
            assert frame.delay == pytest.approx(7.0)
    assert order == ["img1.png", "img2.png", "img10.png", "img1.png"]


def test_image_each_activation_starts_the_next_picture(folder: Path) -> None:
    for name in ["a.png", "b.png", "c.png"]:
        write(folder, name, pixel_art_png())
    with runner_for(folder) as runner:
        seen = []
        for turn in range(4):
            runner.render_frame(MODE, now=T + turn * 100, frame=0)
            seen.append(shown(runner))
    assert seen == ["a.png", "b.png", "c.png", "a.png"]


def test_image_order_newest_first(folder: Path) -> None:
    write(folder, "old.png", pixel_art_png(), mtime=T - 300)
    write(folder, "new.png", pixel_art_png(), mtime=T - 10)
    write(folder, "mid.png", pixel_art_png(), mtime=T - 100)
    with runner_for(folder, order="newest", seconds_per_image=1) as runner:
        order = []
        for _ in play(runner, 3):
            order.append(shown(runner))
    assert order == ["new.png", "mid.png", "old.png"]


def test_image_shuffle_shows_every_picture_once_per_round() -> None:
    pictures = [_Still(f"p{i}.png") for i in range(6)]
    player = Player(random.Random(4))
    now, names = T, []
    for _ in range(18):
        step = player.step(pictures, now, order="shuffle", seconds_per_image=5, animation_plays=0)
        names.append(pictures[step.index].name)
        now += step.delay
    rounds = [names[i : i + 6] for i in (0, 6, 12)]
    assert all(sorted(r) == sorted(p.name for p in pictures) for r in rounds)
    assert rounds[0] != rounds[1] or rounds[1] != rounds[2]
    assert all(a != b for a, b in zip(names, names[1:], strict=False))


def test_natural_key_sorts_numbers_by_value() -> None:
    names = ["b.png", "img10.png", "IMG2.png", "img1.png"]
    assert sorted(names, key=natural_key) == ["b.png", "img1.png", "IMG2.png", "img10.png"]


def test_image_asks_for_time_to_finish_an_animation_once_per_turn(folder: Path) -> None:
    write(folder, "a.gif", animated_gif())
    write(folder, "b.gif", animated_gif())
    with runner_for(folder, animation_plays=2) as runner:
        list(play(runner, 12))
        assert runner.requests.more_time == [(MODE, pytest.approx(2 * LOOP))]
        runner.render_frame(MODE, now=T + 100, frame=0)
        assert len(runner.requests.more_time) == 2


def test_image_stalled_worker_resyncs_instead_of_replaying(folder: Path) -> None:
    write(folder, "a.gif", animated_gif())
    with runner_for(folder) as runner:
        runner.render_frame(MODE, now=T, frame=0)
        late = runner.render_frame(MODE, now=T + 60, frame=1)
    assert late.delay is not None and 0 < late.delay <= max(GIF_DURATIONS_MS) / 1000


# --- the folder ------------------------------------------------------------------------------


def test_image_empty_folder_has_no_content(folder: Path) -> None:
    with runner_for(folder) as runner:
        assert not runner.has_content(MODE)
        pinned = runner.render_frame(MODE, now=T)
    assert pinned.delay is None
    assert pinned.pixels.any()  # "no images", for a user who pins the mode


def test_image_default_folder_is_created_in_the_data_dir(tmp_path: Path) -> None:
    with PluginRunner(image, data_dir=tmp_path) as runner:
        assert (tmp_path / "images").is_dir()
        assert not runner.has_content(MODE)
        write(tmp_path / "images", "a.png", pixel_art_png())
        runner.refresh()
        assert runner.has_content(MODE)


def test_image_folder_expands_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "signs", "a.png", pixel_art_png())
    with PluginRunner(image, config={"folder": "~/signs"}, data_dir=tmp_path / "d") as runner:
        assert runner.has_content(MODE)


def test_image_folder_that_is_a_file_is_a_config_error(folder: Path) -> None:
    path = write(folder, "a.png", pixel_art_png())
    with pytest.raises(PluginConfigError, match=r"folder: .*a\.png is a file"):
        with runner_for(path):
            pass


def test_image_missing_folder_warns_once_and_has_no_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with runner_for(tmp_path / "not-yet") as runner:
        runner.refresh()
        assert not runner.has_content(MODE)
    assert len([r for r in caplog.records if "does not exist" in r.getMessage()]) == 1


def test_image_broken_files_are_skipped_with_one_warning_each(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    write(folder, "broken.png", corrupt_png())
    write(folder, "huge.png", huge_png_header())
    write(folder, "notes.txt", b"not a picture")
    write(folder, "good.png", pixel_art_png())
    with runner_for(folder) as runner:
        runner.refresh()
        runner.refresh()
        assert runner.has_content(MODE)
        assert [p.name for p in image._show(runner.context).view.library.pictures] == ["good.png"]
        names = [shown(runner) for _ in play(runner, 3)]
    assert names == ["good.png"] * 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ["broken.png", "huge.png", "notes.txt"]:
        assert len([w for w in warnings if name in w]) == 1, (name, warnings)
    assert len(warnings) == 3


def test_image_only_broken_files_means_no_content(folder: Path) -> None:
    write(folder, "broken.png", corrupt_png())
    with runner_for(folder) as runner:
        assert not runner.has_content(MODE)


def test_image_hidden_files_and_links_outside_are_ignored(folder: Path, tmp_path: Path) -> None:
    write(folder, ".hidden.png", pixel_art_png())
    write(folder / ".thumbs", "a.png", pixel_art_png())
    outside = write(tmp_path / "elsewhere", "secret.png", pixel_art_png())
    (folder / "link-out.png").symlink_to(outside)
    (folder / "dir-out").symlink_to(outside.parent)
    inside = write(folder, "real.png", pixel_art_png())
    (folder / "link-in.png").symlink_to(inside)
    with runner_for(folder, recursive=True) as runner:
        names = [p.name for p in image._show(runner.context).view.library.pictures]
    assert names == ["link-in.png", "real.png"]


def test_image_recursive_includes_subfolders_only_when_asked(folder: Path) -> None:
    write(folder, "top.png", pixel_art_png())
    write(folder / "sub", "deep.png", pixel_art_png())
    with runner_for(folder) as runner:
        flat = [p.name for p in image._show(runner.context).view.library.pictures]
    with runner_for(folder, recursive=True) as runner:
        deep = [p.name for p in image._show(runner.context).view.library.pictures]
    assert flat == ["top.png"]
    assert deep == ["sub/deep.png", "top.png"]


def test_image_rescan_decodes_only_changed_files(folder: Path) -> None:
    write(folder, "a.png", pixel_art_png())
    b = write(folder, "b.png", pixel_art_png())
    with runner_for(folder) as runner:
        show = image._show(runner.context)
        before = {p.name: p for p in show.view.library.pictures}
        redraws = len(runner.requests.redraws)
        assert runner.refresh() == image.RESCAN_SECONDS
        assert len(runner.requests.redraws) == redraws  # nothing changed, no redraw
        write(folder, "b.png", png(checkerboard(8)), mtime=b.stat().st_mtime + 5)
        runner.refresh()
        after = {p.name: p for p in show.view.library.pictures}
        assert after["a.png"] is before["a.png"]
        assert after["b.png"] is not before["b.png"]
        assert len(runner.requests.redraws) == redraws + 1
        (folder / "a.png").unlink()
        b.unlink()
        runner.refresh()
        assert not runner.has_content(MODE)


def test_image_new_display_size_is_drawn_at_once_and_prepared_on_refresh(folder: Path) -> None:
    """Verify a layout region of another size gets the image scaled for it: at once on
    the render thread from the small copy, and prepared for every frame by the next
    refresh."""
    write(folder, "check.png", png(checkerboard(8)))
    with runner_for(folder, (128, 64)) as runner:
        canvas = Canvas(40, 16)
        runner.pm.hook.render_frame(
            context=runner.context, canvas=canvas, mode=MODE, frame=0, now=T
        )
        expected = np.zeros((16, 40, 3), dtype=np.uint8)
        expected[:, 12:28] = np.asarray(checkerboard(8, cell=2))
        assert np.array_equal(canvas.to_array(), expected)
        show = image._show(runner.context)
        picture = show.view.library.pictures[0]
        assert (picture, (40, 16)) not in show.view.slides
        runner.refresh()
        assert (picture, (40, 16)) in show.view.slides
        assert (picture, (128, 64)) in show.view.slides


def test_image_configure_changes_the_look_before_the_next_scan(folder: Path) -> None:
    write(folder, "check.png", png(checkerboard(8)))
    with runner_for(folder) as runner:
        fit = runner.render_frame(MODE, now=T, frame=0).pixels
        runner.configure({"folder": str(folder), "fit": "fill", "background": "#ff0000"})
        fill = runner.render_frame(MODE, now=T + 1, frame=1).pixels
    assert not np.array_equal(fit, fill)
    assert np.array_equal(fill, np.asarray(checkerboard(8, cell=8))[16:48])


def test_image_long_animation_is_cut_to_the_memory_budget(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # Each frame costs 16*8*4 bytes + its 64x32 slides (2 sizes, RGB): ~12.8 KB.
    monkeypatch.setattr(library, "FILE_BUDGET", 30_000)
    write(folder, "long.gif", animated_gif())
    with runner_for(folder) as runner:
        (picture,) = image._show(runner.context).view.library.pictures
    assert len(picture.frames) == 2
    assert any("long.gif shows only its first 2 frames" in r.getMessage() for r in caplog.records)


def test_image_files_over_the_total_budget_are_left_out(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(library, "TOTAL_BUDGET", 30_000)
    for name in ["a.png", "b.png", "c.png"]:
        write(folder, name, pixel_art_png())
    with runner_for(folder) as runner:
        runner.refresh()
        names = [p.name for p in image._show(runner.context).view.library.pictures]
    assert names == ["a.png", "b.png"]
    assert len([r for r in caplog.records if "c.png is not shown" in r.getMessage()]) == 1


def test_image_slow_decoding_continues_on_the_next_refresh(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library, "DECODE_SECONDS", 0.0)
    for name in ["a.png", "b.png", "c.png"]:
        write(folder, name, pixel_art_png())
    with runner_for(folder) as runner:
        show = image._show(runner.context)
        assert len(show.view.library.pictures) == 1
        assert runner.refresh() == image.CONTINUE_SECONDS
        assert len(show.view.library.pictures) == 2
        assert runner.refresh() == image.RESCAN_SECONDS
        assert len(show.view.library.pictures) == 3


# --- through a real worker -------------------------------------------------------------------


def test_image_renders_from_a_folder_through_a_real_worker(
    test_specs: dict[str, PluginSpec], folder: Path, tmp_path: Path
) -> None:
    write(folder, "sprite.png", pixel_art_png())
    frames, _ = render_mode(
        test_specs["image"],
        MODE,
        width=64,
        height=32,
        frames=1,
        options={"folder": str(folder), "background": "#203040"},
        data_dir=tmp_path / "data",
        rules=WorkerRules(uid=None),
    )
    assert_golden("image/sprite_fit_64x32", frames[0])


class _Still:
    """A stand-in picture for the player: a still image."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mtime = 0.0
        self.durations = (0.0,)
