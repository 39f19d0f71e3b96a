"""The code that runs inside a worker process: one plugin instance, its hooks served.

``python -m host.worker`` (spawned with a plugin environment's interpreter) and the
zygote's fork both end in :func:`host.worker.main.run`. The plugin is loaded through its
entry point (:mod:`~host.worker.boot`), its hooks are called with deadlines, frames are
written into the frame bus and everything else is said over the control channel.

May import: :mod:`host.ipc`, :mod:`host.errors`, :mod:`host.namesafe`, :mod:`sdk`. Never
the supervisor, the display or :mod:`config`'s writers: this package is loaded in every
plugin environment and must stay small.
"""
