"""sdk.http against a real HTTP server on 127.0.0.1: retries, caps, the stale-on-error cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sdk import FetchError, PluginContext, network_properties
from sdk.http import HttpClient
from sdk.testing import RecordingRequests
from tests.httpserver import RecordedServer, Route

GOOD = {"temperature": 21.5, "items": [1, 2, 3]}


def client(tmp_path: Path, **options: Any) -> HttpClient:
    options.setdefault("backoff", 0.01)
    return HttpClient(tmp_path / "cache", **options)


def parse_temperature(data: Any) -> float:
    return float(data["temperature"])


def test_get_json_decodes_sends_params_and_a_user_agent(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    http_server.serve("/v1/data", GOOD)
    fetched = client(tmp_path).get_json(
        f"{http_server.url}/v1/data", params={"lat": 52.5, "days": [1, 2], "on": True, "x": None}
    )
    assert fetched.value == GOOD
    assert not fetched.stale and not fetched.cached and fetched.error is None
    assert fetched.age() < 5
    (seen,) = http_server.requests_to("/v1/data")
    assert seen.query == {"lat": ["52.5"], "days": ["1,2"], "on": ["true"]}
    assert seen.headers["User-Agent"] == "ledhost"


def test_parse_turns_the_answer_into_the_plugins_data(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    http_server.serve("/t", GOOD)
    fetched = client(tmp_path).get_json(f"{http_server.url}/t", parse=parse_temperature)
    assert fetched.value == 21.5


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(status=500), "HTTP 500"),
        (Route(body=b"{not json"), "not valid JSON"),
        (Route(body=b'{"temperature": "warm"}'), "ValueError"),
        (Route(body=b'{"other": 1}'), "KeyError"),
        (Route(status=404), "HTTP 404"),
    ],
    ids=["http-500", "malformed-json", "parse-rejects-value", "parse-rejects-shape", "http-404"],
)
def test_a_failed_fetch_returns_the_last_good_answer_marked_stale(
    http_server: RecordedServer, tmp_path: Path, route: Route, reason: str
) -> None:
    """Verify that any failure after a good fetch gives the cached answer, stale, with why."""
    url = f"{http_server.url}/t"
    http_server.serve("/t", GOOD)
    first = client(tmp_path).get_json(url, parse=parse_temperature)
    http_server.routes["/t"] = route
    # A new client, as after a worker restart: the cache is on disk.
    again = client(tmp_path).get_json(url, parse=parse_temperature)
    assert again.value == 21.5
    assert again.stale and again.cached
    assert again.fetched_at == first.fetched_at
    assert again.error is not None and reason in again.error
    # The bad answer replaced nothing: the good one is still served after another failure.
    assert client(tmp_path).get_json(url, parse=parse_temperature).value == 21.5


@pytest.mark.parametrize(
    ("route", "reason", "attempts"),
    [
        (Route(status=500), "HTTP 500", 3),
        (Route(status=503), "HTTP 503", 3),
        (Route(status=429), "HTTP 429", 3),
        (Route(status=404), "HTTP 404", 1),
        (Route(status=401), "HTTP 401", 1),
        (Route(body=b"<html>oops</html>"), "not valid JSON", 1),
    ],
)
def test_without_a_cached_answer_a_failure_raises_naming_the_url_and_reason(
    http_server: RecordedServer, tmp_path: Path, route: Route, reason: str, attempts: int
) -> None:
    """Verify that server errors are retried, client errors and bad bodies are not."""
    http_server.routes["/t"] = route
    with pytest.raises(FetchError) as info:
        client(tmp_path).get_json(f"{http_server.url}/t?key=SECRET")
    assert reason in str(info.value)
    assert f"{http_server.url}/t" in str(info.value)
    assert "SECRET" not in str(info.value)  # queries may hold API keys
    assert len(http_server.requests_to("/t")) == attempts


def test_a_server_that_recovers_is_retried_within_one_call(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    http_server.serve_sequence("/t", [Route(status=502), Route(status=503), Route(b'{"a": 1}')])
    assert client(tmp_path).get_json(f"{http_server.url}/t").value == {"a": 1}
    assert len(http_server.requests_to("/t")) == 3


def test_retry_after_is_honoured(http_server: RecordedServer, tmp_path: Path) -> None:
    http_server.serve_sequence(
        "/t", [Route(status=429, headers={"Retry-After": "1"}), Route(b'{"a": 1}')]
    )
    started = time.monotonic()
    assert client(tmp_path).get_json(f"{http_server.url}/t").value == {"a": 1}
    assert time.monotonic() - started >= 0.9


def test_a_hanging_server_times_out_within_the_budget(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    """Verify that a server that accepts and never answers costs at most the budget."""
    http_server.serve("/t", hang=True)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 0.[0-3] s"):
        client(tmp_path, timeout=0.3, attempts=50, budget=1.5).get_json(f"{http_server.url}/t")
    # Generous: the point is that 50 attempts of 0.3 s were not all made.
    assert time.monotonic() - started < 5
    assert len(http_server.requests_to("/t")) < 50


def test_nothing_listening_is_a_connection_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="could not connect"):
        client(tmp_path, attempts=2).get_json(f"http://127.0.0.1:{port}/t")


@pytest.mark.parametrize("omit_length", [False, True], ids=["content-length", "until-close"])
def test_an_answer_over_the_size_cap_is_refused_and_not_retried(
    http_server: RecordedServer, tmp_path: Path, omit_length: bool
) -> None:
    """Verify the cap holds whether or not the server announces the size."""
    http_server.serve("/big", b"[" + b"1," * 100_000 + b"1]", omit_length=omit_length)
    with pytest.raises(FetchError, match="over the 1000 byte cap|over the 1000 cap"):
        client(tmp_path, max_bytes=1000).get_json(f"{http_server.url}/big")
    assert len(http_server.requests_to("/big")) == 1
    # A per-call cap overrides the client's.
    big = client(tmp_path, max_bytes=1000).get_json(f"{http_server.url}/big", max_bytes=1 << 20)
    assert len(big.value) == 100_001


def test_max_age_serves_a_young_cached_answer_without_asking(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    http_server.serve("/logo.png", b"\x89PNG fake")
    url = f"{http_server.url}/logo.png"
    first = client(tmp_path).get_bytes(url, max_age=3600)
    second = client(tmp_path).get_bytes(url, max_age=3600)
    assert first.value == second.value == b"\x89PNG fake"
    assert second.cached and not second.stale
    assert len(http_server.requests_to("/logo.png")) == 1
    client(tmp_path).get_bytes(url, max_age=0)  # 0: always ask
    assert len(http_server.requests_to("/logo.png")) == 2


def test_a_damaged_cache_entry_is_ignored(http_server: RecordedServer, tmp_path: Path) -> None:
    """Verify that a body cut short (power loss) is noticed by its checksum, not parsed."""
    http_server.serve("/t", GOOD)
    client(tmp_path).get_json(f"{http_server.url}/t")
    (body,) = (tmp_path / "cache").glob("*.body")
    body.write_bytes(b'{"temperature": 99')
    http_server.routes["/t"] = Route(status=500)
    with pytest.raises(FetchError, match="HTTP 500"):
        client(tmp_path).get_json(f"{http_server.url}/t")


def test_the_cache_keeps_at_most_its_limit(http_server: RecordedServer, tmp_path: Path) -> None:
    http_server.serve("/t", GOOD)
    fetcher = client(tmp_path)
    assert fetcher._cache is not None
    fetcher._cache.max_entries = 3
    for n in range(6):
        fetcher.get_json(f"{http_server.url}/t", params={"n": n})
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    assert len(list((tmp_path / "cache").glob("*.body"))) == 3


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x"])
def test_only_http_urls_are_fetched(tmp_path: Path, url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        client(tmp_path).get_json(url)


def test_a_malformed_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="invalid URL|could not connect"):
        client(tmp_path, attempts=1).get_json("http://")


def test_without_a_cache_folder_nothing_is_written(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    http_server.serve("/t", GOOD)
    fetcher = HttpClient(None)
    assert fetcher.get_json(f"{http_server.url}/t").value == GOOD
    http_server.routes["/t"] = Route(status=500)
    with pytest.raises(FetchError):
        HttpClient(None, backoff=0.01).get_json(f"{http_server.url}/t")
    assert list(tmp_path.iterdir()) == []


def test_context_fetch_json_caches_in_the_plugins_data_folder(
    http_server: RecordedServer, tmp_path: Path
) -> None:
    """Verify the context's client keeps its cache under data_dir, so it outlives a worker."""

    def context() -> PluginContext:
        return PluginContext(
            plugin_id="weather",
            instance_id="weather",
            width=64,
            height=32,
            config={},
            secrets={},
            data_dir=tmp_path,
            requests_to_host=RecordingRequests(),
        )

    http_server.serve("/t", GOOD)
    first = context()
    assert first.fetch_json(f"{http_server.url}/t").value == GOOD
    first.close()
    assert list((tmp_path / "http-cache").glob("*.json"))
    http_server.routes["/t"] = Route(status=500)
    second = context()
    second.fetcher.backoff = 0.01
    stale = second.fetch_json(f"{http_server.url}/t")
    assert stale.stale and stale.value == GOOD
    second.close()


def test_cache_metadata_never_holds_the_query(http_server: RecordedServer, tmp_path: Path) -> None:
    http_server.serve("/t", GOOD)
    client(tmp_path).get_json(f"{http_server.url}/t", params={"apikey": "SECRET"})
    (meta,) = (tmp_path / "cache").glob("*.json")
    assert "SECRET" not in meta.read_text()
    assert json.loads(meta.read_text())["url"] == f"{http_server.url}/t"


def test_fetched_age_and_older_than() -> None:
    from sdk import Fetched

    fetched = Fetched(value=1, fetched_at=1000.0)
    assert fetched.age(1030.0) == 30.0
    assert fetched.age(900.0) == 0.0
    assert fetched.older_than(20, now=1030.0) and not fetched.older_than(60, now=1030.0)


def test_network_properties_are_a_valid_schema_with_defaults() -> None:
    import jsonschema

    properties = network_properties(
        base_url="https://api.example.com/v1", refresh=600, stale_after=3600
    )
    schema = {"type": "object", "properties": properties}
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {k: v["default"] for k, v in properties.items()} == {
        "base_url": "https://api.example.com/v1",
        "refresh_interval": 600,
        "stale_after": 3600,
        "timeout": 10.0,
    }
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"base_url": "file:///etc/passwd"})
    assert not validator.is_valid({"refresh_interval": 1})
    assert validator.is_valid({"base_url": "http://127.0.0.1:8000/x"})
