"""WMO weather codes, as Open-Meteo reports them, to an icon and a few English words.

Open-Meteo documents these codes for ``weather_code`` (WMO 4677, reduced): 0 clear, 1-3
cloud cover, 45/48 fog, 51-57 drizzle, 61-67 rain, 71-77 snow, 80-82 rain showers, 85/86
snow showers, 95-99 thunderstorms. The words are short on purpose: every one fits a 64
pixel wide panel in the small font (at most 14 characters), so no layout ever has to cut
one. English, like the weekdays, so a sign says the same thing whatever the Pi's locale.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugins_builtin.weather.icons import Kind

__all__ = ["CONDITIONS", "MAX_WORD", "UNKNOWN", "Condition", "condition"]

#: The longest word of any condition, in characters.
MAX_WORD = 14


@dataclass(frozen=True)
class Condition:
    """How one weather code is shown."""

    kind: Kind
    word: str
    #: The word by night, where "Sunny" would be wrong.
    night_word: str | None = None

    def text(self, *, day: bool = True) -> str:
        """The word for day or night."""
        return self.word if day or self.night_word is None else self.night_word


#: Every code Open-Meteo documents.
CONDITIONS: dict[int, Condition] = {
    0: Condition(Kind.CLEAR, "Sunny", "Clear"),
    1: Condition(Kind.PARTLY_CLOUDY, "Mostly sunny", "Mostly clear"),
    2: Condition(Kind.PARTLY_CLOUDY, "Partly cloudy"),
    3: Condition(Kind.CLOUDY, "Overcast"),
    45: Condition(Kind.FOG, "Fog"),
    48: Condition(Kind.FOG, "Rime fog"),
    51: Condition(Kind.DRIZZLE, "Light drizzle"),
    53: Condition(Kind.DRIZZLE, "Drizzle"),
    55: Condition(Kind.DRIZZLE, "Heavy drizzle"),
    56: Condition(Kind.FREEZING_RAIN, "Icy drizzle"),
    57: Condition(Kind.FREEZING_RAIN, "Icy drizzle"),
    61: Condition(Kind.RAIN, "Light rain"),
    63: Condition(Kind.RAIN, "Rain"),
    65: Condition(Kind.RAIN, "Heavy rain"),
    66: Condition(Kind.FREEZING_RAIN, "Freezing rain"),
    67: Condition(Kind.FREEZING_RAIN, "Freezing rain"),
    71: Condition(Kind.SNOW, "Light snow"),
    73: Condition(Kind.SNOW, "Snow"),
    75: Condition(Kind.SNOW, "Heavy snow"),
    77: Condition(Kind.SNOW, "Snow grains"),
    80: Condition(Kind.SHOWERS, "Light showers"),
    81: Condition(Kind.SHOWERS, "Showers"),
    82: Condition(Kind.SHOWERS, "Heavy showers"),
    85: Condition(Kind.SNOW, "Snow showers"),
    86: Condition(Kind.SNOW, "Snow showers"),
    95: Condition(Kind.THUNDERSTORM, "Thunderstorm"),
    96: Condition(Kind.THUNDERSTORM, "Storm & hail"),
    99: Condition(Kind.THUNDERSTORM, "Storm & hail"),
}

#: What a code outside the table (or a missing one) is shown as.
UNKNOWN = Condition(Kind.UNKNOWN, "Unknown")


def condition(code: int | None) -> Condition:
    """The :class:`Condition` of a WMO ``code``; :data:`UNKNOWN` for ``None`` or a code
    Open-Meteo does not document (a new one must not crash a sign)."""
    if code is None:
        return UNKNOWN
    return CONDITIONS.get(code, UNKNOWN)
