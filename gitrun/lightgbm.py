"""``gitrun.lightgbm``, MLflow's ``mlflow.lightgbm`` name: this module is ``gitrun.models.lightgbm``."""

import sys

from gitrun.models import lightgbm as _flavor

sys.modules[__name__] = _flavor
