"""``make bench``: the sync measured against the simulator and a real PostgreSQL, side by side in one run.

    python -m bench                      # everything at full size (several minutes)
    python -m bench --tiny --out /tmp/b  # a few seconds: what ``make test`` runs so this cannot rot

Scenarios (see :mod:`bench.plan` for the sizes and :mod:`bench.scenarios` for the code):

- ``full``: a full sync of N deals with the rate limit off, end to end (the DAG's tasks, in order,
  through :class:`ploomes_devkit.pipeline.Pipeline`, i.e. the functions the DAG's tasks call): a
  regression guard of the sync's own speed, not a target.
- ``six_hourly``: after it, on the same warehouse, three scheduled runs after 300 updates, 6
  creations and 5 deletions each: deletions found by ``$count``; the daily listing of every record;
  and an API that does not answer ``$count``. Their requests, and so the requests of a day.
- ``latency``: the full sync of the reference size with the simulator and the hook at 120 requests
  a minute and the API answering after 0, 0.5, 1 and 2 s, against the floor (one request per 300
  deals and per 300 contacts at 2 requests a second).
- ``baseline``: the old cron, implemented honestly (:mod:`bench.baseline`) on the same data.

How it is measured:

- The simulator runs in a process of its own (``python -m ploomes_simulator``), started once per
  data size by the parent. Its time to answer is inside every number (requests are synchronous),
  and on two cores it gets one core while the worker works, as a remote API would not cost us CPU.
- Every scenario runs in a fresh child process (:mod:`bench.worker`) with a fresh database, so its
  peak RSS (``VmHWM``, the kernel's high-water mark of that process) is that scenario's own,
  Airflow imports included, simulator and PostgreSQL excluded. The RSS after imports is reported
  beside it.
- API requests are counted twice: by each task's hook, and by the simulator's request log.
- Every warehouse is checked against the simulator's truth (:mod:`bench.verify`) after the timing.
- Nothing here asserts on time; :mod:`bench.report` prints targets as met or missed.
"""
