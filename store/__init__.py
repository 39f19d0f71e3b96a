"""Plugin store: registry client, isolated installs, inventory, reconciler, tombstones.

Not built yet; see DESIGN.md (Store). Until then ledhost runs its builtin plugins and any
plugin pip-installed into its own environment (found through entry points).
"""
