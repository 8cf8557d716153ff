"""``gitrun.sklearn``, MLflow's ``mlflow.sklearn`` name: this module is ``gitrun.models.sklearn``."""

import sys

from gitrun.models import sklearn as _flavor

sys.modules[__name__] = _flavor
