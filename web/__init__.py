"""The admin web UI and REST API (a separate process talking to the host's control socket).

Not built yet; see DESIGN.md (Web).
"""
