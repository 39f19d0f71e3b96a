"""docs/config_schema.md: every schema it shows is valid, and its defaults fill as it says.

What the form shows for the page's complete example is checked in a real browser by
``tests/test_dev.py`` (the dev page builds its form with the admin UI's schemaform.js).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from config.plugin_schema import validate_plugin_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "config_schema.md"


def schemas() -> list[dict[str, Any]]:
    found = re.findall(r"^```json\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)
    return [json.loads(text) for text in found]


def complete_example() -> dict[str, Any]:
    """The page's last schema: a whole plugin schema using every convention."""
    return schemas()[-1]


def as_plugin_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema as the one option of a plugin schema (whole schemas as they are)."""
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return schema
    return {"type": "object", "properties": {"option": schema}}


@pytest.mark.parametrize("index", range(len(schemas())))
def test_every_schema_on_the_page_is_valid_and_fills_its_defaults(index: int) -> None:
    schema = as_plugin_schema(schemas()[index])
    jsonschema.Draft202012Validator.check_schema(schema)
    result = validate_plugin_config(schema, {}, {}, where="plugins.doc")
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            assert result.options[key] == sub["default"]


def test_the_complete_example_uses_every_convention_the_page_names() -> None:
    example = json.dumps(complete_example())
    for keyword in ("title", "description", "default", "enum", "minimum", "maximum",
                    "maxLength", '"format": "color"', '"format": "time-zone"', "writeOnly",
                    '"type": "object"', '"type": "array"', "maxItems",
                    "additionalProperties"):  # fmt: skip
        assert keyword in example, keyword


def test_the_complete_example_keeps_secrets_out_of_the_config() -> None:
    result = validate_plugin_config(
        complete_example(), {"city": "Bergen"}, {"api_key": "0123456789"}, where="plugins.doc"
    )
    assert "api_key" not in result.options and result.secrets == {"api_key": "0123456789"}
    with pytest.raises(Exception, match="plugins.doc.speed"):
        validate_plugin_config(complete_example(), {"speed": 500}, {}, where="plugins.doc")
