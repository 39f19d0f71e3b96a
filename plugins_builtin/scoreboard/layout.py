"""Where each part of a game goes on a panel of any size: a pure function of size and data.

Three arrangements compete for every game and size, and the most legible one wins:

- **stacked**: one row per team (colour bar, name, score on the right), the status line
  below. What fits a 64x32 panel: two rows in a big font.
- **row**: ``[logo] NAME  24-21  NAME [logo]`` on one line, the status line below. Wide
  panels; with logos when the row still fits with them (256x64).
- **columns**: each team's logo with its name under it at the sides, the score between
  them. Panels tall enough for a logo over a name (128x64).

"Most legible" is, in this order: the biggest score, a logo at all (and a bigger one),
the biggest team names, full names ("Chiefs") over abbreviations ("KC"). So a logo never
costs the score a font size, and a name is abbreviated before it is shrunk.

Text is placed by the pixels it lights (its ink), not its font's line box, so rows of
different fonts line up and centre as the eye sees them; every arrangement checks that
its text fits whole, so nothing is clipped mid-glyph.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from plugins_builtin.scoreboard.model import Game, GameState, Team
from sdk import Font, load_font
from sdk.canvas import RGB

__all__ = [
    "MAX_ABBREVIATION",
    "Bar",
    "Label",
    "LogoBox",
    "Piece",
    "Scene",
    "abbreviation",
    "arrange",
]

#: Biggest first.
_FONTS = ("xlarge", "large", "medium", "small")
#: The glyphs whose ink decides a line's height: team names and scores are capitals and
#: digits, so a row's height does not change with the letters in it.
_GLYPHS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-@"
_WHITE: RGB = (255, 255, 255)
_LOSER: RGB = (120, 120, 120)
_GREY_ACCENT: RGB = (110, 110, 110)
_STATUS_COLORS: dict[GameState, RGB] = {
    GameState.LIVE: (255, 176, 0),
    GameState.POST: (170, 170, 170),
    GameState.PRE: (79, 157, 255),
}
#: Pixels between a team's name and the score, and at the panel's edges.
_GAP = 3
_BAR = 2
#: The smallest logo worth drawing.
_MIN_LOGO = 16
_MAX_LOGO = 48
#: The most letters of an abbreviation drawn.
MAX_ABBREVIATION = 5


@dataclass(frozen=True, slots=True)
class Label:
    """A line of text; ``(x, y)`` is its line box's top left, as :meth:`sdk.Canvas.text`."""

    x: int
    y: int
    text: str
    font: Font
    color: RGB


@dataclass(frozen=True, slots=True)
class LogoBox:
    """A team's logo, fitted and centred in the box."""

    url: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Bar:
    """A filled rectangle of the team's colour; ``x1``/``y1`` exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int
    color: RGB


Piece = Label | LogoBox | Bar


@dataclass(frozen=True, slots=True)
class Scene:
    """What a game's frame shows, besides the panel size."""

    game: Game
    #: Status line texts, richest first (see :mod:`.status`).
    status: Sequence[str]
    #: URLs of the logos in memory; an empty set draws no logos.
    logos: frozenset[str] = frozenset()
    #: Home team on the left (soccer's custom) instead of the away team.
    home_first: bool = False


@dataclass(frozen=True, slots=True)
class _Option:
    pieces: list[Piece]
    #: What makes one arrangement better than another, compared as a tuple.
    rank: tuple[int, int, int, int]


def arrange(scene: Scene, width: int, height: int) -> list[Piece]:
    """The pieces of ``scene`` on a ``width`` x ``height`` panel, in drawing order."""
    status, status_top = _status(scene, width, height)
    # Taller panels leave more air above the status line; a 32-pixel one cannot.
    area = status_top - (1 if height < 48 else 3) if status is not None else height
    options = [
        _stacked(scene, width, area),
        _row(scene, width, area, logos=False),
        _row(scene, width, area, logos=True),
        _columns(scene, width, area),
    ]
    valid = [option for option in options if option is not None]
    if not valid:
        return [status] if status is not None else []
    best = max(valid, key=lambda option: _preference(option.rank))
    return best.pieces + ([status] if status is not None else [])


def _preference(rank: tuple[int, int, int, int]) -> tuple[int, ...]:
    """Legible score and names first (large and medium at least), then a logo, then the
    rest of the rank: bigger score, bigger logo, full names, bigger names."""
    main, logo, _rich, names = rank
    score_ok = main >= _ink_height(load_font("large"))
    names_ok = names >= _ink_height(load_font("medium"))
    return (int(score_ok), int(names_ok), int(logo > 0), *rank)


# -- the arrangements --------------------------------------------------------------------


def _stacked(scene: Scene, width: int, area: int) -> _Option | None:
    game = scene.game
    teams = _order(scene)
    scores = [_score_text(game, team) for team in teams]
    for font in _fonts():
        row = _ink_height(font)
        score_width = max((_text_width(font, s) for s in scores), default=0)
        room = width - _BAR - _GAP - (score_width + _GAP + 2 if score_width else 1)
        for names in _name_choices(teams):
            # The first row's descenders (g, p, y) must clear the second row's capitals,
            # the second row's the status line.
            gap = _descent(font, names[0]) + 1
            spare = area - 2 * row - gap - _descent(font, names[1])
            if spare < 0 or any(_text_width(font, n) > room for n in names):
                continue
            # Two rows clear at the top keep the stale mark off the first score.
            top = max(spare // 3, min(2, spare))
            gap += (spare - top) // 2
            pieces: list[Piece] = []
            for index, (team, name, score) in enumerate(zip(teams, names, scores, strict=True)):
                y = top + index * (row + gap)
                pieces.append(Bar(0, y, _BAR, y + row, _accent(team)))
                pieces.append(_place(name, font, _WHITE, left=_BAR + _GAP, ink_top=y))
                if score:
                    color = _score_color(game, team)
                    pieces.append(_place(score, font, color, right=width - 2, ink_top=y))
            return _Option(pieces, (row, 0, *_name_rank(teams, names, font)))
    return None


def _row(scene: Scene, width: int, area: int, *, logos: bool) -> _Option | None:
    game = scene.game
    teams = _order(scene)
    logo = min(area, _MAX_LOGO) if logos else 0
    if logos and (logo < _MIN_LOGO or not _has_logo(scene)):
        return None
    middle = _middle_text(scene)
    # From the outer edge to a name: the colour bar (or the logo) and a gap.
    side = (1 + logo if logo else _BAR) + _GAP
    for middle_font in _fonts():
        if _ink_height(middle_font) > area:
            continue
        # Each name is centred in the room between its edge and the score.
        middle_width = _text_width(middle_font, middle)
        gap = max(2 * _GAP, width // 32)
        inner_left = width // 2 - middle_width // 2 - gap
        inner_right = width // 2 - middle_width // 2 + middle_width + gap
        spans = ((side, inner_left), (inner_right, width - side))
        room = min(hi - lo for lo, hi in spans)
        below = None if game.state is GameState.PRE else middle_font
        choices = [
            (font, names)
            for font in _fonts(below=below)
            for names in _name_choices(teams)
            if all(_text_width(font, n) <= room for n in names)
            and (area - _ink_height(font)) // 2 + _ink_height(font) + _descent(font, *names) <= area
        ]
        if not choices:
            continue
        name_font, names = max(choices, key=lambda c: _name_rank(teams, c[1], c[0]))
        pieces: list[Piece] = []
        name_top = (area - _ink_height(name_font)) // 2
        for index, (team, name) in enumerate(zip(teams, names, strict=True)):
            right = index == 1
            shown = logo > 0 and team.logo_url in scene.logos
            if shown and team.logo_url is not None:
                x = width - 1 - logo if right else 1
                pieces.append(LogoBox(team.logo_url, x, (area - logo) // 2, logo, logo))
            else:
                pieces.append(_edge_bar(team, right, width, area))
            lo, hi = spans[index]
            pieces.append(_place(name, name_font, _WHITE, ink_top=name_top, centre=(lo + hi) // 2))
        middle_top = (area - _ink_height(middle_font)) // 2
        pieces += _middle(scene, middle_font, width // 2, middle_top)
        main = _main_height(game, middle_font, name_font)
        return _Option(pieces, (main, logo, *_name_rank(teams, names, name_font)))
    return None


def _columns(scene: Scene, width: int, area: int) -> _Option | None:
    """Logos with the names under them at the sides, the score between them."""
    game = scene.game
    teams = _order(scene)
    if not _has_logo(scene):
        return None
    middle = _middle_text(scene)
    best: tuple[tuple[int, int, int, int], Font, Font, list[str], int, int] | None = None
    for name_font in _fonts(at_most=load_font("large")):
        name_height = _ink_height(name_font)
        for logo in range(min(_MAX_LOGO, area - name_height - 3), _MIN_LOGO + 7, -2):
            for names in _name_choices(teams):
                if logo + 2 + name_height + _descent(name_font, *names) > area:
                    continue
                column = max(logo, *(_text_width(name_font, n) for n in names)) + 2
                inner = width - 2 * (1 + column) - 2 * _GAP
                middle_font = _fit(middle, inner, logo)
                if middle_font is None:
                    continue
                main = _main_height(game, middle_font, name_font)
                rank = (main, logo, *_name_rank(teams, names, name_font))
                if best is None or _preference(rank) > _preference(best[0]):
                    best = (rank, name_font, middle_font, names, logo, column)
    if best is None:
        return None
    rank, name_font, middle_font, names, logo, column = best
    name_height = _ink_height(name_font)
    top = (area - (logo + 2 + name_height + _descent(name_font, *names))) // 2
    pieces: list[Piece] = []
    for index, (team, name) in enumerate(zip(teams, names, strict=True)):
        right = index == 1
        x0 = width - 1 - column if right else 1
        if team.logo_url in scene.logos and team.logo_url is not None:
            pieces.append(LogoBox(team.logo_url, x0 + (column - logo) // 2, top, logo, logo))
        else:
            pieces.append(_edge_bar(team, right, width, area))
        centre = x0 + column // 2
        pieces.append(_place(name, name_font, _WHITE, centre=centre, ink_top=top + logo + 2))
    middle_top = top + (logo - _ink_height(middle_font)) // 2
    pieces += _middle(scene, middle_font, width // 2, middle_top)
    return _Option(pieces, rank)


# -- pieces ------------------------------------------------------------------------------


def _status(scene: Scene, width: int, height: int) -> tuple[Label | None, int]:
    """The status line at the bottom, and the top of its line box."""
    if not scene.status:
        return None, height
    color = _STATUS_COLORS[scene.game.state]
    preferred = "small" if height < 48 else "medium"
    for name in dict.fromkeys((preferred, "small")):
        font = load_font(name)
        for text in scene.status:
            if _text_width(font, text) <= width:
                return _status_label(text, font, color, width, height), height - font.height
    # Nothing fits whole: cut the shortest text on purpose, between glyphs.
    font = load_font("small")
    text = min(scene.status, key=len)
    while text and _text_width(font, text) > width:
        text = text[:-1].rstrip()
    return _status_label(text, font, color, width, height), height - font.height


def _status_label(text: str, font: Font, color: RGB, width: int, height: int) -> Label:
    x0, x1 = _ink_span(font, text)
    return Label((width - (x1 - x0)) // 2 - x0, height - font.height, text, font, color)


def _middle(scene: Scene, font: Font, centre: int, ink_top: int) -> list[Piece]:
    """The score ("24-21", loser dimmed) or, before the game, "@" / "vs", centred."""
    game = scene.game
    teams = _order(scene)
    if game.state is GameState.PRE:
        return [_place(_middle_text(scene), font, _WHITE, centre=centre, ink_top=ink_top)]
    left, right = (_score_text(game, t) or "-" for t in teams)
    x0, x1 = _ink_span(font, f"{left}-{right}")
    start = centre - (x1 - x0) // 2 - x0
    pieces: list[Piece] = []
    x = start
    for text, color in (
        (left, _score_color(game, teams[0])),
        ("-", _WHITE),
        (right, _score_color(game, teams[1])),
    ):
        pieces.append(Label(x, ink_top - _ink_rows(font)[0], text, font, color))
        x += font.measure(text)[0]
    return pieces


def _place(
    text: str,
    font: Font,
    color: RGB,
    *,
    ink_top: int,
    left: int | None = None,
    right: int | None = None,
    centre: int | None = None,
) -> Label:
    """A label whose lit pixels start at column ``left``, end before column ``right``
    (exclusive, like a box) or centre on ``centre``."""
    x0, x1 = _ink_span(font, text)
    if left is not None:
        x = left - x0
    elif right is not None:
        x = right - x1
    else:
        x = (centre or 0) - (x1 - x0) // 2 - x0
    return Label(x, ink_top - _ink_rows(font)[0], text, font, color)


# -- helpers -----------------------------------------------------------------------------


def _order(scene: Scene) -> tuple[Team, Team]:
    game = scene.game
    return (game.home, game.away) if scene.home_first else (game.away, game.home)


def _middle_text(scene: Scene) -> str:
    if scene.game.state is GameState.PRE:
        return "vs" if scene.home_first else "@"
    teams = _order(scene)
    left, right = (_score_text(scene.game, t) or "-" for t in teams)
    return f"{left}-{right}"


def _score_text(game: Game, team: Team) -> str:
    if game.state is GameState.PRE or (game.state is GameState.POST and not game.completed):
        return ""
    return "" if team.score is None else str(team.score)


def _score_color(game: Game, team: Team) -> RGB:
    if game.state is not GameState.POST:
        return _WHITE
    other = game.home if team is game.away else game.away
    if team.winner is False and other.winner is True:
        return _LOSER
    if team.score is not None and other.score is not None and team.score < other.score:
        return _LOSER
    return _WHITE


def _accent(team: Team) -> RGB:
    """The team's colour, or its alternate when the first is too dark to light an LED."""
    for color in (team.color, team.alternate_color):
        if color is not None and _luma(color) >= 40:
            return color
    return _GREY_ACCENT


def _luma(color: RGB) -> float:
    r, g, b = color
    return 0.299 * r + 0.587 * g + 0.114 * b


def _has_logo(scene: Scene) -> bool:
    return any(t.logo_url in scene.logos for t in scene.game.teams if t.logo_url)


def _names(teams: Sequence[Team], font: Font, room: int) -> list[str] | None:
    """Full short names if both fit ``room``, else abbreviations if they fit, else None."""
    for names in _name_choices(teams):
        if all(_text_width(font, n) <= room for n in names):
            return names
    return None


def abbreviation(team: Team) -> str:
    """The team's abbreviation as drawn: cut on purpose after :data:`MAX_ABBREVIATION`
    letters (ESPN's are 2-4; a longer one would squeeze the score)."""
    return team.abbreviation[:MAX_ABBREVIATION]


def _name_choices(teams: Sequence[Team]) -> list[list[str]]:
    return [[t.short_name for t in teams], [abbreviation(t) for t in teams]]


def _name_rank(teams: Sequence[Team], names: Sequence[str], font: Font) -> tuple[int, int]:
    """How good a choice of names is: full names ("Chiefs") in a legible font first (they
    say more than "KC"), then the bigger font."""
    rich = list(names) != [abbreviation(t) for t in teams]
    legible = _ink_height(font) >= _ink_height(load_font("medium"))
    return (int(rich and legible), _ink_height(font))


def _edge_bar(team: Team, right: bool, width: int, area: int) -> Bar:
    """The team's colour down the panel's left or right edge, clear of the corner where
    :meth:`sdk.Canvas.mark_stale` draws."""
    top = 3 if area > 12 else 0
    return Bar(
        width - _BAR if right else 0, top, width if right else _BAR, area - top, _accent(team)
    )


def _main_height(game: Game, middle_font: Font, name_font: Font) -> int:
    """What the rank compares first: the score's size, or the names' before a game."""
    return _ink_height(name_font if game.state is GameState.PRE else middle_font)


def _fonts(at_most: Font | None = None, below: Font | None = None) -> list[Font]:
    """Bundled fonts, biggest first, no bigger than ``at_most`` and smaller than ``below``
    (except "small", the last resort)."""
    fonts = [load_font(name) for name in _FONTS]
    if at_most is not None:
        fonts = [f for f in fonts if f.height <= at_most.height]
    if below is not None:
        fonts = [f for f in fonts if f.height < below.height or f.name == "small"]
    return fonts


def _fit(text: str, width: int, height: int) -> Font | None:
    for font in _fonts():
        if _text_width(font, text) <= width and _ink_height(font) <= height:
            return font
    return None


def _ink_rows(font: Font) -> tuple[int, int]:
    box = font.cell_ink(_GLYPHS)
    assert box is not None, f"capitals and digits light nothing in {font.name}"
    return box[1], box[3]


def _ink_height(font: Font) -> int:
    top, bottom = _ink_rows(font)
    return bottom - top


@functools.lru_cache(maxsize=2048)
def _ink_box(font: Font, text: str) -> tuple[int, int, int, int] | None:
    return font.ink_box(text)


def _ink_span(font: Font, text: str) -> tuple[int, int]:
    box = _ink_box(font, text)
    return (0, 0) if box is None else (box[0], box[2])


def _descent(font: Font, *texts: str) -> int:
    """How far the ink of ``texts`` reaches below the capitals and digits (g, j, p, q, y)."""
    bottom = _ink_rows(font)[1]
    boxes = [box for box in (_ink_box(font, t) for t in texts) if box is not None]
    return max((max(0, box[3] - bottom) for box in boxes), default=0)


def _text_width(font: Font, text: str) -> int:
    x0, x1 = _ink_span(font, text)
    return x1 - x0
