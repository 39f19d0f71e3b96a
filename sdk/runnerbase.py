"""What the two plugin runners of :mod:`sdk.testing` share: ``with`` starts and closes them.

``PluginRunner`` (in-process) and ``WorkerRunner`` (a real worker) are used the same way
in a test: entering the block runs ``setup`` and the first ``refresh_data``, leaving it
runs ``teardown``. Part of :mod:`sdk.testing`; import the runners from there.

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import Self

__all__ = ["Runner"]


class Runner:
    """A plugin run that :meth:`start` begins and :meth:`close` ends; a context manager.

    .. versionadded:: 0.1
    """

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()  # also when the test failed inside the block: the worker must end
