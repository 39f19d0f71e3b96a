"""The plugin author's tools: scaffold, live development (``ledhost dev``), budget check."""
