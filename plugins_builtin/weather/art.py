"""The pixel art of the weather icons, at 10 and 20 pixels: data only.

One character per pixel, so the source shows what the panel shows; characters are
colours from :data:`PALETTE` and ``.`` is transparent. Whole pictures (the sun, the moon,
fog) are drawn whole; icons that share a cloud are drawn as pieces that ``icons.py`` lays
over each other (a sun peeking from behind a cloud, rain below it), so that one cloud is
fixed in one place. The top of a precipitation icon is ``CLOUD_TOP_*``; what falls fills
the rows below it.
"""

from __future__ import annotations

from typing import TypeAlias

from sdk.canvas import RGB

#: Colours chosen for LEDs, where dim greys read darker and saturated colours brighter.
PALETTE: dict[str, RGB] = {
    "y": (255, 196, 0),  # sun
    "o": (255, 128, 0),  # sun rays
    "m": (236, 232, 176),  # moon
    "t": (150, 150, 110),  # star
    "w": (214, 220, 232),  # cloud
    "g": (120, 130, 150),  # cloud shade
    "d": (110, 116, 138),  # storm cloud
    "k": (64, 68, 88),  # storm cloud shade
    "b": (40, 128, 255),  # rain
    "c": (110, 180, 255),  # drizzle
    "i": (170, 240, 255),  # ice
    "s": (255, 255, 255),  # snow
    "l": (255, 226, 0),  # lightning
    "f": (150, 154, 166),  # fog
    "r": (230, 40, 40),  # thermometer fluid
}

#: One picture: rows of equal length, one character per pixel.
Art: TypeAlias = tuple[str, ...]

# -- 10 pixels ---------------------------------------------------------------------------

SUN_10 = (
    "....oo....",
    ".o......o.",
    "...yyyy...",
    "..yyyyyy..",
    "o.yyyyyy.o",
    "o.yyyyyy.o",
    "..yyyyyy..",
    "...yyyy...",
    ".o......o.",
    "....oo....",
)

MOON_10 = (
    "...mm.....",
    "..mm......",
    ".mmm....t.",
    ".mmm......",
    "mmmm......",
    "mmmmm.....",
    ".mmmmm....",
    ".mmmmmmmm.",
    "..mmmmmm..",
    "....mm....",
)

# The cloud of the precipitation icons fills the top six rows; what falls fills the rest.
CLOUD_TOP_10 = (
    ".....ww...",
    "..ww.wwww.",
    ".wwwwwwwww",
    "wwwwwwwwww",
    "wwwwwwwwww",
    ".gggggggg.",
)

# The thunderstorm's cloud: the same cloud in darker greys.
STORM_TOP_10 = tuple(row.replace("w", "d").replace("g", "k") for row in CLOUD_TOP_10)

CLOUDY_10 = (
    "..........",
    "..........",
    *CLOUD_TOP_10,
    "..........",
    "..........",
)

# Pieces laid over each other by icons.py: a sun or moon peeking from behind a smaller
# cloud ("partly cloudy"; with rain below for "showers"). Their places are in icons.py.
SKY_DAY_10 = (
    "o..o..o",
    "..yyy..",
    ".yyyyy.",
    "oyyyyy.",
    ".yyyyy.",
    "..yyy..",
    "o......",
)

SKY_NIGHT_10 = (
    "..mm...",
    ".mm....",
    "mmm....",
    "mmm....",
    ".mmm...",
    "..mmm..",
    ".......",
)

SMALL_CLOUD_10 = (
    "...www..",
    ".wwwwwww",
    "wwwwwwww",
    "wwwwwwww",
    ".gggggg.",
)

RAIN_10 = (
    "..b...b...",
    ".b...b...b",
    "....b...b.",
    "...b...b..",
)

DRIZZLE_10 = (
    "..c....c..",
    "..........",
    "....c....c",
    ".c........",
)

FREEZING_10 = (
    "..b....i..",
    ".b....iii.",
    "...b...i..",
    "..b.......",
)

SNOW_10 = (
    "..s....s..",
    ".sss..sss.",
    "..s....s..",
    "....s.....",
)

BOLT_10 = (
    "....ll....",
    "...ll.....",
    "....ll....",
    "...l......",
)

FOG_10 = (
    "..........",
    ".ffffff...",
    "..........",
    "...fffffff",
    "..........",
    "fffff.fff.",
    "..........",
    ".ffffffff.",
    "..........",
    "..........",
)

THERMOMETER_10 = (
    "....gg....",
    "...g..g...",
    "...g..g...",
    "...g..g...",
    "...grrg...",
    "...grrg...",
    "..grrrrg..",
    "..grrrrg..",
    "...gggg...",
    "..........",
)

# -- 20 pixels ---------------------------------------------------------------------------

SUN_20 = (
    ".........oo.........",
    ".........oo.........",
    "..o......oo......o..",
    "...oo..........oo...",
    "...oo..........oo...",
    ".......yyyyyy.......",
    "......yyyyyyyy......",
    ".....yyyyyyyyyy.....",
    ".....yyyyyyyyyy.....",
    "ooo..yyyyyyyyyy..ooo",
    "ooo..yyyyyyyyyy..ooo",
    ".....yyyyyyyyyy.....",
    ".....yyyyyyyyyy.....",
    "......yyyyyyyy......",
    ".......yyyyyy.......",
    "...oo..........oo...",
    "...oo..........oo...",
    "..o......oo......o..",
    ".........oo.........",
    ".........oo.........",
)

MOON_20 = (
    "......mmmm..........",
    "....mmmmm...........",
    "...mmmmm.........t..",
    "..mmmmm.........ttt.",
    "..mmmmm..........t..",
    ".mmmmm..............",
    ".mmmmm..............",
    ".mmmmmm.............",
    ".mmmmmm.......t.....",
    ".mmmmmmm............",
    ".mmmmmmmm...........",
    ".mmmmmmmmm..........",
    "..mmmmmmmmmm......m.",
    "..mmmmmmmmmmmmmmmmm.",
    "...mmmmmmmmmmmmmmm..",
    "....mmmmmmmmmmmmm...",
    ".....mmmmmmmmmmm....",
    ".......mmmmmmm......",
    "....................",
    "....................",
)

CLOUD_TOP_20 = (
    ".........wwww.......",
    ".......wwwwwwww.....",
    "......wwwwwwwwww....",
    "...ww.wwwwwwwwww....",
    "..wwwwwwwwwwwwwww...",
    ".wwwwwwwwwwwwwwwwww.",
    ".wwwwwwwwwwwwwwwwww.",
    "wwwwwwwwwwwwwwwwwwww",
    "wwwwwwwwwwwwwwwwwwww",
    "wwwwwwwwwwwwwwwwwwww",
    ".gggggggggggggggggg.",
    "..gggggggggggggggg..",
)

# The thunderstorm's cloud: the same cloud in darker greys.
STORM_TOP_20 = tuple(row.replace("w", "d").replace("g", "k") for row in CLOUD_TOP_20)

CLOUDY_20 = (
    "....................",
    "....................",
    "....................",
    "....................",
    *CLOUD_TOP_20,
    "....................",
    "....................",
    "....................",
    "....................",
)

SKY_DAY_20 = (
    "......oo......",
    "......oo......",
    ".o..........o.",
    "..o........o..",
    ".....yyyy.....",
    "....yyyyyy....",
    "...yyyyyyyy...",
    "oo.yyyyyyyy.oo",
    "oo.yyyyyyyy.oo",
    "...yyyyyyyy...",
    "....yyyyyy....",
    ".....yyyy.....",
    "..o...........",
    ".o............",
)

SKY_NIGHT_20 = (
    "....mmm.......",
    "..mmmm........",
    ".mmmm.......t.",
    ".mmm.......ttt",
    "mmmm........t.",
    "mmmm..........",
    "mmmmm.........",
    ".mmmmm........",
    ".mmmmmmm......",
    "..mmmmmmm.....",
    "....mmmmm.....",
    "..............",
    "..............",
    "..............",
)

SMALL_CLOUD_20 = (
    "......wwww.....",
    "....wwwwwwww...",
    "..wwwwwwwwwwww.",
    ".wwwwwwwwwwwwww",
    "wwwwwwwwwwwwwww",
    "wwwwwwwwwwwwwww",
    "wwwwwwwwwwwwwww",
    ".ggggggggggggg.",
    "..ggggggggggg..",
)

RAIN_20 = (
    "....................",
    ".....b.....b.....b..",
    "....b.....b.....b...",
    "...b.....b.....b....",
    "....................",
    "........b.....b.....",
    ".......b.....b......",
    "......b.....b.......",
)

DRIZZLE_20 = (
    "....................",
    "....c.....c.....c...",
    "....................",
    ".......c.....c......",
    "....................",
    "....c.....c.....c...",
    "....................",
    ".......c.....c......",
)

FREEZING_20 = (
    "....................",
    ".....b..........b...",
    "....b.....ii...b....",
    "...b......ii..b.....",
    "....................",
    ".........b......ii..",
    "..ii....b.......ii..",
    "..ii...b............",
)

SNOW_20 = (
    "....................",
    "....s.........s.....",
    "...sss.......sss....",
    "....s....s....s.....",
    "........sss.........",
    ".....s...s.......s..",
    "....sss.........sss.",
    ".....s...........s..",
)

BOLT_20 = (
    "..........llll......",
    ".........llll.......",
    "........llll........",
    ".......lllllll......",
    "..........lll.......",
    ".........ll.........",
    "........ll..........",
    ".......l............",
)

FOG_20 = (
    "....................",
    "....................",
    "...ffffffffffffff...",
    "....................",
    "....................",
    ".ffffffff..fffffff..",
    "....................",
    "....................",
    "...fffffffffffffff..",
    "....................",
    "....................",
    ".fffff..ffffffffff..",
    "....................",
    "....................",
    "....ffffffffffff....",
    "....................",
    "....................",
    "....................",
    "....................",
    "....................",
)

THERMOMETER_20 = (
    "........gggg........",
    ".......g....g.......",
    ".......g....g.......",
    ".......g....g.......",
    ".......g....g.......",
    ".......g....g.......",
    ".......g.rr.g.......",
    ".......g.rr.g.......",
    ".......g.rr.g.......",
    ".......g.rr.g.......",
    ".......g.rr.g.......",
    "......g..rr..g......",
    ".....g.rrrrrr.g.....",
    ".....g.rrrrrr.g.....",
    ".....g.rrrrrr.g.....",
    ".....g.rrrrrr.g.....",
    "......g.rrrr.g......",
    ".......gggggg.......",
    "....................",
    "....................",
)


SHOWER_RAIN_10 = (
    "..b..b.b",
    ".b..b.b.",
)

SHOWER_RAIN_20 = (
    "....b....b....b",
    "...b....b....b.",
    "..b....b....b..",
)
