"""What the small status line under the score says: clock and period, "Final", kick-off.

Each function returns candidates, most informative first; the layout shows the first one
that fits its room in a legible font. So a wide panel reads "Final  Sun 14 Jan" and a
64x32 one "Final", without the text ever being cut mid-glyph.

Kick-off times are shown in the user's time zone, from the game's UTC ``date``, not from
ESPN's ``shortDetail`` ("1/14 - 4:25 PM EST"), which is always in US Eastern time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from plugins_builtin.scoreboard.model import Game, GameState

__all__ = ["local", "status_candidates"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: What the period number is called, per sport, when ESPN sends no ``shortDetail``.
_PERIOD_PREFIX = {"football": "Q", "basketball": "Q", "hockey": "P", "baseball": "Inn "}


def local(epoch: float, zone: tzinfo | None) -> datetime:
    """``epoch`` as an aware datetime in ``zone`` (``None``: the Pi's local zone)."""
    return datetime.fromtimestamp(epoch, zone).astimezone(zone)


def status_candidates(
    game: Game, now: float, zone: tzinfo | None, *, twelve_hour: bool = False
) -> list[str]:
    """The status line's texts for ``game`` seen at ``now``, longest and richest first."""
    if game.state is GameState.LIVE:
        return _live(game)
    if game.state is GameState.POST:
        return _post(game, now, zone)
    return _pre(game, now, zone, twelve_hour)


def _live(game: Game) -> list[str]:
    compact = ""
    if game.sport == "soccer":
        compact = game.clock
    elif game.period:
        prefix = _PERIOD_PREFIX.get(game.sport, "P")
        clock = "" if game.sport == "baseball" else game.clock
        compact = f"{prefix}{game.period} {clock}".strip()
    return _unique([game.detail, compact, "LIVE"])


def _post(game: Game, now: float, zone: tzinfo | None) -> list[str]:
    detail = game.detail or ("Final" if game.completed else "")
    day = local(game.start, zone).date()
    today = local(now, zone).date()
    if day == today or not detail:
        return _unique([detail, "Final" if game.completed else ""])
    weekday, month = _WEEKDAYS[day.weekday()], _MONTHS[day.month - 1]
    return _unique(
        [
            f"{detail}  {weekday} {day.day} {month}",
            f"{detail} {day.day} {month}",
            f"{detail} {weekday}",
            detail,
        ]
    )


def _pre(game: Game, now: float, zone: tzinfo | None, twelve_hour: bool) -> list[str]:
    start = local(game.start, zone)
    today = local(now, zone).date()
    clock = _clock(start, twelve_hour)
    weekday, month = _WEEKDAYS[start.weekday()], _MONTHS[start.month - 1]
    # "TBD", "Postponed", "Delayed": a word, not a time, which beats any computed time.
    word = game.detail if game.detail and not any(c.isdigit() for c in game.detail) else ""
    if start.date() == today:
        days = ["Today", ""]
    elif start.date() == today + timedelta(days=1):
        days = ["Tomorrow", weekday]
    else:
        days = [
            f"{weekday} {start.day} {month}",
            f"{start.day} {month}",
            f"{start.day}/{start.month}",
        ]
    if word:
        return _unique([f"{d} {word}".strip() for d in days] + [word])
    return _unique([f"{d} {clock}".strip() for d in days])


def _clock(when: datetime, twelve_hour: bool) -> str:
    if twelve_hour:
        suffix = "AM" if when.hour < 12 else "PM"
        return f"{when.hour % 12 or 12}:{when.minute:02d} {suffix}"
    return f"{when.hour:02d}:{when.minute:02d}"


def _unique(texts: list[str]) -> list[str]:
    result: list[str] = []
    for text in texts:
        if text and text not in result:
            result.append(text)
    return result
