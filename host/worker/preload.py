"""Imported once by the zygote (and only there): warm what every worker would repeat.

Loading the bundled fonts costs ~50 ms and a few hundred KiB per process; done before
the zygote forks, every worker gets them ready and shares the pages copy-on-write. This
module exists for that side effect, which is why nothing else imports it.

jsonschema too, which every worker validates its options with: through
:mod:`config.plugin_schema`, which leaves out what only one rare format needs (``idna``).
"""

from __future__ import annotations

from config.plugin_schema import preload_validator
from sdk.fonts import font_names, load_font

for _name in font_names():
    load_font(_name)
preload_validator()
