"""Worker lifecycle: start, watch, stop, restart, quarantine.

- :mod:`~host.supervise.supervisor`: the loop (gunicorn's Arbiter shape): dispatches
  what workers say, reaps, checks deadlines, restarts under the policy.
- :mod:`~host.supervise.handle` and :mod:`~host.supervise.states`: the host's record of
  one instance's worker and its state machine.
- :mod:`~host.supervise.messenger`: the host's side of the control conversation.
- :mod:`~host.supervise.enforcer`, :mod:`~host.supervise.rules`,
  :mod:`~host.supervise.restart_policy`: deadlines, limits, backoff and flapping.
- :mod:`~host.supervise.spawner`, :mod:`~host.supervise.proctree`,
  :mod:`~host.supervise.undertaker`: the only code that starts, signals and reaps
  processes, and finds what a plugin left behind; :mod:`~host.supervise.revival`
  notices the zygote's death at once and starts another.
- :mod:`~host.supervise.plugin_logs`: plugin log records, rate-limited, per instance.
- :mod:`~host.cli.probe`: plugins run in workers outside the display loop
  (``ledhost plugins``, ``ledhost render``, ``config check``).

May import: :mod:`host.ipc`, :mod:`host.worker` (the zygote forks into the worker's
entry point), :mod:`host.errors`, :mod:`host.discovery`, :mod:`config`. Never the
display or the scheduler: it reports to them through its ``Listener``
(``tests/test_layers.py`` holds the order).
"""
