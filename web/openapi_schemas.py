"""The response bodies of ``/api/v1``, exactly: what :mod:`web.openapi` documents per call.

Objects are closed (``additionalProperties: false``) wherever the host's reply has a fixed
shape, so a key added to a status or a log record without a line here fails the live
Schemathesis test (``tests/test_web_schemathesis.py``), which checks every response
against these. OpenAPI 3.0: ``nullable`` rather than a ``null`` type.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ERROR", "RESPONSES"]

STR: Final[dict[str, Any]] = {"type": "string"}
INT: Final[dict[str, Any]] = {"type": "integer"}
NUM: Final[dict[str, Any]] = {"type": "number"}
BOOL: Final[dict[str, Any]] = {"type": "boolean"}
ANY: Final[dict[str, Any]] = {"nullable": True}


def null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or ``null``."""
    return {**schema, "nullable": True}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A closed object: every key of ``required`` present, ``optional`` ones may be."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def mapping(values: dict[str, Any]) -> dict[str, Any]:
    """An object keyed by names the host chooses (instance ids), each value ``values``."""
    return {"type": "object", "additionalProperties": values}


#: Every error: ``{"code", "message"}`` (:mod:`web.errors`).
ERROR: Final = obj({"code": STR, "message": STR})

#: ``display`` of a status, and the reply of next/previous/pin/unpin/notify.
DISPLAY: Final = obj(
    {
        "on": BOOL,
        "brightness": INT,
        "tint": null(array(INT)),
        "schedule": STR,
        "showing": null(STR),
        "current": null(
            obj(
                {
                    "instance": STR,
                    "mode": STR,
                    "key": STR,
                    "reason": STR,
                    "shown_for": null(NUM),
                    "ends_in": null(NUM),
                }
            )
        ),
        "rotation": obj({"key": null(STR), "left": null(NUM), "next": null(STR)}),
        "interrupts": array(
            obj(
                {
                    "id": INT,
                    "source": STR,
                    "key": STR,
                    "priority": INT,
                    "remaining": null(NUM),
                    "on_screen": BOOL,
                }
            )
        ),
        "interrupt_queued": BOOL,
        "pin": null(obj({"key": STR, "remaining": null(NUM)})),
        "config": obj(
            {
                "path": null(STR),
                "loaded_at": NUM,
                "reloads": INT,
                "last_error": null(STR),
                "last_error_at": null(NUM),
                "restart_needed": array(STR),
            }
        ),
        "powered": BOOL,
        "safe_mode": BOOL,
        "sync": null(
            obj(
                {
                    "role": STR,
                    "sign": STR,
                    "group": null(STR),
                    "offset": NUM,
                    "delay": null(NUM),
                    "follower": null(
                        obj(
                            {
                                "following": BOOL,
                                "leader": null(STR),
                                "heard_ago": null(NUM),
                                "leader_showing": null(STR),
                                "leader_left": null(NUM),
                                "in_rotation": BOOL,
                                "pinned_by_leader": null(STR),
                            }
                        )
                    ),
                    "notices_pending": INT,
                    "switches": array(obj({"n": INT, "key": STR, "at": NUM})),
                    "wall": null(
                        obj(
                            {
                                "width": INT,
                                "height": INT,
                                "slice": array(INT),
                                "feed": null(
                                    obj(
                                        {
                                            "active": BOOL,
                                            "shown": INT,
                                            "skipped": INT,
                                            "pending": INT,
                                        }
                                    )
                                ),
                            }
                        )
                    ),
                }
            )
        ),
    }
)

#: One instance of a status: a running one has every key, one that could not start the
#: first seven.
PLUGIN_STATUS: Final = obj(
    {
        "plugin": STR,
        "state": STR,
        "restarts": INT,
        "frames": INT,
        "last_error": null(STR),
        "last_exit": null(STR),
        "modes": array(STR),
    },
    {
        "failures": INT,
        "last_error_at": null(NUM),
        "last_exit_status": null(STR),
        "last_failure": null(STR),
        "last_failure_at": null(NUM),
        "quarantined_at": null(NUM),
        "quarantined_for": null(NUM),
        "restart_in": null(NUM),
        "pid": null(INT),
        "memory_mb": NUM,
        "cpu_seconds": NUM,
        "processes": INT,
        "containment": STR,
        "kernel_limits": array(STR),
        "logs": obj(
            {
                "accepted": INT,
                "suppressed_total": INT,
                "pending": INT,
                "suppressing": BOOL,
                "ring_size": INT,
                "ring_capacity": INT,
                "last_seq": INT,
            }
        ),
    },
)

LOG_RECORD: Final = obj({"seq": INT, "time": NUM, "level": STR, "logger": STR, "message": STR})
SECRETS_ENTRY: Final = obj({"plugin": STR, "secret_keys": null(array(STR)), "set": array(STR)})
INSTALLED: Final = obj({"name": STR, "distribution": null(STR), "version": null(STR)})
SESSION: Final = obj({"ok": BOOL, "csrf_token": STR})
OK: Final = obj({"ok": BOOL})


def data(schema: dict[str, Any]) -> dict[str, Any]:
    """A host call's reply: ``{"data": ...}``."""
    return obj({"data": schema})


#: ``mqtt`` of a status: what the MQTT bridge last reported (docs/mqtt.md), null without one.
MQTT_STATE: Final = null(obj({"connected": BOOL, "error": null(STR), "since": NUM}))

#: (path, method) -> (status, body schema) of success. What is not here is ``{"data": any}``.
#: A store job (host/control/store_ops.py).
STORE_JOB: Final = obj(
    {
        "id": INT,
        "op": STR,
        "target": STR,
        "state": {"type": "string", "enum": ["running", "done", "failed"]},
        "lines": array(STR),
        "result": null(STR),
        "error": null(STR),
        "started": NUM,
    }
)

#: One update or rollback, as recorded (host/system/guard.py).
UPDATE_ENTRY: Final = obj(
    {"at": NUM, "action": STR, "result": STR, "from": null(STR), "to": null(STR), "by": STR,
     "reason": STR}
)  # fmt: skip
#: ``ledhost self-update --check --json`` (host/system/selfupdate.py, status).
UPDATE_CHECK: Final = obj(
    {
        "running": STR,
        "current": null(STR),
        "previous": null(STR),
        "releases": array(STR),
        "trial": null(
            obj({"version": STR, "previous": STR, "starts": INT, "max_starts": INT, "since": NUM})
        ),  # fmt: skip
        "last": null(UPDATE_ENTRY),
        "started": null(
            obj(
                {
                    "version": STR,
                    "release": STR,
                    "pid": INT,
                    "first_frame": NUM,
                    "problems": array(STR),
                }
            )
        ),  # fmt: skip
        "index": obj(
            {
                "index": STR,
                "newest": null(STR),
                "checked_at": null(NUM),
                "stale": BOOL,
                "error": null(STR),
            }
        ),  # fmt: skip
        "update_available": BOOL,
    }
)

RESPONSES: Final[dict[tuple[str, str], tuple[str, dict[str, Any]]]] = {
    ("/api/v1/openapi.json", "get"): ("200", {"type": "object"}),
    ("/api/v1/auth/state", "get"): ("200", obj({"setup_required": BOOL, "logged_in": BOOL})),
    ("/api/v1/auth/setup", "post"): ("201", SESSION),
    ("/api/v1/store/jobs", "post"): ("202", obj({"data": STORE_JOB})),
    ("/api/v1/store/upload", "post"): ("202", obj({"data": STORE_JOB})),
    ("/api/v1/store/jobs/{job}", "get"): ("200", obj({"data": STORE_JOB})),
    ("/api/v1/system/update", "get"): ("200", data(UPDATE_CHECK)),
    ("/api/v1/system/update", "post"): ("202", obj({"data": STORE_JOB})),
    ("/api/v1/auth/login", "post"): ("200", SESSION),
    ("/api/v1/auth/logout", "post"): ("200", OK),
    ("/api/v1/auth/tokens", "get"): (
        "200",
        obj({"tokens": array(obj({"id": STR, "name": STR, "created": INT}))}),
    ),
    ("/api/v1/auth/tokens", "post"): ("201", obj({"id": STR, "name": STR, "token": STR})),
    ("/api/v1/auth/tokens/{token_id}", "delete"): ("200", OK),
    ("/api/v1/status", "get"): (
        "200",
        data(obj({"display": DISPLAY, "plugins": mapping(PLUGIN_STATUS), "mqtt": MQTT_STATE})),
    ),
    ("/api/v1/next", "post"): ("200", data(DISPLAY)),
    ("/api/v1/previous", "post"): ("200", data(DISPLAY)),
    ("/api/v1/pin", "post"): ("200", data(DISPLAY)),
    ("/api/v1/pin", "delete"): ("200", data(DISPLAY)),
    ("/api/v1/notify", "post"): ("200", data(DISPLAY)),
    ("/api/v1/brightness", "put"): ("200", data(null({}))),
    ("/api/v1/power", "put"): ("200", data(null({}))),
    ("/api/v1/plugins", "get"): ("200", obj({"plugins": array(INSTALLED)})),
    ("/api/v1/plugins/{instance}/{op}", "post"): ("200", data(null({"type": "object"}))),
    ("/api/v1/plugins/{instance}/logs", "get"): ("200", data(array(LOG_RECORD))),
    ("/api/v1/config/backup", "get"): (
        "200",
        data(obj({"path": STR, "text": STR, "left_out": array(STR)})),
    ),
    ("/api/v1/config/restore", "post"): ("200", data(obj({"path": STR}))),
    ("/api/v1/config/{section}", "get"): ("200", data({"type": "object"})),
    ("/api/v1/config/{section}", "put"): ("200", data({"type": "object"})),
    ("/api/v1/secrets", "get"): ("200", data(mapping(SECRETS_ENTRY))),
    ("/api/v1/secrets/{instance}/{key}", "put"): ("200", data(SECRETS_ENTRY)),
    ("/api/v1/secrets/{instance}/{key}", "delete"): ("200", data(SECRETS_ENTRY)),
}
