"""Plugin secrets: the private secrets file, secret-aware validation, and no leaks.

From the file to the worker: a 0600 ``secrets.toml`` next to the config file, refused when
others may read it; secrets split from options by the plugin's ``writeOnly`` marks; the
values reach their own worker's ``context.secrets`` only, and never a log line, an error
message, the stats JSON or ``ledhost plugins`` output. Every leak check searches for the
literal value.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import (
    REDACTED,
    ConfigError,
    PluginInstanceConfig,
    load_config,
    load_secrets_file,
    redact,
    secret_keys,
    validate_instance,
    validate_plugin_config,
)
from host.discovery import PluginSpec, discover
from host.planning import make_handle
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState
from tests.conftest import TEST_PLUGINS, Harness, worker_user

#: The secret every test hides; long and unusual, so a search for it finds only leaks.
SECRET = "hunter2-Zq9vX-not-for-logs"
OTHER_SECRET = "second-Kx7wP-also-hidden"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "minLength": 8, "writeOnly": True},
        "label": {"type": "string", "default": "hello"},
    },
    "additionalProperties": False,
}

CONFIG = """\
[plugins.vault]
plugin = "secretive"
label = "front door"

[plugins.plain]
plugin = "secretive"
"""


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _files(tmp_path: Path, secrets: str | None = None, config: str = CONFIG) -> Path:
    """A config file, and a secrets file beside it unless ``secrets`` is None."""
    path = _write(tmp_path / "ledhost.toml", config, 0o644)
    if secrets is not None:
        _write(tmp_path / "secrets.toml", secrets)
    return path


def _issues(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {issue.key: issue.message for issue in exc.value.errors}


# -- the secrets file -------------------------------------------------------------------


def test_secrets_file_beside_the_config_is_read_and_kept_apart_from_options(
    tmp_path: Path,
) -> None:
    path = _files(tmp_path, f'[plugins.vault]\napi_key = "{SECRET}"\n')
    cfg = load_config(path, env={})

    vault = cfg.plugins["vault"]
    assert cfg.secrets_path == tmp_path / "secrets.toml"
    assert dict(vault.secrets) == {"api_key": SECRET}
    assert dict(vault.options) == {"label": "front door"}
    assert vault.key_sources["api_key"] == str(tmp_path / "secrets.toml")
    assert cfg.plugins["plain"].secrets == {}
    assert SECRET not in repr(cfg)
    assert SECRET not in json.dumps(cfg.to_dict())
    assert cfg.to_dict(secrets="redact")["plugins"]["vault"]["api_key"] == REDACTED
    assert cfg.secrets_to_dict() == {"plugins": {"vault": {"api_key": SECRET}}}


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o602, 0o620, 0o700 | 0o004])
def test_secrets_file_others_may_read_or_write_is_refused_with_the_chmod_fix(
    tmp_path: Path, mode: int
) -> None:
    path = _files(tmp_path)
    secrets = _write(tmp_path / "secrets.toml", f'[plugins.vault]\napi_key = "{SECRET}"\n', mode)

    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})

    (issue,) = excinfo.value.errors
    assert issue.source == str(secrets)
    assert f"{mode:04o}" in issue.message
    assert f"chmod 600 {secrets}" in issue.message
    assert SECRET not in str(excinfo.value)


def test_secrets_file_private_to_its_owner_is_accepted(tmp_path: Path) -> None:
    for mode in (0o600, 0o400, 0o700):
        path = _files(tmp_path)
        _write(tmp_path / "secrets.toml", f'[plugins.vault]\napi_key = "{SECRET}"\n', mode)
        assert load_config(path, env={}).plugins["vault"].secrets == {"api_key": SECRET}
        (tmp_path / "secrets.toml").chmod(0o600)


def test_secrets_file_symlink_is_judged_by_the_file_it_leads_to(tmp_path: Path) -> None:
    """Verify a link to a world-readable file is refused, and a link to a private one works."""
    path = _files(tmp_path)
    target = _write(tmp_path / "elsewhere.toml", f'[plugins.vault]\napi_key = "{SECRET}"\n', 0o644)
    (tmp_path / "secrets.toml").symlink_to(target)

    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})
    message = str(excinfo.value)
    assert "0644" in message and f"a link to {target}" in message
    assert f"chmod 600 {tmp_path / 'secrets.toml'}" in message

    target.chmod(0o600)
    assert load_config(path, env={}).plugins["vault"].secrets == {"api_key": SECRET}


def test_missing_secrets_file_means_no_secrets(tmp_path: Path) -> None:
    cfg = load_config(_files(tmp_path), env={})
    assert all(instance.secrets == {} for instance in cfg.plugins.values())
    assert cfg.secrets_path == tmp_path / "secrets.toml"


def test_embedded_default_config_reads_secrets_from_xdg_config_home(tmp_path: Path) -> None:
    folder = tmp_path / "xdg" / "ledhost"
    folder.mkdir(parents=True)
    _write(folder / "secrets.toml", f'[plugins.clock]\napi_key = "{SECRET}"\n')

    cfg = load_config(None, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})

    assert cfg.secrets_path == folder / "secrets.toml"
    assert cfg.plugins["clock"].secrets == {"api_key": SECRET}
    home = load_config(None, env={"HOME": str(tmp_path / "home")})
    assert home.secrets_path == tmp_path / "home" / ".config" / "ledhost" / "secrets.toml"


def test_secrets_path_given_explicitly_wins_and_false_reads_none(tmp_path: Path) -> None:
    path = _files(tmp_path, '[plugins.vault]\napi_key = "from-beside"\n')
    other = _write(tmp_path / "other.toml", f'[plugins.vault]\napi_key = "{SECRET}"\n')

    assert load_config(path, env={}, secrets_path=other).plugins["vault"].secrets == {
        "api_key": SECRET
    }
    (tmp_path / "secrets.toml").chmod(0o644)  # would be refused, were it read
    cfg = load_config(path, env={}, secrets_path=False)
    assert cfg.plugins["vault"].secrets == {} and cfg.secrets_path is None


def test_secrets_file_toml_error_names_the_line_but_never_the_text(tmp_path: Path) -> None:
    path = _files(tmp_path, f'[plugins.vault]\nlabel = 1\napi_key = "{SECRET}\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})
    message = str(excinfo.value)
    assert str(tmp_path / "secrets.toml") in message
    assert "line 3" in message
    assert SECRET not in message and "hunter2" not in message


def test_secrets_file_invalid_character_is_not_quoted(tmp_path: Path) -> None:
    path = _write(tmp_path / "secrets.toml", '[plugins.vault]\napi_key = "ab\x01cd"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_secrets_file(path)
    assert "\\x01" not in str(excinfo.value) and "line 2" in str(excinfo.value)


def test_secrets_file_not_utf8_names_the_file_and_offset_but_not_the_bytes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secrets.toml"
    path.write_bytes(b'[plugins.vault]\napi_key = "hun\xfftr2"\n')
    path.chmod(0o600)
    with pytest.raises(ConfigError) as excinfo:
        load_secrets_file(path)
    message = str(excinfo.value)
    assert str(path) in message and "not valid UTF-8" in message and "offset 30" in message
    assert "hun" not in message


def test_secrets_file_unknown_tables_and_misplaced_keys_are_reported_together(
    tmp_path: Path,
) -> None:
    secrets = (
        f'token = "{SECRET}"\n'
        "[display]\nbrightness = 3\n"
        f'[plugins.vault]\napi_key = "{SECRET}"\nenabled = false\n'
        f'[plugins.valut]\napi_key = "{SECRET}"\n'
    )
    path = _files(tmp_path, secrets)

    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})

    issues = _issues(excinfo)
    assert "unknown key 'token'" in issues["token"]
    assert "unknown table 'display'" in issues["display"]
    assert "'enabled' is not a secret" in issues["plugins.vault.enabled"]
    assert "which the config does not define (did you mean 'vault'?)" in issues["plugins.valut"]
    assert all(issue.source == str(tmp_path / "secrets.toml") for issue in excinfo.value.errors)
    assert SECRET not in str(excinfo.value)


def test_secret_from_the_environment_beats_the_secrets_file(tmp_path: Path) -> None:
    path = _files(tmp_path, '[plugins.vault]\napi_key = "from-the-file"\n')
    env = {"LEDHOST_PLUGINS__VAULT__API_KEY": SECRET}

    vault = load_config(path, env=env).plugins["vault"]

    assert vault.secrets == {"api_key": SECRET}
    assert vault.key_sources["api_key"] == "environment"
    assert validate_instance(SCHEMA, vault).secrets == {"api_key": SECRET}


def test_secret_set_only_by_an_environment_variable_works(tmp_path: Path) -> None:
    vault = load_config(_files(tmp_path), env={"LEDHOST_PLUGINS__VAULT__API_KEY": SECRET}).plugins[
        "vault"
    ]
    assert vault.options["api_key"] == SECRET  # the loader cannot know it is secret...

    validated = validate_instance(SCHEMA, vault)

    assert validated.secrets == {"api_key": SECRET}  # ...the schema says so
    assert validated.options == {"label": "front door"}
    assert SECRET not in repr(validated)


# -- validation against the plugin's schema ----------------------------------------------


def test_secret_written_in_the_config_file_is_refused_without_quoting_it(
    tmp_path: Path,
) -> None:
    config = CONFIG.replace('label = "front door"', f'api_key = "{SECRET}"')
    vault = load_config(_files(tmp_path, config=config), env={}).plugins["vault"]

    with pytest.raises(ConfigError) as excinfo:
        validate_instance(SCHEMA, vault)

    (issue,) = excinfo.value.errors
    assert issue.source == str(tmp_path / "ledhost.toml")
    assert issue.key == "plugins.vault.api_key"
    assert issue.message.startswith(
        f"this option is secret: move it to the secrets file {tmp_path / 'secrets.toml'}"
    )
    assert SECRET not in str(excinfo.value)


def test_secret_in_the_config_file_is_refused_even_when_the_environment_replaces_it(
    tmp_path: Path,
) -> None:
    config = CONFIG.replace('label = "front door"', f'api_key = "{SECRET}"')
    env = {"LEDHOST_PLUGINS__VAULT__API_KEY": OTHER_SECRET}
    vault = load_config(_files(tmp_path, config=config), env=env).plugins["vault"]

    with pytest.raises(ConfigError) as excinfo:
        validate_instance(SCHEMA, vault)

    assert "this option is secret" in str(excinfo.value)
    assert SECRET not in str(excinfo.value) and OTHER_SECRET not in str(excinfo.value)


def test_secret_in_the_config_file_is_refused_even_when_the_secrets_file_has_it_too(
    tmp_path: Path,
) -> None:
    config = CONFIG.replace('label = "front door"', f'api_key = "{SECRET}"')
    secrets = f'[plugins.vault]\napi_key = "{OTHER_SECRET}"\n'
    vault = load_config(_files(tmp_path, secrets, config), env={}).plugins["vault"]
    assert vault.secrets == {"api_key": OTHER_SECRET}

    with pytest.raises(ConfigError) as excinfo:
        validate_instance(SCHEMA, vault)

    (issue,) = excinfo.value.errors
    assert issue.source == str(tmp_path / "ledhost.toml")
    assert issue.message.startswith("this option is secret: move it to the secrets file")
    assert SECRET not in str(excinfo.value) and OTHER_SECRET not in str(excinfo.value)


def test_key_the_schema_does_not_mark_secret_is_refused_in_the_secrets_file(
    tmp_path: Path,
) -> None:
    secrets = f'[plugins.vault]\nlabel = "{SECRET}"\napi_kee = "{OTHER_SECRET}"\n'
    vault = load_config(_files(tmp_path, secrets), env={}).plugins["vault"]

    with pytest.raises(ConfigError) as excinfo:
        validate_instance(SCHEMA, vault)

    issues = _issues(excinfo)
    assert set(issues) == {"plugins.vault.label", "plugins.vault.api_kee"}
    assert "ordinary option of this plugin, not a secret" in issues["plugins.vault.label"]
    assert "unknown secret 'api_kee' (did you mean 'api_key'?)" in issues["plugins.vault.api_kee"]
    assert all(issue.source == str(tmp_path / "secrets.toml") for issue in excinfo.value.errors)
    text = str(excinfo.value)
    assert SECRET not in text and OTHER_SECRET not in text


def test_secrets_for_a_plugin_without_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(None, {}, {"api_key": SECRET}, where="plugins.clock")
    assert "this plugin takes no options" in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_missing_required_secret_says_where_to_put_it() -> None:
    schema = {**SCHEMA, "required": ["api_key"]}
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(schema, {}, where="plugins.vault", secrets_file="/etc/s.toml")
    assert str(excinfo.value) == (
        "config: plugins.vault: 'api_key' is a required property: it is secret, so set it "
        "in the secrets file /etc/s.toml"
    )


def _secret_schema(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"token": {**rule, "writeOnly": True}, "label": {"type": "string"}},
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"type": "string", "minLength": 40}, SECRET, "is too short (at least 40 characters)"),
        ({"type": "string", "maxLength": 5}, SECRET, "is too long (at most 5 characters)"),
        ({"type": "string", "pattern": "^[0-9a-f]{32}$"}, SECRET, "does not match the pattern"),
        ({"type": "integer"}, SECRET, "is not of type 'integer'"),
        ({"type": ["integer", "null"]}, SECRET, "is not of type 'integer' or 'null'"),
        ({"enum": ["a", "b"]}, SECRET, "is not one of ['a', 'b']"),
        ({"const": "expected"}, SECRET, "is not 'expected'"),
        ({"type": "string", "format": "email"}, SECRET, "is not a valid email"),
        ({"type": "integer", "minimum": 100000000}, 73519862, "is less than the minimum"),
        ({"type": "integer", "maximum": 10}, 73519862, "is more than the maximum of 10"),
        ({"type": "integer", "multipleOf": 7}, 73519863, "is not a multiple of 7"),
        ({"not": {"type": "string"}}, SECRET, "matches a form the schema forbids"),
        (
            {"anyOf": [{"type": "integer"}, {"minLength": 99}]},
            SECRET,
            "matches none of the allowed forms",
        ),
        (
            {"type": "object", "required": ["user", "password"]},
            {"user": SECRET},
            "lacks a required key",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"password": SECRET},
            "is not of type 'integer'",
        ),
        ({"type": "array", "uniqueItems": True}, [SECRET, SECRET], "has repeated items"),
    ],
)
def test_jsonschema_messages_about_a_secret_never_quote_it(
    rule: dict[str, Any], value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(
            _secret_schema(rule), {}, {"token": value}, where="plugins.vault", source="s.toml"
        )
    text = str(excinfo.value)
    assert "the secret value" in text and expected in text and "(value hidden)" in text
    assert str(SECRET) not in text and "73519" not in text
    assert all(issue.key.startswith("plugins.vault.token") for issue in excinfo.value.errors)


@pytest.mark.parametrize(
    "keyword",
    [
        {"minProperties": 5},
        {"maxProperties": 1},
        {"anyOf": [{"required": ["nothing"]}]},
        {"not": {"required": ["label"]}},
        {"oneOf": [{"required": ["label"]}, {"required": ["token"]}]},
        {"const": {}},
    ],
)
def test_jsonschema_messages_about_the_whole_table_never_quote_its_secrets(
    keyword: dict[str, Any],
) -> None:
    """Verify messages that quote the whole instance are rebuilt when it holds a secret."""
    schema = {**_secret_schema({"type": "string"}), **keyword}
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(
            schema, {"label": "x"}, {"token": SECRET}, where="plugins.vault", source="s.toml"
        )
    text = str(excinfo.value)
    assert SECRET not in text and "values hidden" in text


def test_secret_from_the_environment_is_not_quoted_either() -> None:
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(
            _secret_schema({"type": "integer"}),
            {"token": SECRET},
            where="plugins.vault",
            key_sources={"token": "environment"},
        )
    (issue,) = excinfo.value.errors
    assert issue.source == "environment" and SECRET not in str(excinfo.value)


def test_ordinary_options_keep_jsonschema_messages() -> None:
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_config(SCHEMA, {"label": 5}, {"api_key": SECRET}, where="plugins.vault")
    assert str(excinfo.value) == "config: plugins.vault.label: 5 is not of type 'string'"


def test_valid_values_come_back_apart_with_defaults_filled() -> None:
    schema = _secret_schema({"type": "string", "default": ""})
    validated = validate_plugin_config(schema, {"label": "x"}, {}, where="plugins.vault")
    assert (validated.options, validated.secrets) == ({"label": "x"}, {"token": ""})


def test_secret_keys_follow_local_refs_and_redact_hides_their_values() -> None:
    schema = {
        "type": "object",
        "$defs": {"key": {"type": "string", "writeOnly": True}},
        "properties": {
            "token": {"$ref": "#/$defs/key"},
            "password": {"type": "string", "writeOnly": True},
            "public": {"type": "string", "writeOnly": False},
            "label": {"type": "string"},
        },
    }
    assert secret_keys(schema) == {"token", "password"}
    assert secret_keys(None) == frozenset()
    assert redact({"token": SECRET, "label": "x"}, schema) == {"token": REDACTED, "label": "x"}


def test_instance_config_repr_never_shows_secrets() -> None:
    instance = PluginInstanceConfig("vault", "secretive", True, secrets={"api_key": SECRET})
    assert SECRET not in repr(instance)


# -- to the worker, and only to it --------------------------------------------------------


def _start(
    harness: Harness, spec: PluginSpec, instance: str, secrets: dict[str, Any]
) -> WorkerHandle:
    handle = WorkerHandle(instance_id=instance, spec=spec, options={}, secrets=secrets)
    harness.supervisor.add(handle)
    harness.supervisor.start(handle, time.monotonic())
    return handle


def _act(harness: Harness, handle: WorkerHandle, name: str) -> dict[str, Any]:
    request = harness.supervisor.request_action(handle, name)
    harness.wait_for(lambda: request in handle.action_results, what=f"action {name}")
    return handle.action_results[request]


def _colour(harness: Harness, instance: str) -> tuple[int, ...]:
    frames = [pixels for iid, pixels, _ in harness.frames if iid == instance]
    return tuple(int(v) for v in frames[-1][0, 0]) if frames else ()


def _logged(harness: Harness, instance: str) -> str:
    return "\n".join(r.message for r in harness.supervisor.logs[instance].records(limit=1000))


def test_secret_reaches_its_own_worker_only_and_never_its_config(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = test_specs["secretive"]
    vault = _start(harness, spec, "vault", {"api_key": SECRET})
    plain = _start(harness, spec, "plain", {})
    for handle in (vault, plain):
        harness.wait_running(handle)
        harness.supervisor.activate(handle, "show")
    harness.wait_for(
        lambda: _colour(harness, "vault") and _colour(harness, "plain"), what="both frames"
    )

    assert _colour(harness, "vault") == (0, 255, 0)  # it has its key
    assert _colour(harness, "plain") == (255, 0, 0)  # the other instance has none
    assert _act(harness, vault, "peek")["result"] == {
        "secrets": ["api_key"],
        "config": ["fail", "label"],
    }
    assert _act(harness, plain, "peek")["result"] == {"secrets": [], "config": ["fail", "label"]}
    assert vault.config is not None and "api_key" not in vault.config
    # The plugin is careless: it logs its key and returns it from an action.
    assert _act(harness, vault, "leak")["result"] == {"key": REDACTED, "label": "hello"}
    harness.wait_for(lambda: "secretive starts with key" in _logged(harness, "vault"))
    assert f"starts with key {REDACTED}" in _logged(harness, "vault")
    assert SECRET not in _logged(harness, "vault") + caplog.text
    assert SECRET not in repr(vault) + json.dumps(harness.supervisor.status(), default=str)


def test_setup_error_quoting_the_secret_is_redacted(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handle = WorkerHandle(
        instance_id="vault",
        spec=test_specs["secretive"],
        options={"fail": "setup"},
        secrets={"api_key": SECRET},
    )
    harness.supervisor.add(handle)
    harness.supervisor.start(handle, time.monotonic())
    harness.wait_for(lambda: handle.last_exit is not None, what="setup to fail")

    assert handle.last_error is not None
    assert f"refused key {REDACTED}" in handle.last_error
    text = caplog.text + _logged(harness, "vault") + json.dumps(harness.supervisor.status())
    assert SECRET not in text and SECRET not in handle.last_error


def test_configure_brings_new_secrets_and_its_errors_are_redacted(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handle = _start(harness, test_specs["secretive"], "vault", {"api_key": SECRET})
    harness.wait_running(handle)
    harness.supervisor.activate(handle, "show")
    harness.wait_for(lambda: _colour(harness, "vault") == (0, 255, 0), what="a green frame")

    harness.supervisor.messenger.configure(handle, {"fail": "configure"}, {"api_key": OTHER_SECRET})
    harness.wait_for(
        lambda: handle.last_error is not None and "refused key" in handle.last_error,
        what="configure to fail",
    )
    assert f"refused key {REDACTED}" in handle.last_error
    assert handle.config == {"fail": "configure", "label": "hello"}

    harness.supervisor.messenger.configure(handle, {}, {})
    harness.wait_for(lambda: _colour(harness, "vault") == (255, 0, 0), what="a red frame")
    assert _act(harness, handle, "peek")["result"]["secrets"] == []

    text = caplog.text + _logged(harness, "vault") + json.dumps(harness.supervisor.status())
    assert SECRET not in text and OTHER_SECRET not in text


def test_invalid_secret_stops_only_that_instance_and_is_not_quoted(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    short = "tiny7"
    handle = _start(harness, test_specs["secretive"], "vault", {"api_key": short})
    harness.wait_for(lambda: handle.state is WorkerState.EXITED, what="vault to be refused")

    assert handle.last_error is not None
    assert "plugins.vault.api_key: the secret value is too short" in handle.last_error
    assert short not in handle.last_error and short not in caplog.text


# -- the whole host ----------------------------------------------------------------------


class _Backend:
    name = "recording"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pushes: list[np.ndarray] = []

    def push(self, frame: np.ndarray, at: float) -> None:
        self.pushes.append(frame.copy())

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_host_run_hands_the_secret_to_its_plugin_and_shows_it_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify, with a real host and real workers, the secret reaches ``vault`` only.

    Hook tracing is on, so every hook call and return value is logged as well.
    """
    from host.app import Host, RunOptions

    caplog.set_level(logging.DEBUG)
    config = CONFIG + '\n[rotation]\nmodes = [{ mode = "vault:show", duration = 30 }]\n'
    path = _files(tmp_path, f'[plugins.vault]\napi_key = "{SECRET}"\n', config)
    overrides = {"paths": {"data_dir": str(tmp_path / "data")}, "workers": {"user": worker_user()}}
    cfg = load_config(path, env={}, overrides=overrides)
    backend = _Backend(cfg.display.width, cfg.display.height)
    stats_path = tmp_path / "stats.json"
    host = Host(
        cfg,
        RunOptions(
            duration=4.0,
            stats_json=stats_path,
            plugin_paths=(str(TEST_PLUGINS),),
            environment_plugins=False,
            trace_plugins=True,
            launcher="spawn",
            watch_config=False,
        ),
        backend=backend,
    )
    assert host.run() == 0

    handles = host.supervisor.handles
    assert handles["vault"].frames >= 1 and handles["plain"].config is not None
    assert any(tuple(frame[0, 0]) == (0, 255, 0) for frame in backend.pushes)
    stats = stats_path.read_text()
    logs = "\n".join(_logged_host(host, iid) for iid in handles)
    assert f"secretive starts with key {REDACTED}" in logs  # it had the key, and logged it
    for text in (stats, logs, caplog.text, repr(cfg), repr(handles)):
        assert SECRET not in text


def _logged_host(host: Any, instance: str) -> str:
    return "\n".join(r.message for r in host.supervisor.logs[instance].records(limit=1000))


def test_make_handle_carries_the_instance_secrets_and_their_origins(tmp_path: Path) -> None:
    path = _files(tmp_path, f'[plugins.vault]\napi_key = "{SECRET}"\n')
    cfg = load_config(path, env={})
    spec = discover([str(TEST_PLUGINS)], environment=False)["secretive"]
    handle = make_handle(cfg, "vault", spec, dict(cfg.plugins["vault"].options))

    assert handle.secrets == {"api_key": SECRET}
    assert handle.options == {"label": "front door"}
    assert handle.secrets_file == str(tmp_path / "secrets.toml")
    assert SECRET not in repr(handle) and SECRET not in json.dumps(handle.status(0.0))
    assert make_handle(cfg, "other", spec, {}).secrets == {}


# -- ledhost plugins ---------------------------------------------------------------------


def test_ledhost_plugins_json_shows_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "ledhost"
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "secrets.toml", f'[plugins.clock]\napi_key = "{SECRET}"\n')
    monkeypatch.setenv("LEDHOST_PLUGINS__SECRETIVE__API_KEY", OTHER_SECRET)
    from host.cli.main import main

    assert main(["plugins", "--json", "--plugin-path", str(TEST_PLUGINS)]) == 0

    out, err = capsys.readouterr()
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["secretive"]["modes"] == ["show"], rows["secretive"]
    assert SECRET not in out + err and OTHER_SECRET not in out + err
