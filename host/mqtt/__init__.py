"""ledhost on an MQTT broker (issue 21): the bridge process and what it is made of.

- :mod:`host.mqtt.connection`: one kept-up broker connection (TLS, auth, backoff with
  jitter, last will, a small publish/subscribe interface); knows no topics of ours, so
  other parts (synchronised signs) build on it.
- :mod:`host.mqtt.commands`: a command topic and payload to the control request the REST
  API would send (pure).
- :mod:`host.mqtt.homeassistant`: Home Assistant discovery and state messages (pure).
- :mod:`host.mqtt.sync` and :mod:`host.mqtt.wall`: synchronised signs and a wall of
  panels, the bridge's half (docs/mqtt.md, "Several signs").
- :mod:`host.mqtt.hostlink`: the one kept control-socket connection each of the bridge's
  threads passes requests to the host through.
- :mod:`host.mqtt.bridge`: ``ledhost mqtt-bridge``, a process of its own that reaches the
  host only through its control socket.

Nothing here is imported by the host process: ``ledhost run`` starts the bridge as a
child (:mod:`host.supervise.web_child`).
"""

__all__: list[str] = []
