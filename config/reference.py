"""The settings reference (``docs/settings.md``), generated from :data:`config.settings.SETTINGS`.

Regenerate it with::

    python -c "import config; print(config.settings_reference_markdown(), end='')" \
        > docs/settings.md

A test checks the file is up to date.
"""

from __future__ import annotations

from config.desired import REFERENCE as DESIRED_REFERENCE
from config.migrate import CURRENT_VERSION, STEPS, VERSION_KEY
from config.schema import ENV_PREFIX, TYPE_NAMES, Setting, format_toml_value
from config.settings import INSTANCE_SETTINGS, SECTIONS, SETTINGS

__all__ = ["settings_reference_markdown"]


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed(setting: Setting) -> str:
    if setting.choices is not None:
        return ", ".join(f"`{format_toml_value(choice)}`" for choice in setting.choices)
    if setting.min is not None and setting.max is not None:
        return f"{setting.min} to {setting.max}"
    if setting.min is not None:
        return f"at least {setting.min}"
    if setting.max is not None:
        return f"at most {setting.max}"
    return ""


def _table(settings: tuple[Setting, ...]) -> list[str]:
    lines = [
        "| Setting | Type | Default | Allowed | Environment variable | Applied | Description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in settings:
        env_cell = f"`{s.env_var}`"
        applied = "live" if s.live else "on restart"
        lines.append(
            f"| `{s.name}` | {TYPE_NAMES[s.type]} | `{format_toml_value(s.default)}` | "
            f"{_markdown_cell(_allowed(s))} | {env_cell} | {applied} | "
            f"{_markdown_cell(s.help)} |"
        )
    return lines


def settings_reference_markdown() -> str:
    """Generate the settings reference (Markdown) from :data:`SETTINGS`.

    :returns: the document; a doc step writes it to ``docs/`` and a test checks every
        setting and default appears in it.
    """
    lines = [
        "# Settings reference",
        "",
        "<!-- Generated from config/schema.py by config.settings_reference_markdown(). -->",
        "",
        "ledhost reads one TOML file. Every setting is optional. Sources apply in order, "
        "later ones winning: the file, then environment variables "
        f"`{ENV_PREFIX}<SECTION>__<NAME>` (values are parsed as TOML values when they "
        "parse, else taken as strings; quote a string that looks like a number: "
        f"`{ENV_PREFIX}PLUGINS__TEXT__MESSAGE='\"2024\"'`), then command-line overrides. "
        "Unknown keys in host sections are errors. A running host watches its config file: "
        "settings marked *live* below change at once when the file is saved, the others "
        "on the next restart (the host says which are waiting).",
        "",
        f"A file records its format in a top-level `{VERSION_KEY} = {CURRENT_VERSION}`; one "
        "without it is version 1 (ledhost 0.1). `ledhost run` and `ledhost config check` "
        "upgrade an older file in place, keeping its comments and the old file in "
        "`.ledhost-backups/` beside it (a read-only file is upgraded in memory on every "
        "start), and refuse a file from a newer ledhost. Changes: "
        + " ".join(f"version {step.version + 1}: {step.summary}" for step in STEPS),
        "",
    ]
    for section in SECTIONS:
        lines += [f"## `[{section}]`", ""]
        lines += _table(tuple(s for s in SETTINGS if s.section == section))
        lines.append("")
    lines += [
        "## `[plugins.<instance_id>]`",
        "",
        "One table per plugin instance, kept in file order. Instance ids and plugin ids use "
        "1-64 characters: a lowercase letter, then lowercase letters, digits, `_` or `-`. "
        "The keys below are reserved; every other key is an option of the plugin, checked "
        "against the JSON Schema the plugin declares (defaults filled in). Environment "
        f"variables reach them as `{ENV_PREFIX}PLUGINS__<INSTANCE_ID>__<KEY>` "
        "(all-uppercase segments are lowercased; nest deeper with more `__`).",
        "",
    ]
    lines += _table(INSTANCE_SETTINGS)
    lines += ["", *DESIRED_REFERENCE, ""]
    return "\n".join(lines)
