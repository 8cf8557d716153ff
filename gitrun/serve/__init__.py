"""SERVE: the scoring server behind ``gitrun serve`` (MLflow's protocol, docs/serving.md) and the
site's local preview (``gitrun site serve``).

- :mod:`~gitrun.serve.options`: what the command asks for, checked once.
- :mod:`~gitrun.serve.served`: the model being served (what a URI resolves to now, loaded), and the
  slot that swaps it atomically.
- :mod:`~gitrun.serve.scoring`: one ``/invocations`` body in, one answer out (MLflow's status codes
  and error bodies), through :func:`gitrun.models.payload.predict_text`, the code path
  ``gitrun models predict`` uses.
- :mod:`~gitrun.serve.app`: the Starlette application (routes, body limit, timeout, headers).
- :mod:`~gitrun.serve.follow`: ``--watch``: re-resolve the URI when the repository's refs change.
- :mod:`~gitrun.serve.server`: uvicorn, pre-forked workers, signals, the listening socket.
- :mod:`~gitrun.serve.venv`: ``--env-manager venv``: serve from the model's own environment.
- :mod:`~gitrun.serve.preview`: the static site's preview server (standard library only).

Importing this package imports nothing: Starlette and uvicorn (the ``serve`` extra) load when a
server starts.
"""
