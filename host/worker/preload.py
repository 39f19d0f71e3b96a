"""Imported once by the zygote (and only there): warm what every worker would repeat.

Loading the bundled fonts costs ~50 ms and a few hundred KiB per process; done before
the zygote forks, every worker gets them ready and shares the pages copy-on-write. This
module exists for that side effect, which is why nothing else imports it.
"""

from __future__ import annotations

from sdk.fonts import font_names, load_font

for _name in font_names():
    load_font(_name)
