"""Plugin store: registry client, downloads, wheel checks, isolated environments, inventory,
tombstones and the operations that change installed state.

Interface (the reconciler and the host build on it; keep it stable):

- :mod:`store.layout`: :class:`~store.layout.StorePaths` — every path; ids and versions
  checked before they become paths. Root: ``StorePaths.for_data_dir(data_dir)`` =
  ``<data_dir>/store`` (not ``<data_dir>/plugins``: that folder holds each plugin
  *instance's* data folder, named by instance id, and an instance named ``envs`` would
  have been handed the store's environments).
- :mod:`store.errors`: :class:`~store.errors.StoreError` and its kinds.
- :mod:`store.settings`: :class:`~store.settings.StoreSettings` (``[store]``).
- :mod:`store.sources`: :class:`~store.sources.Source`, :func:`~store.sources.parse_source`.
- :mod:`store.inventory`: :class:`~store.inventory.Installed`,
  :func:`~store.inventory.installed` (complete environments only).
- :mod:`store.tombstones`: :func:`add`, :func:`clear`, :func:`read`.
- :mod:`store.operations`: :func:`install`, :func:`update`, :func:`rollback`,
  :func:`uninstall`, :func:`cleanup` — the only functions that change installed state,
  under one lock.
- :mod:`store.lock`: :func:`~store.lock.store_lock` — the lock every operation holds
  (re-entrant in one process: hold it around several operations).
- :mod:`store.registry`: :func:`~store.registry.load_catalog` (every registry, one
  request each or the cache; ``catalog.plugins``, ``catalog.blocked_reason()``,
  ``catalog.stale``, ``catalog.errors``); :mod:`store.resolve`:
  :func:`~store.resolve.pick_version` (the version an install would take, without
  installing: for a plan).
- :mod:`store.download`, :mod:`store.wheels`, :mod:`store.envs`: the parts the
  operations use.

Errors the reconciler may tell apart: :class:`~store.errors.Incompatible`,
:class:`~store.errors.Blocked`, :class:`~store.errors.WheelRefused` (retrying cannot
help) versus :class:`~store.errors.DownloadError`, :class:`~store.errors.RegistryError`,
:class:`~store.errors.InstallError` (may pass later).

Layering: :mod:`store` imports :mod:`config`, :mod:`sdk` and third-party libraries, never
:mod:`host`; the host imports it (discovery, CLI). What needs a worker (the "can a real
worker load it" check) is injected as a ``verify`` callable.
"""
