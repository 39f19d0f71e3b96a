"""What is on screen and when: pure decisions, time passed in.

- :mod:`~host.schedule.rotation`: the rotation of modes, skipping empty ones, priority
  interrupts and pins (the :class:`Scheduler`).
- :mod:`~host.schedule.windows`: on/off and dim windows evaluated for an instant.
- :mod:`~host.schedule.timetable`: those windows as the host loop needs them, evaluated
  once per change rather than per frame.
- :mod:`~host.schedule.lineup`: the configured rotation turned into slots once the
  plugins' modes are known (plain modes, ``@ticker``, ``@<layout>``).
- :mod:`~host.schedule.follow` and :mod:`~host.schedule.clockoffset`: a follower sign's
  rotation taken from its leader's, and the clock offset to the leader that it rests on.

No I/O and no clock (STYLE rule 17). May import: :mod:`host.display` (the ticker and
layout shows a slot stands for), the records of :mod:`host.supervise`, :mod:`config`.
"""
