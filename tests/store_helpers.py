"""Build real plugin wheels and serve them, with a registry index, from 127.0.0.1.

For the store's tests and the reconciler's (``from tests.store_helpers import ...``):

- :func:`build_wheel`: a real wheel written with :mod:`zipfile` and a correct ``RECORD``;
  any member (also hostile ones: ``../x``, absolute paths, symlinks) can be added.
- :func:`plugin_wheel`: a ledhost plugin wheel whose frames are a solid colour (so a test
  tells versions apart), optionally checking a dependency's ``__version__`` at setup.
- :func:`lib_wheel`: a fake library (e.g. a fake ``msgspec`` 0.1) with a ``__version__``.
- :class:`WheelServer`: an ``http.server`` in a thread serving a folder and an index,
  counting requests per path, with switchable behaviours (:class:`Behaviour`: delay,
  status, truncate, wrong length, huge body).
- :func:`registry_index`: an index (schema 1) for wheels the server serves.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Behaviour",
    "WheelServer",
    "build_wheel",
    "lib_wheel",
    "plugin_wheel",
    "registry_index",
    "sha256_of",
]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(
    folder: Path,
    dist: str,
    version: str,
    files: Mapping[str, str | bytes],
    *,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    requires: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    raw_members: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``<dist>-<version>-py3-none-any.whl`` into ``folder`` and return its path.

    :param files: archive member name -> content (listed in RECORD).
    :param symlinks: member name -> link target (stored as a symlink zip entry).
    :param raw_members: members added as they are, after RECORD (hostile names).
    """
    norm = dist.replace("-", "_")
    info = f"{norm}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members: dict[str, bytes] = {
        name: body.encode() if isinstance(body, str) else body for name, body in files.items()
    }
    members[f"{info}/METADATA"] = metadata.encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: ledhost-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if entry_points:
        text = ""
        for group, eps in entry_points.items():
            text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        members[f"{info}/entry_points.txt"] = text.encode()
    record = "".join(f"{name},{_record_hash(body)},{len(body)}\n" for name, body in members.items())
    record += f"{info}/RECORD,,\n"
    members[f"{info}/RECORD"] = record.encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
        for name, target in (symlinks or {}).items():
            entry = zipfile.ZipInfo(name)
            entry.external_attr = (0o120777 << 16) | 0
            archive.writestr(entry, target)
        for name, body in (raw_members or {}).items():
            archive.writestr(zipfile.ZipInfo(name), body)
    return path


_PLUGIN = '''\
"""A store test plugin: version {version}, frames of one colour."""

from typing import Any

from sdk import Canvas, PluginContext, hookimpl

COLOUR = {colour!r}


@hookimpl
def register_modes(register: Any) -> None:
    register({mode!r}, duration=2.0)


@hookimpl
def setup(context: PluginContext) -> None:
{check}


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, frame: int) -> float:
    canvas.image.paste(COLOUR, (0, 0, canvas.width, canvas.height))
    return 0.02
'''


def plugin_wheel(
    folder: Path,
    plugin_id: str,
    version: str = "1.0.0",
    *,
    colour: tuple[int, int, int] = (10, 20, 30),
    dist: str | None = None,
    mode: str | None = None,
    requires: Iterable[str] = (),
    needs: Mapping[str, str] | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
    **kwargs: Any,
) -> Path:
    """A plugin wheel ``ledhost-<id>`` whose module is ``ledhost_store_<id>``.

    :param mode: its one mode's name (default ``v<major>``, so a run tells versions apart).
    :param needs: module -> ``__version__`` it must see at setup (else setup raises).
    """
    module = f"ledhost_store_{plugin_id.replace('-', '_')}"
    checks = [
        f"    import {name}\n"
        f"    if {name}.__version__ != {want!r}:\n"
        f"        raise RuntimeError('{name} is ' + {name}.__version__ + ', wanted {want}')"
        for name, want in (needs or {}).items()
    ]
    source = _PLUGIN.format(
        version=version,
        colour=colour,
        mode=mode or f"v{version.split('.')[0]}",
        check="\n".join(checks) or "    return None",
    )
    files: dict[str, str | bytes] = {f"{module}/__init__.py": source, **(extra_files or {})}
    return build_wheel(
        folder,
        dist or f"ledhost-{plugin_id}",
        version,
        files,
        entry_points={"ledhost.plugins": {plugin_id: module}},
        requires=requires,
        **kwargs,
    )


def lib_wheel(folder: Path, name: str, version: str, *, dist: str | None = None) -> Path:
    """A fake library: package ``name`` whose ``__version__`` is ``version``."""
    return build_wheel(
        folder, dist or name, version, {f"{name}/__init__.py": f"__version__ = {version!r}\n"}
    )


def registry_index(
    base_url: str,
    plugins: Mapping[str, Iterable[Path]],
    *,
    requires_ledhost: Mapping[str, str] | None = None,
    blocked: Iterable[Mapping[str, str]] = (),
    meta: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """An index (schema 1) listing ``plugins`` (id -> its version wheels, served under
    ``base_url``, with relative URLs)."""
    entries = []
    for plugin_id, wheels in plugins.items():
        versions = []
        for wheel in wheels:
            version = wheel.name.split("-")[1]
            versions.append(
                {
                    "version": version,
                    "url": wheel.name,
                    "sha256": sha256_of(wheel),
                    "size": wheel.stat().st_size,
                    "requires_ledhost": (requires_ledhost or {}).get(
                        f"{plugin_id}=={version}", ">=0.1"
                    ),
                    "notes": f"release {version}",
                }
            )
        entry = {
            "id": plugin_id,
            "name": plugin_id.title(),
            "description": f"The {plugin_id} test plugin",
            "author": "tests",
            "homepage": f"{base_url}/{plugin_id}",
            "category": "test",
            "tags": ["test"],
            "screenshot": "",
            "versions": versions,
            **(meta or {}).get(plugin_id, {}),
        }
        entries.append(entry)
    return {"schema": 1, "plugins": entries, "blocked": list(blocked)}


@dataclass
class Behaviour:
    """How the server answers requests whose path ends with ``path`` ("" = every path)."""

    path: str = ""
    delay: float = 0.0
    status: int = 200
    #: Send only this many bytes of the body (and close).
    truncate: int | None = None
    #: Claim this Content-Length (a lie when it differs from the body); -1: send none
    #: (the body ends when the connection closes).
    content_length: int | None = None
    #: Send this many bytes of zeros instead of the file.
    huge: int = 0


@dataclass
class WheelServer:
    """Serves ``root`` (wheels) and ``index.json`` (:attr:`index`) on 127.0.0.1."""

    root: Path
    index: dict[str, Any] | None = None
    behaviours: list[Behaviour] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path = self.path.split("?")[0]
                server.requests[path] += 1
                rule = next((b for b in server.behaviours if path.endswith(b.path)), Behaviour())
                if rule.delay:
                    time.sleep(rule.delay)
                if rule.status != 200:
                    self.send_error(rule.status)
                    return
                if rule.huge:
                    body = b"\0" * rule.huge
                elif path == "/index.json" and server.index is not None:
                    body = json.dumps(server.index).encode()
                else:
                    target = (server.root / path.lstrip("/")).resolve()
                    if not target.is_relative_to(server.root.resolve()) or not target.is_file():
                        self.send_error(404)
                        return
                    body = target.read_bytes()
                sent = body if rule.truncate is None else body[: rule.truncate]
                self.send_response(200)
                length = rule.content_length if rule.content_length is not None else len(body)
                if length >= 0:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    self.wfile.write(sent)
                except OSError:
                    pass
                self.close_connection = True

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/index.json"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> WheelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
