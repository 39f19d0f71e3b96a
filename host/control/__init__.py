"""The host's control socket: the server the CLI and the web process talk to.

- :mod:`host.control.listen`: open the Unix socket safely (mode, group, no symlinks).
- :mod:`host.control.server`: clients, bounded buffers, the event stream.
- :mod:`host.control.handlers`: one function per request, calling the Host's methods.

The wire is :mod:`host.ipc.control`; clients use :mod:`host.ipc.control_client`.
"""
