"""The version path: Git and DVC, ``gitrun commit`` / push / pull / gc / init, reading any revision,
and rebuilding a run's code. Git is driven through one layer (``gitrun.vcs.git``), DVC through
``gitrun.vcs.dvc``, both imported only when a command needs them."""
