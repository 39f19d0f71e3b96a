"""The worker's side of config validation: its own options against its own schema.

The host never runs a plugin-supplied JSON Schema: a catastrophic ``pattern`` or a
recursive ``$ref`` combinator would hold the host's only thread (Python's ``re`` holds
the GIL, so no host thread helps). The worker runs it instead, where a slow schema costs
that plugin's own time under its deadlines, and answers with bounded, typed results
(:class:`~host.ipc.protocol.Started`, :class:`~host.ipc.protocol.Refused`,
:class:`~host.ipc.protocol.Configured`) whose shape is all the host checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from config import ConfigError, ConfigIssue
from config.plugin_schema import PluginConfig, validate_plugin_config
from host.ipc import protocol

__all__ = ["issue_list", "validate"]

#: Longest text of one field of an issue sent to the host (protocol.IssueText).
_TEXT = 1000


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT else text[: _TEXT - 3] + "..."


def _same(text: str) -> str:
    return text


def issue_list(
    issues: list[ConfigIssue], scrub: Callable[[str], str] = _same
) -> list[protocol.Issue]:
    """The issues as the protocol carries them: at most ``MAX_ISSUES``, each scrubbed of
    secrets by ``scrub`` and then clipped."""
    limit = protocol.MAX_ISSUES

    def fit(text: str) -> str:
        return _clip(scrub(text))

    out = [protocol.Issue(fit(i.source), fit(i.key), fit(i.message)) for i in issues]
    if len(out) > limit:
        rest = len(out) - (limit - 1)
        out = [*out[: limit - 1], protocol.Issue(out[0].source, "", f"and {rest} more issues")]
    return out


def validate(
    schema: Mapping[str, Any] | None,
    plugin_id: str,
    options: Mapping[str, Any],
    secrets: Mapping[str, Any],
    sources: protocol.Sources,
    scrub: Callable[[str], str] = _same,
) -> PluginConfig | list[protocol.Issue]:
    """Validate raw ``options`` and ``secrets`` as the host used to.

    :param scrub: replaces any secret in an issue's text (the worker's scrubber).
    :returns: the validated values (defaults filled), or the issues, which never quote
        a secret (:func:`validate_plugin_config`).
    """
    try:
        return validate_plugin_config(
            schema,
            options,
            secrets,
            where=sources.where,
            source=sources.source,
            plugin_id=plugin_id,
            key_sources=sources.key_sources,
            file_keys=frozenset(sources.file_keys),
            secrets_file=sources.secrets_file,
        )
    except ConfigError as exc:  # PluginSchemaError too: it lists its issues the same way
        return issue_list(exc.errors, scrub)
