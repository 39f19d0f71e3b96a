"""ledhost as a service on a Raspberry Pi: where it is installed, how systemd runs it, and
what can be checked about the machine it runs on.

Nothing here runs on the display path. :mod:`host.system.layout` names every path of an
installed ledhost (the install script, the systemd unit, self-update and ``ledhost
doctor`` all read them from there, so they never disagree about where things are).
"""
