"""Crypto: coin prices and their 24-hour change, from CoinGecko's public API (no key).

Two modes:

- ``ticker``: every coin on one line, ``BTC $43,251 ▲2.3%   ETH $2,280 ▼0.8%``, drawn
  once as a strip that the host scrolls. A strip also makes the mode a member the user
  can put in the host's continuous ticker (``[ticker] modes = ["crypto:ticker"]``).
- ``board``: a still page per coin (symbol, price big, change, the 7-day chart where
  there is room), turning every ``page_seconds``. It asks for a turn long enough to show
  every coin once, and a turn cut short resumes with the next coin.

Prices are fetched in ``refresh_data`` on the worker's background thread through the
SDK's HTTP client (timeouts, retries, size cap, disk cache); renders only read the last
parsed :class:`~plugins_builtin.crypto.model.Market`, swapped in as one reference. When
the network is down the last prices stay on the panel, with the stale mark once they are
older than ``stale_after``.
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plugins_builtin.crypto.draw import Style, draw_board, draw_strip
from plugins_builtin.crypto.model import Coin, Market, parse_markets, shown_coins
from sdk import (
    Canvas,
    FetchError,
    PluginConfigError,
    PluginContext,
    Strip,
    check_colors,
    color_option,
    hookimpl,
    network_properties,
)

__all__ = ["BASE_URL", "BOARD", "CONFIG_SCHEMA", "TICKER", "markets_request"]

TICKER = "ticker"
BOARD = "board"
#: CoinGecko's public API, which needs no key (rate-limited to a few calls a minute).
BASE_URL = "https://api.coingecko.com/api/v3"
#: CoinGecko ids: lower-case words joined by hyphens ("bitcoin", "usd-coin", "avalanche-2").
_COIN_ID = "^[a-z0-9][a-z0-9._-]{0,79}$"
#: The longest wait before another try after a failed fetch.
_RETRY = 60.0

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "coins": {
            "type": "array",
            "items": {"type": "string", "pattern": _COIN_ID},
            "minItems": 1,
            "maxItems": 20,
            "uniqueItems": True,
            "default": ["bitcoin", "ethereum", "solana"],
            "title": "Coins",
            "description": "CoinGecko ids of the coins to show, in order: the last part of "
            "the coin's page address, e.g. bitcoin, ethereum, solana, dogecoin, usd-coin.",
        },
        "currency": {
            "type": "string",
            "pattern": "^[a-z]{2,8}$",
            "default": "usd",
            "title": "Currency",
            "description": "What prices are in (CoinGecko's vs_currency): usd, eur and gbp "
            "are shown as $ € £, any other (chf, jpy, btc...) by its code after the price.",
        },
        "decimals": {
            "type": "integer",
            "minimum": -1,
            "maximum": 8,
            "default": -1,
            "title": "Decimals",
            "description": "Decimals of every price; -1 chooses by size: 43,251 and "
            "2,280 whole, 142.37 with cents, 0.0000123 with four significant digits.",
        },
        "show_change": {
            "type": "boolean",
            "default": True,
            "title": "Show 24 h change",
            "description": "Show the change over 24 hours with an up or down arrow.",
        },
        "sparkline": {
            "type": "boolean",
            "default": True,
            "title": "7-day chart",
            "description": "Fetch the last 7 days of prices and draw them as a small chart "
            "where there is room (board pages from 128x32, ticker strips from 48 pixels high).",
        },
        "up_color": color_option(
            "#00e060", "Up colour", "Colour of a rise: its arrow, change and chart."
        ),
        "down_color": color_option(
            "#ff3040", "Down colour", "Colour of a fall: its arrow, change and chart."
        ),
        "symbol_color": color_option(
            "#ffb000", "Symbol colour", "Colour of the coin's symbol (BTC)."
        ),
        "price_color": color_option("#ffffff", "Price colour", "Colour of the price."),
        "speed": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 500,
            "default": 30,
            "title": "Scroll speed",
            "description": "Pixels per second of the ticker mode on its own (the host's "
            "[ticker] band has its own speed).",
        },
        "page_seconds": {
            "type": "number",
            "minimum": 1,
            "maximum": 60,
            "default": 5,
            "title": "Seconds per coin",
            "description": "How long the board mode shows each coin.",
        },
        **network_properties(base_url=BASE_URL, refresh=120, stale_after=900),
    },
}


@dataclass
class _State:
    """One plugin instance's state: the data (written by the refresh thread, one reference
    swap) and the board's paging (main thread only)."""

    market: Market | None = None
    #: Whether the last strip drawn showed the stale mark (the refresh thread redraws when
    #: that changes, since a strip is only drawn again on request).
    stale_drawn: bool = False
    board_started: float = 0.0
    board_first: int = 0
    board_last: int | None = None


# Keyed by context so two instances in one process (tests) never share data.
_states: weakref.WeakKeyDictionary[PluginContext, _State] = weakref.WeakKeyDictionary()


def _state(context: PluginContext) -> _State:
    state = _states.get(context)
    if state is None:
        state = _states[context] = _State()
    return state


def markets_request(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL and query of the ``/coins/markets`` call for ``config``."""
    url = str(config.get("base_url", BASE_URL)).rstrip("/") + "/coins/markets"
    params = {
        "vs_currency": str(config.get("currency", "usd")).lower(),
        "ids": list(config.get("coins", [])),
        "price_change_percentage": "24h",
        "sparkline": bool(config.get("sparkline", True)),
    }
    return url, params


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    coins = config.get("coins", [])
    if not isinstance(coins, list) or not coins:
        raise PluginConfigError("coins: name at least one CoinGecko id, e.g. ['bitcoin']")
    for coin in coins:
        if not isinstance(coin, str) or not re.fullmatch(_COIN_ID, coin):
            raise PluginConfigError(
                f"coins: {coin!r} is not a CoinGecko id; use the lower-case id from the "
                "coin's page address, e.g. 'bitcoin' or 'usd-coin'"
            )
    check_colors(config, "up_color", "down_color", "symbol_color", "price_color")


def _coins(context: PluginContext) -> tuple[Market | None, list[Coin]]:
    market = _state(context).market
    return market, shown_coins(market, list(context.config.get("coins", [])))


# -- hooks -------------------------------------------------------------------------------


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(TICKER, title="Crypto ticker", duration=20.0)
    register(BOARD, title="Crypto board", duration=15.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)
    _states[context] = _State()


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    # The worker wakes refresh_data next; until it answers, the old prices stay, in
    # the currency they were fetched in.
    _check_config(config)


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    config = context.config
    state = _state(context)
    refresh = float(config.get("refresh_interval", 120))
    stale_after = float(config.get("stale_after", 900))
    url, params = markets_request(config)
    delay = refresh
    try:
        fetched = context.fetch_json(
            url, params=params, parse=parse_markets, timeout=float(config.get("timeout", 10))
        )
    except FetchError as exc:
        context.log.warning("no coin prices: %s; trying again in %.0f s", exc, min(refresh, _RETRY))
        delay = min(refresh, _RETRY)
    else:
        fresh = Market(fetched.value, str(params["vs_currency"]), fetched.fetched_at)
        if fetched.stale:
            delay = min(refresh, _RETRY)
        shown = state.market
        state.market = fresh
        if shown is None or (shown.coins, shown.currency) != (fresh.coins, fresh.currency):
            context.request_redraw()  # new prices (a strip is only drawn again on request)
    market = state.market
    if market is None:
        return delay
    now = time.time()
    stale = market.is_stale(now, stale_after)
    if stale != state.stale_drawn:
        context.request_redraw()  # a strip gets (or loses) its stale marks only when drawn
    if not stale:
        # Wake when the data turns old, so the mark appears on time even on a long refresh.
        delay = min(delay, market.fetched_at + stale_after - now + 1.0)
    return max(delay, 1.0)


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode not in (TICKER, BOARD):
        return None
    return bool(_coins(context)[1])


@hookimpl
def render_strip(context: PluginContext, mode: str, height: int) -> Strip | None:
    if mode != TICKER:
        return None
    market, coins = _coins(context)
    if market is None or not coins:
        return None
    config = context.config
    stale = market.is_stale(time.time(), float(config.get("stale_after", 900)))
    _state(context).stale_drawn = stale
    canvas, gap = draw_strip(coins, Style.from_config(config, market.currency), height, stale=stale)
    speed = float(config.get("speed", 30))
    # Keep the mode on screen until every coin has crossed the panel once.
    context.request_more_time(TICKER, (canvas.width + context.width) / speed)
    # A strip at least as wide as the panel loops seamlessly, coin gap after the last
    # coin; a short one leaves the panel before it comes back.
    return Strip(canvas=canvas, speed=speed, gap=gap if canvas.width >= context.width else None)


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    if mode != BOARD:
        return None  # the ticker draws strips; without data there is nothing to draw
    market, coins = _coins(context)
    if market is None or not coins:
        return None
    config = context.config
    state = _state(context)
    page = float(config.get("page_seconds", 5))
    count = len(coins)
    if frame == 0 or now < state.board_started:
        # A new turn: go on after the last coin shown (the first one, after a full turn),
        # and ask for time to show them all.
        state.board_started = now
        state.board_first = 0 if state.board_last is None else (state.board_last + 1) % count
        if count > 1:
            context.request_more_time(BOARD, count * page)
    elapsed = now - state.board_started
    index = (state.board_first + int(elapsed // page)) % count
    state.board_last = index
    draw_board(canvas, coins[index], Style.from_config(config, market.currency))
    stale_after = float(config.get("stale_after", 900))
    # The next frame: the next coin's page, or the moment the data turns old.
    delay: float | None = page - elapsed % page if count > 1 else None
    if market.is_stale(now, stale_after):
        canvas.mark_stale()
    else:
        turns_old = market.fetched_at + stale_after - now + 0.001
        delay = turns_old if delay is None else min(delay, turns_old)
    return delay
