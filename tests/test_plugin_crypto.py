"""The builtin crypto plugin against recorded CoinGecko answers on a local HTTP server.

Golden images live in ``tests/golden/crypto/``; after an intended change of the look,
regenerate and review them with::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_crypto.py
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin import crypto
from plugins_builtin.crypto import draw, model
from sdk import Canvas, PluginConfigError
from sdk.canvas import STALE_COLOR
from sdk.testing import PluginRunner
from tests.golden import PANEL_SIZES, assert_golden, size_id
from tests.httpserver import RECORDED, RecordedServer

PATH = "/coins/markets"
USD = "coingecko/markets_usd_sparkline.json"
EUR = "coingecko/markets_eur_no_sparkline.json"
EUR_CONFIG = {
    "currency": "eur",
    "coins": ["dogecoin", "shiba-inu", "some-delisted-token"],
    "sparkline": False,
}
UP, DOWN = (0, 255, 0), (255, 0, 255)


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def lit(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels.any(axis=2))


def colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in p) for p in pixels.reshape(-1, 3)}


def is_marked_stale(pixels: np.ndarray) -> bool:
    return tuple(int(c) for c in pixels[0, -1]) == STALE_COLOR


@pytest.fixture
def usd(http_server: RecordedServer) -> RecordedServer:
    http_server.serve_recorded(PATH, USD)
    return http_server


@pytest.fixture
def open_runner(tmp_path: Path) -> Iterator[Any]:
    """``open_runner(server, size, **config)``: a started PluginRunner, closed after the test."""
    runners: list[PluginRunner] = []

    def start(server: RecordedServer, size: tuple[int, int] = (64, 32), **config: Any) -> Any:
        folder = tmp_path / f"data{len(runners)}"
        runner = PluginRunner(
            crypto, size=size, config={"base_url": server.url, **config}, data_dir=folder
        )
        runners.append(runner)
        # Retries still happen, without seconds of backoff between them.
        runner.context.fetcher.backoff = 0.01
        runner.start()
        return runner

    yield start
    for runner in runners:
        runner.close()


def board_pages(runner: PluginRunner, count: int, now: float) -> list[np.ndarray]:
    """``count`` pages of one board turn starting at ``now``, a page apart."""
    page = float(runner.config["page_seconds"])
    return [runner.render_frame("board", now=now + i * page, frame=i).pixels for i in range(count)]


# --- the plugin's shape ----------------------------------------------------------------


def test_crypto_registers_two_modes_and_a_documented_schema(usd: RecordedServer) -> None:
    with PluginRunner(crypto, config={"base_url": usd.url}) as runner:
        assert list(runner.modes) == ["ticker", "board"]
        assert runner.schema is not None
        for key, prop in runner.schema["properties"].items():
            assert {"default", "title", "description"} <= prop.keys(), key
        assert runner.schema["properties"]["base_url"]["default"] == (
            "https://api.coingecko.com/api/v3"
        )
        assert runner.config["refresh_interval"] == 120
        assert runner.config["stale_after"] == 900


def test_crypto_is_a_builtin_entry_point(test_specs: dict[str, PluginSpec]) -> None:
    assert "crypto" in test_specs


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"coins": ["Bitcoin"]}, "coins"),
        ({"coins": ["bit coin"]}, "coins"),
        ({"coins": []}, "coins"),
        ({"currency": "US$"}, "currency"),
        ({"up_color": "green"}, "up_color"),
        ({"decimals": 12}, "decimals"),
    ],
)
def test_crypto_config_outside_the_schema_is_refused_naming_the_key(
    config: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        PluginRunner(crypto, config=config)


def test_crypto_setup_names_a_bad_coin_id_even_without_the_schema(usd: RecordedServer) -> None:
    """Verify that setup checks what a host skipping validation would let through."""
    with PluginRunner(crypto, config={"base_url": usd.url}) as runner:
        runner.context.config = {**runner.config, "coins": ["../etc"]}
        with pytest.raises(PluginConfigError, match=r"coins: '\.\./etc' is not a CoinGecko id"):
            crypto.setup(runner.context)


# --- the request -----------------------------------------------------------------------


def test_crypto_asks_coingecko_for_the_coins_currency_24h_change_and_sparkline(
    usd: RecordedServer, open_runner: Any
) -> None:
    open_runner(usd)
    (seen,) = usd.requests_to(PATH)
    assert seen.query == {
        "vs_currency": ["usd"],
        "ids": ["bitcoin,ethereum,solana"],
        "price_change_percentage": ["24h"],
        "sparkline": ["true"],
    }
    assert seen.headers.get("User-Agent", "").startswith("ledhost")


def test_crypto_request_follows_the_config(http_server: RecordedServer, open_runner: Any) -> None:
    http_server.serve_recorded("/mirror/v3/coins/markets", EUR)
    open_runner(http_server, base_url=http_server.url + "/mirror/v3/", **EUR_CONFIG)
    (seen,) = http_server.requests_to("/mirror/v3/coins/markets")
    assert seen.query["vs_currency"] == ["eur"]
    assert seen.query["ids"] == ["dogecoin,shiba-inu,some-delisted-token"]
    assert seen.query["sparkline"] == ["false"]


# --- parsing and formatting ------------------------------------------------------------


def test_crypto_parses_the_recorded_answer() -> None:
    coins = model.parse_markets(recorded(USD))
    assert [(c.id, c.symbol, c.name) for c in coins] == [
        ("bitcoin", "BTC", "Bitcoin"),
        ("ethereum", "ETH", "Ethereum"),
        ("solana", "SOL", "Solana"),
    ]
    assert coins[0].price == 43251.37
    assert coins[1].change_24h == pytest.approx(-0.84321)
    assert len(coins[2].sparkline) == 168
    assert coins[0].last_updated == "2024-01-09T12:04:31.519Z"


def test_crypto_skips_a_coin_without_a_price_and_keeps_missing_fields_empty() -> None:
    coins = model.parse_markets(recorded(EUR))
    assert [c.id for c in coins] == ["dogecoin", "shiba-inu"]
    assert coins[1].sparkline == ()
    bare = model.parse_markets([{"id": "x", "current_price": 2, "symbol": None}])
    assert bare == (model.Coin(id="x", symbol="x", name="x", price=2.0),)


@pytest.mark.parametrize(
    "data",
    [
        {"status": {"error_code": 429, "error_message": "rate limit"}},
        "bitcoin",
        [1, 2],
        [{"symbol": "btc", "current_price": 1}],
        [{"id": 7, "current_price": 1}],
    ],
)
def test_crypto_rejects_an_answer_of_the_wrong_shape(data: Any) -> None:
    with pytest.raises(ValueError):
        model.parse_markets(data)


@pytest.mark.parametrize(
    ("value", "currency", "decimals", "expected"),
    [
        (43251.37, "usd", -1, "$43,251"),
        (2280.12, "usd", -1, "$2,280"),
        (1234567.8, "usd", -1, "$1,234,568"),
        (999.996, "usd", -1, "$1,000"),
        (999.99, "usd", -1, "$999.99"),
        (142.3712, "usd", -1, "$142.37"),
        (1.0, "usd", -1, "$1.00"),
        (0.99999, "usd", -1, "$1.00"),
        (0.5234, "usd", -1, "$0.5234"),
        (0.5, "usd", -1, "$0.50"),
        (0.08123456, "usd", -1, "$0.08123"),
        (0.0812, "eur", -1, "€0.0812"),
        (0.0000123, "usd", -1, "$0.0000123"),
        (0.00001234567, "usd", -1, "$0.00001235"),
        (0.00000912, "gbp", -1, "£0.00000912"),
        (1e-20, "usd", -1, "$0.00"),
        (0.0, "usd", -1, "$0.00"),
        (-12.5, "usd", -1, "-$12.50"),
        (39120.4, "chf", -1, "39,120 CHF"),
        (0.05234, "btc", -1, "0.05234 BTC"),
        (43251.37, "usd", 2, "$43,251.37"),
        (43251.37, "usd", 0, "$43,251"),
        (0.0000123, "usd", 4, "$0.0000"),
        (2.5, "eur", 3, "€2.500"),
    ],
)
def test_crypto_price_formatting(value: float, currency: str, decimals: int, expected: str) -> None:
    assert model.format_price(value, currency, decimals) == expected


@pytest.mark.parametrize(
    ("percent", "text", "direction"),
    [
        (2.31462, "2.3%", 1),
        (-0.84321, "0.8%", -1),
        (0.01, "0.0%", 0),
        (-0.04, "0.0%", 0),
        (0.05001, "0.1%", 1),
        (99.96, "100%", 1),
        (-142.4, "142%", -1),
        (1234.5, "1,234%", 1),
    ],
)
def test_crypto_change_formatting(percent: float, text: str, direction: int) -> None:
    assert model.format_change(percent) == text
    assert model.change_direction(percent) == direction


# --- golden images ---------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_crypto_ticker_strip_golden(
    usd: RecordedServer, open_runner: Any, size: tuple[int, int]
) -> None:
    runner = open_runner(usd, size)
    strip = runner.render_strip("ticker")
    assert strip is not None
    assert strip.speed == 30.0
    pixels = strip.canvas.to_array()
    assert_golden(f"crypto/ticker_{size_id(size)}", pixels)
    assert lit(pixels)[:, :3].any() and lit(pixels)[:, -3:].any(), "no blank ends: no padding"
    assert not is_marked_stale(pixels)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_crypto_board_golden(usd: RecordedServer, open_runner: Any, size: tuple[int, int]) -> None:
    runner = open_runner(usd, size)
    for symbol, pixels in zip(
        ("btc", "eth", "sol"), board_pages(runner, 3, time.time()), strict=True
    ):
        assert_golden(f"crypto/board_{symbol}_{size_id(size)}", pixels)
        assert not is_marked_stale(pixels)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_crypto_small_prices_in_euros_golden(
    http_server: RecordedServer, open_runner: Any, size: tuple[int, int]
) -> None:
    http_server.serve_recorded(PATH, EUR)
    runner = open_runner(http_server, size, **EUR_CONFIG)
    doge, shib = board_pages(runner, 2, time.time())
    assert_golden(f"crypto/board_shib_eur_{size_id(size)}", shib)
    strip = runner.render_strip("ticker")
    assert strip is not None
    assert_golden(f"crypto/ticker_eur_{size_id(size)}", strip.canvas.to_array())
    # DOGE's 0.01 % shows as an unchanged 0.0 %: grey, neither up nor down colour.
    assert (150, 150, 150) in colours(doge)


def test_crypto_stale_goldens(
    usd: RecordedServer, open_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = open_runner(usd, (64, 32))
    later = time.time() + 900 + 5
    (board,) = board_pages(runner, 1, later)
    assert is_marked_stale(board)
    assert_golden("crypto/board_btc_64x32_stale", board)
    wide = open_runner(usd, (128, 32))
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: later)
        strip = wide.render_strip("ticker")
    assert strip is not None
    pixels = strip.canvas.to_array()
    assert_golden("crypto/ticker_128x32_stale", pixels)
    marks = [x for x in range(pixels.shape[1]) if tuple(pixels[0, x]) == STALE_COLOR]
    assert len(marks) == 2 * 3, "every coin carries the two top pixels of the mark"


# --- layout and colours ----------------------------------------------------------------


def _boxes(layout: draw.BoardLayout) -> list[tuple[int, int, int, int]]:
    boxes = []
    for piece in layout.pieces:
        if isinstance(piece, draw.Arrow):
            boxes.append(
                (piece.x, piece.y, piece.x + len(piece.rows[0]), piece.y + len(piece.rows))
            )
        else:
            ink = piece.font.ink_box(piece.text)
            assert ink is not None
            boxes.append((piece.x + ink[0], piece.y + ink[1], piece.x + ink[2], piece.y + ink[3]))
    if layout.chart is not None:
        chart = layout.chart
        boxes.append((chart.x, chart.y, chart.x + chart.w, chart.y + chart.h))
    return boxes


ALL_COINS = model.parse_markets(recorded(USD)) + model.parse_markets(recorded(EUR))
LONG = model.Coin("wrapped-x", "WSTETHX", "Wrapped Staked Ether X", 1234567.89, -12.34)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("show_change", [True, False])
def test_crypto_board_keeps_every_piece_on_the_panel_and_apart(
    size: tuple[int, int], show_change: bool
) -> None:
    width, height = size
    for coin in (*ALL_COINS, LONG):
        style = draw.Style(currency="usd", show_change=show_change)
        layout = draw.board_layout(width, height, coin, style)
        texts = [p for p in layout.pieces if isinstance(p, draw.Text)]
        assert texts[0].text and coin.symbol.startswith(texts[0].text), "the symbol first"
        assert any(p.font.height >= 10 for p in texts), "the price is medium or bigger"
        assert any(p.text.endswith("%") for p in texts) is show_change
        boxes = _boxes(layout)
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= height, (coin.id, layout)
        for a, b in itertools.combinations(boxes, 2):
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (coin.id, a, b)


@pytest.mark.parametrize(
    ("size", "chart"), [((64, 32), False), ((128, 32), True), ((128, 64), True), ((256, 64), True)]
)
def test_crypto_board_draws_the_chart_where_there_is_room(
    size: tuple[int, int], chart: bool
) -> None:
    coin = ALL_COINS[0]
    assert (draw.board_layout(*size, coin, draw.Style("usd")).chart is not None) is chart
    no_chart = draw.Style("usd", sparkline=False)
    assert draw.board_layout(*size, coin, no_chart).chart is None


def test_crypto_up_and_down_colours_are_the_configured_ones(
    usd: RecordedServer, open_runner: Any
) -> None:
    config = {"up_color": "#00ff00", "down_color": "#ff00ff"}
    runner = open_runner(usd, (128, 64), **config)
    strip = runner.render_strip("ticker")
    assert strip is not None
    assert {UP, DOWN} <= colours(strip.canvas.to_array())
    btc, eth, sol = board_pages(runner, 3, time.time())
    assert UP in colours(btc) and DOWN not in colours(btc)
    assert DOWN in colours(eth) and UP not in colours(eth)
    assert UP in colours(sol) and DOWN not in colours(sol)
    hidden = open_runner(usd, (64, 32), show_change=False, **config)
    (page,) = board_pages(hidden, 1, time.time())
    assert not {UP, DOWN} & colours(page)


def test_crypto_arrows_are_triangles_pointing_their_way() -> None:
    assert draw.arrow_rows("medium", True) == ("...#...", "..###..", ".#####.", "#######")
    assert draw.arrow_rows("medium", False) == tuple(reversed(draw.arrow_rows("medium", True)))


# --- paging and turns ------------------------------------------------------------------


def test_crypto_board_shows_each_coin_in_turn_and_asks_for_a_full_turn(
    usd: RecordedServer, open_runner: Any
) -> None:
    runner = open_runner(usd, (64, 32), coins=["solana", "dogecoin", "bitcoin"])
    now = time.time()
    first = runner.render_frame("board", now=now, frame=0)
    assert runner.requests.more_time == [("board", 10.0)]  # two coins shown: dogecoin is not
    assert first.delay == pytest.approx(5.0)
    middle = runner.render_frame("board", now=now + 2.5, frame=1)
    assert np.array_equal(middle.pixels, first.pixels)
    assert middle.delay == pytest.approx(2.5)
    second = runner.render_frame("board", now=now + 5, frame=2).pixels
    third = runner.render_frame("board", now=now + 10, frame=3).pixels
    by_id = {coin.id: coin for coin in ALL_COINS}
    expected = []
    for coin_id in ("solana", "bitcoin"):
        layout = draw.board_layout(64, 32, by_id[coin_id], draw.Style("usd"))
        canvas = Canvas(64, 32)
        draw.draw_pieces(canvas, layout.pieces)
        expected.append(canvas.to_array())
    assert np.array_equal(first.pixels, expected[0])
    assert np.array_equal(second, expected[1])
    assert np.array_equal(third, expected[0]), "the turn goes round"


def test_crypto_board_turn_cut_short_resumes_with_the_next_coin(
    usd: RecordedServer, open_runner: Any
) -> None:
    runner = open_runner(usd, (64, 32))
    now = time.time()
    btc, eth, _ = board_pages(runner, 3, now)
    # A whole turn shown: the next turn starts with the first coin again.
    assert np.array_equal(runner.render_frame("board", now=now + 60, frame=0).pixels, btc)
    # That turn was cut after one page: the next one starts with the second.
    assert np.array_equal(runner.render_frame("board", now=now + 90, frame=0).pixels, eth)


def test_crypto_ticker_asks_to_stay_until_every_coin_crossed_the_panel(
    usd: RecordedServer, open_runner: Any
) -> None:
    runner = open_runner(usd, (128, 32), speed=40)
    strip = runner.render_strip("ticker")
    assert strip is not None
    assert strip.gap == 3 * 10, "seamless loop: the gap between coins"
    assert runner.requests.more_time == [("ticker", (strip.canvas.width + 128) / 40)]
    one = open_runner(usd, (256, 32), coins=["solana"])
    short = one.render_strip("ticker")
    assert short is not None and short.canvas.width < 256
    assert short.gap is None, "a strip shorter than the panel leaves before it returns"


def test_crypto_refresh_asks_for_a_redraw_only_when_the_prices_change(
    usd: RecordedServer, open_runner: Any
) -> None:
    runner = open_runner(usd)
    assert runner.requests.redraws == [None]
    delay = runner.refresh()
    assert delay is not None and 1.0 <= delay <= 120
    assert runner.requests.redraws == [None], "the same prices again"
    changed = recorded(USD)
    changed[0]["current_price"] = 44000.5
    usd.serve(PATH, changed)
    runner.refresh()
    assert runner.requests.redraws == [None, None]


# --- faults ----------------------------------------------------------------------------


def _assert_no_content(runner: PluginRunner) -> None:
    assert runner.has_content("ticker") is False
    assert runner.has_content("board") is False
    assert runner.render_strip("ticker") is None
    for mode in ("ticker", "board"):
        frame = runner.render_frame(mode, now=time.time())
        assert not lit(frame.pixels).any()
        assert frame.delay is None


@pytest.mark.parametrize(
    "route",
    [
        pytest.param({"body": b"[{\"id\": \"bitcoin\", "}, id="malformed-json"),
        pytest.param({"body": b"<html>Cloudflare</html>", "content_type": "text/html"}, id="html"),
        pytest.param({"body": (RECORDED / "coingecko/error_rate_limited.json").read_bytes()},
                     id="error-object"),
        pytest.param({"status": 500, "body": b"oops"}, id="http-500"),
        pytest.param({"hang": True}, id="hanging"),
    ],
)  # fmt: skip
def test_crypto_bad_first_answer_means_no_content_and_a_quick_retry(
    http_server: RecordedServer, open_runner: Any, route: dict[str, Any]
) -> None:
    http_server.serve(PATH, **route)
    runner = open_runner(http_server, timeout=0.5)
    _assert_no_content(runner)
    if not route.get("hang"):  # a hanging server costs seconds a call
        delay = runner.refresh()
        assert delay is not None and delay <= 60
        _assert_no_content(runner)


def test_crypto_empty_answer_means_no_content(
    http_server: RecordedServer, open_runner: Any
) -> None:
    http_server.serve_recorded(PATH, "coingecko/markets_empty.json")
    runner = open_runner(http_server)
    _assert_no_content(runner)
    assert runner.requests.redraws == [None], "an empty answer is an answer"


def test_crypto_coins_missing_from_the_answer_are_skipped(
    usd: RecordedServer, open_runner: Any
) -> None:
    runner = open_runner(usd, coins=["dogecoin", "ethereum"])
    assert runner.has_content("board") is True
    (eth,) = board_pages(runner, 1, time.time())
    assert np.array_equal(eth, board_pages(open_runner(usd), 2, time.time())[1])
    assert runner.requests.more_time == [], "one coin: nothing to page through"
    absent = open_runner(usd, coins=["dogecoin"])
    _assert_no_content(absent)


@pytest.mark.parametrize("failure", ["down", "http-500", "malformed-json"])
def test_crypto_network_failure_after_a_good_fetch_keeps_the_prices_marked_stale(
    open_runner: Any, failure: str
) -> None:
    server = RecordedServer()
    try:
        server.serve_recorded(PATH, USD)
        runner = open_runner(server, (64, 32), timeout=0.5)
        fresh = time.time()
        (good,) = board_pages(runner, 1, fresh)
        if failure == "down":
            server.close()
        elif failure == "http-500":
            server.serve(PATH, status=500)
        else:
            server.serve(PATH, "{not json")
        delay = runner.refresh()
        assert delay is not None and delay <= 60, "a failed fetch is retried soon"
        assert runner.has_content("board") and runner.has_content("ticker")
        # Still young: the same page, unmarked.
        again = runner.render_frame("board", now=fresh + 1, frame=1).pixels
        assert np.array_equal(again, good)
        # Older than stale_after: the same prices with the stale mark (180 pages later:
        # the first coin again).
        late = runner.render_frame("board", now=fresh + 900.5, frame=2).pixels
        assert is_marked_stale(late)
        late[0, -2:] = good[0, -2:]
        late[1, -1] = good[1, -1]
        assert np.array_equal(late, good), "only the mark differs"
    finally:
        server.close()


def test_crypto_refresh_redraws_the_strip_when_the_data_turns_stale(
    usd: RecordedServer, open_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = open_runner(usd, (128, 32), stale_after=600, refresh_interval=3600)
    delay = runner.refresh()
    assert delay is not None and 590 <= delay <= 602, "wakes when the data turns old"
    assert runner.render_strip("ticker") is not None
    usd.serve(PATH, status=404)
    later = time.time() + 700
    redraws = len(runner.requests.redraws)
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: later)
        runner.refresh()
        assert len(runner.requests.redraws) == redraws + 1
        strip = runner.render_strip("ticker")
    assert strip is not None and is_marked_stale(strip.canvas.to_array())


# --- through a real worker -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "golden"), [("ticker", "ticker_128x32"), ("board", "board_btc_128x32")]
)
def test_crypto_renders_through_a_real_worker_from_the_local_server(
    usd: RecordedServer,
    test_specs: dict[str, PluginSpec],
    tmp_path: Path,
    mode: str,
    golden: str,
) -> None:
    frames, _ = render_mode(
        test_specs["crypto"],
        mode,
        width=128,
        height=32,
        frames=1,
        options={"base_url": usd.url},
        data_dir=tmp_path,
        rules=WorkerRules(uid=None),
    )
    assert_golden(f"crypto/{golden}", frames[0])
    assert usd.requests_to(PATH)
