"""The scoreboard's config schema, and the checks the schema cannot express."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins_builtin.scoreboard.model import KNOWN_LEAGUES
from sdk import PluginConfigError, network_properties, time_zone, time_zone_option

__all__ = ["CONFIG_SCHEMA", "DEFAULT_BASE_URL", "check_config"]

DEFAULT_BASE_URL = "https://site.api.espn.com/apis/site/v2/sports"

#: ``sport/league`` as in ESPN's URLs: ``football/nfl``, ``soccer/eng.1``.
LEAGUE_PATTERN = r"^[a-z0-9-]{2,40}/[a-z0-9.-]{2,40}$"
#: ``KC``, or ``nfl:KC`` to mean the KC of one league only.
TEAM_PATTERN = r"^([a-zA-Z0-9.-]{2,40}:)?[A-Za-z0-9]{1,6}$"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "leagues": {
            "type": "array",
            "items": {"type": "string", "pattern": LEAGUE_PATTERN, "examples": list(KNOWN_LEAGUES)},
            "minItems": 1,
            "maxItems": 8,
            "uniqueItems": True,
            "default": ["football/nfl"],
            "title": "Leagues",
            "description": "ESPN leagues as sport/league, one request each per refresh. "
            "Known to work: " + ", ".join(KNOWN_LEAGUES) + ".",
        },
        "teams": {
            "type": "array",
            "items": {"type": "string", "pattern": TEAM_PATTERN},
            "maxItems": 32,
            "uniqueItems": True,
            "default": [],
            "title": "Favourite teams",
            "description": "Team abbreviations as ESPN writes them (KC, BOS, ARS); only games "
            "of these teams are shown and interrupt the rotation when live. Write nba:MIA to "
            "mean one league's MIA only. Empty: every game of the chosen leagues.",
        },
        "recent_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": 7,
            "default": 1,
            "title": "Recent results (days back)",
            "description": "Finished games from this many days before today are shown in "
            "the recent mode; 0: today's only.",
        },
        "upcoming_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": 14,
            "default": 7,
            "title": "Upcoming games (days ahead)",
            "description": "Games starting up to this many days after today are shown in "
            "the upcoming mode; 0: today's only.",
        },
        "max_games": {
            "type": "integer",
            "minimum": 1,
            "maximum": 50,
            "default": 10,
            "title": "Games per mode",
            "description": "The most games one mode pages through.",
        },
        "page_seconds": {
            "type": "number",
            "minimum": 2,
            "maximum": 60,
            "default": 5,
            "title": "Seconds per game",
            "description": "How long each game stays on screen while a mode pages through "
            "its games; the mode asks for more time to show them all (up to the rotation's "
            "max_dwell).",
        },
        "logos": {
            "type": "boolean",
            "default": True,
            "title": "Team logos",
            "description": "Show team logos where the panel has room beside a legible score "
            "(128x64 and wider). Fetched once a week at most and kept on disk.",
        },
        "home_first": {
            "type": "boolean",
            "default": False,
            "title": "Home team first",
            "description": "Put the home team on the left (the custom in football/soccer); "
            "off: away team left, home team right, as US scoreboards do.",
        },
        "live_priority": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 50,
            "title": "Live game interrupt priority",
            "description": "While a favourite team plays, the live mode interrupts the "
            "rotation with this priority (higher wins over other interrupts). 0: never "
            "interrupt.",
        },
        "live_refresh": {
            "type": "number",
            "minimum": 10,
            "maximum": 600,
            "default": 60,
            "title": "Refresh during live games (seconds)",
            "description": "How often scores are fetched while a shown game is live.",
        },
        "timezone": time_zone_option(
            "An IANA time zone such as Europe/London or America/Chicago for start times; "
            "empty for the Pi's own local time."
        ),
        "time_format": {
            "type": "string",
            "enum": ["24h", "12h"],
            "default": "24h",
            "title": "Time format",
            "description": "Start times as 19:30 or 7:30 PM.",
        },
        **network_properties(base_url=DEFAULT_BASE_URL, refresh=600, stale_after=300),
    },
}


def check_config(config: Mapping[str, Any]) -> None:
    """Fail early, naming the key and the fix, on what the schema cannot rule out."""
    time_zone(str(config.get("timezone", "")))
    leagues = [str(league) for league in config.get("leagues", [])]
    slugs = {league.partition("/")[2].upper() for league in leagues}
    for entry in config.get("teams", []):
        league, _, _ = str(entry).upper().rpartition(":")
        if league and league not in slugs:
            raise PluginConfigError(
                f"teams: {entry!r} names the league {league.lower()!r}, which is not in "
                f"leagues ({', '.join(leagues)}); add it there or drop the prefix"
            )
