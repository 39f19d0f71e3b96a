"""The plugin author's tools, beside the ``ledhost`` commands (:mod:`host.cli`).

- :mod:`host.author.scaffold`: ``ledhost plugin new``, a plugin project from the template
  in ``host/author/template/`` (package data).
- :mod:`host.author.check`: ``ledhost check``, every mode at four panel sizes in a real
  worker, judged by :mod:`host.author.findings` against :mod:`host.author.budget`;
  :mod:`host.author.probe` is the instrumentation inside that worker.
- :mod:`host.author.target` turns a folder, an id or a wheel into something to run, for
  ``check``, ``dev`` and ``harness`` alike.
- :mod:`host.author.devsession`, :mod:`host.author.devweb`, :mod:`host.author.devwatch`:
  ``ledhost dev``, the plugin in a real worker beside a
  live LED preview, reloaded when its files change; :mod:`host.author.harness`, the
  worker harness ``sdk.testing.WorkerRunner`` drives (``ledhost harness``).
"""
