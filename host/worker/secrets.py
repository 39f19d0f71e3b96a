"""The worker's side of secrets: a read-only ``context.secrets`` and nothing leaking out.

The host sends an instance's secrets to its worker alone (``start`` and ``configure``).
From there the plugin may leak one by accident: an exception that quotes the API key it
was refused with, a debug line with the URL it called, a hook traced with
``LEDHOST_TRACE_PLUGINS``, an action that returns it. Every text the worker sends to the
host — log records, error messages, tracebacks, action results — therefore passes through
:class:`SecretScrubber`, which replaces each secret value it knows by ``<redacted>``.
Values shorter than :data:`config.secrets.MIN_SCRUB_LENGTH` are not searched for.

Also here: :func:`forget_config_environment`, which drops the host's
``LEDHOST_<SECTION>__<KEY>`` variables from the worker's ``os.environ`` before plugin code
is imported, since one of them may carry another plugin's secret.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from config.loader_layers import is_config_variable
from config.schema import plain_data
from config.secrets import scrub_text, secret_strings

__all__ = ["SecretScrubber", "forget_config_environment", "read_only"]


def read_only(secrets: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``secrets`` for ``context.secrets``.

    Read-only so a plugin cannot mistake it for a place to keep state, which the next
    ``configure`` would silently replace.
    """
    return MappingProxyType(plain_data(secrets))


def forget_config_environment(environ: Any = os.environ) -> list[str]:
    """Remove ``LEDHOST_<SECTION>__<KEY>`` variables (config overrides) from ``environ``.

    Only the variables that set config values (those with ``__``) go; switches such as
    ``LEDHOST_PLUGINS`` stay. The process's initial environment block, which
    ``/proc/<pid>/environ`` shows, cannot be changed from inside: a secret belongs in the
    secrets file, not in the environment of a process that starts plugins.

    :returns: the names removed.
    """
    names = [name for name in list(environ) if is_config_variable(name)]
    for name in names:
        del environ[name]
    return names


class SecretScrubber(logging.Filter):
    """Replaces secret values in log records and in any text the worker sends.

    Add it as a filter to the handler that ships records to the host: a handler's filters
    see every record that reaches it, from any logger of the worker.
    """

    def __init__(self) -> None:
        super().__init__()
        self._strings: tuple[str, ...] = ()

    def remember(self, secrets: Mapping[str, Any]) -> None:
        """Scrub these secrets from now on, besides the ones seen before.

        Old values stay: a line about the key just replaced may still be on its way.
        """
        found = set(self._strings) | set(secret_strings(secrets))
        self._strings = tuple(sorted(found, key=lambda text: (-len(text), text)))

    def text(self, text: str) -> str:
        """``text`` with every known secret value replaced."""
        return scrub_text(text, self._strings) if self._strings else text

    def data(self, value: Any) -> Any:
        """Plain data (an action's result) with every string scrubbed, keys included."""
        if not self._strings:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            # A number that is a secret (a PIN) comes back as the redaction mark.
            return self.data(str(value)) if self.text(str(value)) != str(value) else value
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the record's message now and scrub it; never drops a record."""
        if not self._strings:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a plugin's bad format string (log.info("%d", "x"))
            message = f"unformattable log record {record.msg!r} % {record.args!r}"
        record.msg, record.args = self.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.text(record.stack_info)
        return True
