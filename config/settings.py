"""Every host setting, declared once as data.

The :data:`SETTINGS` table drives validation and defaults (:mod:`config.loader`), the
generated reference (:mod:`config.reference`), what a live reload may change without a
restart (:attr:`~config.schema.Setting.live`) and, through
:attr:`~config.schema.Setting.env_var`, environment variables (gunicorn's ``config.py``
``Setting`` classes, as a dataclass table). Adding a setting means adding one row here
and one field to the section's dataclass in :mod:`config.model`; a test keeps the two in
step. Time windows, which are tables rather than single values, are parsed by
:mod:`config.windows`.

Pure: no I/O, no clock, no environment (STYLE.md rule 17).
"""

from __future__ import annotations

from typing import Final

from config.panel import MULTIPLEXING, PANEL_TYPES, SCAN_MODES
from config.schema import RGB_SEQUENCES, TRANSITION_KINDS, Setting

__all__ = ["INSTANCE_SETTINGS", "LOG_LEVELS", "SECTIONS", "SETTINGS"]

#: Names of the log levels ``[logging]`` accepts, least severe first.
LOG_LEVELS: Final[tuple[str, ...]] = ("debug", "info", "warning", "error")

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
    Setting("display", "chain", int, 1, min=1, max=64,
            help="Panels daisy-chained on one connector (`--led-chain`); the display is "
                 "`cols * chain` pixels wide. Config version 1 called it `chain_length`; "
                 "ledhost renames it when it upgrades the file."),
    Setting("display", "parallel", int, 1, min=1, max=6,
            help="Chains driven in parallel (1-3 on most Pis, up to 6 with the "
                 "compute-module mapping); the display is `rows * parallel` pixels high."),
    Setting("display", "backend", str, "auto",
            choices=("auto", "headless", "emulator", "hardware", "piomatter"),
            help="Where frames go: `hardware` (the rgbmatrix binding), `piomatter` "
                 "(Adafruit's Pi 5 driver), `emulator` (RGBMatrixEmulator), `headless` "
                 "(live preview and snapshots only), or `auto`: on a Raspberry Pi, "
                 "hardware when rgbmatrix imports, else piomatter on a Pi 5 where it "
                 "imports; headless everywhere else."),
    Setting("display", "brightness", int, 100, min=0, max=100,
            live=True,
            help="Brightness in percent; 0 blanks the panel. `[schedule]` dim windows "
                 "override it while they last."),
    Setting("display", "gamma", float, 1.0, min=0.5, max=4.0,
            live=True,
            help="Gamma correction of every frame: 1.0 leaves colours as plugins draw them; "
                 "2.2 makes dim colours darker, which LED panels often need. The hardware "
                 "backend's rgbmatrix already corrects luminance (CIE1931), so keep 1.0 "
                 "there unless that correction is off; it matters for the emulator."),
    Setting("display", "fps", float, 60.0, min=1, max=240,
            live=True,
            help="Frame-rate ceiling for moving content (scrolling, animations, "
                 "transitions). Still content is pushed only when it changes."),
    Setting("display", "hardware_mapping", str, "regular",
            help="GPIO mapping of the HAT or wiring (`regular`, `adafruit-hat`, "
                 "`adafruit-hat-pwm`, `compute-module`, ...), as rgbmatrix's "
                 "`--led-gpio-mapping`. Not restricted here: the binding knows its own list."),
    Setting("display", "gpio_slowdown", int, 1, min=0, max=10,
            help="Slows GPIO writes for faster Pis or slower panels; try 2-4 on a Pi 4 if "
                 "the picture flickers (`--led-slowdown-gpio`)."),
    Setting("display", "pwm_bits", int, 11, min=1, max=11,
            help="PWM bits per colour: fewer bits trade colour depth for refresh rate "
                 "(`--led-pwm-bits`)."),
    Setting("display", "rgb_sequence", str, "RGB", choices=RGB_SEQUENCES,
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
    # The rest of rgbmatrix's panel options (docs/panel.md maps each to the binding).
    Setting("display", "pwm_lsb_nanoseconds", int, 130, min=50, max=3000,
            help="Time of the shortest PWM bit, in ns (`--led-pwm-lsb-nanoseconds`): lower "
                 "refreshes faster, higher gives cleaner dim colours on noisy panels."),
    Setting("display", "pwm_dither_bits", int, 0, min=0, max=2,
            help="Time-dither the lowest PWM bits, 0-2 (`--led-pwm-dither-bits`): a higher "
                 "refresh rate for a little colour accuracy."),
    Setting("display", "scan_mode", str, "progressive", choices=SCAN_MODES,
            help="Row scan order (`--led-scan-mode`): `progressive` or `interlaced`."),
    Setting("display", "row_address_type", int, 0, min=0, max=5,
            help="How the panel addresses rows (`--led-row-addr-type`): 0 direct (most "
                 "panels), 1 AB-addressed (some 64x64), 2 direct row select, 3 ABC "
                 "addressed, 4 ABC shift + DE direct, 5 test row select."),
    Setting("display", "multiplexing", str, "none", choices=MULTIPLEXING,
            help="Outdoor and other multiplexed panels' pixel order (`--led-multiplexing`); "
                 "`none` for ordinary panels."),
    Setting("display", "panel_type", str, "", choices=PANEL_TYPES,
            help="Panel driver chip that needs an init sequence (`--led-panel-type`): "
                 "`FM6126A` or `FM6127`; empty for the usual chips."),
    Setting("display", "refresh_limit", int, 0, min=0, max=1000,
            help="Cap the panel's refresh rate at this many Hz for a steadier picture "
                 "(`--led-limit-refresh`); 0 for no cap. Not the frame rate (`fps`)."),
    Setting("display", "disable_hardware_pulsing", bool, False,
            help="Time the PWM pulses in software instead of with the Pi's PWM hardware "
                 "(`--led-no-hardware-pulse`); needed while the sound module `snd_bcm2835` "
                 "is loaded (see `ledhost doctor`), costs some picture quality."),
    Setting("display", "inverse_colors", bool, False,
            help="Invert every colour, for panels with inverted drivers (`--led-inverse`)."),
    Setting("display", "rp1_rio", bool, False,
            help="On a Pi 5, drive the panel through the binding's experimental RP1 RIO "
                 "backend instead of RP1 PIO (`--led-rp1-rio`); hardware backend only."),
    Setting("display", "piomatter_pinout", str, "auto",
            choices=("auto", "bonnet", "hat", "active3"),
            help="Board the `piomatter` backend (Pi 5) drives: `bonnet` (Adafruit RGB "
                 "Matrix Bonnet), `hat` (Adafruit RGB Matrix HAT), `active3` (Active-3 "
                 "board, up to 3 chains), or `auto`: from `hardware_mapping` and "
                 "`parallel`."),
    Setting("display", "emulator_adapter", str, "raw", choices=("raw", "browser"),
            help="What the `emulator` backend shows: `raw` keeps frames in memory (nothing "
                 "to see; for tests and snapshots), `browser` serves RGBMatrixEmulator's "
                 "live page at `http://<emulator_bind>:<emulator_port>/`, so you can watch "
                 "the panel without a Pi."),
    Setting("display", "emulator_bind", str, "127.0.0.1",
            help="Address the emulator's browser page listens on. The default keeps it to "
                 "this machine; the page has no login, so `0.0.0.0` shows your panel to "
                 "everyone on the network."),
    Setting("display", "emulator_port", int, 8888, min=1, max=65535,
            help="TCP port of the emulator's browser page."),
    # [rotation]
    Setting("rotation", "default_duration", float, 10.0, min=1, max=86400,
            live=True,
            help="Seconds a mode stays on screen when neither its rotation entry nor its "
                 "plugin says otherwise."),
    Setting("rotation", "modes", list, [],
            live=True,
            help='What the rotation shows, in order. Each item is `"instance:mode"`, '
                 '`"instance"` (all of its modes) or a table '
                 '`{ mode = "instance:mode", duration = 12.5 }` with optional keys besides '
                 "`mode`: `duration` (seconds), `transition` and `transition_duration` "
                 "(override `[transitions]` when switching to this entry) and `when`, an "
                 "array of time windows as in `schedule.on`: outside them the entry is "
                 'skipped, e.g. `when = [{ days = "mon-fri", from = "09:00", to = "17:00" }]`. '
                 '`"@ticker"` shows the ticker (`[ticker]`) and `"@<name>"` the layout '
                 "`[layouts.<name>]`. "
                 "Empty means every mode of every enabled plugin instance, in config order. "
                 "Entries naming a disabled instance are skipped."),
    Setting("rotation", "max_dwell", float, 120.0, min=1, max=86400,
            live=True,
            help="Longest a mode's turn may last, in seconds, when its plugin asks for more "
                 "time to finish a cycle (a message scrolling to its end). A configured "
                 "`duration` longer than this still holds."),
    Setting("rotation", "interrupt_max_seconds", float, 600.0, min=1, max=86400,
            live=True,
            help="Longest a plugin's interrupt may hold the screen, in seconds; a longer "
                 "request is cut to this (notifications from the control API and pins are "
                 "not plugin interrupts)."),
    Setting("rotation", "interrupt_max_queued", int, 3, min=1, max=32,
            live=True,
            help="How many interrupts (one per mode) one plugin instance may have queued at "
                 "once; more are refused with a log line naming the instance."),
    # [transitions]
    Setting("transitions", "kind", str, "cut", choices=TRANSITION_KINDS,
            live=True,
            help="How one mode gives way to the next: `cut` (at once), `crossfade`, "
                 "`slide-<side>` (the new mode moves in towards that side, pushing the old "
                 "one out) or `wipe-<side>` (an edge moving towards that side uncovers the "
                 "new mode). A rotation entry may set its own `transition`."),
    Setting("transitions", "duration", float, 0.5, min=0.05, max=10,
            live=True,
            help="Seconds a transition takes (`cut` takes none). A rotation entry may set "
                 "its own `transition_duration`."),
    # [ticker]
    Setting("ticker", "speed", float, 30.0, min=1, max=1000,
            live=True,
            help="Speed of the ticker band, in pixels per second: several plugins' strips "
                 "scroll past as one seamless band."),
    Setting("ticker", "separator", str, " \u2022 ",
            live=True,
            help="Text drawn between two plugins' strips in the ticker band; empty for none."),
    Setting("ticker", "modes", list, [],
            live=True,
            help='The modes whose strips make up the ticker, in order: `"instance:mode"` or '
                 '`"instance"` (every mode of it that draws a strip). Put `"@ticker"` in '
                 "`rotation.modes` (or `{ mode = \"@ticker\", duration = 60 }`) to show it."),
    Setting("ticker", "gap", int, 8, min=0, max=256,
            live=True,
            help="Blank pixels on each side of the separator (between two strips when the "
                 "separator is empty)."),
    # [schedule]
    Setting("schedule", "timezone", str, "",
            live=True,
            help="IANA time zone the windows of `[schedule]` and `rotation.modes` are read "
                 "in, e.g. `Europe/Berlin`; empty means the system's local time."),
    Setting("schedule", "on", list, [],
            live=True,
            help="Windows when the panel is on; outside all of them it is off (dark). Empty "
                 'means always on. A window is a table `{ days = "mon-fri", from = "07:00", '
                 'to = "23:00" }`. `days` (default: every day) takes day names (`mon` to '
                 "`sun`, or in full), ranges (`mon-fri`; `fri-mon` wraps), `all`, `daily`, "
                 "`weekdays` or `weekends`, comma-separated or as an array. `from` and `to` "
                 "are 24-hour `HH:MM` (default `00:00` and `24:00`). A window whose `to` is "
                 "earlier than its `from` runs overnight and belongs to the day it starts: "
                 '`{ days = "fri", from = "22:00", to = "02:00" }` is Friday 22:00 to '
                 "Saturday 02:00. Windows follow the wall clock, so across a daylight-saving "
                 "change they last an hour more or less; a time the clocks skip counts from "
                 "the moment after the jump, and a time that occurs twice counts once, the "
                 "first time."),
    Setting("schedule", "dim", list, [],
            live=True,
            help="Windows with their own brightness: each is a window as in `on` plus "
                 "`brightness` (0-100 percent, required) and `tint` (`none`, `warm`, `red` or "
                 '`"#rrggbb"`: a colour filter applied last, default `none`), e.g. '
                 '`{ from = "22:00", to = "07:00", brightness = 20, tint = "warm" }`. The '
                 "first window that matches wins; outside all of them `display.brightness` "
                 "applies."),
    # [workers] -- how plugin workers are contained; see docs/writing_plugins.md.
    Setting("workers", "user", str, "auto",
            help="When ledhost runs as root (as it must on a Pi to open the panel), workers "
                 "run unprivileged. `auto` gives each plugin instance a uid of its own (see "
                 "`uid_base`); a user name runs every instance as that user. If the "
                 "workers' user cannot run ledhost's Python (a venv under "
                 "`/root`), only ledhost's own plugins run, as root with a warning, and "
                 "third-party plugins do not start (their status says why). `root` (or "
                 "empty: the host's user) runs every plugin as root on purpose: they can "
                 "then read secrets and rewrite ledhost."),
    Setting("workers", "uid_base", int, 1_900_000_000, min=1000, max=2_147_000_000,
            help="With `user = \"auto\"` as root, each plugin instance runs as a uid of its "
                 "own from `uid_base` on (like systemd's DynamicUser: no passwd entry, gid = "
                 "uid, no groups), so plugins cannot signal, trace or read one another. The "
                 "default lies above systemd-nspawn's container range (524288-1879048191) and "
                 "usual `/etc/subuid` ranges and below 2^31; the host refuses to start if a "
                 "user, group, `/etc/subuid` range or stray file uses one. The mapping is kept "
                 "in `<data_dir>/plugins/.uids.json` (root only). A named `user` is shared by "
                 "all instances instead, which gives that isolation up."),
    Setting("workers", "uid_count", int, 65536, min=1, max=1_000_000,
            help="How many uids from `uid_base` instances may be given; a uid of a removed "
                 "instance is reused only once its data folder is gone."),
    Setting("workers", "cgroups", str, "auto", choices=("auto", "off"),
            help="`auto`: where the host may write a cgroup v2 subtree (systemd "
                 "`Delegate=yes`, or root with a writable cgroup2 mount outside a systemd "
                 "unit that does not delegate it), each worker gets a "
                 "cgroup of its own: nothing it starts can leave it, `cgroup.kill` ends all "
                 "of it at once, and `memory_limit_mb` and `max_processes` become the "
                 "kernel's `memory.max` and `pids.max` where those controllers exist (else "
                 "they stay the host's process-tree rules; the log and each worker's status "
                 "say which). `off`: process trees only."),
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
                 "blocks the whole interpreter); workers beat four times per timeout while a "
                 "hook call runs, never while idle, and the timeout counts only while the "
                 "host waits for something from the worker."),
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
    # [web] -- the admin UI, a separate process (DESIGN.md "Web").
    Setting("web", "enabled", bool, False,
            live=True,
            help="Whether `ledhost run` starts the web process (the REST API, "
                 "docs/web.md) and restarts it with backoff if it exits; `ledhost web` "
                 "runs it alone."),
    Setting("web", "bind", str, "0.0.0.0",
            live=True,
            help="Address the admin UI listens on. The default, `0.0.0.0` (every IPv4 "
                 "interface), makes the UI of a headless Pi reachable from the other "
                 "machines on the LAN, which is how it is meant to be used; every page "
                 "asks for the admin password. `127.0.0.1` keeps it to the Pi itself (reach "
                 "it through `ssh -L`); `::` listens on IPv6 as well."),
    Setting("web", "port", int, 8080, min=1, max=65535,
            live=True,
            help="TCP port of the admin UI. Ports below 1024 need root."),
    Setting("web", "allowed_hosts", list, [],
            live=True,
            help="Further names the admin UI answers to, e.g. `[\"sign.example.com\"]` or "
                 "`[\"*.example.com\"]`. It always answers to IP addresses, `localhost`, "
                 "names without a dot (`raspberrypi`), the Pi's own host name and LAN names "
                 "(`.local`, `.lan`, `.home`, `.home.arpa`, `.internal`, `.localdomain`, "
                 "`.fritz.box`); a request for any other name is refused (421), so a web page "
                 "that makes its own name point at the Pi (DNS rebinding) cannot use it. Add "
                 "the name a reverse proxy or your own DNS gives the sign; a state-changing "
                 "request from a page whose origin is one of these names is accepted too."),
    # [mqtt] -- the MQTT bridge (docs/mqtt.md): a separate process, like the web process.
    Setting("mqtt", "enabled", bool, False,
            live=True,
            help="Whether `ledhost run` starts the MQTT bridge (`ledhost mqtt-bridge`, "
                 "docs/mqtt.md) and restarts it with backoff if it exits: states and Home "
                 "Assistant discovery published to the broker, commands taken from it."),
    Setting("mqtt", "broker", str, "mqtt://127.0.0.1:1883",
            live=True,
            help="The broker: `mqtt://host:port` (plain, port 1883 by default) or "
                 "`mqtts://host:port` (TLS, 8883). No user name or password in the URL: "
                 "see `username`, and put the password in the secrets file's `[mqtt]` table "
                 "(`password = \"...\"`)."),
    Setting("mqtt", "ca_file", str, "",
            live=True,
            help="CA certificate(s) that sign the broker's certificate (mqtts only); empty "
                 "uses the system's. An absolute path or one starting with `~/`."),
    Setting("mqtt", "client_cert", str, "",
            live=True,
            help="Client certificate for brokers that ask for one (mqtts only; with "
                 "`client_key`)."),
    Setting("mqtt", "client_key", str, "",
            live=True,
            help="The client certificate's private key (keep it 0600)."),
    Setting("mqtt", "username", str, "",
            live=True,
            help="User name for the broker; empty for none. Its password goes in the "
                 "secrets file, never here."),
    Setting("mqtt", "client_id", str, "",
            live=True,
            help="MQTT client id: 1-64 ASCII letters, digits, `_`, `.` or `-`, unique on "
                 "the broker. Empty means `ledhost-<hostname>`."),
    Setting("mqtt", "base_topic", str, "",
            live=True,
            help="Topic everything of this sign lives under (states, commands, "
                 "availability). No wildcards, no leading `/` or `$`. Empty means "
                 "`ledhost/<client id>`."),
    Setting("mqtt", "keepalive", int, 60, min=5, max=3600,
            live=True,
            help="Seconds between the bridge's keep-alive pings; the broker publishes "
                 "`offline` (the last will) after 1.5 times this without a word."),
    Setting("mqtt", "discovery_prefix", str, "homeassistant",
            live=True,
            help="Home Assistant's MQTT discovery prefix: the sign appears there as a "
                 "device with a light, a select, a text, buttons and sensors. Empty "
                 "publishes no discovery."),
    Setting("mqtt", "device_name", str, "LED sign",
            live=True,
            help="The device's name in Home Assistant (1-64 characters)."),
    # [logging] -- the host's own log; plugin records reach it through the host.
    Setting("logging", "level", str, "info", choices=LOG_LEVELS,
            help="Least severe record the host logs. `ledhost run -v` (debug) and `-q` "
                 "(warning) win over it."),
    Setting("logging", "file", str, "",
            help="Log file; empty logs to standard error, which systemd puts in the journal. "
                 "An absolute path or one starting with `~/`; the file is rotated at 1 MiB "
                 "and 3 old ones are kept (`.1` to `.3`)."),
    Setting("logging", "plugin_level", str, "info", choices=LOG_LEVELS,
            help="Least severe plugin record the host logs, to quiet a chatty plugin "
                 "(`warning`); records below `level` are not logged either. Workers send "
                 "no debug records, so `debug` logs what `info` does."),
    # [control] -- the host's control socket (the CLI and the web process use it).
    Setting("control", "socket", str, "",
            help="Path of the host's control socket. Empty means "
                 "`/run/ledhost/control.sock` as root, else "
                 "`$XDG_RUNTIME_DIR/ledhost/control.sock`. Mode 0660, group `ledhost` "
                 "when that group exists: its members may control the sign."),
    # [store] -- the plugin store (store/, docs/store.md).
    Setting("store", "registries", list, ["https://ledhost.github.io/registry/index.json"],
            help="Registry index URLs (http(s) or a local file), searched in order: the "
                 "first offering a plugin id wins. Add your own after the official one."),
    Setting("store", "cache_ttl_seconds", float, 3600.0, min=0, max=604800,
            help="How long a fetched registry index is used before it is fetched again; "
                 "when the registry cannot be reached an older copy is used, and said so."),
    Setting("store", "max_download_mb", float, 50.0, min=0.01, max=4096,
            help="Largest download (wheel or index) in MB; a larger one is stopped while "
                 "streaming, whatever the server claims."),
    Setting("store", "timeout_seconds", float, 20.0, min=0.1, max=600,
            help="Seconds to wait for a connection or for the next bytes of a download."),
    Setting("store", "installer", str, "pip", choices=("pip", "uv"),
            help="What installs plugins into their environments: `pip` (sees ledhost's "
                 "packages, installs only what is missing) or `uv` (faster, but copies "
                 "every dependency into each plugin's environment)."),
    Setting("store", "index_url", str, "https://pypi.org/simple",
            help="Package index for plugin dependencies and `pypi:` sources; empty for "
                 "none (offline: dependencies must come from `find_links`)."),
    Setting("store", "find_links", list, [],
            help="Folders (or URLs) of wheels the installer may take dependencies from."),
    # [sync] -- several signs through the MQTT broker (docs/mqtt.md, "Several signs").
    Setting("sync", "role", str, "off", choices=("off", "leader", "follower"),
            help="`leader` publishes this sign's rotation position and notifications on "
                 "the broker (`[mqtt]`); `follower` shows what the leader shows, switching "
                 "at the same instant, and carries on with its own rotation while it hears "
                 "no leader; `off`: this sign stands alone."),
    Setting("sync", "group", str, "",
            help="Group of this sign (letters, digits, `_`, `-`, `.`): a notification sent "
                 "to a group shows only on its signs, one sent to all on every sign. Empty: "
                 "no group (only notifications sent to all)."),
    Setting("sync", "topic", str, "sync",
            help="Topic prefix under `[mqtt]`'s base topic for the signs' sync messages; "
                 "signs that follow one leader share it (one prefix per set of signs)."),
    Setting("sync", "period", float, 1.0, min=0.1, max=60,
            help="Seconds between the leader's position messages (it also sends one at "
                 "every switch); a follower that hears nothing for three periods carries on "
                 "alone, and rejoins at the next message."),
    Setting("sync", "notify_lead", float, 0.5, min=0.05, max=10,
            help="Seconds between a synchronised notification being sent and it starting "
                 "on every sign (the leader's too), so that all can draw it first."),
    Setting("sync", "wall_width", int, 0, min=0, max=4096,
            help="A wall of panels: the width of the whole canvas the leader renders (its "
                 "own display is that canvas). 0: no wall. Set on every sign of the wall."),
    Setting("sync", "wall_height", int, 0, min=0, max=4096,
            help="The height of the wall's canvas (with `wall_width`; 0: no wall)."),
    Setting("sync", "wall_x", int, 0, min=0, max=4096,
            help="On a follower: the left column of this sign's slice of the wall; the "
                 "slice is as large as this sign's display and must lie within the wall."),
    Setting("sync", "wall_y", int, 0, min=0, max=4096,
            help="On a follower: the top row of this sign's slice of the wall."),
    Setting("sync", "wall_fps", float, 30.0, min=1, max=60,
            help="On the leader: most frames a second it sends over the broker (each is the "
                 "whole canvas, RGB with zlib)."),
    Setting("sync", "wall_delay", float, 0.15, min=0.02, max=5,
            help="On the leader: seconds from composing a frame to every sign showing it "
                 "(the frame carries that instant in the leader's clock; followers wait "
                 "for it by the measured offset). More than the broker's round trip."),
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
