"""Coin prices as the plugin keeps them, parsed from CoinGecko, and formatted for a panel.

Pure data and pure functions: nothing here draws, fetches or reads the clock, so the
parsing and the number formatting are tested with plain values.

CoinGecko's ``/coins/markets`` answers with a JSON list, one object per coin it knows of
the ids asked for, ordered by market cap (not by the order asked). Any field but ``id``
may be ``null`` (a coin without a market has no price), so :func:`parse_markets` takes
what it can use and skips coins without a price; only an answer that is not a list of
objects with ids counts as the wrong shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CURRENCY_SYMBOLS",
    "Coin",
    "Market",
    "change_direction",
    "format_change",
    "format_number",
    "format_price",
    "parse_markets",
    "shown_coins",
]

#: Currencies written with a symbol before the number; every other one gets its code after.
CURRENCY_SYMBOLS: Mapping[str, str] = {"usd": "$", "eur": "€", "gbp": "£"}
#: Significant digits of a price below 1 in automatic formatting: 0.08123, 0.00001234.
_SIGNIFICANT = 4
#: More decimals than this would not fit any panel; such a price shows as 0.
_MAX_DECIMALS = 14


@dataclass(frozen=True, slots=True)
class Coin:
    """One coin's market data, as much of it as the plugin shows."""

    #: CoinGecko's id, e.g. ``"bitcoin"``: what the config names.
    id: str
    #: The ticker symbol in capitals, e.g. ``"BTC"``.
    symbol: str
    #: The display name, e.g. ``"Bitcoin"``.
    name: str
    #: The price in the market's currency.
    price: float
    #: The change over 24 hours in percent, or ``None`` when CoinGecko has none.
    change_24h: float | None = None
    #: Hourly prices of the last 7 days, oldest first (empty unless asked for).
    sparkline: tuple[float, ...] = ()
    #: CoinGecko's ``last_updated`` (ISO 8601), for the logs.
    last_updated: str | None = None


@dataclass(frozen=True, slots=True)
class Market:
    """One answer of CoinGecko: the coins, their currency, and when it came.

    The refresh thread builds a new one and swaps it in with one assignment; the render
    path only ever reads a complete one.
    """

    coins: tuple[Coin, ...]
    #: The ``vs_currency`` the prices are in, lower case (``"usd"``).
    currency: str
    #: When the answer came from the network (epoch seconds).
    fetched_at: float

    def coin(self, coin_id: str) -> Coin | None:
        """The coin with CoinGecko id ``coin_id``, or ``None`` if the answer lacks it."""
        return next((c for c in self.coins if c.id == coin_id), None)

    def is_stale(self, now: float, stale_after: float) -> bool:
        """Whether the data is older than ``stale_after`` seconds at ``now``."""
        return now - self.fetched_at > stale_after


def parse_markets(data: Any) -> tuple[Coin, ...]:
    """Turn the decoded JSON of ``/coins/markets`` into coins.

    :raises ValueError: the answer is not a list of objects with a string ``id`` (an
        error object such as ``{"status": {"error_code": 429}}``, HTML, ...). The SDK then
        keeps the last good answer instead.
    """
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of coins, got {type(data).__name__}")
    coins: list[Coin] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"item {index} is {type(item).__name__}, not an object")
        coin_id = item.get("id")
        if not isinstance(coin_id, str) or not coin_id:
            raise ValueError(f"item {index} has no string 'id'")
        price = _number(item.get("current_price"))
        if price is None:
            continue  # listed but not traded: nothing to show
        symbol = item.get("symbol")
        symbol = symbol.strip().upper() if isinstance(symbol, str) and symbol.strip() else coin_id
        name = item.get("name")
        change = _number(item.get("price_change_percentage_24h"))
        if change is None:
            change = _number(item.get("price_change_percentage_24h_in_currency"))
        updated = item.get("last_updated")
        coins.append(
            Coin(
                id=coin_id,
                symbol=symbol,
                name=name.strip() if isinstance(name, str) and name.strip() else symbol,
                price=price,
                change_24h=change,
                sparkline=_sparkline(item.get("sparkline_in_7d")),
                last_updated=updated if isinstance(updated, str) else None,
            )
        )
    return tuple(coins)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _sparkline(value: Any) -> tuple[float, ...]:
    prices = value.get("price") if isinstance(value, dict) else None
    if not isinstance(prices, list):
        return ()
    return tuple(p for p in (_number(v) for v in prices) if p is not None)


def shown_coins(market: Market | None, coin_ids: Sequence[str]) -> list[Coin]:
    """The coins to show, in the configured order; coins missing from the answer skipped."""
    if market is None:
        return []
    found = (market.coin(coin_id) for coin_id in coin_ids)
    return [coin for coin in found if coin is not None]


def format_number(value: float, decimals: int = -1) -> str:
    """A price without its currency, e.g. ``43,251``, ``142.37`` or ``0.0000123``.

    ``decimals`` >= 0 fixes the decimals (with thousands separators). ``-1`` chooses by
    size, so every price gets about four digits worth reading: 1000 and more as whole
    units with separators, 1 to 1000 with cents, below 1 with four significant digits
    (trailing zeros dropped, but at least two decimals).
    """
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    if decimals >= 0:
        text = f"{magnitude:,.{decimals}f}"
    elif round(magnitude, 2) >= 1000:
        text = f"{magnitude:,.0f}"
    elif round(magnitude, 2) >= 1 or magnitude == 0:
        text = f"{magnitude:,.2f}"
    else:
        places = _SIGNIFICANT - 1 - math.floor(math.log10(magnitude))
        if places > _MAX_DECIMALS:
            text = "0.00"
        else:
            rounded = round(magnitude, places)
            if rounded >= 1:  # 0.99996 -> 1.000: format as the 1 it became
                return sign + format_number(rounded)
            text = f"{rounded:.{places}f}".rstrip("0")
            text += "0" * max(0, 2 - len(text.partition(".")[2]))
    if float(text.replace(",", "")) == 0:
        sign = ""
    return sign + text


def format_price(value: float, currency: str, decimals: int = -1) -> str:
    """A price with its currency: ``$43,251``, ``€0.5234``, ``0.05234 BTC``."""
    number = format_number(value, decimals)
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    if symbol is None:
        return f"{number} {currency.upper()}"
    if number.startswith("-"):
        return f"-{symbol}{number[1:]}"
    return f"{symbol}{number}"


def format_change(percent: float) -> str:
    """The size of a change, without its sign (an arrow shows the direction): ``2.3%``.

    One decimal below 100 %, none above, so a coin that doubled stays short (``142%``).
    """
    magnitude = abs(percent)
    if round(magnitude, 1) >= 100:
        return f"{magnitude:,.0f}%"
    return f"{magnitude:.1f}%"


def change_direction(percent: float) -> int:
    """``1`` up, ``-1`` down, ``0`` for a change that shows as ``0.0%``."""
    shown = round(percent, 1)
    return 1 if shown > 0 else -1 if shown < 0 else 0
