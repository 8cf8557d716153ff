"""Post-training metrics: ``sklearn.metrics`` calls (and ``model.score``) on the predictions of an
autologged model are logged into that model's run (MLflow's ``_AutologgingMetricsManager``).

``predict`` (``predict_proba``, ``transform``...) of a model fitted under autolog remembers which
run the model belongs to and the name of the variable its input was passed as (``X_test``: the
outermost frame holding it). A metric function given that prediction object logs its value as
``<function>_<variable>`` (``accuracy_score_X_test``); ``model.score(X_test, y)`` as
``<Class>_score_X_test``. A second call of the same function adds ``-2``, ``-3``... to the
function's part; another object under an already seen variable name adds ``-2``... to the
variable's part. ``metric_info.json`` records each key's call. Only the object ``predict``
returned counts (not a copy or a slice of it), and only metric functions looked up from
``sklearn.metrics`` after autolog was enabled, as in MLflow.

Like MLflow's, this keeps IDs, not the user's data or models: an ID is forgotten when its object
is garbage-collected.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitrun.tracking.autolog import client
from gitrun.tracking.client import Client

METRIC_INFO = "metric_info.json"
RUN_ATTRIBUTE = "_mlflow_run_id"  # MLflow's attribute: a model fitted under autolog names its run


def var_name(value: Any, fallback: str) -> str:
    """The name ``value`` has in the outermost frame that did not receive it as an argument."""
    if value is None:
        return fallback
    try:
        frame = inspect.currentframe()
        frame = frame.f_back if frame is not None else None
        while frame is not None:
            info = inspect.getargvalues(frame)
            passed = [info.locals[name] for name in info.args]
            if info.varargs:
                passed.extend(info.locals[info.varargs])
            if info.keywords:
                passed.extend(info.locals[info.keywords].values())
            if any(value is arg for arg in passed):
                frame = frame.f_back
                continue
            for name, local in frame.f_locals.items():
                if local is value:
                    return name
            return fallback
        return fallback
    except Exception:
        return fallback


def first_argument(method: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The first argument after ``self`` of a call of ``method``."""
    if args:
        return args[0]
    names = list(inspect.signature(method).parameters)
    return kwargs.get(names[1])


def with_index(name: str, index: int) -> str:
    return name if index == 0 else f"{name}-{index + 1}"  # "-" cannot be in a variable name: no clash


def is_loggable(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


class MetricsManager:
    """What post-training metrics remember (one per process, :data:`MANAGER`; not thread-safe, as MLflow's)."""

    def __init__(self) -> None:
        self.predictions: dict[int, tuple[str, str, str | None]] = {}  # id(result) -> (dataset, run, model ID)
        self.datasets: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.calls: defaultdict[str, defaultdict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
        self.info_stale: defaultdict[str, bool] = defaultdict(bool)
        self.model_ids: dict[int, str] = {}
        self.enabled = True

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """No post-training metric is logged inside (autolog's own metric calls, nested calls)."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    def should_log(self, training_active: bool) -> bool:
        return self.enabled and not training_active

    @staticmethod
    def run_of(model: Any) -> str | None:
        return getattr(model, RUN_ATTRIBUTE, None)

    @staticmethod
    def register_model(model: Any, run_id: str) -> None:
        setattr(model, RUN_ATTRIBUTE, run_id)

    def record_model_id(self, model: Any, model_id: str | None) -> None:
        if model_id is not None:
            self.model_ids[id(model)] = model_id

    def model_id_of(self, model: Any) -> str | None:
        return self.model_ids.get(id(model))

    def register_dataset(self, model: Any, dataset: Any) -> str:
        """The name of a prediction's input: its variable name, with an index for another object
        of that name. Call it from the patched method itself (it inspects the callers' frames)."""
        name = var_name(dataset, "unknown_dataset")
        seen = self.datasets[self.run_of(model) or ""][name]
        if id(dataset) not in seen:
            seen.append(id(dataset))
        return with_index(name, seen.index(id(dataset)))

    def register_prediction(self, run_id: str, dataset: str, result: Any, model_id: str | None) -> None:
        key = id(result)
        self.predictions[key] = (dataset, run_id, model_id)
        with contextlib.suppress(TypeError):  # an object without weak references keeps its entry
            weakref.finalize(result, self.predictions.pop, key, None)

    def lookup(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
        """``(run ID, dataset name, model ID)`` of the first argument that is a registered prediction."""
        import numpy as np

        for arg in [*args, *kwargs.values()]:
            if arg is not None and not np.isscalar(arg) and id(arg) in self.predictions:
                dataset, run_id, model_id = self.predictions[id(arg)]
                return run_id, dataset, model_id
        return None, None, None

    @staticmethod
    def call_command(owner: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
        """``function(arg=value, ...)`` as ``metric_info.json`` records it (data by variable name)."""
        import numpy as np

        def text(arg: Any) -> str:
            if arg is None or np.isscalar(arg):
                if isinstance(arg, str) and len(arg) > 32:
                    return repr(arg[:32] + "...")
                return repr(arg)
            return var_name(arg, f"<{type(arg).__name__}>")

        names = list(inspect.signature(function).parameters)
        if owner is not None:
            names.pop(0)
        called = f"{type(owner).__name__}.{function.__name__}" if owner is not None else function.__name__
        parts = []
        # Plain loops: a comprehension's frame would hold the argument under its own name (var_name).
        for name, arg in zip(names, args, strict=False):
            parts.append(f"{name}={text(arg)}")
        for name, arg in kwargs.items():
            parts.append(f"{name}={text(arg)}")
        return f"{called}({', '.join(parts)})"

    def register_call(self, run_id: str, metric: str, dataset: str, command: str) -> str:
        """The key of this call's metric: ``<metric>[-<call index>]_<dataset>``."""
        calls = self.calls[run_id][metric]
        key = f"{with_index(metric, len(calls))}_{dataset}"
        calls.append((key, command))
        self.info_stale[run_id] = True
        return key

    def log(self, run_id: str, key: str, value: Any, model_id: str | None) -> None:
        """Log the metric (a later call of the same key overwrites it) and rewrite ``metric_info.json``."""
        client.log_metrics(run_id, {key: value}, model_id=model_id)
        if self.info_stale[run_id]:
            commands = sorted((entry for calls in self.calls[run_id].values() for entry in calls), key=lambda e: e[0])
            Client().log_dict(run_id, dict(commands), METRIC_INFO)
            self.info_stale[run_id] = False


MANAGER = MetricsManager()
