"""The scoreboard's data: games parsed from ESPN's public scoreboard JSON, and how to pick them.

Everything here is pure (no network, no drawing, no clock of its own), so the odd shapes a
free, undocumented API produces can be tested with plain tables.

The payload of ``{base_url}/{sport}/{league}/scoreboard`` is a dict whose ``events`` list
holds one game each: ``id``, ``date`` (ISO 8601 in UTC, minutes only: ``2024-01-14T21:25Z``),
``name``, ``shortName``, a ``status`` (``type.state`` is ``pre``/``in``/``post``,
``type.completed``, ``type.shortDetail`` such as ``Final`` or ``4:12 - 3rd``, ``period``,
``displayClock``) and ``competitions[0].competitors``, two entries with ``homeAway``,
``score`` (a string) and a ``team`` (``abbreviation``, ``displayName``, ``color`` as hex
without ``#``, ``logo`` URL). Every field is read defensively: one odd event is skipped
rather than costing the whole league's scores.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sdk.canvas import RGB

__all__ = [
    "KNOWN_LEAGUES",
    "Board",
    "Game",
    "GameState",
    "Team",
    "follows",
    "games_for",
    "parse_scoreboard",
]

#: Leagues known to answer on ESPN's scoreboard endpoint; others of the same
#: ``sport/league`` form may work too (the schema suggests these, it does not limit them).
KNOWN_LEAGUES: tuple[str, ...] = (
    "football/nfl",
    "football/college-football",
    "basketball/nba",
    "basketball/wnba",
    "basketball/mens-college-basketball",
    "basketball/womens-college-basketball",
    "hockey/nhl",
    "baseball/mlb",
    "soccer/eng.1",
    "soccer/esp.1",
    "soccer/ger.1",
    "soccer/ita.1",
    "soccer/fra.1",
    "soccer/usa.1",
    "soccer/uefa.champions",
)

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


class GameState(Enum):
    """Where a game stands, from ESPN's ``status.type.state``."""

    PRE = "pre"
    LIVE = "in"
    POST = "post"


@dataclass(frozen=True, slots=True)
class Team:
    """One side of a game."""

    #: Upper case as ESPN writes it (2-4 letters), e.g. ``"KC"``.
    abbreviation: str
    #: ``displayName``, e.g. ``"Kansas City Chiefs"``.
    name: str
    #: ``shortDisplayName`` (``"Chiefs"``), or the name when absent.
    short_name: str
    #: The team's primary and alternate colours, ``None`` when absent or malformed.
    color: RGB | None
    alternate_color: RGB | None
    #: The logo's URL, ``None`` when absent.
    logo_url: str | None
    #: The score, ``None`` when absent or not a number.
    score: int | None
    #: ESPN's ``winner`` flag once a game is over; ``None`` when it does not say.
    winner: bool | None = None


@dataclass(frozen=True, slots=True)
class Game:
    """One game of one league."""

    id: str
    #: ``"sport/league"`` as configured, e.g. ``"football/nfl"``.
    league: str
    #: Kick-off, epoch seconds.
    start: float
    state: GameState
    #: ``status.type.completed``: false for a game that ended without a result (postponed).
    completed: bool
    #: ``status.type.shortDetail``: ``"Final"``, ``"4:12 - 3rd"``, ``"Halftime"``, ``"67'"``.
    detail: str
    #: ``status.period`` (quarter, half, inning...), 0 when absent.
    period: int
    #: ``status.displayClock``, ``""`` when absent.
    clock: str
    away: Team
    home: Team

    @property
    def sport(self) -> str:
        """``"football"`` of ``"football/nfl"``."""
        return self.league.partition("/")[0]

    @property
    def teams(self) -> tuple[Team, Team]:
        return (self.away, self.home)


@dataclass(frozen=True, slots=True)
class Board:
    """One league's answer: its games, and when that answer came from the network."""

    league: str
    games: tuple[Game, ...]
    #: Epoch seconds; set by the plugin from :attr:`sdk.Fetched.fetched_at`.
    fetched_at: float = 0.0
    #: Events in the answer that could not be read.
    skipped: int = 0


def parse_scoreboard(payload: Any, league: str) -> Board:
    """Read one league's scoreboard answer.

    Events that cannot be read (no two teams, no date...) are skipped and counted, and an
    event whose state is unknown and not completed is left out (it belongs to no mode).

    :raises ValueError: the answer is not a scoreboard at all (no ``events`` list), or it
        has events and not one of them could be read: a changed API, not a quiet day, so
        the last good answer should stay on screen.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
    events = payload.get("events")
    if not isinstance(events, list):
        raise ValueError("the answer has no 'events' list")
    games: list[Game] = []
    skipped = 0
    for event in events:
        try:
            game = _parse_event(event, league)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            skipped += 1
            continue
        if game is not None:
            games.append(game)
    if events and skipped == len(events):
        raise ValueError(f"none of the {len(events)} events could be read")
    return Board(league=league, games=tuple(games), skipped=skipped)


def _parse_event(event: Any, league: str) -> Game | None:
    competition = event["competitions"][0]
    status = event.get("status") or competition.get("status") or {}
    kind = status.get("type") or {}
    completed = kind.get("completed") is True
    raw_state = kind.get("state")
    if raw_state in ("pre", "in", "post"):
        state = GameState(raw_state)
    elif completed:
        state = GameState.POST
    else:
        return None
    sides: dict[str, Team] = {}
    competitors = competition["competitors"]
    for competitor in competitors:
        side = competitor.get("homeAway")
        if side in ("home", "away"):
            sides[side] = _parse_team(competitor)
    if len(sides) != 2:
        # Neutral-site data sometimes lacks homeAway: ESPN lists the home side first.
        if len(competitors) != 2:
            raise ValueError("a game needs exactly two competitors")
        sides = {"home": _parse_team(competitors[0]), "away": _parse_team(competitors[1])}
    return Game(
        id=str(event.get("id") or competition.get("id") or ""),
        league=league,
        start=_parse_date(event.get("date") or competition.get("date")),
        state=state,
        completed=completed,
        detail=_text(kind.get("shortDetail") or kind.get("detail") or kind.get("description")),
        period=_int(status.get("period")) or 0,
        clock=_text(status.get("displayClock")),
        away=sides["away"],
        home=sides["home"],
    )


def _parse_team(competitor: Mapping[str, Any]) -> Team:
    team = competitor.get("team") or {}
    name = _text(team.get("displayName") or team.get("name") or team.get("location"))
    abbreviation = _text(team.get("abbreviation")).upper()
    if not abbreviation:
        # A team without an abbreviation (some soccer cups) is shown by its initials.
        initials = "".join(word[0] for word in name.split() if word[:1].isalnum())
        abbreviation = initials[:4].upper()
    if not abbreviation:
        raise ValueError("a team has neither an abbreviation nor a name")
    winner = competitor.get("winner")
    return Team(
        abbreviation=abbreviation,
        name=name or abbreviation,
        short_name=_text(team.get("shortDisplayName")) or name or abbreviation,
        color=_color(team.get("color")),
        alternate_color=_color(team.get("alternateColor")),
        logo_url=_logo(team),
        score=_score(competitor.get("score")),
        winner=winner if isinstance(winner, bool) else None,
    )


def _parse_date(value: Any) -> float:
    if not isinstance(value, str) or not value:
        raise ValueError("a game has no date")
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _logo(team: Mapping[str, Any]) -> str | None:
    logo = team.get("logo")
    if not logo:
        # Some answers carry a list of logos instead of one URL.
        logos = team.get("logos")
        if isinstance(logos, list) and logos and isinstance(logos[0], Mapping):
            logo = logos[0].get("href")
    if isinstance(logo, str) and logo.startswith(("http://", "https://")):
        return logo
    return None


def _score(value: Any) -> int | None:
    """``"24"`` -> 24. Team-schedule answers give ``{"value": 24.0, "displayValue": "24"}``."""
    if isinstance(value, Mapping):
        value = value.get("displayValue", value.get("value"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _color(value: Any) -> RGB | None:
    if not isinstance(value, str):
        return None
    match = _HEX.fullmatch(value.strip())
    if match is None:
        return None
    digits = match.group(1)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


# -- choosing games ----------------------------------------------------------------------


def follows(game: Game, teams: Sequence[str]) -> bool:
    """Whether ``game`` involves a team of ``teams`` (every game when ``teams`` is empty).

    An entry is an abbreviation (``"KC"``, any chosen league) or ``"league:ABBR"``
    (``"nfl:KC"``) when an abbreviation means different teams in different leagues.
    """
    if not teams:
        return True
    slug = game.league.partition("/")[2]
    names = {game.away.abbreviation, game.home.abbreviation}
    for entry in teams:
        league, _, abbreviation = entry.upper().rpartition(":")
        if abbreviation in names and (not league or league == slug.upper()):
            return True
    return False


#: Which games each mode shows.
_MODE_STATES: dict[str, GameState] = {
    "live": GameState.LIVE,
    "recent": GameState.POST,
    "upcoming": GameState.PRE,
}


def games_for(
    mode: str, boards: Iterable[Board], teams: Sequence[str], limit: int
) -> tuple[Game, ...]:
    """The games ``mode`` pages through, in the order shown, at most ``limit``.

    Live games by kick-off, recent ones latest first, upcoming ones soonest first; games
    of several leagues are merged. A game listed twice (a range overlapping) counts once.
    """
    state = _MODE_STATES.get(mode)
    if state is None:
        return ()
    seen: set[tuple[str, str]] = set()
    chosen: list[Game] = []
    for board in boards:
        for game in board.games:
            key = (game.league, game.id or f"{game.start}:{game.away.abbreviation}")
            if game.state is state and key not in seen and follows(game, teams):
                seen.add(key)
                chosen.append(game)
    chosen.sort(key=lambda g: (g.start, g.league, g.id), reverse=state is GameState.POST)
    return tuple(chosen[:limit])
