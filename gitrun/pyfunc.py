"""``gitrun.pyfunc``, MLflow's ``mlflow.pyfunc`` name: this module is ``gitrun.models.pyfunc``."""

import sys

from gitrun.models import pyfunc as _flavor

sys.modules[__name__] = _flavor
