"""The model registry in Git tags: GTO's grammar, MLflow's API (docs/registry.md).

Split as gto splits it: :mod:`~gitrun.registry.grammar` (the tag grammar: pure, round-trip
tested), :mod:`~gitrun.registry.state` (the registry built from ONE ``git for-each-ref``),
:mod:`~gitrun.registry.events` (writing events: commits and tags), and the facades the CLI and
scripts use: :mod:`~gitrun.registry.api` (MLflow's names), :mod:`~gitrun.registry.client`
(``MlflowClient``'s registry methods). Around them: ``index`` (artifacts.yaml, dvc.yaml),
``policy`` (stages, protected stages), ``verify`` (signatures), ``pending`` (registrations
made during training), ``sync`` (push with counter races), ``uris``, ``changes`` (between two
revisions), ``views`` (what the CLI prints), ``plugin`` (the hooks).
"""
