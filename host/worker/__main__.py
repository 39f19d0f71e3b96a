"""``python -m host.worker``: how a worker is spawned with a plugin environment's python."""

from host.worker.main import main

main()
