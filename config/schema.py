"""Every host setting, declared once as data, and the typed config the loader returns.

The :data:`SETTINGS` table drives validation and defaults (:mod:`config.loader`), the
generated reference (:func:`settings_reference_markdown`) and, through
:attr:`Setting.key` / :attr:`Setting.env_var`, CLI flags and environment variables
(gunicorn's ``config.py`` ``Setting`` classes, as a dataclass table). Adding a setting
means adding one row here and one field to the section's dataclass; a test keeps the two
in step.

Pure: no I/O, no clock, no environment (STYLE.md rule 17).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

__all__ = [
    "ENV_PREFIX",
    "ID_PATTERN",
    "INSTANCE_SETTINGS",
    "KeyPath",
    "MODE_PATTERN",
    "SECTIONS",
    "SETTINGS",
    "DisplayConfig",
    "HostConfig",
    "PathsConfig",
    "PluginInstanceConfig",
    "RotationConfig",
    "RotationEntry",
    "Setting",
    "WorkersConfig",
    "describe_value",
    "format_key",
    "format_toml_value",
    "is_valid_id",
    "is_valid_mode",
    "plain_data",
    "settings_reference_markdown",
    "suggest",
]

#: Prefix of the environment variables that override the file (``LEDHOST_DISPLAY__FPS``).
ENV_PREFIX: Final = "LEDHOST_"
#: Instance ids and plugin ids: they become folder names, so nothing else is allowed.
ID_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")
#: Mode names, as ``sdk.hookspecs.register_modes`` allows them.
MODE_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

#: A key path: table keys and array indexes, e.g. ``("rotation", "modes", 2)``.
KeyPath = tuple[str | int, ...]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_RGB_SEQUENCES: Final = ("RGB", "RBG", "GRB", "GBR", "BRG", "BGR")


def is_valid_id(value: object) -> bool:
    """Return whether ``value`` is an allowed instance or plugin id (``ID_PATTERN``)."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def is_valid_mode(value: object) -> bool:
    """Return whether ``value`` is an allowed mode name (``MODE_PATTERN``)."""
    return isinstance(value, str) and MODE_PATTERN.fullmatch(value) is not None


def suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TYPE_NAMES: Final[dict[type, str]] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    list: "array",
    tuple: "array",
}


def describe_value(value: object) -> str:
    """Describe a found value in TOML words: ``integer 150``, ``string 'high'``, ``a table``."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    name = _TYPE_NAMES.get(type(value))
    if name == "array":
        return "an array"
    if name is None:
        return f"a {type(value).__name__}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{name} {text}"


def format_key(path: KeyPath) -> str:
    """Render a key path as TOML would: ``plugins.text.speed``, ``plugins."../x"``, ``modes[2]``.

    Keys that are not bare TOML keys are quoted with escapes, so a hostile id shows as
    what it is (``"..\\/"``, ``"\\u00e9"``) instead of being confused with the path around it.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
        text += f".{shown}" if text else shown
    return text


def format_toml_value(value: object) -> str:
    """Render a default as it would be written in TOML (``true``, ``"auto"``, ``[]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_toml_value(item) for item in value) + "]"
    return str(value)


@final
@dataclass(frozen=True, slots=True)
class Setting:
    """The declaration of one host setting."""

    #: Table the setting lives in, e.g. ``"display"``.
    section: str
    #: Key inside the table, e.g. ``"brightness"``.
    name: str
    #: One of ``bool``, ``int``, ``float``, ``str``, ``list``. A float setting accepts
    #: TOML integers too (``fps = 30``); an int setting rejects floats and booleans.
    type: type
    #: Value used when no source sets the key; it must pass :meth:`check` itself.
    default: Any
    #: One or two sentences for the reference and the comments of ``default.toml``.
    help: str
    #: Inclusive bounds for ``int`` / ``float`` settings.
    min: int | float | None = None
    max: int | float | None = None
    #: The only allowed values of a ``str`` setting.
    choices: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """The dotted key, e.g. ``"display.brightness"``."""
        return f"{self.section}.{self.name}"

    @property
    def env_var(self) -> str:
        """The environment variable that overrides it, e.g. ``LEDHOST_DISPLAY__BRIGHTNESS``."""
        parts = [*self.section.split("."), self.name]
        return ENV_PREFIX + "__".join(part.upper() for part in parts)

    def expected(self) -> str:
        """Describe the allowed values, e.g. ``"an integer from 0 to 100"``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        noun = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            list: "an array",
        }[self.type]
        if self.min is not None and self.max is not None:
            return f"{noun} from {self.min} to {self.max}"
        if self.min is not None:
            return f"{noun} of at least {self.min}"
        if self.max is not None:
            return f"{noun} of at most {self.max}"
        return noun

    def check(self, value: object) -> tuple[Any, str | None]:
        """Validate one value of this setting.

        :param value: the value as parsed from TOML, the environment or overrides.
        :returns: ``(normalized value, None)`` when valid (ints become floats for float
            settings, tuples become lists), else ``(None, message)`` where the message
            says what was expected and what was found.
        """
        found = describe_value(value)
        normalized: Any
        if self.type is bool:
            ok = isinstance(value, bool)
            normalized = value
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            normalized = value
        elif self.type is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            # TOML allows nan and inf; nan would slip through both bound comparisons.
            ok = ok and math.isfinite(value)  # type: ignore[arg-type]
            normalized = float(value) if ok else None  # type: ignore[arg-type]
        elif self.type is str:
            ok = isinstance(value, str)
            normalized = value
        else:
            ok = isinstance(value, list | tuple)
            normalized = list(value) if ok else None  # type: ignore[call-overload]
        if not ok:
            return None, f"expected {self.expected()}, found {found}"
        if (self.min is not None and normalized < self.min) or (
            self.max is not None and normalized > self.max
        ):
            return None, f"expected {self.expected()}, found {found}"
        if self.choices is not None and normalized not in self.choices:
            hint = suggest(normalized, self.choices)
            return None, f"expected {self.expected()}, found {found}{hint}"
        return normalized, None


# The tables below are kept one declaration per row, like the table they are; ruff's
# formatter would spread each call over eight lines and hide the table.
# fmt: off

#: Every host setting, in reference order. Plugin sections are not here: each plugin
#: declares its own options as a JSON Schema (see :mod:`config.plugin_schema`).
SETTINGS: Final[tuple[Setting, ...]] = (
    # [display] -- mirrors hzeller's RGBMatrixOptions / RuntimeOptions (same defaults).
    Setting("display", "rows", int, 32, min=1, max=512,
            help="Rows of one panel, in pixels (typically 16, 32 or 64)."),
    Setting("display", "cols", int, 64, min=1, max=512,
            help="Columns of one panel, in pixels (typically 32 or 64)."),
    Setting("display", "chain_length", int, 1, min=1, max=64,
            help="Panels daisy-chained on one connector; the display is "
                 "`cols * chain_length` pixels wide."),
    Setting("display", "parallel", int, 1, min=1, max=6,
            help="Chains driven in parallel (1-3 on most Pis, up to 6 with the "
                 "compute-module mapping); the display is `rows * parallel` pixels high."),
    Setting("display", "backend", str, "auto",
            choices=("auto", "headless", "emulator", "hardware"),
            help="Where frames go: `hardware` (the rgbmatrix binding), `emulator` "
                 "(RGBMatrixEmulator), `headless` (live preview and snapshots only), or "
                 "`auto`: hardware when rgbmatrix imports, else headless."),
    Setting("display", "brightness", int, 100, min=0, max=100,
            help="Brightness in percent; 0 blanks the panel."),
    Setting("display", "fps", float, 60.0, min=1, max=240,
            help="Frame-rate ceiling for moving content (scrolling, animations, "
                 "transitions). Still content is pushed only when it changes."),
    Setting("display", "hardware_mapping", str, "regular",
            help="GPIO mapping of the HAT or wiring (`regular`, `adafruit-hat`, "
                 "`adafruit-hat-pwm`, `compute-module`, ...), as rgbmatrix's "
                 "`--led-gpio-mapping`. Not restricted here: the binding knows its own list."),
    Setting("display", "gpio_slowdown", int, 1, min=0, max=5,
            help="Slows GPIO writes for faster Pis or slower panels; try 2-4 on a Pi 4 if "
                 "the picture flickers (`--led-slowdown-gpio`)."),
    Setting("display", "pwm_bits", int, 11, min=1, max=11,
            help="PWM bits per colour: fewer bits trade colour depth for refresh rate "
                 "(`--led-pwm-bits`)."),
    Setting("display", "rgb_sequence", str, "RGB", choices=_RGB_SEQUENCES,
            help="Order of the colour channels for panels that swap them "
                 "(`--led-rgb-sequence`)."),
    Setting("display", "pixel_mapper", str, "",
            help="rgbmatrix pixel mappers, semicolon-separated, e.g. `U-mapper;Rotate:90` "
                 "(`--led-pixel-mapper`); empty for none."),
    Setting("display", "drop_privileges", bool, False,
            help="Let the rgbmatrix binding switch the whole host to user `daemon` once the "
                 "panel is open. Off by default: after that switch the host can no longer "
                 "start workers from a root-owned install, read a root-only config or write "
                 "its data folder. Workers never run as root either way (`workers.user`)."),
    # [rotation]
    Setting("rotation", "default_duration", float, 10.0, min=1, max=86400,
            help="Seconds a mode stays on screen when neither its rotation entry nor its "
                 "plugin says otherwise."),
    Setting("rotation", "modes", list, [],
            help='What the rotation shows, in order. Each item is `"instance:mode"`, '
                 '`"instance"` (all of its modes) or a table '
                 '`{ mode = "instance:mode", duration = 12.5 }`. Empty means every mode of '
                 "every enabled plugin instance, in config order. Entries naming a disabled "
                 "instance are skipped."),
    # [workers] -- how plugin workers are contained; see docs/writing_plugins.md.
    Setting("workers", "user", str, "auto",
            help="When ledhost runs as root (as it must on a Pi to open the panel), workers "
                 "run as this unprivileged user. `auto` picks `ledhost` if that user exists, "
                 "else `nobody`; empty keeps the host's user (not recommended as root)."),
    Setting("workers", "memory_limit_mb", int, 256, min=16, max=65536,
            help="Resident memory a worker and the processes it starts may use together, in "
                 "MiB, before the host kills it (\"over memory limit\"). A plugin instance "
                 "may set its own `memory_limit_mb`."),
    Setting("workers", "max_processes", int, 32, min=1, max=4096,
            help="Processes a worker may have alive at once, itself included; more is "
                 "treated as a runaway (\"too many processes\")."),
    Setting("workers", "max_open_files", int, 256, min=32, max=65536,
            help="Open file descriptors per worker process (`RLIMIT_NOFILE`)."),
    Setting("workers", "nice", int, 5, min=0, max=19,
            help="CPU niceness added to workers, so the host, which composites and pushes "
                 "frames, wins when the CPU is busy."),
    Setting("workers", "render_timeout", float, 5.0, min=0.1, max=600,
            help="Seconds one `render_frame`, `render_strip`, `has_content`, `configure` or "
                 "`handle_action` call may take before the worker counts as hung and is "
                 "killed; the panel shows the other plugins meanwhile."),
    Setting("workers", "refresh_timeout", float, 120.0, min=0.1, max=86400,
            help="Seconds one `refresh_data` call may take before the worker counts as hung."),
    Setting("workers", "setup_timeout", float, 30.0, min=0.5, max=3600,
            help="Seconds from starting a worker to the end of the plugin's `setup` "
                 "(import, handshake, setup) before it counts as hung."),
    Setting("workers", "heartbeat_timeout", float, 10.0, min=0.2, max=3600,
            help="Seconds without a heartbeat before a worker counts as hung (for code that "
                 "blocks the whole interpreter); workers beat four times per timeout."),
    Setting("workers", "stop_timeout", float, 3.0, min=0.1, max=600,
            help="Seconds a worker gets to stop after being asked (or after SIGTERM) "
                 "before SIGKILL goes to its whole process group."),
    Setting("workers", "restart_delay", float, 0.5, min=0.01, max=3600,
            help="Delay before the first restart of a failed worker; it doubles with each "
                 "failure in a row, plus up to 10% jitter."),
    Setting("workers", "restart_max_delay", float, 60.0, min=0.01, max=86400,
            help="Longest delay between restarts."),
    Setting("workers", "stable_after", float, 10.0, min=0.1, max=86400,
            help="Seconds a worker must run before a later failure starts the delays from "
                 "`restart_delay` again."),
    Setting("workers", "quarantine_after", int, 5, min=1, max=1000,
            help="Failures within `quarantine_window` that quarantine a plugin instance: it "
                 "is not restarted until the user retries it."),
    Setting("workers", "quarantine_window", float, 300.0, min=1, max=604800,
            help="Seconds over which failures are counted for `quarantine_after`."),
    # [paths]
    Setting("paths", "data_dir", str, "",
            help="Folder for plugin data, plugin environments and state. Empty means "
                 "`$XDG_DATA_HOME/ledhost` (default `~/.local/share/ledhost`); otherwise an "
                 "absolute path or one starting with `~/`."),
)

#: The reserved keys of every ``[plugins.<instance_id>]`` table; all other keys of the
#: table are that plugin's own options.
INSTANCE_SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("plugins.<instance_id>", "plugin", str, "",
            help="Id of the plugin this instance runs; empty or absent means the instance "
                 'id itself. Run one plugin twice with e.g. `[plugins.news]` and '
                 '`plugin = "text"`.'),
    Setting("plugins.<instance_id>", "enabled", bool, True,
            help="Whether the instance runs at all."),
    Setting("plugins.<instance_id>", "memory_limit_mb", int, 0, min=0, max=65536,
            help="This instance's memory limit in MiB; 0 means `workers.memory_limit_mb`."),
)
# fmt: on

#: Host sections in file order; ``plugins`` is handled apart (see INSTANCE_SETTINGS).
SECTIONS: Final[tuple[str, ...]] = tuple(dict.fromkeys(s.section for s in SETTINGS))


@final
@dataclass(frozen=True, slots=True)
class DisplayConfig:
    """The ``[display]`` table; see :data:`SETTINGS` for each field."""

    rows: int
    cols: int
    chain_length: int
    parallel: int
    backend: str
    brightness: int
    fps: float
    hardware_mapping: str
    gpio_slowdown: int
    pwm_bits: int
    rgb_sequence: str
    pixel_mapper: str
    drop_privileges: bool

    @property
    def width(self) -> int:
        """Display width in pixels: ``cols * chain_length``."""
        return self.cols * self.chain_length

    @property
    def height(self) -> int:
        """Display height in pixels: ``rows * parallel``."""
        return self.rows * self.parallel


@final
@dataclass(frozen=True, slots=True)
class RotationEntry:
    """One item of ``rotation.modes``."""

    #: The plugin instance id.
    instance: str
    #: The mode name, or ``None`` for every mode of the instance.
    mode: str | None = None
    #: Seconds on screen, or ``None`` for the mode's own or the default duration.
    duration: float | None = None

    def to_toml_value(self) -> str | dict[str, Any]:
        """Return the entry as written in the config file."""
        text = self.instance if self.mode is None else f"{self.instance}:{self.mode}"
        if self.duration is None:
            return text
        return {"mode": text, "duration": self.duration}


@final
@dataclass(frozen=True, slots=True)
class RotationConfig:
    """The ``[rotation]`` table."""

    default_duration: float
    #: Parsed ``modes``; empty means every mode of every enabled instance in config order.
    entries: tuple[RotationEntry, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class WorkersConfig:
    """The ``[workers]`` table: containment, deadlines and restart policy of workers."""

    user: str
    memory_limit_mb: int
    max_processes: int
    max_open_files: int
    nice: int
    render_timeout: float
    refresh_timeout: float
    setup_timeout: float
    heartbeat_timeout: float
    stop_timeout: float
    restart_delay: float
    restart_max_delay: float
    stable_after: float
    quarantine_after: int
    quarantine_window: float


@final
@dataclass(frozen=True, slots=True)
class PathsConfig:
    """The ``[paths]`` table, resolved (nothing is created on disk)."""

    data_dir: Path


@final
@dataclass(frozen=True, slots=True)
class PluginInstanceConfig:
    """One ``[plugins.<instance_id>]`` table."""

    instance_id: str
    plugin_id: str
    enabled: bool
    #: This instance's memory limit in MiB; 0 means the ``[workers]`` default.
    memory_limit_mb: int = 0
    #: The plugin's own options, not yet validated: the host validates them with
    #: :func:`config.validate_plugin_options` once the worker reports the plugin's schema.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Where the instance's table was first defined (file path, environment, overrides);
    #: pass it as ``source`` to :func:`config.validate_plugin_options`.
    source: str = "config"


@final
@dataclass(frozen=True, slots=True)
class HostConfig:
    """The whole validated configuration. Immutable: a change is a new ``HostConfig``."""

    display: DisplayConfig
    rotation: RotationConfig
    workers: WorkersConfig
    paths: PathsConfig
    #: Instances in config order (file order, then new ones from env, then overrides).
    plugins: Mapping[str, PluginInstanceConfig]
    #: The file it was loaded from; ``None`` for the embedded default.
    path: Path | None = None

    @property
    def enabled_plugins(self) -> tuple[PluginInstanceConfig, ...]:
        """The enabled instances, in config order."""
        return tuple(p for p in self.plugins.values() if p.enabled)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain TOML-shaped data (for printing, JSON, writing back).

        Feeding the result to ``load_config(overrides=...)`` yields an equal config.
        """
        display = {
            s.name: getattr(self.display, s.name) for s in SETTINGS if s.section == "display"
        }
        workers = {
            s.name: getattr(self.workers, s.name) for s in SETTINGS if s.section == "workers"
        }
        plugins: dict[str, Any] = {}
        for instance in self.plugins.values():
            table: dict[str, Any] = {"plugin": instance.plugin_id, "enabled": instance.enabled}
            if instance.memory_limit_mb:
                table["memory_limit_mb"] = instance.memory_limit_mb
            plugins[instance.instance_id] = {**table, **plain_data(instance.options)}
        return {
            "display": display,
            "rotation": {
                "default_duration": self.rotation.default_duration,
                "modes": [entry.to_toml_value() for entry in self.rotation.entries],
            },
            "workers": workers,
            "paths": {"data_dir": str(self.paths.data_dir)},
            "plugins": plugins,
        }


def plain_data(value: Any) -> Any:
    """Deep-copy into plain TOML/JSON-shaped data: dicts, lists, path-likes as strings.

    Also what makes a value safe to hand on: nothing shares structure with the caller's.
    """
    if isinstance(value, Mapping):
        return {key: plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed(setting: Setting) -> str:
    if setting.choices is not None:
        return ", ".join(f"`{format_toml_value(choice)}`" for choice in setting.choices)
    if setting.min is not None and setting.max is not None:
        return f"{setting.min} to {setting.max}"
    if setting.min is not None:
        return f"at least {setting.min}"
    if setting.max is not None:
        return f"at most {setting.max}"
    return ""


def _table(settings: tuple[Setting, ...]) -> list[str]:
    lines = [
        "| Setting | Type | Default | Allowed | Environment variable | Description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in settings:
        env_cell = f"`{s.env_var}`"
        lines.append(
            f"| `{s.name}` | {_TYPE_NAMES[s.type]} | `{format_toml_value(s.default)}` | "
            f"{_markdown_cell(_allowed(s))} | {env_cell} | {_markdown_cell(s.help)} |"
        )
    return lines


def settings_reference_markdown() -> str:
    """Generate the settings reference (Markdown) from :data:`SETTINGS`.

    :returns: the document; a doc step writes it to ``docs/`` and a test checks every
        setting and default appears in it.
    """
    lines = [
        "# Settings reference",
        "",
        "<!-- Generated from config/schema.py by config.settings_reference_markdown(). -->",
        "",
        "ledhost reads one TOML file. Every setting is optional. Sources apply in order, "
        "later ones winning: the file, then environment variables "
        f"`{ENV_PREFIX}<SECTION>__<NAME>` (values are parsed as TOML values when they "
        "parse, else taken as strings; quote a string that looks like a number: "
        f"`{ENV_PREFIX}PLUGINS__TEXT__MESSAGE='\"2024\"'`), then command-line overrides. "
        "Unknown keys in host sections are errors.",
        "",
    ]
    for section in SECTIONS:
        lines += [f"## `[{section}]`", ""]
        lines += _table(tuple(s for s in SETTINGS if s.section == section))
        lines.append("")
    lines += [
        "## `[plugins.<instance_id>]`",
        "",
        "One table per plugin instance, kept in file order. Instance ids and plugin ids use "
        "1-64 characters: a lowercase letter, then lowercase letters, digits, `_` or `-`. "
        "The keys below are reserved; every other key is an option of the plugin, checked "
        "against the JSON Schema the plugin declares (defaults filled in). Environment "
        f"variables reach them as `{ENV_PREFIX}PLUGINS__<INSTANCE_ID>__<KEY>` "
        "(all-uppercase segments are lowercased; nest deeper with more `__`).",
        "",
    ]
    lines += _table(INSTANCE_SETTINGS)
    lines.append("")
    return "\n".join(lines)
