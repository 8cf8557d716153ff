"""Comparing two revisions of a store: the :class:`~gitrun.compare.diff.Diff` value, its text,
Markdown and JSON renderers, and the ``--check`` CI gate."""
