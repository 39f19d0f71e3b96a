"""The builtin scoreboard plugin against hand-recorded ESPN answers on a local HTTP server.

Golden images live in ``tests/golden/scoreboard/``; after an intended change of the look,
regenerate and review them with::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_scoreboard.py

Team logos are small PNGs drawn by :func:`logo_png` (a disc in the team's colour with a
triangle in its alternate colour) and served where the recorded answers say ESPN's are.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image, ImageDraw

from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin import scoreboard
from plugins_builtin.scoreboard import layout, model, status
from plugins_builtin.scoreboard.model import Board, GameState, parse_scoreboard
from sdk import Canvas, PluginConfigError
from sdk.canvas import STALE_COLOR
from sdk.testing import PluginRunner
from tests.golden import PANEL_SIZES, assert_golden, size_id
from tests.httpserver import RECORDED, RecordedServer

NFL, NBA, EPL = "football/nfl", "basketball/nba", "soccer/eng.1"
RECORDINGS = {NFL: "nfl_day.json", NBA: "nba_live.json", EPL: "soccer_eng1.json"}
CDN = "https://a.espncdn.com"
#: Sunday 14 January 2024, 17:40 in New York: GB @ DAL under way, MIA @ KC over since
#: the night before, LAR @ DET at 20:15 tonight.
NOW = datetime(2024, 1, 14, 22, 40, tzinfo=UTC).timestamp()
TZ = "America/New_York"
ESPN = "https://site.api.espn.com/apis/site/v2/sports"


def recorded(league: str) -> Any:
    return json.loads((RECORDED / "espn" / RECORDINGS[league]).read_text())


def path_of(league: str) -> str:
    return f"/{league}/scoreboard"


def logo_png(color: str, alternate: str) -> bytes:
    """A 64x64 logo with a transparent margin: a disc and a triangle, in two colours."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, 59, 59), fill=f"#{color}")
    draw.polygon([(32, 14), (50, 46), (14, 46)], fill=f"#{alternate}")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def serve_league(server: RecordedServer, league: str, data: Any | None = None, **route: Any) -> Any:
    """Serve ``league``'s recorded answer (or ``data``) with logos pointing at ``server``."""
    data = copy.deepcopy(recorded(league) if data is None else data)
    for event in data.get("events", []):
        for competitor in event["competitions"][0]["competitors"]:
            team = competitor["team"]
            if team.get("logo", "").startswith(CDN):
                path = team["logo"][len(CDN) :]
                team["logo"] = server.url + path
                png = logo_png(team["color"], team["alternateColor"])
                server.serve(path, png, content_type="image/png")
    server.serve(path_of(league), data, **route)
    return data


def logo_requests(server: RecordedServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seen in server.requests_to_prefix("/i/teamlogos/"):
        counts[seen.path] = counts.get(seen.path, 0) + 1
    return counts


def lit(pixels: np.ndarray) -> np.ndarray:
    return pixels.any(axis=2)


def is_marked_stale(pixels: np.ndarray) -> bool:
    return tuple(int(c) for c in pixels[0, -1]) == STALE_COLOR


@pytest.fixture
def espn(http_server: RecordedServer) -> RecordedServer:
    """The local server answering for the NFL, NBA and Premier League, logos included."""
    for league in RECORDINGS:
        serve_league(http_server, league)
    return http_server


@pytest.fixture
def open_runner(tmp_path: Path) -> Iterator[Callable[..., PluginRunner]]:
    """``open_runner(server, size, **config)``: a started runner, closed after the test."""
    runners: list[PluginRunner] = []

    def start(
        server: RecordedServer,
        size: tuple[int, int] = (64, 32),
        *,
        data_dir: Path | None = None,
        **config: Any,
    ) -> PluginRunner:
        options = {"base_url": server.url, "timezone": TZ, "timeout": 2.0, **config}
        folder = data_dir or tmp_path / f"data{len(runners)}"
        runner = PluginRunner(scoreboard, size=size, config=options, data_dir=folder)
        runners.append(runner)
        # Retries still happen, without seconds of backoff between them.
        runner.context.fetcher.backoff = 0.01
        runner.start()
        return runner

    yield start
    for runner in runners:
        runner.close()


# --- the plugin's shape ----------------------------------------------------------------


def test_scoreboard_registers_three_modes_and_a_documented_schema(espn: RecordedServer) -> None:
    with PluginRunner(scoreboard, config={"base_url": espn.url}) as runner:
        assert list(runner.modes) == ["live", "recent", "upcoming"]
        assert runner.schema is not None
        for key, prop in runner.schema["properties"].items():
            assert {"default", "title", "description"} <= prop.keys(), key
        assert runner.schema["properties"]["base_url"]["default"] == (
            "https://site.api.espn.com/apis/site/v2/sports"
        )
        assert runner.config["refresh_interval"] == 600
        assert runner.config["stale_after"] == 300
        assert runner.config["live_refresh"] == 60
        assert "soccer/eng.1" in runner.schema["properties"]["leagues"]["description"]


def test_scoreboard_is_a_builtin_entry_point(test_specs: dict[str, PluginSpec]) -> None:
    assert "scoreboard" in test_specs


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"leagues": ["nfl"]}, "leagues"),
        ({"leagues": []}, "leagues"),
        ({"leagues": ["football/NFL"]}, "leagues"),
        ({"teams": ["Kansas City"]}, "teams"),
        ({"recent_days": 30}, "recent_days"),
        ({"live_priority": -1}, "live_priority"),
        ({"time_format": "hh:mm"}, "time_format"),
    ],
)
def test_scoreboard_config_outside_the_schema_is_refused_naming_the_key(
    config: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        PluginRunner(scoreboard, config=config)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, r"timezone: unknown time zone 'Mars/Olympus_Mons'"),
        ({"teams": ["nba:MIA"]}, r"teams: 'nba:MIA' names the league 'nba'.*add it there"),
    ],
)
def test_scoreboard_setup_names_the_key_and_the_fix(
    espn: RecordedServer, config: dict[str, Any], match: str
) -> None:
    runner = PluginRunner(scoreboard, config={"base_url": espn.url, **config})
    with pytest.raises(PluginConfigError, match=match):
        runner.start()
    runner.close()
    with PluginRunner(scoreboard, config={"base_url": espn.url}) as good:
        with pytest.raises(PluginConfigError, match=match):
            good.configure({"base_url": espn.url, **config})


# --- requests --------------------------------------------------------------------------


def test_scoreboard_asks_each_league_once_with_the_date_range(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    before = scoreboard.date_range(time.time(), TZ, 2, 5)
    open_runner(espn, leagues=[NFL, NBA, EPL], recent_days=2, upcoming_days=5)
    after = scoreboard.date_range(time.time(), TZ, 2, 5)
    for league in (NFL, NBA, EPL):
        (seen,) = espn.requests_to(path_of(league))
        assert seen.query["dates"][0] in {before, after}
    assert not espn.requests_to(path_of("hockey/nhl"))


@pytest.mark.parametrize(
    ("base", "league", "url"),
    [
        (ESPN, NFL, f"{ESPN}/{NFL}/scoreboard"),
        ("http://mirror.lan/espn/", "soccer/uefa.champions", "http://mirror.lan/espn/soccer/uefa.champions/scoreboard"),
    ],
)  # fmt: skip
def test_scoreboard_url_per_league(base: str, league: str, url: str) -> None:
    assert scoreboard.scoreboard_url(base, league) == url


@pytest.mark.parametrize(
    ("iso", "tz", "back", "ahead", "expected"),
    [
        ("2024-01-14T22:40Z", TZ, 1, 7, "20240113-20240121"),
        ("2024-01-14T22:40Z", TZ, 0, 0, "20240114"),
        # 02:00 UTC is still the evening before in New York, already morning in Berlin.
        ("2024-01-15T02:00Z", TZ, 0, 1, "20240114-20240115"),
        ("2024-01-15T02:00Z", "Europe/Berlin", 0, 1, "20240115-20240116"),
        ("2024-02-28T12:00Z", "UTC", 0, 2, "20240228-20240301"),
    ],
)
def test_scoreboard_date_range(iso: str, tz: str, back: int, ahead: int, expected: str) -> None:
    now = datetime.fromisoformat(iso).timestamp()
    assert scoreboard.date_range(now, tz, back, ahead) == expected


# --- parsing ---------------------------------------------------------------------------


def test_scoreboard_parses_the_recorded_nfl_day() -> None:
    board = parse_scoreboard(recorded(NFL), NFL)
    assert board.skipped == 0
    final, live, pre = board.games
    assert (final.state, final.completed, final.detail) == (GameState.POST, True, "Final")
    assert (final.away.abbreviation, final.away.score, final.home.abbreviation) == ("MIA", 7, "KC")
    assert (final.home.score, final.home.winner, final.away.winner) == (26, True, False)
    assert (live.state, live.detail, live.period, live.clock) == (
        GameState.LIVE,
        "4:12 - 3rd",
        3,
        "4:12",
    )
    assert live.away.name == "Green Bay Packers" and live.away.short_name == "Packers"
    assert live.home.color == (0x00, 0x2A, 0x5C)
    assert live.home.logo_url == f"{CDN}/i/teamlogos/nfl/500/scoreboard/dal.png"
    assert pre.state is GameState.PRE
    assert pre.start == datetime(2024, 1, 15, 1, 15, tzinfo=UTC).timestamp()


def _event(**changes: Any) -> dict[str, Any]:
    """The recorded live NFL event, changed: ``score_home=None`` drops the key, etc."""
    event = copy.deepcopy(recorded(NFL)["events"][1])
    competitors = event["competitions"][0]["competitors"]
    home, away = competitors
    for key, value in changes.items():
        if key == "state":
            event["status"]["type"]["state"] = value
        elif key == "completed":
            event["status"]["type"]["completed"] = value
        elif key == "status":
            event["status"] = value
            event["competitions"][0]["status"] = value
        elif key == "no_event_status":
            event.pop("status")
        elif key.startswith(("home_", "away_")):
            side, _, field = key.partition("_")
            target = home if side == "home" else away
            holder = target if field in ("score", "homeAway", "winner") else target["team"]
            if value is None:
                holder.pop(field, None)
            else:
                holder[field] = value
        else:
            event[key] = value
    return event


def _one(event: Any) -> model.Game | None:
    board = parse_scoreboard({"events": [event, recorded(NFL)["events"][0]]}, NFL)
    return next((g for g in board.games if g.id == "401547376"), None)


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"home_score": None}, lambda g: g.home.score is None and g.away.score == 41),
        ({"home_score": ""}, lambda g: g.home.score is None),
        ({"home_score": {"value": 17.0, "displayValue": "17"}}, lambda g: g.home.score == 17),
        ({"home_score": 3}, lambda g: g.home.score == 3),
        ({"home_logo": None}, lambda g: g.home.logo_url is None),
        ({"home_logo": "not a url"}, lambda g: g.home.logo_url is None),
        (
            {"home_logo": None, "home_logos": [{"href": "https://x.test/d.png"}]},
            lambda g: g.home.logo_url == "https://x.test/d.png",
        ),
        ({"home_color": "navy"}, lambda g: g.home.color is None),
        ({"home_color": None}, lambda g: g.home.color is None),
        ({"away_abbreviation": "gbay"}, lambda g: g.away.abbreviation == "GBAY"),
        (
            {"away_abbreviation": "TOOLONG"},
            lambda g: g.away.abbreviation == "TOOLONG" and layout.abbreviation(g.away) == "TOOLO",
        ),
        ({"away_abbreviation": None}, lambda g: g.away.abbreviation == "GBP"),
        ({"away_shortDisplayName": None}, lambda g: g.away.short_name == "Green Bay Packers"),
        ({"state": "post", "completed": True}, lambda g: g.state is GameState.POST),
        ({"state": "delayed", "completed": True}, lambda g: g.state is GameState.POST),
        ({"state": "delayed"}, lambda g: g is None),
        ({"state": None}, lambda g: g is None),
        ({"no_event_status": True}, lambda g: g.state is GameState.LIVE),
        ({"date": "2024-01-14T21:30:00+00:00"}, lambda g: g.start == 1705267800.0),
        ({"date": "2024-01-14T21:30"}, lambda g: g.start == 1705267800.0),
        (
            {"home_homeAway": None, "away_homeAway": None},
            lambda g: (g.home.abbreviation, g.away.abbreviation) == ("DAL", "GB"),
        ),
    ],
)
def test_scoreboard_reads_odd_events(changes: dict[str, Any], check: Any) -> None:
    assert check(_one(_event(**changes)))


@pytest.mark.parametrize(
    "broken",
    [
        {"competitions": []},
        {"competitions": None},
        {"competitions": [{"competitors": [], "date": "2024-01-14T21:30Z"}]},
        {"date": "yesterday"},
        {"home_abbreviation": None, "home_displayName": None, "home_name": None,
         "home_location": None},
    ],
)  # fmt: skip
def test_scoreboard_skips_an_unreadable_event_and_keeps_the_rest(broken: dict[str, Any]) -> None:
    board = parse_scoreboard({"events": [_event(**broken), recorded(NFL)["events"][0]]}, NFL)
    assert board.skipped == 1
    assert [g.id for g in board.games] == ["401547378"]


@pytest.mark.parametrize(
    "payload",
    [[], "events", None, {}, {"events": None}, {"events": {}}, {"events": [1, "two"]}],
    ids=["list", "string", "null", "no-events", "null-events", "dict-events", "junk-events"],
)
def test_scoreboard_rejects_an_answer_of_the_wrong_shape(payload: Any) -> None:
    with pytest.raises(ValueError):
        parse_scoreboard(payload, NFL)


def test_scoreboard_empty_schedule_parses_to_no_games() -> None:
    data = json.loads((RECORDED / "espn" / "empty.json").read_text())
    assert parse_scoreboard(data, NFL) == Board(league=NFL, games=())


# --- choosing games --------------------------------------------------------------------


def _boards() -> list[Board]:
    return [parse_scoreboard(recorded(league), league) for league in RECORDINGS]


@pytest.mark.parametrize(
    ("mode", "teams", "expected"),
    [
        ("live", [], ["GB@DAL", "BOS@LAL", "LIV@ARS"]),
        ("recent", [], ["MNC@LUT", "MIA@KC"]),
        ("upcoming", [], ["LAR@DET"]),
        ("live", ["gb"], ["GB@DAL"]),
        ("live", ["nfl:DAL", "eng.1:ARS"], ["GB@DAL", "LIV@ARS"]),
        ("live", ["nba:DAL"], []),
        ("recent", ["KC", "BOS"], ["MIA@KC"]),
        ("upcoming", ["KC"], []),
        ("sideways", [], []),
    ],
)
def test_scoreboard_games_of_each_mode(mode: str, teams: list[str], expected: list[str]) -> None:
    games = model.games_for(mode, _boards(), teams, 10)
    assert [f"{g.away.abbreviation}@{g.home.abbreviation}" for g in games] == expected


def test_scoreboard_games_are_capped_and_counted_once() -> None:
    boards = _boards()
    assert len(model.games_for("live", boards + boards, [], 10)) == 3
    assert len(model.games_for("live", boards, [], 2)) == 2


# --- the status line -------------------------------------------------------------------


def _game(recording: str, index: int, **changes: Any) -> model.Game:
    game = parse_scoreboard(recorded(recording), recording).games[index]
    return dataclasses.replace(game, **changes)


@pytest.mark.parametrize(
    ("game", "now", "tz", "twelve", "expected"),
    [
        (_game(NFL, 1), NOW, TZ, False, ["4:12 - 3rd", "Q3 4:12", "LIVE"]),
        (_game(NFL, 1, detail=""), NOW, TZ, False, ["Q3 4:12", "LIVE"]),
        (_game(EPL, 0), NOW, TZ, False, ["67'", "LIVE"]),
        (_game(NFL, 1, detail="", league="baseball/mlb", period=5), NOW, TZ, False,
         ["Inn 5", "LIVE"]),
        (_game(NFL, 1, detail="", league="hockey/nhl", period=2), NOW, TZ, False,
         ["P2 4:12", "LIVE"]),
        # Final at 01:00 UTC on the 14th: the evening of Saturday the 13th in New York.
        (_game(NFL, 0), NOW, TZ, False,
         ["Final  Sat 13 Jan", "Final 13 Jan", "Final Sat", "Final"]),
        (_game(NFL, 0), NOW, "Europe/Berlin", False, ["Final"]),
        (_game(NFL, 0, completed=False, detail="Postponed"), NOW, "Europe/Berlin", False,
         ["Postponed"]),
        (_game(NFL, 2), NOW, TZ, False, ["Today 20:15", "20:15"]),
        (_game(NFL, 2), NOW, TZ, True, ["Today 8:15 PM", "8:15 PM"]),
        (_game(NFL, 2), NOW, "Europe/London", False, ["Tomorrow 01:15", "Mon 01:15"]),
        (_game(NFL, 2), NOW - 3 * 86400, TZ, False,
         ["Sun 14 Jan 20:15", "14 Jan 20:15", "14/1 20:15"]),
        (_game(NFL, 2, detail="TBD"), NOW, TZ, False, ["Today TBD", "TBD"]),
    ],
)  # fmt: skip
def test_scoreboard_status_line_candidates(
    game: model.Game, now: float, tz: str, twelve: bool, expected: list[str]
) -> None:
    assert status.status_candidates(game, now, ZoneInfo(tz), twelve_hour=twelve) == expected


# --- frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_scoreboard_goldens(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner], size: tuple[int, int]
) -> None:
    runner = open_runner(espn, size)
    for mode in ("live", "recent", "upcoming"):
        frame = runner.render_frame(mode, now=NOW)
        assert not is_marked_stale(frame.pixels)
        assert_golden(f"scoreboard/{mode}_{size_id(size)}", frame.pixels)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_scoreboard_three_digit_scores_and_a_missing_logo_goldens(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner], size: tuple[int, int]
) -> None:
    runner = open_runner(espn, size, leagues=[NBA, EPL], home_first=True)
    assert_golden(
        f"scoreboard/nba_live_{size_id(size)}", runner.render_frame("live", now=NOW).pixels
    )
    # Luton Town's logo is missing from the answer: Manchester City's is drawn alone.
    recent = runner.render_frame("recent", now=NOW).pixels
    assert_golden(f"scoreboard/soccer_recent_{size_id(size)}", recent)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("mode", ["live", "recent", "upcoming"])
def test_scoreboard_keeps_every_piece_on_the_panel(size: tuple[int, int], mode: str) -> None:
    """Verify no text is clipped and no logo spills, for every recorded game and size."""
    width, height = size
    for game in model.games_for(mode, _boards(), [], 10):
        urls = frozenset(t.logo_url for t in game.teams if t.logo_url)
        texts = status.status_candidates(game, NOW, ZoneInfo(TZ))
        for home_first in (False, True):
            scene = layout.Scene(game, tuple(texts), urls, home_first)
            pieces = layout.arrange(scene, width, height)
            labels = [p for p in pieces if isinstance(p, layout.Label)]
            home_names = {layout.abbreviation(game.home), game.home.short_name}
            assert any(p.text in home_names for p in labels), pieces
            for piece in labels:
                box = piece.font.ink_box(piece.text)
                assert box is not None
                assert 0 <= piece.x + box[0] and piece.x + box[2] <= width, piece
                assert 0 <= piece.y + box[1] and piece.y + box[3] <= height, piece
                assert piece.font.height >= 6
            for piece in pieces:
                if isinstance(piece, layout.LogoBox):
                    assert 0 <= piece.x and piece.x + piece.width <= width
                    assert 0 <= piece.y and piece.y + piece.height <= height
            if game.state is not GameState.PRE:
                fonts = [p.font for p in labels if p.text.isdigit()]
                assert fonts and min(f.height for f in fonts) >= 13, "scores are large or more"


def test_scoreboard_draws_logos_only_where_the_score_stays_large(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    game = _game(NFL, 1)
    urls = frozenset(t.logo_url for t in game.teams if t.logo_url)
    expected = {(64, 32): False, (128, 32): False, (128, 64): True, (256, 64): True}
    for (width, height), drawn in expected.items():
        pieces = layout.arrange(layout.Scene(game, ("LIVE",), urls), width, height)
        assert any(isinstance(p, layout.LogoBox) for p in pieces) is drawn, (width, height)
    # The option turns them off.
    with_logos = open_runner(espn, (128, 64)).render_frame("live", now=NOW).pixels
    without = open_runner(espn, (128, 64), logos=False).render_frame("live", now=NOW).pixels
    assert not np.array_equal(with_logos, without)


def test_scoreboard_broken_logos_are_left_out(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    serve_league(http_server, NFL)
    http_server.serve("/i/teamlogos/nfl/500/scoreboard/gb.png", b"\x89PNG not really")
    http_server.serve("/i/teamlogos/nfl/500/scoreboard/dal.png", b"", status=404)
    runner = open_runner(http_server, (128, 64))
    # Each failure ends a round of logo fetches (the network may be down): GB's ended the
    # first, DAL's the second; the third gets the rest.
    runner.refresh()
    runner.refresh()
    fetched = {url.rpartition("/")[2] for url in scoreboard._state.logos.images}
    assert fetched == {"kc.png", "mia.png", "lar.png", "det.png"}
    runner.refresh()
    assert logo_requests(http_server)["/i/teamlogos/nfl/500/scoreboard/gb.png"] == 1, (
        "a broken logo rests for an hour"
    )
    frame = runner.render_frame("live", now=NOW).pixels
    plain = open_runner(http_server, (128, 64), logos=False).render_frame("live", now=NOW).pixels
    assert np.array_equal(frame, plain), "GB @ DAL is drawn as if logos were off"
    assert runner.has_content("live")


def test_scoreboard_fetches_each_logo_once_then_uses_the_disk_cache(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner], tmp_path: Path
) -> None:
    folder = tmp_path / "kept"
    runner = open_runner(espn, (128, 64), leagues=[NFL], data_dir=folder)
    first = logo_requests(espn)
    assert sorted(first) == [
        f"/i/teamlogos/nfl/500/scoreboard/{t}.png" for t in ("dal", "det", "gb", "kc", "lar", "mia")
    ]
    assert set(first.values()) == {1}
    runner.refresh()
    runner.refresh()
    assert logo_requests(espn) == first, "in memory: no new requests"
    frame = runner.render_frame("live", now=NOW).pixels
    runner.close()
    # A restarted worker (same data folder) reads them from the SDK's disk cache.
    again = open_runner(espn, (128, 64), leagues=[NFL], data_dir=folder)
    assert logo_requests(espn) == first, "a week-long max_age: no new requests"
    assert np.array_equal(again.render_frame("live", now=NOW).pixels, frame)
    assert len(espn.requests_to(path_of(NFL))) == 4, "scores are asked for every time"


def test_scoreboard_asks_for_a_redraw_after_every_refresh(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    """Verify new scores reach the panel, and so does the stale mark after a failure."""
    runner = open_runner(espn, logos=False)
    assert runner.requests.redraws == [None]
    espn.serve(path_of(NFL), b"", status=500)
    runner.refresh()
    assert runner.requests.redraws == [None, None]


# --- paging ----------------------------------------------------------------------------


def test_scoreboard_pages_through_games_and_asks_for_a_full_turn(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    runner = open_runner(espn, (64, 32), leagues=[NFL, NBA, EPL], page_seconds=4)
    first = runner.render_frame("live", now=NOW, frame=0)
    assert runner.requests.more_time == [("live", 12.0)]
    assert first.delay == pytest.approx(4.0)
    middle = runner.render_frame("live", now=NOW + 1.5, frame=1)
    assert np.array_equal(middle.pixels, first.pixels)
    assert middle.delay == pytest.approx(2.5)
    second = runner.render_frame("live", now=NOW + 4, frame=2).pixels
    third = runner.render_frame("live", now=NOW + 8, frame=3).pixels
    again = runner.render_frame("live", now=NOW + 12, frame=4).pixels
    assert len({a.tobytes() for a in (first.pixels, second, third)}) == 3
    assert np.array_equal(again, first.pixels), "the turn goes round"
    # One game: nothing to page, no more time asked for.
    single = open_runner(espn, (64, 32), leagues=[NFL])
    single.render_frame("live", now=NOW, frame=0)
    assert single.requests.more_time == []


def test_scoreboard_turn_cut_short_resumes_with_the_next_game(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    runner = open_runner(espn, (64, 32), leagues=[NFL, NBA, EPL])
    pages = [runner.render_frame("live", now=NOW + 5 * i, frame=i).pixels for i in range(3)]
    # A whole turn shown: the next turn starts with the first game again.
    assert np.array_equal(runner.render_frame("live", now=NOW + 60, frame=0).pixels, pages[0])
    # That turn was cut after one game: the next one starts with the second.
    assert np.array_equal(runner.render_frame("live", now=NOW + 90, frame=0).pixels, pages[1])


# --- live interrupts -------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The refresh thread's wall clock, moved by the test: ``clock[0] += 60``."""
    now = [time.time()]
    monkeypatch.setattr(scoreboard, "_now", lambda: now[0])
    return now


def test_scoreboard_live_favourite_interrupts_renews_and_releases(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner], clock: list[float]
) -> None:
    serve_league(http_server, NFL)
    runner = open_runner(http_server, teams=["GB"], live_priority=70, logos=False)
    assert runner.requests.interrupts == [("live", 70, 240.0)]
    assert runner.has_content("live")
    clock[0] += 60
    assert runner.refresh() == 60.0, "live: scores every live_refresh seconds"
    assert len(runner.requests.interrupts) == 1, "still 180 s to go: no renewal yet"
    clock[0] += 70
    runner.refresh()
    assert runner.requests.interrupts == [("live", 70, 240.0)] * 2, "renewed before it ends"
    # The game ends.
    data = recorded(NFL)
    data["events"][1]["status"] = data["events"][0]["status"]
    serve_league(http_server, NFL, data)
    clock[0] += 60
    assert runner.refresh() == 600.0
    assert runner.requests.releases == ["live"]
    assert not runner.has_content("live")
    clock[0] += 600
    runner.refresh()
    assert runner.requests.releases == ["live"], "released once"
    assert len(runner.requests.interrupts) == 2


@pytest.mark.parametrize(
    ("config", "interrupts"),
    [
        ({"teams": ["KC"]}, []),
        ({"teams": ["GB"], "live_priority": 0}, []),
        ({"teams": []}, [("live", 50, 240.0)]),
        ({"teams": ["nfl:DAL"], "live_refresh": 30}, [("live", 50, 120.0)]),
    ],
)
def test_scoreboard_interrupts_only_for_favourites_playing_live(
    http_server: RecordedServer,
    open_runner: Callable[..., PluginRunner],
    config: dict[str, Any],
    interrupts: list[Any],
) -> None:
    serve_league(http_server, NFL)
    runner = open_runner(http_server, logos=False, **config)
    assert runner.requests.interrupts == interrupts


def test_scoreboard_network_down_during_a_live_game_neither_renews_nor_releases(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner], clock: list[float]
) -> None:
    serve_league(http_server, NFL)
    runner = open_runner(http_server, teams=["DAL"], logos=False)
    http_server.serve(path_of(NFL), b"", status=500)
    for _ in range(3):
        clock[0] += 60
        assert runner.refresh() == 60.0
    assert len(runner.requests.interrupts) == 1
    assert runner.requests.releases == []
    assert runner.has_content("live"), "the last known score stays on screen"


def test_scoreboard_priority_set_to_zero_releases_the_interrupt(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    serve_league(http_server, NFL)
    runner = open_runner(http_server, teams=["GB"], logos=False)
    assert len(runner.requests.interrupts) == 1
    runner.configure({**runner.config, "live_priority": 0})
    assert runner.requests.releases == ["live"]


def test_scoreboard_polls_at_the_live_rate_as_kick_off_nears(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner], clock: list[float]
) -> None:
    serve_league(http_server, NFL)
    kick_off = datetime(2024, 1, 15, 1, 15, tzinfo=UTC).timestamp()
    clock[0] = kick_off - 3600
    runner = open_runner(http_server, teams=["DET"], logos=False)
    assert runner.refresh() == 600.0
    clock[0] = kick_off - 300
    assert runner.refresh() == 300.0, "the next refresh is at kick-off"
    clock[0] = kick_off + 30
    assert runner.refresh() == 60.0, "still 'pre' just after kick-off: ask every minute"


# --- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    [
        {"body": b'{"events": [', "status": 200},
        {"body": b"<html>Internal error</html>", "status": 500},
        {"body": b"", "hang": True},
        {"body": b'{"leagues": []}', "status": 200},
    ],
    ids=["malformed-json", "http-500", "hanging", "wrong-shape"],
)
def test_scoreboard_bad_first_answer_means_no_content_and_a_quick_retry(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner], route: dict[str, Any]
) -> None:
    route = dict(route)
    http_server.serve(path_of(NFL), route.pop("body"), **route)
    runner = open_runner(http_server, timeout=0.5)
    for mode in runner.modes:
        assert not runner.has_content(mode)
        assert not lit(runner.render_frame(mode, now=NOW).pixels).any()
    assert runner.refresh() == 60.0
    assert runner.requests.interrupts == []


def test_scoreboard_empty_schedule_means_no_content(
    http_server: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    http_server.serve_recorded(path_of(NFL), "espn/empty.json")
    runner = open_runner(http_server)
    assert [runner.has_content(m) for m in runner.modes] == [False, False, False]
    assert runner.refresh() == 600.0, "a quiet day is no failure"


def test_scoreboard_network_failure_after_a_good_fetch_keeps_the_scores_marked_stale(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner]
) -> None:
    runner = open_runner(espn, (128, 32))
    fresh = runner.render_frame("live", now=NOW).pixels
    espn.serve(path_of(NFL), b"", status=500)
    assert runner.refresh() == 60.0
    assert runner.has_content("live") and runner.has_content("recent")
    fetched_at = scoreboard._state.snapshot.boards[0].fetched_at  # type: ignore[union-attr]
    # Live scores are old after stale_after (300 s); the rest after a missed refresh too.
    live = runner.render_frame("live", now=fetched_at + 400).pixels
    recent = runner.render_frame("recent", now=fetched_at + 400).pixels
    assert is_marked_stale(live) and not is_marked_stale(recent)
    assert is_marked_stale(runner.render_frame("recent", now=fetched_at + 901).pixels)
    unmarked = live.copy()
    unmarked[0, -2:] = fresh[0, -2:]
    unmarked[1, -1] = fresh[1, -1]
    assert np.array_equal(unmarked, fresh), "the same frame, only marked"


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_scoreboard_stale_goldens(
    espn: RecordedServer, open_runner: Callable[..., PluginRunner], size: tuple[int, int]
) -> None:
    runner = open_runner(espn, size)
    espn.serve(path_of(NFL), b"", status=500)
    runner.refresh()
    frame = runner.render_frame("live", now=time.time() + 3600).pixels
    assert is_marked_stale(frame)
    assert_golden(f"scoreboard/live_stale_{size_id(size)}", frame)


def test_scoreboard_canvas_of_a_layout_region_is_filled_legibly() -> None:
    """Verify a mode shown in a 64x64 region of a bigger panel uses its room."""
    game = _game(NFL, 1)
    pieces = layout.arrange(layout.Scene(game, ("4:12 - 3rd",)), 64, 64)
    canvas = Canvas(64, 64)
    scoreboard._draw(canvas, pieces, scoreboard._state.logos)
    rows = np.nonzero(lit(canvas.to_array()).any(axis=1))[0]
    assert rows.min() < 16 and rows.max() > 48


# --- through a real worker -------------------------------------------------------------


def test_scoreboard_renders_through_a_real_worker_from_the_local_server(
    espn: RecordedServer, test_specs: dict[str, PluginSpec], tmp_path: Path
) -> None:
    frames, _ = render_mode(
        test_specs["scoreboard"],
        "live",
        width=128,
        height=64,
        frames=1,
        options={"base_url": espn.url, "leagues": [NFL], "timezone": TZ},
        data_dir=tmp_path,
        rules=WorkerRules(uid=None),
    )
    # Scores, status and logos as in process: the live frame does not depend on the time.
    assert_golden("scoreboard/live_128x64", frames[0])
    assert espn.requests_to(path_of(NFL))
    assert logo_requests(espn)
