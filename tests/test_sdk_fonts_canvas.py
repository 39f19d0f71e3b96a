"""Bundled fonts and the canvas, drawn for real with Pillow."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

import sdk
from sdk.canvas import Canvas, parse_color
from sdk.fonts import Font, font_names, load_font

# name -> (cell width, line height, ascent), from the BDF files' own metrics.
FONT_CELLS = {
    "small": (4, 6, 5),
    "medium": (6, 10, 8),
    "large": (7, 13, 11),
    "xlarge": (10, 20, 16),
}


def lit(pixels: np.ndarray) -> np.ndarray:
    """Boolean mask of pixels that are not black."""
    return pixels.any(axis=2)


def lit_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the lit pixels, exclusive ends."""
    ys, xs = np.nonzero(lit(pixels))
    assert xs.size, "nothing was drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def drawn(text: str, font: str, *, width: int = 400, x: int = 3, y: int = 2) -> np.ndarray:
    canvas = Canvas(width, 30)
    canvas.text(x, y, text, font)
    return canvas.to_array()


def test_font_names_are_the_bundled_fonts_smallest_first() -> None:
    assert font_names() == ["small", "medium", "large", "xlarge"]
    assert sdk.font_names is font_names and sdk.load_font is load_font


@pytest.mark.parametrize("name", FONT_CELLS)
def test_font_metrics_match_the_bdf_file(name: str) -> None:
    font = load_font(name)
    cell, height, ascent = FONT_CELLS[name]
    assert isinstance(font, Font)
    assert font.name == name
    assert (font.height, font.ascent, font.descent) == (height, ascent, height - ascent)
    assert font.measure("0123456789") == (10 * cell, height)
    assert font.measure("") == (0, height)


def test_load_font_caches_one_font_per_name() -> None:
    assert load_font("medium") is load_font("medium")
    assert load_font("medium") is not load_font("small")


def test_unknown_font_error_names_the_font_and_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown font 'huge'.*'small', 'medium', 'large'"):
        load_font("huge")
    with pytest.raises(ValueError, match="unknown font"):
        Canvas(10, 10).text(0, 0, "x", "Huge")


def test_loading_fonts_writes_nothing_into_the_package() -> None:
    """Verify that fonts are compiled in memory: the package folder may be read-only."""
    folder = resources.files("sdk").joinpath("fonts")
    before = sorted(p.name for p in folder.iterdir())
    for name in font_names():
        load_font(name).measure("x")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not [n for n in before if not n.endswith((".bdf", ".md")) and n != "LICENSE"]


def test_licence_covers_every_bundled_font_file() -> None:
    licence = resources.files("sdk").joinpath("fonts", "LICENSE").read_text()
    assert "public domain" in licence
    for name in font_names():
        assert load_font(name).file in licence
        bdf = resources.files("sdk").joinpath("fonts", load_font(name).file).read_text()
        assert 'COPYRIGHT "Public domain' in bdf


@pytest.mark.parametrize("name", FONT_CELLS)
@pytest.mark.parametrize("text", ["Hello, World!", "gjpqy|", "Ünïcödé ½ °C", "€ – — “quotes” …"])
def test_measure_is_exactly_what_text_draws(name: str, text: str) -> None:
    font = load_font(name)
    width, height = font.measure(text)
    canvas = Canvas(400, 30)
    after = canvas.text(3, 2, text, name)
    assert after == 3 + width
    x0, y0, x1, y1 = lit_box(canvas.to_array())
    assert 3 <= x0 and x1 <= 3 + width
    assert 2 <= y0 and y1 <= 2 + height
    # Text drawn where the returned x says continues exactly like one string would.
    canvas.text(after, 2, "X|", name)
    assert np.array_equal(canvas.to_array(), drawn(text + "X|", name))


@pytest.mark.parametrize("name", FONT_CELLS)
def test_line_box_top_is_y_and_baseline_is_y_plus_ascent(name: str) -> None:
    font = load_font(name)
    # A capital stands on the baseline; "g" hangs into the descent below it.
    _, _, _, capital_bottom = lit_box(drawn("H", name, y=0))
    assert capital_bottom == font.ascent
    _, _, _, descender_bottom = lit_box(drawn("g", name, y=0))
    assert font.ascent < descender_bottom <= font.height


@pytest.mark.parametrize(
    "text",
    ["日本語", "emoji 🙂", "a\x00b", "tab\there", "line\nbreak", "\x7f", "🙂" * 3, "Ａｂ"],
)
def test_characters_outside_the_font_never_raise_and_measure_as_drawn(text: str) -> None:
    font = load_font("medium")
    width, _ = font.measure(text)
    canvas = Canvas(200, 12)
    assert canvas.text(0, 0, text, font) == width
    assert width == len(text) * 6, "every character takes one cell, known or not"
    if lit(canvas.to_array()).any():
        assert lit_box(canvas.to_array())[2] <= width


def test_nul_does_not_cut_text_short() -> None:
    """Verify that a NUL is a missing-glyph box, not the end of the string (Pillow's C API)."""
    assert load_font("small").measure("a\x00b") == (12, 6)
    assert lit(drawn("a\x00b", "small"))[:, 11:15].any()


def test_missing_glyphs_fall_back_to_look_alikes_or_the_box() -> None:
    assert np.array_equal(drawn("őŐ", "medium"), drawn("oO", "medium"))  # accents dropped
    assert np.array_equal(drawn("−5\u2009°", "medium"), drawn("-5 °", "medium"))
    assert np.array_equal(drawn("ﬁ", "medium"), drawn("fi", "medium"))  # ligature split
    box = drawn("日", "medium")
    assert lit(box).any(), "an unknown character shows the font's box"
    assert np.array_equal(box, drawn("本", "medium"))
    assert not np.array_equal(drawn("€", "medium"), box), "Windows-1252 punctuation is drawn"
    assert not np.array_equal(drawn("—", "medium"), drawn("-", "medium"))


def test_ink_box_is_relative_to_the_line_box() -> None:
    font = load_font("medium")
    assert font.ink_box("") is None
    assert font.ink_box(" ") is None
    x0, y0, x1, y1 = lit_box(drawn("Hg", "medium", x=0, y=0))
    assert font.ink_box("Hg") == (x0, y0, x1, y1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1, 2, 3), (1, 2, 3)),
        ([255, 128, 0], (255, 128, 0)),
        ("#FF8000", (255, 128, 0)),
        ("#0a0B0c", (10, 11, 12)),
        ("#f80", (255, 136, 0)),
        (" #ffffff ", (255, 255, 255)),
        (tuple(np.array([7, 8, 9], dtype=np.uint8)), (7, 8, 9)),
    ],
)
def test_parse_color_accepts_tuples_and_hex(value: object, expected: tuple[int, int, int]) -> None:
    assert parse_color(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    ["red", "#12345", "ff8000", "#gg0000", (1, 2), (1, 2, 3, 4), (0, 0, 256), (-1, 0, 0),
     (True, 0, 0), (1.0, 2, 3), None, 0xFF8000],
)  # fmt: skip
def test_parse_color_rejects_anything_else_naming_the_value(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid colour .*(#rrggbb|\(r, g, b\))"):
        parse_color(value)  # type: ignore[arg-type]


def test_canvas_text_rejects_a_bad_colour() -> None:
    with pytest.raises(ValueError, match="invalid colour 'blue'"):
        Canvas(10, 10).text(0, 0, "x", color="blue")


def test_canvas_starts_black_and_to_array_is_height_width_rgb_uint8() -> None:
    canvas = Canvas(64, 32)
    pixels = canvas.to_array()
    assert pixels.shape == (32, 64, 3)
    assert pixels.dtype == np.uint8
    assert not pixels.any()
    pixels[:] = 255  # a copy: the canvas is untouched
    assert not canvas.to_array().any()
    assert (canvas.width, canvas.height, canvas.size) == (64, 32, (64, 32))
    assert canvas.image.mode == "RGB" and canvas.image.size == (64, 32)


@pytest.mark.parametrize("size", [(0, 32), (64, -1), (6.5, 4)])
def test_canvas_rejects_a_size_that_is_not_positive_integers(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="canvas size"):
        Canvas(*size)


def test_clear_fills_with_the_colour() -> None:
    canvas = Canvas(4, 3)
    canvas.clear("#102030")
    assert (canvas.to_array() == (16, 32, 48)).all()
    canvas.clear()
    assert not canvas.to_array().any()


def test_text_uses_the_colour_and_returns_the_x_after_it() -> None:
    canvas = Canvas(64, 32)
    end = canvas.text(10, 5, "Hi", "small", "#00ff00")
    assert end == 10 + 2 * 4
    colours = {tuple(c) for c in canvas.to_array().reshape(-1, 3)}
    assert colours == {(0, 0, 0), (0, 255, 0)}


def test_text_centered_centres_the_line_box() -> None:
    canvas = Canvas(64, 32)
    x, y = canvas.text_centered("Hello", "medium")
    assert (x, y) == ((64 - 30) // 2, (32 - 10) // 2)
    x0, y0, x1, y1 = lit_box(canvas.to_array())
    assert x0 >= x and x1 <= x + 30 and y0 >= y and y1 <= y + 10
    assert canvas.text_centered("Hi", "small", y=0)[1] == 0


def test_text_beyond_the_edges_is_clipped_not_an_error() -> None:
    canvas = Canvas(16, 8)
    assert canvas.text(-20, -3, "clipped text here", "medium") == -20 + 17 * 6
    assert canvas.to_array().shape == (8, 16, 3)


def test_paste_array_round_trips_and_places_at_xy() -> None:
    rng = np.random.default_rng(1)
    full = rng.integers(0, 256, size=(32, 64, 3), dtype=np.uint8)
    canvas = Canvas(64, 32)
    canvas.paste_array(full)
    assert np.array_equal(canvas.to_array(), full)
    patch = np.full((2, 3, 3), 200, dtype=np.uint8)
    canvas.paste_array(patch, 61, 30)
    assert (canvas.to_array()[30:32, 61:64] == 200).all()
    assert np.array_equal(canvas.to_array()[:30], full[:30])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((32, 64), dtype=np.uint8), r"\(height, width, 3\).*\(32, 64\)"),
        (np.zeros((32, 64, 4), dtype=np.uint8), r"\(height, width, 3\).*\(32, 64, 4\)"),
        (np.zeros((32, 64, 3), dtype=np.float64), "dtype uint8.*float64"),
        (np.zeros((33, 64, 3), dtype=np.uint8), "64x33 array at \\(0, 0\\) does not fit the 64x32"),
        ([[[0, 0, 0]]], "numpy array, got list"),
    ],
)
def test_paste_array_rejects_wrong_shape_dtype_or_size(array: object, message: str) -> None:
    canvas = Canvas(64, 32)
    with pytest.raises(ValueError, match=message):
        canvas.paste_array(array)  # type: ignore[arg-type]
    assert not canvas.to_array().any()


def test_paste_array_rejects_a_position_outside_the_canvas() -> None:
    with pytest.raises(ValueError, match=r"at \(-1, 0\) does not fit"):
        Canvas(8, 8).paste_array(np.zeros((2, 2, 3), dtype=np.uint8), -1, 0)


def test_sdk_imports_nothing_of_ledhost_outside_sdk() -> None:
    """Verify that the SDK stays importable from any plugin environment.

    One exception: ``sdk.testing``, the development harness, fills and validates a
    config with the host's own ``config.plugin_schema`` (one home for that rule); plugin
    code never imports it at run time.
    """
    import ast
    from pathlib import Path

    others = {"host", "config", "store", "web", "plugins_builtin"}
    allowed = {("testing.py", "config.plugin_schema")}
    for path in Path(sdk.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            names = [n for n in names if (path.name, n) not in allowed]
            assert not {n.split(".")[0] for n in names} & others, f"{path.name} imports {names}"


# --- fit_font, bitmap, mark_stale ----------------------------------------------------------


def test_fit_font_picks_the_biggest_font_that_fits_then_none() -> None:
    from sdk import fit_font

    assert fit_font("12:34", 64) is load_font("xlarge")  # 5 x 10 = 50 pixels
    assert fit_font("12:34:56", 64) is load_font("large")  # 8 x 7 = 56
    assert fit_font("12:34:56", 64, height=10) is load_font("medium")
    assert fit_font("a much longer line than fits", 64) is None
    assert fit_font("Hi", 64, names=["small", "medium"]) is load_font("small")  # order given


def test_bitmap_draws_the_palette_and_leaves_other_characters_alone() -> None:
    canvas = Canvas(4, 3)
    canvas.clear("#000010")
    canvas.bitmap(1, 0, ["r.g", " b ", "xyz"], {"r": "#ff0000", "g": (0, 255, 0), "b": "#00f"})
    pixels = canvas.to_array()
    assert tuple(pixels[0, 1]) == (255, 0, 0)
    assert tuple(pixels[0, 2]) == (0, 0, 16)  # "." is transparent
    assert tuple(pixels[0, 3]) == (0, 255, 0)
    assert tuple(pixels[1, 2]) == (0, 0, 255)
    assert (pixels[2] == (0, 0, 16)).all()  # characters not in the palette too


def test_bitmap_is_clipped_at_every_edge() -> None:
    canvas = Canvas(3, 3)
    canvas.bitmap(-1, -1, ["rrrrr"] * 5, {"r": "#ff0000"})
    assert (canvas.to_array() == (255, 0, 0)).all()
    canvas.bitmap(10, 10, ["g"], {"g": "#00ff00"})  # wholly outside: nothing, no error


def test_bitmap_rejects_a_bad_palette_colour() -> None:
    with pytest.raises(ValueError, match="invalid colour"):
        Canvas(3, 3).bitmap(0, 0, ["x"], {"x": "orange"})


@pytest.mark.parametrize("size", [(64, 32), (1, 1), (2, 1)])
def test_mark_stale_folds_three_pixels_over_the_top_right_corner(size: tuple[int, int]) -> None:
    from sdk.canvas import STALE_COLOR

    canvas = Canvas(*size)
    canvas.mark_stale()
    lit = {
        (int(x), int(y)) for y, x in zip(*np.nonzero(canvas.to_array().any(axis=2)), strict=True)
    }
    right = size[0] - 1
    expected = {(x, y) for x, y in ((right, 0), (right - 1, 0), (right, 1))}
    assert lit == {(x, y) for x, y in expected if x >= 0 and y < size[1]}
    assert all(tuple(canvas.to_array()[y, x]) == STALE_COLOR for x, y in lit)


# --- shorten, wrap, scaled text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width", "at_words", "expected"),
    [
        ("Hello", 40, False, "Hello"),  # fits: untouched
        ("Hello world", 40, False, "Hello wor…"),  # 4 px per glyph: 10 glyphs
        ("Hello world", 32, False, "Hello w…"),
        ("Hello world", 28, False, "Hello…"),  # no space before the ellipsis
        ("Hello wonderful world", 40, True, "Hello…"),  # a whole word, not "Hello won…"
        ("Hello wonderful world", 40, False, "Hello won…"),
        ("Hello wonderful world", 60, True, "Hello wonderfu…"),  # "Hello…" is under half
        ("Supercalifragilistic", 24, True, "Super…"),  # one long word: cut between letters
        ("Hi there", 4, False, ""),  # not even one letter and the ellipsis
    ],
)
def test_shorten_cuts_whole_glyphs_and_says_so(
    text: str, width: int, at_words: bool, expected: str
) -> None:
    from sdk import shorten

    small = load_font("small")
    result = shorten(text, small, width, at_words=at_words)
    assert result == expected
    assert small.measure(result)[0] <= width


def test_shorten_and_wrap_measure_scaled_text() -> None:
    from sdk import shorten, wrap

    small = load_font("small")
    assert shorten("Hello", small, 40, scale=2) == "Hello"  # 5 glyphs x 8 px = 40 fits
    assert shorten("Hello!", small, 40, scale=2) == "Hell…"
    assert wrap("ab cd", small, 16, scale=2) == ["ab", "cd"]
    assert wrap("ab cd", small, 20) == ["ab cd"]


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("one two three", 32, ["one two", "three"]),
        ("one two three", 100, ["one two three"]),
        ("  spaced   out  ", 100, ["spaced out"]),
        ("", 100, []),
        ("unbreakable", 20, None),  # one word wider than the room
    ],
)
def test_wrap_breaks_at_spaces(text: str, width: int, expected: list[str] | None) -> None:
    from sdk import wrap

    small = load_font("small")
    lines = wrap(text, small, width)
    assert lines == expected
    assert all(small.measure(line)[0] <= width for line in lines or [])


def test_scaled_text_is_each_pixel_as_a_block() -> None:
    plain = Canvas(20, 6)
    plain.text(0, 0, "H", "small", "#ff0000")
    big = Canvas(40, 12)
    end = big.text(0, 0, "H", "small", "#ff0000", scale=2)
    assert end == 2 * plain.measure("H")[0]
    expected = plain.to_array().repeat(2, axis=0).repeat(2, axis=1)
    assert (big.to_array() == expected).all()
    assert big.measure("H", "small", scale=2) == (8, 12)


def test_scaled_text_centres_and_clips() -> None:
    canvas = Canvas(30, 20)
    x, y = canvas.text_centered("88", "small", scale=3)
    assert (x, y) == ((30 - 24) // 2, (20 - 18) // 2)
    canvas.text(-5, -5, "8", "small", scale=3)  # partly outside: clipped, no error


@pytest.mark.parametrize("scale", [0, -1, 17, 1.5, True])
def test_text_scale_must_be_a_small_whole_number(scale: object) -> None:
    with pytest.raises(ValueError, match="text scale"):
        Canvas(8, 8).text(0, 0, "x", scale=scale)  # type: ignore[arg-type]


# --- sdk.options ---------------------------------------------------------------------------


def test_time_zone_resolves_names_and_names_the_key_when_unknown() -> None:
    from sdk import PluginConfigError, time_zone

    assert time_zone("") is None
    assert str(time_zone("Europe/Berlin")) == "Europe/Berlin"
    with pytest.raises(PluginConfigError, match="^tz: unknown time zone 'Mars/Olympus'"):
        time_zone("Mars/Olympus", key="tz")
    with pytest.raises(PluginConfigError, match="timezone: unknown time zone"):
        time_zone("../../etc/passwd")


def test_color_option_is_a_schema_with_a_valid_default() -> None:
    import jsonschema

    from sdk import check_colors, color_option

    option = color_option("#ff8800", "Colour", "What colour.")
    schema = {"type": "object", "properties": {"c": option}}
    jsonschema.Draft202012Validator.check_schema(schema)
    assert option["format"] == "color" and option["default"] == "#ff8800"
    assert not jsonschema.Draft202012Validator(schema).is_valid({"c": "orange"})
    with pytest.raises(ValueError, match="invalid colour"):
        color_option("orange", "Colour", "What colour.")
    check_colors({"a": "#fff", "b": [1, 2, 3]}, "a", "b", "missing")
    from sdk import PluginConfigError

    with pytest.raises(PluginConfigError, match="^b: invalid colour"):
        check_colors({"a": "#fff", "b": "blue"}, "a", "b")


# font, glyphs -> each glyph's ink_box alone (read off the drawn glyphs), and their union.
CELL_INK_TABLE = [
    ("small", "1.", [(0, 0, 3, 5), (1, 4, 2, 5)], (0, 0, 3, 5)),
    ("small", ":.", [(1, 1, 2, 5), (1, 4, 2, 5)], (1, 1, 2, 5)),
    ("medium", "1:", [(0, 1, 5, 8), (1, 2, 4, 9)], (0, 1, 5, 9)),
    ("medium", "gj", [(0, 3, 5, 10), (1, 1, 5, 10)], (0, 1, 5, 10)),
    ("large", "1.", [(1, 2, 6, 11), (2, 9, 5, 12)], (1, 2, 6, 12)),
    ("large", "0 1", [(0, 2, 6, 11), None, (1, 2, 6, 11)], (0, 2, 6, 11)),
    ("xlarge", "j:", [(2, 5, 9, 20), (4, 8, 7, 16)], (2, 5, 9, 20)),
]


@pytest.mark.parametrize(("name", "glyphs", "boxes", "union"), CELL_INK_TABLE)
def test_cell_ink_is_the_union_of_each_glyphs_ink_box_in_its_own_cell(
    name: str,
    glyphs: str,
    boxes: list[tuple[int, int, int, int] | None],
    union: tuple[int, int, int, int],
) -> None:
    font = load_font(name)
    assert [font.ink_box(c) for c in glyphs] == boxes
    assert font.cell_ink(glyphs) == union
    # Relative to each glyph's own cell: not the ink of the glyphs set side by side.
    assert font.cell_ink(glyphs[::-1]) == union
    assert font.cell_ink(glyphs) != font.ink_box(glyphs.replace(" ", ""))


@pytest.mark.parametrize("name", font_names())
def test_cell_ink_of_digits_covers_every_digit_and_is_cached(name: str) -> None:
    font = load_font(name)
    box = font.cell_ink("0123456789:")
    assert box is not None
    for digit in "0123456789:":
        x0, y0, x1, y1 = font.ink_box(digit) or (0, 0, 0, 0)
        assert box[0] <= x0 and box[1] <= y0 and x1 <= box[2] and y1 <= box[3]
    assert font.cell_ink("0123456789:") is box


@pytest.mark.parametrize("glyphs", ["", " ", "  \t\n"])
def test_cell_ink_of_glyphs_that_light_nothing_is_none(glyphs: str) -> None:
    for name in font_names():
        assert load_font(name).cell_ink(glyphs) is None


@pytest.mark.parametrize(
    ("name", "text", "width"),
    [
        # advance of "12:3" + the width of the digits' and colon's cell ink.
        ("small", "12:34", 4 * 4 + 3 - 0),
        ("medium", "12:34", 4 * 6 + 5 - 0),
        ("large", "12:34", 4 * 7 + 6 - 0),
        ("xlarge", "00:00", 4 * 10 + 9 - 1),
        ("large", "7", 6 - 0),
        ("medium", "", 0),
    ],
)
def test_steady_width_is_the_advance_but_the_last_glyph_plus_its_cell_ink(
    name: str, text: str, width: int
) -> None:
    assert load_font(name).steady_width(text, "0123456789:") == width


def test_steady_width_of_glyphs_that_light_nothing_is_zero() -> None:
    assert load_font("medium").steady_width("12:34", "  ") == 0


@pytest.mark.parametrize("name", font_names())
def test_steady_width_holds_the_ink_of_every_time_it_stands_for(name: str) -> None:
    font = load_font(name)
    glyphs = "0123456789:"
    box = font.cell_ink(glyphs)
    assert box is not None
    width = font.steady_width("00:00", glyphs)
    for text in ("00:00", "11:11", "10:47", "19:59", "23:01"):
        assert font.steady_width(text, glyphs) == width
        ink = font.ink_box(text)
        assert ink is not None
        assert box[0] <= ink[0] and ink[2] <= box[0] + width
