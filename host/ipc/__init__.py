"""What crosses between the host and a worker: the wire formats, nothing else.

- :mod:`~host.ipc.protocol`: every control message, declared once and typed.
- :mod:`~host.ipc.channel`: length-prefixed msgpack messages over a Unix socket.
- :mod:`~host.ipc.framebus`: the shared-memory ring of frame slots, ownership passed
  through eventfds.
- :mod:`~host.ipc.exitcodes`: the worker's exit statuses and what they mean.
- :mod:`~host.ipc.lograte`: how much a plugin may log, applied at both ends.
- :mod:`~host.ipc.strip`: a received strip, as the supervisor and the display name it.
- :mod:`~host.ipc.syncwire`: what synchronised signs send each other through the MQTT
  broker (not between host and worker, but a wire all the same: the bridge and the host
  both decode it).
- :mod:`~host.ipc.epoll`: the selector both ends wait in, once per frame (a lean epoll
  one: not a wire, but the other half of every hand-off).

May import: :mod:`host.errors`, :mod:`sdk.registration` (the naming rules), the standard
library, numpy and msgspec. Both sides import this package, so it imports neither.
"""
