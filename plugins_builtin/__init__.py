"""The plugins that ship with ledhost.

Each module is an ordinary plugin that imports only :mod:`sdk`, declared in the
``ledhost.plugins`` entry-point group of ledhost's own ``pyproject.toml`` and run in a
worker process exactly like a third-party plugin. The entry points are the registry;
nothing here imports the plugins.
"""
