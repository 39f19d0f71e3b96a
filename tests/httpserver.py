"""A real HTTP server on 127.0.0.1 that answers with recorded API responses.

Network plugins are tested against it instead of the internet (there is none in CI): each
test says what a path answers (a recorded payload from ``tests/recorded``, a status, a
broken body, a slow or hanging answer) and the plugin's ``base_url`` points here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: Recorded API answers, one folder per API; see ``tests/recorded/README.md``.
RECORDED = Path(__file__).parent / "recorded"


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    #: Seconds to wait before answering.
    delay: float = 0.0
    #: Never answer (until the server closes): a server that accepted and hung.
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    #: Send no Content-Length: the body ends when the connection closes.
    omit_length: bool = False


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class RecordedServer:
    """Serve routes on 127.0.0.1 from a thread; ``close()`` ends hanging answers too."""

    def __init__(self) -> None:
        #: Path -> what it answers; a list answers its routes in turn, then keeps the last.
        self.routes: dict[str, Route | list[Route]] = {}
        self.seen: list[Seen] = []
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                parts = urlsplit(self.path)
                server.seen.append(
                    Seen(parts.path, parse_qs(parts.query), {k: v for k, v in self.headers.items()})
                )
                found: Route | list[Route] | None = server.routes.get(parts.path)
                if found is None:  # a route ending in "/" answers everything below it
                    prefixes = [p for p in server.routes if p.endswith("/")]
                    below = [p for p in prefixes if parts.path.startswith(p)]
                    found = server.routes[max(below, key=len)] if below else None
                route: Route | None
                if isinstance(found, list):
                    route = found.pop(0) if len(found) > 1 else found[0]
                else:
                    route = found
                if route is None:
                    self.send_error(404, f"no route {parts.path}")
                    return
                if route.hang:
                    server._closing.wait(120)
                    return
                if route.delay:
                    server._closing.wait(route.delay)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if not route.omit_length:
                    self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, path: str, body: bytes | str | Any = b"", **options: Any) -> Route:
        """Answer ``path`` with ``body`` (bytes, text, or data sent as JSON).

        A ``path`` ending in ``/`` also answers every path below it that has no route of
        its own.
        """
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        route = Route(body=data, **options)
        self.routes[path] = route
        return route

    def serve_sequence(self, path: str, routes: list[Route]) -> None:
        """Answer ``path`` with ``routes`` in turn, then with the last one for ever."""
        self.routes[path] = list(routes)

    def serve_recorded(self, path: str, name: str, **options: Any) -> Route:
        """Answer ``path`` with the recorded file ``tests/recorded/<name>``."""
        data = (RECORDED / name).read_bytes()
        if name.endswith(".png"):
            options.setdefault("content_type", "image/png")
        return self.serve(path, data, **options)

    def requests_to(self, path: str) -> list[Seen]:
        """The requests received for ``path``, oldest first."""
        return [s for s in self.seen if s.path == path]

    def requests_to_prefix(self, prefix: str) -> list[Seen]:
        """The requests received for any path starting with ``prefix``."""
        return [s for s in self.seen if s.path.startswith(prefix)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Seen]:
        """Wait until ``path`` has been asked for ``count`` times."""
        deadline = time.monotonic() + timeout
        while len(self.requests_to(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} was requested {len(self.requests_to(path))} times")
            time.sleep(0.01)
        return self.requests_to(path)

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
