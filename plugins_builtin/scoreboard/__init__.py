"""Scoreboard: live, recent and upcoming games of chosen leagues and teams, from ESPN.

An ordinary plugin that uses only :mod:`sdk`. ``refresh_data`` (the worker's background
thread) asks ESPN's public scoreboard once per league, ``{base_url}/{sport}/{league}/
scoreboard?dates=<from>-<to>``, parses the answer into immutable :class:`model.Board`
objects and swaps them in as one :class:`_Snapshot`; ``render_frame`` (the main thread)
only reads that reference, so it never waits on the network or sees half an update.

Three modes page through their games, a few seconds each: ``live`` (games under way),
``recent`` (finished) and ``upcoming`` (not started). While a favourite team plays, the
plugin interrupts the rotation with the live mode, renews that interrupt while the game
goes on and releases it when the game is over. Scores are refreshed every
``live_refresh`` seconds while a shown game is live and every ``refresh_interval``
seconds otherwise.

Modules: :mod:`.model` (parsing, choosing games), :mod:`.status` (the status line's
text), :mod:`.layout` (where things go), :mod:`.logos` (team logos), :mod:`.schema`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from plugins_builtin.scoreboard.layout import Bar, Label, LogoBox, Piece, Scene, arrange
from plugins_builtin.scoreboard.logos import LogoStore
from plugins_builtin.scoreboard.model import Board, Game, GameState, games_for, parse_scoreboard
from plugins_builtin.scoreboard.schema import CONFIG_SCHEMA, check_config
from plugins_builtin.scoreboard.status import local, status_candidates
from sdk import Canvas, FetchError, PluginContext, hookimpl, time_zone
from sdk.images import paste_centered

__all__ = ["CONFIG_SCHEMA", "MODES", "date_range", "scoreboard_url"]

#: Mode name -> (title, preferred seconds in the rotation).
MODES: dict[str, tuple[str, float]] = {
    "live": ("Live games", 20.0),
    "recent": ("Recent results", 15.0),
    "upcoming": ("Upcoming games", 15.0),
}
#: A scoreboard of many days of baseball runs to a few megabytes of JSON.
MAX_BYTES = 8 * 1024 * 1024
#: An upcoming game this close to its start (or past it, still "pre") is polled at the
#: live rate, so the live interrupt starts within a minute of kick-off.
_STARTING_WINDOW = 2 * 3600.0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything render needs from a refresh, swapped in as one reference."""

    boards: tuple[Board, ...]


@dataclass
class _Cycle:
    """One pass of a mode through its games (render thread only)."""

    #: ``now`` of the pass's first frame.
    start: float
    #: Index of the game the pass began with.
    offset: int
    #: How many games the mode had when the pass began.
    count: int
    #: How many games of the pass have been on screen.
    pages: int = 1


@dataclass
class _State:
    """The plugin's state in its worker; recreated by ``setup``.

    ``snapshot`` is written by the refresh thread and read by the render thread (one
    reference, replaced whole); ``cycles`` belongs to the render thread and
    ``interrupt_until`` to the refresh thread.
    """

    logos: LogoStore = field(default_factory=LogoStore)
    snapshot: _Snapshot | None = None
    #: Each mode's current pass through its games.
    cycles: dict[str, _Cycle] = field(default_factory=dict)
    #: When the live interrupt we asked for ends (wall clock), ``None`` when none is held.
    interrupt_until: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def _now() -> float:
    """The wall clock of the refresh thread (a function so tests can move time)."""
    return time.time()


def scoreboard_url(base_url: str, league: str) -> str:
    """``{base_url}/{sport}/{league}/scoreboard``."""
    return f"{base_url.rstrip('/')}/{league.strip('/')}/scoreboard"


def date_range(now: float, timezone: str, recent_days: int, upcoming_days: int) -> str:
    """ESPN's ``dates`` parameter: ``YYYYMMDD-YYYYMMDD`` around today in ``timezone``."""
    today = local(now, time_zone(timezone)).date()
    first = today - timedelta(days=recent_days)
    last = today + timedelta(days=upcoming_days)
    if first == last:
        return first.strftime("%Y%m%d")
    return f"{first:%Y%m%d}-{last:%Y%m%d}"


# -- hooks -------------------------------------------------------------------------------


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    for name, (title, duration) in MODES.items():
        register(name, title=title, duration=duration)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    global _state
    check_config(context.config)
    _state = _State(logos=LogoStore(context.log))


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    check_config(config)
    with _state.lock:
        if config.get("live_priority", 0) <= 0 and _state.interrupt_until is not None:
            context.release_interrupt("live")
            _state.interrupt_until = None


@hookimpl
def teardown(context: PluginContext) -> None:
    with _state.lock:
        if _state.interrupt_until is not None:
            context.release_interrupt("live")
            _state.interrupt_until = None


@hookimpl
def refresh_data(context: PluginContext) -> float:
    config = context.config
    now = _now()
    params = {
        "dates": date_range(
            now, str(config["timezone"]), int(config["recent_days"]), int(config["upcoming_days"])
        )
    }
    previous = {} if _state.snapshot is None else {b.league: b for b in _state.snapshot.boards}
    boards: list[Board] = []
    fresh: set[str] = set()
    failed = False
    for league in config["leagues"]:
        try:
            fetched = context.fetch_json(
                scoreboard_url(str(config["base_url"]), league),
                params=params,
                parse=functools.partial(parse_scoreboard, league=league),
                timeout=float(config["timeout"]),
                max_bytes=MAX_BYTES,
            )
        except FetchError as exc:
            failed = True
            if league in previous:
                boards.append(previous[league])
            kept = "keeping the last scores" if league in previous else "nothing to show yet"
            context.log.warning("%s: no scores (%s); %s", league, exc, kept)
            continue
        board: Board = dataclasses.replace(fetched.value, fetched_at=fetched.fetched_at)
        if board.skipped:
            context.log.info("%s: %d unreadable events left out", league, board.skipped)
        boards.append(board)
        if fetched.stale:
            failed = True  # the SDK logged why; the last good answer stands in
        else:
            fresh.add(league)
    if boards:
        _state.snapshot = _Snapshot(tuple(boards))
    # Also after a failure: the frame may need its stale mark now.
    context.request_redraw()

    if config["logos"] and _state.snapshot is not None:
        urls = [
            team.logo_url
            for mode in MODES
            for game in _games(mode, config, _state.snapshot)
            for team in game.teams
            if team.logo_url
        ]
        if _state.logos.fetch(context, urls, float(config["timeout"])):
            context.request_redraw()

    _update_interrupt(context, boards, fresh, now)
    return _next_refresh(config, boards, now, failed)


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool:
    snapshot = _state.snapshot
    return snapshot is not None and bool(_games(mode, context.config, snapshot))


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    snapshot = _state.snapshot
    if mode not in MODES or snapshot is None:
        return None
    config = context.config
    games = _games(mode, config, snapshot)
    if not games:
        return None
    game, delay = _page(context, mode, games, frame, now)
    scene = Scene(
        game=game,
        status=status_candidates(
            game,
            now,
            time_zone(str(config["timezone"])),
            twelve_hour=config["time_format"] == "12h",
        ),
        logos=frozenset(_state.logos.images) if config["logos"] else frozenset(),
        home_first=bool(config["home_first"]),
    )
    _draw(canvas, arrange(scene, canvas.width, canvas.height), _state.logos)
    if _is_stale(game, snapshot, config, now):
        canvas.mark_stale()
    return delay


# -- helpers -----------------------------------------------------------------------------


def _page(
    context: PluginContext, mode: str, games: Sequence[Game], frame: int, now: float
) -> tuple[Game, float]:
    """The game on screen at ``now`` and the seconds until the next one.

    Each activation of a mode (frame 0) starts a cycle through all its games and asks the
    host to keep the mode on screen until the cycle is done. When the rotation cut the
    last cycle short anyway (``rotation.max_dwell``), the next one resumes with the first
    game not shown, so every game gets its turn.
    """
    page = float(context.config["page_seconds"])
    count = len(games)
    cycle = _state.cycles.get(mode)
    if frame == 0 or cycle is None or now < cycle.start:
        offset = 0
        if cycle is not None and cycle.pages < cycle.count:
            offset = (cycle.offset + cycle.pages) % count
        cycle = _state.cycles[mode] = _Cycle(start=now, offset=offset, count=count)
        if count > 1:
            context.request_more_time(mode, count * page)
    elapsed = now - cycle.start
    step = int(elapsed // page)
    cycle.pages = max(cycle.pages, step + 1)
    return games[(cycle.offset + step) % count], page - elapsed % page


def _games(mode: str, config: Mapping[str, Any], snapshot: _Snapshot) -> tuple[Game, ...]:
    leagues = set(config["leagues"])
    boards = [b for b in snapshot.boards if b.league in leagues]
    return games_for(mode, boards, list(config["teams"]), int(config["max_games"]))


def _is_stale(game: Game, snapshot: _Snapshot, config: Mapping[str, Any], now: float) -> bool:
    """Live scores are old after ``stale_after``; other games only once a whole refresh
    is missing as well, since they are refreshed every ``refresh_interval`` anyway."""
    fetched_at = next((b.fetched_at for b in snapshot.boards if b.league == game.league), now)
    limit = float(config["stale_after"])
    if game.state is not GameState.LIVE:
        limit += float(config["refresh_interval"])
    return now - fetched_at > limit


def _update_interrupt(
    context: PluginContext, boards: Sequence[Board], fresh: set[str], now: float
) -> None:
    """Ask for the live interrupt when a favourite's game is live, renew it, release it.

    Only fresh answers decide. With the network down the game may or may not still be on:
    the interrupt is then neither renewed nor released, and runs out on its own.
    """
    config = context.config
    teams = list(config["teams"])
    live = games_for("live", boards, teams, 1_000)
    live_now = any(g.league in fresh for g in live)
    unknown = any(g.league not in fresh for g in live)
    priority = int(config["live_priority"])
    live_refresh = float(config["live_refresh"])
    seconds = 4 * live_refresh
    with _state.lock:
        held = _state.interrupt_until is not None and _state.interrupt_until > now
        if live_now and priority > 0:
            # Renew with two refreshes to spare, so one slow refresh cannot let it lapse.
            if not held or (_state.interrupt_until or 0) - now < 2 * live_refresh:
                context.request_interrupt("live", priority=priority, seconds=seconds)
                _state.interrupt_until = now + seconds
        elif held and not unknown:
            context.release_interrupt("live")
            _state.interrupt_until = None
        elif not held:
            _state.interrupt_until = None


def _next_refresh(
    config: Mapping[str, Any], boards: Sequence[Board], now: float, failed: bool
) -> float:
    """Seconds to the next refresh: the live rate while a shown game is live or about to
    start, the normal rate otherwise, and a retry within a minute while a league's fetch
    fails (with or without a cached answer standing in)."""
    interval = float(config["refresh_interval"])
    live_refresh = min(interval, float(config["live_refresh"]))
    teams = list(config["teams"])
    delay = interval
    if games_for("live", boards, teams, 1):
        delay = live_refresh
    else:
        for game in games_for("upcoming", boards, teams, 1_000):
            until = game.start - now
            if -_STARTING_WINDOW < until < interval:
                delay = min(delay, max(live_refresh, until))
    if failed:
        delay = min(delay, 60.0)
    return delay


def _draw(canvas: Canvas, pieces: Sequence[Piece], logos: LogoStore) -> None:
    for piece in pieces:
        if isinstance(piece, Bar):
            if piece.x1 > piece.x0 and piece.y1 > piece.y0:
                canvas.draw.rectangle(
                    (piece.x0, piece.y0, piece.x1 - 1, piece.y1 - 1), fill=piece.color
                )
        elif isinstance(piece, LogoBox):
            image = logos.scaled(piece.url, piece.width, piece.height)
            if image is not None:
                paste_centered(canvas, image, (piece.x, piece.y, piece.width, piece.height))
        elif isinstance(piece, Label):
            canvas.text(piece.x, piece.y, piece.text, piece.font, piece.color)
