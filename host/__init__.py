"""The ledhost display host: one process that owns the panel, with plugin workers below it.

Read it from the bottom up; ``tests/test_layers.py`` keeps this order true (each package
imports only those above it in this list, never one below, and no module takes part in
an import cycle):

- :mod:`host.ipc`: the wire between host and worker (control messages, frame bus).
- :mod:`host.worker`: the code that runs inside a worker process, around one plugin.
- :mod:`host.supervise`: worker lifecycle: start, watch, stop, restart, quarantine.
- :mod:`host.display`: from a received frame to the panel (presenter, compositor, backends).
- :mod:`host.schedule`: which mode is on screen and when (pure decisions).
- :mod:`host.app` with :mod:`host.planning`, :mod:`host.reload`, :mod:`host.reconfigure`:
  the assembly of one run (its loop), and live config changes; :mod:`host.director`, what
  shows and why (each turn's decision, and the user's pins, skips, power and brightness);
  :mod:`host.outputs`, what a run leaves when it ends (snapshot, stats file);
  :mod:`host.heap`, start-up's freed heap given back after the first frame;
  :mod:`host.control`, beside them, the control socket's server (the CLI and the web
  process reach the running host through it; its wire and client are
  :mod:`host.ipc.control` and :mod:`host.ipc.control_client`);
  :mod:`host.system`, ledhost as a service on a Pi (install layout, systemd, diagnostics);
  :mod:`host.mqtt`, the MQTT bridge, a process of its own that reaches the host through
  the control socket only (Home Assistant discovery, commands);
  :mod:`host.syncing`, this sign's part in a set of synchronised signs (its MQTT topics
  are :mod:`host.mqtt.sync`, its pure decisions :mod:`host.schedule.follow`).
- :mod:`host.cli`: the ``ledhost`` commands; :mod:`host.author`, beside them, the plugin
  author's tools (scaffold, live development, budget check).

:mod:`host.errors`, :mod:`host.discovery` and :mod:`host.stats` are used at every level.

A frame's way from a plugin to the LEDs: the plugin's ``render_frame`` draws on a canvas in
its worker (:mod:`host.worker`), which copies the pixels into a free slot of its
shared-memory ring and hands the slot over with an eventfd write
(:mod:`host.ipc.framebus`). The host's one loop wakes on that fd (or, while it wakes
within a frame period anyway, reads that bus at its deadline:
:mod:`host.supervise.frametick`); the supervisor's messenger takes the newest ready slot
(:mod:`host.supervise.messenger`) and gives it to the
:class:`~host.display.presenter.Presenter` if that mode is on screen; when a push is due,
the :class:`~host.display.compositor.Compositor` applies transitions, brightness, gamma
and tint into its output buffer, and the backend (:mod:`host.display.backends`) sets it
on the panel.
"""

__version__ = "0.1.0"
