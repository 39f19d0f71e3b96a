"""One adapter, :class:`MatrixBackend`, for the ``rgbmatrix`` binding and RGBMatrixEmulator.

Both modules offer the same API (``RGBMatrixOptions``, ``RGBMatrix(options=...)``,
``CreateFrameCanvas``, ``SetImage``, ``SwapOnVSync`` returning the next canvas), so the
adapter takes the module as a parameter and the emulator exercises, here, the exact code
that drives the panel on a Pi.

Privileges (hardware). Creating ``RGBMatrix`` as root makes the binding drop the whole
process to user ``daemon`` (option ``drop_privileges``, on in the binding; newer bindings
also take ``drop_priv_user``/``drop_priv_group``). After that, files only root could read
(fonts, plugin environments, TLS certificates, the config) fail to open, and the host
could no longer start workers from a root-owned install. So ledhost's own setting
``display.drop_privileges`` defaults to off and is passed to the binding explicitly; the
host keeps root to drive the panel and is responsible for running workers unprivileged.

Emulator. RGBMatrixEmulator reads, and if missing writes, ``emulator_config.json`` in the
current directory, already while ``import RGBMatrixEmulator`` runs (``RGBMatrix`` has an
``RGBMatrixOptions()`` default argument), and its default ``browser`` adapter serves on
every interface and installs SIGINT/SIGTERM handlers. So the module is imported and every
emulator object is built inside :func:`emulator_sandbox`: a private temporary directory
holding our own config, which selects the ``raw`` adapter (frames kept in memory: no
window, no socket, no thread) with fallback to other adapters off, and quiet logging.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from host.display.backends.base import EMULATOR_OPTIONS, MATRIX_OPTIONS, BackendError
from host.display.backends.headless import check_frame
from host.display.backends.panel import (
    check_binding_limits,
    check_devices,
    is_pi5,
    is_raspberry_pi,
)
from host.display.backends.snapshot import SnapshotRecorder

log = logging.getLogger(__name__)

EMULATOR_CONFIG_NAME = "emulator_config.json"
EMULATOR_DEFAULT_ADAPTER = "raw"
EMULATOR_DEFAULTS: dict[str, Any] = {
    "pixel_outline": 0, "pixel_size": 16, "pixel_style": "square", "pixel_glow": 6,
    "display_adapter": "raw", "allow_adapter_fallback": False, "icon_path": None,
    "emulator_title": None, "log_level": "warning",
    "browser": {
        "_comment": "For use with the browser adapter only.",
        "port": 8888, "target_fps": 60, "fps_display": False, "quality": 70,
        "image_border": True, "debug_text": False, "image_format": "JPEG",
        "open_immediately": False,
    },
}  # fmt: skip
"""Every key of RGBMatrixEmulator 0.20's config; a missing key is logged as a warning."""

_cwd_lock = threading.Lock()


class MatrixBackend:
    """Push frames through an ``rgbmatrix``-compatible module.

    :param module: ``rgbmatrix`` or ``RGBMatrixEmulator``.
    :param options: normalised options; geometry left out is derived from the display size
        (one panel per chain unless ``chain_length``/``parallel`` say otherwise).
    :param build_context: entered while the module's objects are built (the emulator's
        sandbox); the panel itself needs none.
    :param on_close: called with the last canvas when closing, to release module state.
    """

    def __init__(
        self,
        module: ModuleType,
        *,
        name: str,
        width: int,
        height: int,
        options: Mapping[str, Any],
        recorder: SnapshotRecorder | None = None,
        build_context: Callable[[], contextlib.AbstractContextManager[Any]] = (
            contextlib.nullcontext
        ),
        on_close: Callable[[Any], None] | None = None,
    ) -> None:
        self.name = name
        self.width = width
        self.height = height
        self.recorder = recorder
        self._on_close = on_close
        self._unsafe = True
        self._closed = False
        settings = {k: v for k, v in options.items() if k in MATRIX_OPTIONS}
        chain, parallel = settings.get("chain_length", 1), settings.get("parallel", 1)
        settings.setdefault("rows", height // parallel)
        settings.setdefault("cols", width // chain)
        with build_context():
            matrix_options = module.RGBMatrixOptions()
            for key, value in settings.items():
                try:
                    setattr(matrix_options, key, value)
                except AttributeError:
                    raise BackendError(
                        f"{name}: this {module.__name__} has no option {key!r}; "
                        "upgrade it or remove the option"
                    ) from None
                except (TypeError, ValueError, OverflowError) as exc:
                    raise BackendError(f"{name}: bad value {value!r} for {key!r}: {exc}") from None
            try:
                self._matrix: Any = module.RGBMatrix(options=matrix_options)
                self._canvas: Any = self._matrix.CreateFrameCanvas()
            except Exception as exc:
                raise BackendError(f"{name}: could not open the matrix: {exc}") from exc
        got = (self._matrix.width, self._matrix.height)
        if got != (width, height):
            if on_close is not None:
                on_close(self._canvas)
            raise BackendError(
                f"{name}: rows/cols/chain_length/parallel/pixel_mapper_config give a "
                f"{got[0]}x{got[1]} display but the display is {width}x{height}; fix one"
            )

    @property
    def matrix(self) -> Any:
        """The module's ``RGBMatrix`` (for diagnostics and tests)."""
        return self._matrix

    @property
    def canvas(self) -> Any:
        """The off-screen canvas the next push draws on."""
        return self._canvas

    def push(self, frame: np.ndarray, at: float) -> None:
        """Draw ``frame`` on the off-screen canvas and swap it in at the next refresh.

        On hardware ``SwapOnVSync`` blocks until the panel's next refresh (a few ms).
        ``Image.fromarray`` copies the pixels into Pillow's own buffer, and ``SetImage``
        copies them into the canvas, so nothing keeps a reference to ``frame``.
        """
        if self._closed:
            raise RuntimeError(f"push() on a closed {self.name} backend")
        check_frame(frame, self.width, self.height)
        image = Image.fromarray(frame)
        if self._unsafe:
            try:
                self._canvas.SetImage(image, 0, 0, unsafe=True)
            except AttributeError as exc:
                if "unsafe_ptrs" not in str(exc):
                    raise
                # Bindings built before Pillow 12 read image.im.unsafe_ptrs, which Pillow
                # removed. Their safe path sets pixels in a Python loop: slower, but right.
                log.warning(
                    "%s: this rgbmatrix build predates Pillow 12; using slow SetImage", self.name
                )
                self._unsafe = False
        if not self._unsafe:
            self._canvas.SetImage(image, 0, 0, unsafe=False)
        self._canvas = self._matrix.SwapOnVSync(self._canvas)
        if self.recorder is not None:
            self.recorder.add(frame, at)

    def close(self) -> None:
        """Blank the display, release it and write the snapshot, if any. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._matrix.Clear()
        finally:
            if self._on_close is not None:
                self._on_close(self._canvas)
            # Dropping the last reference stops the binding's refresh thread.
            self._matrix = self._canvas = None
            if self.recorder is not None:
                self.recorder.write()


def open_hardware(
    *,
    width: int,
    height: int,
    options: Mapping[str, Any],
    recorder: SnapshotRecorder | None,
    model: str | None,
    system_root: Path = Path("/"),
) -> MatrixBackend:
    """Open the panel through hzeller's ``rgbmatrix`` binding.

    :param model: the board (:func:`~host.display.backends.panel.pi_model`). Off a Pi the
        binding guesses "Pi 3" and maps ``/dev/mem`` at a Pi's peripheral address, so it is
        refused; on a Pi the options are checked against the binding's limits first (it
        crashes the process on many bad values, see :mod:`~host.display.backends.panel`).
    """
    emulator_only = sorted(set(options) & EMULATOR_OPTIONS)
    if emulator_only:
        raise BackendError(
            f"hardware: option(s) {', '.join(emulator_only)} only apply to the emulator"
        )
    try:
        module = importlib.import_module("rgbmatrix")
    except (ImportError, OSError) as exc:
        raise BackendError(
            f"hardware: cannot import rgbmatrix ({exc}); install hzeller's rpi-rgb-led-matrix "
            "Python binding on the Pi, or use backend 'emulator' or 'headless'"
        ) from None
    if not is_raspberry_pi(model):
        raise BackendError(
            "hardware: this machine is not a Raspberry Pi (no Raspberry Pi model in "
            "/proc/device-tree/model); use backend 'emulator' or 'headless'"
        )
    if is_pi5(model) and not hasattr(module.RGBMatrixOptions, "rp1_rio"):
        # Pi 5 support and the rp1_rio option came in one commit (2026-04, "Raspberry Pi5
        # Support"); an older binding would fail to map the Pi 5's GPIO: a crash.
        raise BackendError(
            "hardware: this rgbmatrix predates Pi 5 support; rebuild it from a newer "
            "rpi-rgb-led-matrix, or use backend 'piomatter'"
        )
    check_binding_limits({k: v for k, v in options.items() if k in MATRIX_OPTIONS}, model=model)
    check_devices(system_root, model, options)
    if os.geteuid() == 0 and options.get("drop_privileges", True):
        log.info("hardware: rgbmatrix will drop this process to user daemon once the panel is open")
    return MatrixBackend(
        module, name="hardware", width=width, height=height, options=options, recorder=recorder
    )


@contextlib.contextmanager
def emulator_sandbox(config: Mapping[str, Any]) -> Iterator[None]:
    """Run the body in a private temporary directory holding ``config`` as the emulator's
    config file, with stray prints sent to stderr.

    The working directory is process-wide, so this holds a lock and is meant for startup
    (the host opens its backend before it starts threads); the previous directory is
    restored through a descriptor, so it works even if that directory was renamed.
    RGBMatrixEmulator calls ``sys.exit`` when an adapter fails to load; that becomes a
    :class:`BackendError` instead of ending the host.
    """
    with _cwd_lock, tempfile.TemporaryDirectory(prefix="ledhost-emulator-") as tmp:
        Path(tmp, EMULATOR_CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")
        previous = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
        try:
            os.chdir(tmp)
            with contextlib.redirect_stdout(sys.stderr):
                yield
        except SystemExit as exc:
            raise BackendError(
                f"emulator: RGBMatrixEmulator could not load display adapter "
                f"{config.get('display_adapter')!r} (exit {exc.code}); see its log"
            ) from None
        finally:
            os.fchdir(previous)
            os.close(previous)


def emulator_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the emulator config file's content for ``options``.

    Fallback is always off: with it on, a failing adapter falls back to ``browser``, which
    listens on every interface. ``raw`` keeps one-pixel LEDs, since nothing displays them.
    """
    config = copy.deepcopy(EMULATOR_DEFAULTS)
    adapter = options.get("display_adapter", EMULATOR_DEFAULT_ADAPTER)
    config.update(display_adapter=adapter, allow_adapter_fallback=False, log_level="warning")
    if adapter == EMULATOR_DEFAULT_ADAPTER:
        config["pixel_size"] = 1
    for key in EMULATOR_OPTIONS - {"display_adapter", "browser_bind"}:
        if key in options:
            value = options[key]
            if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
                value = {**config[key], **value}
            config[key] = value
    return config


def open_emulator(
    *, width: int, height: int, options: Mapping[str, Any], recorder: SnapshotRecorder | None
) -> MatrixBackend:
    """Open RGBMatrixEmulator, by default with its ``raw`` adapter (no window, no socket)."""
    if importlib.util.find_spec("RGBMatrixEmulator") is None:
        raise BackendError(
            "emulator: RGBMatrixEmulator is not installed; pip install 'ledhost[emulator]'"
        )
    try:
        # The import itself builds an RGBMatrixOptions, so it too runs in the sandbox.
        with emulator_sandbox(emulator_config({})):
            module = importlib.import_module("RGBMatrixEmulator")
        adapters = importlib.import_module("RGBMatrixEmulator.adapters").ADAPTERS
    except ImportError as exc:
        raise BackendError(
            f"emulator: cannot import RGBMatrixEmulator ({exc}); pip install 'ledhost[emulator]'"
        ) from None
    adapter = options.get("display_adapter", EMULATOR_DEFAULT_ADAPTER)
    if adapter not in adapters:
        choices = ", ".join(sorted(adapters))
        raise BackendError(f"emulator: unknown display_adapter {adapter!r}; use one of {choices}")
    config = emulator_config(options)
    build: Callable[[], contextlib.AbstractContextManager[Any]]
    if adapter == "browser":
        bind = str(options.get("browser_bind", "127.0.0.1"))
        port = config["browser"]["port"]
        build = lambda: _browser_sandbox(config, bind)  # noqa: E731
        log.info("emulator: the panel is live at http://%s:%s/", _url_host(bind), port)
    else:
        if adapter != EMULATOR_DEFAULT_ADAPTER:
            log.warning("emulator: display adapter %r opens a window or uses the tty", adapter)
        build = lambda: emulator_sandbox(config)  # noqa: E731
    release = _release_raw_adapter if adapter == EMULATOR_DEFAULT_ADAPTER else None
    return MatrixBackend(
        module, name="emulator", width=width, height=height, options=options, recorder=recorder,
        build_context=build, on_close=release
    )  # fmt: skip


def _url_host(bind: str) -> str:
    return f"[{bind}]" if ":" in bind else bind


@contextlib.contextmanager
def _browser_sandbox(config: Mapping[str, Any], bind: str) -> Iterator[None]:
    """:func:`emulator_sandbox` for the browser adapter, listening on ``bind`` only.

    RGBMatrixEmulator's server calls tornado's ``Application.listen(port)``, which listens
    on every interface, and has no setting for the address; its page has no login. While
    the adapter starts (the canvas is created in this context), ``listen`` is given the
    address. The server also installs SIGINT/SIGTERM handlers that ``sys.exit``; the
    host's own are put back, so Ctrl-C still stops the host cleanly.
    """
    import tornado.web

    original = tornado.web.Application.listen
    main = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}

    def listen(self: Any, port: int, address: str | None = None, **kwargs: Any) -> Any:
        return original(self, port, address=bind, **kwargs)

    tornado.web.Application.listen = listen  # type: ignore[method-assign]
    try:
        with emulator_sandbox(config):
            yield
    except OSError as exc:
        raise BackendError(
            f"emulator: the browser page cannot listen on {bind}:{config['browser']['port']}: "
            f"{exc.strerror or exc} (set display.emulator_bind / emulator_port)"
        ) from None
    finally:
        tornado.web.Application.listen = original  # type: ignore[method-assign]
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def _release_raw_adapter(canvas: Any) -> None:
    """Let the next emulator backend get a fresh raw adapter.

    Adapters are per-class singletons (``INSTANCE``), so without this a later backend of
    another size would reuse this one's adapter and its stored frames. Only ``raw`` is
    released: the browser adapter's server keeps serving the first adapter it was given.
    """
    adapter = getattr(canvas, "display_adapter", None)
    adapter_class: Any = type(adapter)
    if adapter is not None and vars(adapter_class).get("INSTANCE") is adapter:
        adapter_class.INSTANCE = None
