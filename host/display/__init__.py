"""The display path: from a worker's frame to the pixels on the panel.

A frame that :mod:`host.supervise` received from a worker's frame bus is handed to the
:mod:`~host.display.presenter`, which holds what is on screen (a frame, a strip it
scrolls, a ticker band, a layout of regions) and says when the next push is due; the
:mod:`~host.display.compositor` applies transitions (:mod:`~host.display.transitions`),
brightness, gamma and tint (:mod:`~host.display.color`) into a preallocated buffer; a
backend (:mod:`host.display.backends`: hardware, emulator, headless) pushes it.
On a wall follower (``[sync] wall_width``), :mod:`~host.display.wall` pushes the slices of
the leader's frames instead while they arrive.

May import: :mod:`host.ipc` (frame and strip types), the records of :mod:`host.supervise`
(a worker's handle and state, read to know what it offers), :mod:`host.stats`,
:mod:`host.errors`, :mod:`config`. Never the scheduler or the host's assembly: they call
into this package, not the other way round (``tests/test_layers.py`` holds the order).
"""
