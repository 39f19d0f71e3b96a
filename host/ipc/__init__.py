"""What crosses between the host and a worker: the wire formats, nothing else.

- :mod:`~host.ipc.channel`: length-prefixed msgpack messages over a Unix socket.
- :mod:`~host.ipc.framebus`: the shared-memory ring of frame slots, ownership passed
  through eventfds.
- :mod:`~host.ipc.exitcodes`: the worker's exit statuses and what they mean.

May import: :mod:`host.errors` and the standard library, numpy and msgpack. Both sides
import this package, so it imports neither.
"""
