"""The store's checks before anything is installed: ids, sources, wheels, registries,
downloads, tombstones, the layering of ``store``. Real wheels, a real HTTP server on
127.0.0.1; no installer runs here (see ``test_store_install.py`` for those)."""

from __future__ import annotations

import ast
import json
import os
import zipfile
from pathlib import Path

import pytest

from store import operations, tombstones
from store.download import fetch_bytes, fetch_file
from store.errors import (
    Blocked,
    DownloadError,
    Incompatible,
    RegistryError,
    StoreError,
    WheelRefused,
)
from store.layout import StorePaths, check_version
from store.registry import load_catalog, load_index, parse_index
from store.settings import StoreSettings
from store.sources import Source, parse_source
from store.wheels import inspect_wheel
from tests.store_helpers import (
    Behaviour,
    WheelServer,
    build_wheel,
    plugin_wheel,
    registry_index,
    sha256_of,
)

REPO = Path(__file__).resolve().parent.parent


def listing(root: Path) -> list[str]:
    """Everything under ``root`` (names and link targets): "installed state untouched"."""
    if not root.exists():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            target = f" -> {os.readlink(path)}" if path.is_symlink() else ""
            if path.relative_to(root) != Path("cache/downloads"):  # made on first use
                found.append(str(path.relative_to(root)) + target)
    return sorted(found)


def settings_for(server: WheelServer, **kwargs: object) -> StoreSettings:
    base: dict[str, object] = {
        "registries": (server.index_url,),
        "index_url": "",
        "timeout_seconds": 5.0,
    }
    return StoreSettings(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> object:
    wheels = tmp_path / "wheels"
    v1 = plugin_wheel(wheels, "demo", "1.0.0")
    v2 = plugin_wheel(wheels, "demo", "2.0.0")
    with WheelServer(wheels) as srv:
        srv.index = registry_index(srv.url, {"demo": [v1, v2]})
        yield srv


# --- ids, versions, sources -------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile", ["../x", "/abs", "a/b", "", "x" * 65, "ｄemo", "demo\n", ".hidden", "Demo", "a b"]
)
def test_hostile_plugin_ids_never_become_paths(tmp_path: Path, hostile: str) -> None:
    paths = StorePaths(tmp_path / "store")
    with pytest.raises(StoreError, match="invalid plugin id"):
        paths.env_dir(hostile, "1.0")
    with pytest.raises(StoreError, match="invalid plugin id"):
        operations.uninstall(paths, hostile)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("hostile", ["../1", "1/../../x", "/1", "..", "1..2", "", "1 0"])
def test_hostile_versions_never_become_paths(hostile: str) -> None:
    with pytest.raises(StoreError, match="invalid version"):
        check_version(hostile)


def test_sources_are_read_as_a_user_writes_them(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path, "demo")
    assert parse_source("clockplus") == Source("registry", "clockplus")
    assert parse_source("clockplus", "1.2") == Source("registry", "clockplus", "1.2")
    url = "https://example.org/x-1.0-py3-none-any.whl"
    assert parse_source(url).kind == "url"
    sha = "a" * 64
    assert parse_source(f"{url}#sha256={sha}") == Source("url", url, None, sha)
    assert parse_source(str(wheel)) == Source("file", str(wheel))
    assert parse_source("pypi:ledhost-clockplus") == Source("pypi", "ledhost-clockplus")
    for bad, why in [
        (f"{url}#md5=abc", "sha256"),
        ("ftp://x/y.whl", "scheme"),
        ("pypi:../x", "PyPI name"),
        ("Not An Id", "cannot read"),
    ]:
        with pytest.raises(StoreError, match=why):
            parse_source(bad)


# --- wheels -----------------------------------------------------------------------------


def test_a_good_plugin_wheel_says_what_it_offers(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path, "demo", "1.2.0", requires=["ledhost>=0.1", "fakelib==1.0"])
    info = inspect_wheel(wheel)
    assert info.plugins == {"demo": "ledhost_store_demo"}
    assert (info.distribution, info.version) == ("ledhost-demo", "1.2.0")
    assert info.requires == ("fakelib==1.0",) and info.requires_ledhost == ">=0.1"


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ({"../evil.py": b"x"}, r"'\.\./evil\.py' escapes"),
        ({"/etc/evil.py": b"x"}, "absolute path"),
        ({"ledhost_demo-1.0.0.data/../../evil.py": b"x"}, "escapes"),
        ({"ledhost_demo-1.0.0.data/purelib/../../x": b"x"}, "escapes"),
        ({"ledhost_demo-1.0.0.data/elsewhere/x": b"x"}, "unknown .data folder"),
        ({"evil\\..\\x.py": b"x"}, "backslash"),
    ],
)
def test_wheel_members_escaping_the_environment_are_refused(
    tmp_path: Path, members: dict[str, bytes], why: str
) -> None:
    wheel = plugin_wheel(tmp_path, "demo", raw_members=members)
    with pytest.raises(WheelRefused, match=why):
        inspect_wheel(wheel)


def test_symlinks_in_a_wheel_are_refused(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path, "demo", symlinks={"ledhost_store_demo/passwd": "/etc/passwd"})
    with pytest.raises(WheelRefused, match="link or device"):
        inspect_wheel(wheel)


@pytest.mark.parametrize("name", ["config", "host", "sdk", "store", "web", "plugins_builtin"])
def test_a_wheel_shipping_one_of_ledhosts_packages_is_refused_naming_it(
    tmp_path: Path, name: str
) -> None:
    wheel = plugin_wheel(tmp_path, "demo", extra_files={f"{name}/__init__.py": ""})
    with pytest.raises(WheelRefused, match=f"top-level package named '{name}'"):
        inspect_wheel(wheel)
    module = plugin_wheel(tmp_path / "m", "demo", extra_files={f"{name}.py": ""})
    with pytest.raises(WheelRefused, match=f"'{name}'"):
        inspect_wheel(module)
    data = plugin_wheel(
        tmp_path / "d", "demo", extra_files={f"ledhost_demo-1.0.0.data/purelib/{name}/x.py": ""}
    )
    with pytest.raises(WheelRefused, match=f"'{name}'"):
        inspect_wheel(data)


def test_pth_files_and_bad_entry_points_are_refused(tmp_path: Path) -> None:
    pth = plugin_wheel(tmp_path / "a", "demo", extra_files={"evil.pth": "import os"})
    with pytest.raises(WheelRefused, match=r"\.pth"):
        inspect_wheel(pth)
    custom = plugin_wheel(tmp_path / "sc", "demo", extra_files={"sitecustomize.py": "x"})
    with pytest.raises(WheelRefused, match="sitecustomize"):
        inspect_wheel(custom)
    bad_id = build_wheel(
        tmp_path / "b",
        "x",
        "1.0",
        {"x/__init__.py": ""},
        entry_points={"ledhost.plugins": {"../x": "x"}},
    )
    with pytest.raises(WheelRefused, match="plugin id '../x' is invalid"):
        inspect_wheel(bad_id)
    library = build_wheel(tmp_path / "c", "x", "1.0", {"x/__init__.py": ""})
    with pytest.raises(WheelRefused, match="not a plugin"):
        inspect_wheel(library)


def test_corrupt_wheels_and_sdists_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "demo-1.0-py3-none-any.whl"
    junk.write_bytes(b"PK\x03\x04 not really a zip" * 10)
    with pytest.raises(WheelRefused, match="not a zip|corrupt"):
        inspect_wheel(junk)
    good = plugin_wheel(tmp_path / "g", "demo")
    broken = tmp_path / "broken" / good.name
    broken.parent.mkdir()
    data = bytearray(good.read_bytes())
    data[60:80] = b"\xff" * 20  # inside the first member's compressed bytes
    broken.write_bytes(bytes(data))
    with pytest.raises(WheelRefused, match="corrupt|CRC|not a zip"):
        inspect_wheel(broken)
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"x")
    with pytest.raises(WheelRefused, match="sdist"):
        inspect_wheel(sdist)
    no_record = tmp_path / "nr" / good.name
    no_record.parent.mkdir()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(no_record, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("RECORD"):
                dst.writestr(item, src.read(item))
    with pytest.raises(WheelRefused, match="RECORD is missing"):
        inspect_wheel(no_record)


# --- registries ---------------------------------------------------------------------------


def test_a_malformed_entry_is_named_and_the_rest_stays_usable(tmp_path: Path) -> None:
    good = plugin_wheel(tmp_path, "demo")
    index = registry_index("http://127.0.0.1:1", {"demo": [good], "other": [good]})
    index["plugins"][1]["versions"][0]["sha256"] = "nothex"
    index["plugins"].append({"id": "../evil", "versions": []})
    index["plugins"].append("not a table")
    parsed = parse_index("http://127.0.0.1:1/index.json", json.dumps(index).encode())
    assert list(parsed.plugins) == ["demo"]
    assert any("plugins[1] ('other')" in p and "'sha256'" in p for p in parsed.problems)
    assert any("plugins[2]" in p and "'id'" in p for p in parsed.problems)
    assert any("plugins[3]" in p and "table" in p for p in parsed.problems)
    assert parsed.plugins["demo"].versions[0].url == f"http://127.0.0.1:1/{good.name}"
    with pytest.raises(RegistryError, match="schema"):
        parse_index("u", json.dumps({"schema": 2, "plugins": []}).encode())


def test_a_remote_index_cannot_point_at_local_files(tmp_path: Path) -> None:
    good = plugin_wheel(tmp_path, "demo")
    index = registry_index("http://r", {"demo": [good]})
    index["plugins"][0]["versions"][0]["url"] = "file:///etc/passwd.whl"
    parsed = parse_index("http://r/index.json", json.dumps(index).encode())
    assert not parsed.plugins and "must be http(s)" in parsed.problems[0]


def test_browsing_is_one_request_then_the_cache_answers(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    settings = settings_for(server)
    first = load_catalog(paths, settings, now=1000.0)
    again = load_catalog(paths, settings, now=1000.0 + settings.cache_ttl_seconds / 2)
    assert list(first.plugins) == list(again.plugins) == ["demo"]
    assert server.requests["/index.json"] == 1
    load_catalog(paths, settings, now=1000.0 + settings.cache_ttl_seconds + 1)
    assert server.requests["/index.json"] == 2


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [
        (Behaviour("/index.json", status=500), "HTTP 500"),
        (Behaviour("/index.json", truncate=40), "truncated"),
        (Behaviour("/index.json", delay=3.0), "no data|timed out|cannot connect"),
        (Behaviour("/index.json", huge=9 * 1024 * 1024), "MB"),
    ],
)
def test_a_failing_registry_is_a_clear_error_or_the_stale_cache_says_so(
    tmp_path: Path, server: WheelServer, behaviour: Behaviour, why: str
) -> None:
    paths = StorePaths(tmp_path / "store")
    settings = settings_for(server, timeout_seconds=1.0)
    server.behaviours.append(behaviour)
    with pytest.raises(RegistryError, match=why):
        load_index(paths, server.index_url, settings)
    assert load_catalog(paths, settings).errors  # no cache: said, nothing listed
    server.behaviours.clear()
    load_index(paths, server.index_url, settings, now=0.0)  # cached, long ago
    server.behaviours.append(behaviour)
    stale = load_index(paths, server.index_url, settings)
    assert list(stale.plugins) == ["demo"]
    assert "cached" in stale.stale and (why.split("|")[0] in stale.stale or stale.stale)


def test_truncated_json_is_named(tmp_path: Path, server: WheelServer) -> None:
    paths = StorePaths(tmp_path / "store")
    server.behaviours.append(Behaviour("/index.json", truncate=30, content_length=30))
    with pytest.raises(RegistryError, match="not valid JSON"):
        load_index(paths, server.index_url, settings_for(server))


# --- downloads ------------------------------------------------------------------------------


def test_downloads_are_capped_even_when_content_length_lies(
    tmp_path: Path, server: WheelServer
) -> None:
    # No Content-Length: the body ends when the server closes; the cap cuts it.
    server.behaviours.append(Behaviour("/big.whl", huge=3 * 1024 * 1024, content_length=-1))
    with pytest.raises(DownloadError, match="stopped at 1 MB"):
        fetch_file(f"{server.url}/big.whl", tmp_path / "dl", "big.whl", max_bytes=2**20, timeout=5)
    # A claim of more than the cap is refused before reading.
    server.behaviours.append(Behaviour("/claims.whl", huge=10, content_length=2**40))
    with pytest.raises(DownloadError, match="more than the 1 MB"):
        fetch_file(f"{server.url}/claims.whl", tmp_path / "dl", "c.whl", max_bytes=2**20, timeout=5)
    server.behaviours.append(Behaviour("/honest.whl", huge=3 * 1024 * 1024))
    with pytest.raises(DownloadError, match="more than the 1 MB"):
        fetch_file(f"{server.url}/honest.whl", tmp_path / "dl", "h.whl", max_bytes=2**20, timeout=5)
    assert not any((tmp_path / "dl").iterdir())  # nothing left behind


def test_truncated_404_and_hash_mismatch_downloads_fail_clearly(
    tmp_path: Path, server: WheelServer
) -> None:
    name = "ledhost_demo-1.0.0-py3-none-any.whl"
    url = f"{server.url}/{name}"
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_bytes(f"{server.url}/nope.whl", max_bytes=2**20, timeout=5)
    server.behaviours.append(Behaviour(name, truncate=100))
    with pytest.raises(DownloadError, match="truncated"):
        fetch_file(url, tmp_path / "dl", name, max_bytes=2**20, timeout=5)
    server.behaviours.clear()
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch_file(url, tmp_path / "dl", name, max_bytes=2**20, timeout=5, sha256="0" * 64)
    good = fetch_file(url, tmp_path / "dl", name, max_bytes=2**20, timeout=5)
    assert good.sha256 == sha256_of(server.root / name)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [name]


# --- operations that fail before the installer runs: state untouched ----------------------


def _install(paths: StorePaths, settings: StoreSettings, text: str, version: str | None = None):  # type: ignore[no-untyped-def]
    return operations.install(paths, settings, parse_source(text, version), verify=None)


def test_an_incompatible_version_is_refused_before_download(
    tmp_path: Path, server: WheelServer
) -> None:
    wheels = server.root
    v9 = plugin_wheel(wheels, "future", "9.0.0")
    server.index = registry_index(
        server.url, {"future": [v9]}, requires_ledhost={"future==9.0.0": ">=99"}
    )
    paths = StorePaths(tmp_path / "store")
    with pytest.raises(Incompatible, match="needs ledhost >=99"):
        _install(paths, settings_for(server), "future")
    with pytest.raises(Incompatible, match="needs ledhost >=99"):
        _install(paths, settings_for(server), "future", "9.0.0")
    assert server.requests[f"/{v9.name}"] == 0
    assert not paths.envs.exists()


def test_a_wheel_declaring_another_ledhost_is_refused(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path / "w", "demo", requires=["ledhost>=99"])
    paths = StorePaths(tmp_path / "store")
    with pytest.raises(Incompatible, match="needs ledhost >=99"):
        _install(paths, StoreSettings(registries=(), index_url=""), str(wheel))
    assert not paths.envs.exists()


def test_blocked_versions_are_refused_and_skipped(tmp_path: Path, server: WheelServer) -> None:
    server.index = {
        **server.index,  # type: ignore[dict-item]
        "blocked": [{"id": "demo", "versions": "==2.0.0", "reason": "steals secrets"}],
    }
    paths = StorePaths(tmp_path / "store")
    with pytest.raises(Blocked, match="steals secrets"):
        _install(paths, settings_for(server), "demo", "2.0.0")
    assert server.requests["/ledhost_demo-2.0.0-py3-none-any.whl"] == 0
    catalog = load_catalog(paths, settings_for(server))
    assert catalog.blocked_reason("demo", "2.0.0") == "steals secrets"
    assert catalog.blocked_reason("demo", "1.0.0") is None


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(".whl", status=500),
        Behaviour(".whl", truncate=200),
        Behaviour(".whl", huge=2 * 1024 * 1024, content_length=-1),
        Behaviour(".whl", huge=100, content_length=10),  # a short lie: the hash catches it
    ],
)
def test_failed_downloads_leave_the_store_untouched(
    tmp_path: Path, server: WheelServer, behaviour: Behaviour
) -> None:
    paths = StorePaths(tmp_path / "store")
    settings = settings_for(server, max_download_mb=1.0)
    load_catalog(paths, settings)
    operations.cleanup(paths)
    before = listing(paths.root)
    server.behaviours.append(behaviour)
    with pytest.raises(DownloadError):
        _install(paths, settings, "demo")
    assert listing(paths.root) == before


def test_a_hash_mismatch_leaves_the_store_untouched(tmp_path: Path, server: WheelServer) -> None:
    paths = StorePaths(tmp_path / "store")
    index = server.index
    assert index is not None
    index["plugins"][0]["versions"][1]["sha256"] = "0" * 64  # 2.0.0's
    load_catalog(paths, settings_for(server))
    operations.cleanup(paths)
    before = listing(paths.root)
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        _install(paths, settings_for(server), "demo", "2.0.0")
    assert listing(paths.root) == before


def test_hostile_wheels_from_a_url_leave_the_store_untouched(
    tmp_path: Path, server: WheelServer
) -> None:
    evil = plugin_wheel(server.root / "evil", "evil", raw_members={"../../evil.py": b"x"})
    shadow = plugin_wheel(
        server.root / "shadow", "shadow", extra_files={"config/__init__.py": "boom"}
    )
    paths = StorePaths(tmp_path / "store")
    for wheel, why in ((evil, "escapes"), (shadow, "'config'")):
        with pytest.raises(WheelRefused, match=why):
            _install(paths, settings_for(server), f"{server.url}/{wheel.parent.name}/{wheel.name}")
    assert not paths.envs.exists()


# --- tombstones ------------------------------------------------------------------------------


def test_tombstones_are_kept_and_a_corrupt_file_is_reported(tmp_path: Path) -> None:
    paths = StorePaths(tmp_path / "store")
    assert tombstones.read(paths) == {}
    tombstones.add(paths, "demo", "1.0.0", now=5.0)
    assert tombstones.read(paths)["demo"].at == 5.0
    tombstones.clear(paths, "demo")
    assert tombstones.read(paths) == {}
    (paths.state / "tombstones.json").write_text("{")
    with pytest.raises(StoreError, match="corrupt"):
        tombstones.read(paths)


# --- layering ------------------------------------------------------------------------------


def test_store_imports_nothing_of_host_web_or_builtin_plugins() -> None:
    forbidden = {"host", "web", "plugins_builtin", "tests"}
    for path in (REPO / "store").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


# --- the CLI ---------------------------------------------------------------------------------


def test_store_search_info_and_errors_on_the_command_line(
    tmp_path: Path, server: WheelServer
) -> None:
    from tests.conftest import ledhost

    env = {
        "LEDHOST_PATHS__DATA_DIR": str(tmp_path / "data"),
        "LEDHOST_STORE__REGISTRIES": json.dumps([server.index_url]),
        "LEDHOST_STORE__INDEX_URL": '""',
        "LEDHOST_STORE__CACHE_TTL_SECONDS": "0",
    }
    assert server.index is not None
    server.index["blocked"] = [{"id": "demo", "versions": "==2.0.0", "reason": "leaks"}]
    found = ledhost("store", "search", "demo", env=env)
    assert found.returncode == 0 and found.stdout.split()[:2] == ["demo", "2.0.0"], found
    data = json.loads(ledhost("store", "search", "--json", env=env).stdout)
    assert [p["id"] for p in data["plugins"]] == ["demo"] and data["stale"] == []
    info = json.loads(ledhost("store", "info", "demo", "--json", env=env).stdout)
    assert [(v["version"], v["blocked"]) for v in info["versions"]] == [
        ("2.0.0", "leaks"),
        ("1.0.0", None),
    ]
    server.behaviours.append(Behaviour("/index.json", status=500))
    stale = ledhost("store", "search", env=env)
    assert stale.returncode == 0 and "demo" in stale.stdout
    assert "HTTP 500" in stale.stderr and "cached" in stale.stderr
    missing = ledhost("install", "nosuchplugin", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("ledhost: error: no plugin")
    hostile = ledhost("uninstall", "../etc", env=env)
    assert hostile.returncode == 1 and "invalid plugin id '../etc'" in hostile.stderr
    assert json.loads(ledhost("store", "list", "--json", env=env).stdout) == []


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    import io

    from host.cli.store_commands import _Progress
    from store.operations import ProgressEvent

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    events = [
        ProgressEvent("download", message="demo==1.0.0"),
        ProgressEvent("download", 512 * 1024, 1024 * 1024),
        ProgressEvent("download", 1024 * 1024, 1024 * 1024),
        ProgressEvent("switch", message="demo -> 1.0.0"),
    ]
    tty, plain, quiet = Terminal(), io.StringIO(), io.StringIO()
    for event in events:
        _Progress(tty, quiet=False)(event)
        _Progress(plain, quiet=False)(event)
        _Progress(quiet, quiet=True)(event)
    assert plain.getvalue() == "download: demo==1.0.0\nswitch: demo -> 1.0.0\n"
    assert "\r  download [###############" in tty.getvalue() and "1024 KB" in tty.getvalue()
    assert quiet.getvalue() == ""


def test_a_registry_that_hangs_is_not_waited_for_when_a_copy_can_answer(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    settings = settings_for(server, timeout_seconds=600.0)
    load_index(paths, server.index_url, settings, now=0.0)
    server.behaviours.append(Behaviour("/index.json", delay=8.0))
    # The test's own 120 s timeout would stop a 600 s wait: STALE_TIMEOUT bounds it.
    stale = load_index(paths, server.index_url, settings)
    assert list(stale.plugins) == ["demo"] and "cached" in stale.stale


def test_store_settings_defaults_are_the_declared_ones() -> None:
    from config.schema import plain_data
    from config.settings import SETTINGS

    defaults = StoreSettings()
    for setting in (s for s in SETTINGS if s.section == "store"):
        value = getattr(defaults, setting.name)
        assert plain_data(list(value) if isinstance(value, tuple) else value) == plain_data(
            setting.default
        ), setting.name
