"""The errors of the ``config`` package.

Config problems are the user's to fix, so an error never stops at the first one: it
carries every :class:`ConfigIssue` found, each naming where the value came from, the
dotted key, and what was expected against what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, final

__all__ = ["ConfigError", "ConfigIssue", "PluginSchemaError"]


@final
@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in the configuration."""

    #: Where the bad value came from: a file path, ``"environment"`` or ``"overrides"``.
    source: str
    #: The dotted key, e.g. ``"display.brightness"`` or ``"plugins.text.speed"``; empty
    #: when the problem is not about one key (a TOML syntax error, an unreadable file).
    key: str
    #: What was expected and what was found.
    message: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.message}"
        return f"{self.source}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """Return the issue as plain data (for the REST API and the control socket)."""
        return {"source": self.source, "key": self.key, "message": self.message}


class ConfigError(ValueError):
    """The configuration is invalid; :attr:`errors` lists every problem found.

    ``str()`` gives one ``source: key: message`` line per issue.
    """

    def __init__(self, errors: Iterable[ConfigIssue]) -> None:
        issues = list(errors)
        if not issues:
            raise ValueError("ConfigError needs at least one ConfigIssue")
        # Passing the list to ValueError keeps ``args`` such that pickling rebuilds the
        # error with the same issues (``cls(*args)``).
        super().__init__(issues)
        #: Every problem found, in the order they were found.
        self.errors: Final[list[ConfigIssue]] = issues

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.errors)


class PluginSchemaError(ConfigError):
    """A plugin's own JSON Schema is invalid: a bug for the plugin's author, not the user.

    The host treats it as a boot failure of that plugin, not as a bad config file.
    """
