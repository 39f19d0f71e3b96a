"""sdk.images: scaling that keeps pixel art crisp, safe decoding, alpha-aware pasting."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from sdk import Canvas, PluginError
from sdk.images import (
    DEFAULT_FRAME_SECONDS,
    ImageError,
    ImageTooLargeError,
    frame_seconds,
    is_pixel_art,
    iter_frames,
    load_frames,
    paste_centered,
    paste_image,
    scale_image,
)
from tests.image_fixtures import (
    GIF_COLORS,
    GIF_DURATIONS_MS,
    SPRITE_COLORS,
    animated_gif,
    checkerboard,
    corrupt_png,
    gradient_image,
    gradient_jpeg,
    huge_png_header,
    pixel_art_png,
    sprite_image,
)


def colors_of(image: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.asarray(image).reshape(-1, len(image.getbands()))}


# --- scale_image -------------------------------------------------------------------------


def test_scale_checkerboard_8_to_32_is_exactly_4x4_blocks() -> None:
    scaled = scale_image(checkerboard(8), 32, 32)
    assert scaled.size == (32, 32)
    assert np.array_equal(np.asarray(scaled), np.asarray(checkerboard(8, cell=4)))


@pytest.mark.parametrize("box", [(64, 32), (128, 32), (128, 64), (256, 64), (30, 30)])
def test_scale_fit_enlarges_pixel_art_by_the_largest_whole_factor(box: tuple[int, int]) -> None:
    """Verify that every source pixel becomes the same square block, even when a
    fractional factor would fill more of the box."""
    scaled = scale_image(checkerboard(8), *box, mode="fit")
    factor = min(box) // 8
    assert scaled.size == (8 * factor, 8 * factor)
    assert np.array_equal(np.asarray(scaled), np.asarray(checkerboard(8, cell=factor)))


def test_scale_fill_pixel_art_stays_crisp_and_covers_the_box() -> None:
    scaled = scale_image(checkerboard(8), 64, 32, mode="fill")
    assert scaled.size == (64, 32)
    # 8x blocks, the middle 4 rows of cells kept: starts with a black cell at row 2.
    expected = np.asarray(checkerboard(8, cell=8))[16:48]
    assert np.array_equal(np.asarray(scaled), expected)


def test_scale_fit_keeps_aspect_and_stays_inside_the_box() -> None:
    photo = gradient_image(200, 100)
    assert scale_image(photo, 64, 32).size == (64, 32)
    assert scale_image(photo, 128, 128).size == (128, 64)
    assert scale_image(gradient_image(100, 100), 256, 64).size == (64, 64)
    assert scale_image(gradient_image(300, 40), 64, 64).size == (64, 9)


def test_scale_fill_crops_the_centre_to_exactly_the_box() -> None:
    # Four vertical stripes; a square box keeps the middle two.
    stripes = Image.new("RGB", (40, 10))
    for index, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]):
        stripes.paste(color, (index * 10, 0, index * 10 + 10, 10))
    scaled = scale_image(stripes, 20, 20, mode="fill")
    assert scaled.size == (20, 20)
    assert colors_of(scaled) == {(0, 255, 0), (0, 0, 255)}


def test_scale_stretch_gives_exactly_the_box() -> None:
    assert scale_image(gradient_image(100, 100), 64, 32, mode="stretch").size == (64, 32)
    assert scale_image(checkerboard(8), 20, 12, mode="stretch").size == (20, 12)


def test_scale_auto_reduces_a_photo_smoothly() -> None:
    photo = gradient_image(400, 200)
    smooth = scale_image(photo, 64, 32)
    reference = photo.resize((64, 32), Image.Resampling.LANCZOS, reducing_gap=3.0)
    assert np.array_equal(np.asarray(smooth), np.asarray(reference))
    nearest = scale_image(photo, 64, 32, resample="nearest")
    assert colors_of(nearest) <= colors_of(photo)
    assert not np.array_equal(np.asarray(nearest), np.asarray(smooth))


def test_scale_auto_enlarges_a_photo_without_inventing_colours() -> None:
    photo = gradient_image(40, 20)
    scaled = scale_image(photo, 100, 50)
    assert scaled.size == (100, 50)
    assert colors_of(scaled) <= colors_of(photo)


def test_scale_auto_reduces_pixel_art_with_nearest() -> None:
    art = checkerboard(8, cell=8)  # 64x64, two colours
    scaled = scale_image(art, 32, 32)
    assert colors_of(scaled) == {(0, 0, 0), (255, 255, 255)}
    assert np.array_equal(np.asarray(scaled), np.asarray(checkerboard(8, cell=4)))


def test_scale_smooth_is_honoured_for_pixel_art() -> None:
    scaled = scale_image(checkerboard(8), 20, 20, resample="smooth")
    assert scaled.size == (20, 20)
    assert len(colors_of(scaled)) > 2


def test_scale_pixel_art_override_applies_to_a_photo() -> None:
    photo = gradient_image(16, 8)
    assert scale_image(photo, 60, 60, pixel_art=True).size == (48, 24)
    assert scale_image(photo, 60, 60, pixel_art=False).size == (60, 30)


@pytest.mark.parametrize(
    ("source", "expected_mode"),
    [
        (Image.new("RGBA", (10, 10), (1, 2, 3, 4)), "RGBA"),
        (Image.new("LA", (10, 10), (9, 128)), "RGBA"),
        (Image.new("RGB", (10, 10)), "RGB"),
        (Image.new("L", (10, 10), 7), "RGB"),
        (Image.new("CMYK", (10, 10)), "RGB"),
    ],
)
def test_scale_keeps_alpha_only_when_the_source_has_it(
    source: Image.Image, expected_mode: str
) -> None:
    assert scale_image(source, 20, 20).mode == expected_mode
    assert scale_image(source, 5, 5).mode == expected_mode


def test_scale_palette_image_with_transparency_keeps_it() -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    image.putpixel((0, 0), 0)
    scaled = scale_image(image, 8, 8)
    assert scaled.mode == "RGBA"
    assert scaled.getpixel((0, 0))[3] == 0
    assert scaled.getpixel((7, 7)) == (255, 0, 0, 255)


def test_scale_sprite_keeps_its_transparent_corners_crisp() -> None:
    scaled = scale_image(sprite_image(), 64, 32)
    assert scaled.size == (32, 32)
    pixels = np.asarray(scaled)
    # The sprite's corner: (0, 0), (1, 0) and (0, 1) transparent, (1, 1) red, 4x each.
    assert (pixels[:4, :8, 3] == 0).all() and (pixels[4:8, :4, 3] == 0).all()
    assert (pixels[4:8, 4:8] == (*SPRITE_COLORS["r"], 255)).all()
    assert set(np.unique(pixels[:, :, 3])) == {0, 255}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0, "height": 10}, "width must be a positive integer"),
        ({"width": 10, "height": -1}, "height must be a positive integer"),
        ({"width": True, "height": 10}, "width must be a positive integer"),
        ({"width": 10.5, "height": 10}, "width must be a positive integer"),
        ({"width": 10, "height": 10, "mode": "zoom"}, "use one of fit, fill, stretch"),
        ({"width": 10, "height": 10, "resample": "bicubic"}, "use one of auto, nearest, smooth"),
    ],
)
def test_scale_bad_arguments_raise_value_error_saying_what_is_accepted(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        scale_image(checkerboard(4), **kwargs)  # type: ignore[arg-type]


def test_scale_rejects_what_is_not_an_image() -> None:
    with pytest.raises(ValueError, match="needs a PIL.Image.Image"):
        scale_image(b"png", 10, 10)  # type: ignore[arg-type]


def test_is_pixel_art_tells_sprites_from_photos() -> None:
    assert is_pixel_art(sprite_image())
    assert is_pixel_art(Image.new("P", (500, 500)))
    assert not is_pixel_art(gradient_image())


# --- paste_image / paste_centered --------------------------------------------------------


def test_paste_blends_translucent_pixels_and_skips_transparent_ones() -> None:
    canvas = Canvas(4, 2)
    canvas.clear((0, 0, 200))
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    image.putpixel((1, 0), (255, 0, 0, 128))
    paste_image(canvas, image, 1, 0)
    paste_image(canvas, Image.new("RGBA", (4, 1), (0, 255, 0, 0)), 0, 1)
    pixels = canvas.to_array()
    assert tuple(pixels[0, 0]) == (0, 0, 200)
    assert tuple(pixels[0, 1]) == (255, 0, 0)
    red, green, blue = (int(v) for v in pixels[0, 2])
    assert abs(red - 128) <= 1 and green == 0 and abs(blue - 100) <= 1
    assert (pixels[1] == (0, 0, 200)).all()


def test_paste_clips_at_every_edge() -> None:
    canvas = Canvas(6, 4)
    block = Image.new("RGB", (4, 4), (255, 255, 255))
    for x, y in [(-3, -3), (5, -2), (-2, 3), (5, 3), (-100, 0), (100, 100)]:
        paste_image(canvas, block, x, y)
    lit = canvas.to_array().any(axis=2)
    expected = np.zeros((4, 6), dtype=bool)
    expected[0, 0] = expected[3, 0] = expected[3, 1] = True
    expected[0:2, 5] = expected[3, 5] = True
    assert np.array_equal(lit, expected)


def test_paste_centered_returns_the_top_left_with_the_odd_pixel_right_and_down() -> None:
    canvas = Canvas(64, 32)
    assert paste_centered(canvas, Image.new("RGB", (31, 11), (9, 9, 9))) == (16, 10)
    assert paste_centered(canvas, Image.new("RGB", (2, 2)), (10, 4, 7, 5)) == (12, 5)


def test_paste_centered_clips_a_big_image_to_its_box() -> None:
    canvas = Canvas(20, 10)
    assert paste_centered(canvas, Image.new("RGB", (30, 30), (255, 0, 0)), (2, 2, 10, 6)) == (
        -8,
        -10,
    )
    lit = canvas.to_array().any(axis=2)
    expected = np.zeros((10, 20), dtype=bool)
    expected[2:8, 2:12] = True
    assert np.array_equal(lit, expected)


# --- load_frames ---------------------------------------------------------------------------


def test_load_png_still_is_one_rgba_frame_without_timing(tmp_path: Path) -> None:
    path = tmp_path / "sprite.png"
    path.write_bytes(pixel_art_png())
    ((frame, seconds),) = load_frames(path)
    assert frame.mode == "RGBA" and frame.size == (8, 8)
    assert seconds == 0.0
    assert frame.getpixel((0, 0))[3] == 0
    assert frame.getpixel((0, 2)) == (*SPRITE_COLORS["r"], 255)


def test_load_gif_gives_each_frames_duration_in_seconds() -> None:
    frames = load_frames(animated_gif())
    assert [seconds for _, seconds in frames] == [ms / 1000 for ms in GIF_DURATIONS_MS]
    assert [frame.getpixel((3, 3))[:3] for frame, _ in frames] == GIF_COLORS


@pytest.mark.parametrize(("ms", "seconds"), [(0, 0.1), (10, 0.1), (None, 0.1), (20, 0.02)])
def test_gif_durations_follow_the_browser_convention(ms: int | None, seconds: float) -> None:
    assert frame_seconds(ms) == pytest.approx(seconds)


def test_load_gif_with_zero_delays_plays_at_a_tenth_of_a_second() -> None:
    data = animated_gif(colors=GIF_COLORS[:3], durations_ms=[0, 10, 0])
    assert [s for _, s in load_frames(data)] == [DEFAULT_FRAME_SECONDS] * 3


def test_load_gif_composites_partial_frames_over_the_previous_one() -> None:
    base = Image.new("RGB", (8, 8), (255, 0, 0))
    patch = Image.new("RGB", (8, 8), (255, 0, 0))
    patch.paste((0, 0, 255), (2, 2, 4, 4))
    buffer = io.BytesIO()
    # optimize: Pillow stores only the changed rectangle of the second frame.
    base.save(buffer, "GIF", save_all=True, append_images=[patch], duration=100, disposal=1)
    (_, _), (second, _) = load_frames(buffer.getvalue())
    assert second.size == (8, 8)
    assert second.getpixel((0, 0)) == (255, 0, 0, 255)
    assert second.getpixel((3, 3)) == (0, 0, 255, 255)


def test_load_frames_stops_at_max_frames() -> None:
    assert len(load_frames(animated_gif(), max_frames=2)) == 2


def test_load_jpeg_applies_exif_orientation() -> None:
    ((frame, _),) = load_frames(gradient_jpeg(40, 20, orientation=6))
    assert frame.size == (20, 40)
    ((upright, _),) = load_frames(gradient_jpeg(40, 20))
    assert upright.size == (40, 20)


def test_load_refuses_a_huge_header_before_decoding(tmp_path: Path) -> None:
    """Verify that the size is checked from the header: the file has almost no pixel data,
    so decoding first would fail as truncated, not as too large."""
    path = tmp_path / "bomb.png"
    path.write_bytes(huge_png_header(5_000, 5_000))
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: 5000x5000 is 25,000,000 pixels"):
        load_frames(path)


def test_load_refuses_what_pillow_itself_calls_a_decompression_bomb(tmp_path: Path) -> None:
    path = tmp_path / "giant.png"
    path.write_bytes(huge_png_header(60_000, 60_000))
    with pytest.raises(ImageTooLargeError, match="giant.png"):
        load_frames(path, max_pixels=10**12)


def test_load_truncated_file_names_the_file_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(corrupt_png())
    with pytest.raises(ImageError, match=r"broken\.png: the image is truncated or corrupt"):
        load_frames(path)


@pytest.mark.parametrize("data", [b"", b"hello, world\n", b"GIF89a" + b"\x00" * 5])
def test_load_what_is_not_an_image_raises_image_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "notes.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="notes.png"):
        load_frames(path)


def test_load_missing_file_raises_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="gone.png: cannot be read"):
        load_frames(tmp_path / "gone.png")


def test_load_refuses_formats_outside_the_safe_list() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "TIFF")
    with pytest.raises(ImageError, match="not an image ledhost reads"):
        load_frames(buffer.getvalue())


def test_image_errors_are_plugin_errors_and_value_errors() -> None:
    assert issubclass(ImageTooLargeError, ImageError)
    assert issubclass(ImageError, PluginError) and issubclass(ImageError, ValueError)


@pytest.mark.parametrize("kwargs", [{"max_frames": 0}, {"max_pixels": -5}])
def test_iter_frames_checks_its_arguments_at_once(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be a positive integer"):
        iter_frames(b"", **kwargs)


def test_iter_frames_draft_decodes_a_big_jpeg_reduced() -> None:
    data = gradient_jpeg(1600, 1200)
    with pytest.raises(ImageTooLargeError):
        load_frames(data, max_pixels=1_000_000)
    ((frame, _),) = iter_frames(data, max_pixels=1_000_000, draft_size=(128, 64))
    # 1/8 is the most the decoder reduces by; the result still covers a 128x128 square.
    assert frame.size == (200, 150)


def test_load_animated_png() -> None:
    frames = [Image.new("RGBA", (6, 6), color) for color in [(255, 0, 0, 255), (0, 0, 0, 0)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], duration=[300, 5])
    loaded = load_frames(buffer.getvalue())
    assert [seconds for _, seconds in loaded] == [0.3, DEFAULT_FRAME_SECONDS]
    assert loaded[1][0].getpixel((0, 0))[3] == 0


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_load_animated_webp() -> None:
    frames = [Image.new("RGB", (6, 6), color) for color in [(255, 0, 0), (0, 0, 255)]]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "WEBP", save_all=True, append_images=frames[1:], duration=[200, 400], lossless=True
    )
    loaded = load_frames(buffer.getvalue())
    assert [seconds for _, seconds in loaded] == [0.2, 0.4]
    assert loaded[1][0].getpixel((2, 2)) == (0, 0, 255, 255)
