"""Run search: the filter grammar, its evaluation, lazy run rows and the local index.

- ``grammar``: tokenizer, parser and formatter of filter strings (frozen dataclass trees).
- ``evaluate``: trees to predicates; MLflow's ``order_by`` sort.
- ``rows``: runs read lazily from their files or from the index.
- ``index``: the cache in ``.gitrun/.cache/`` and how it stays correct.
- ``engine``: scan, filter, sort, cut, load.

The public entry points are ``gitrun.search_runs``, ``gitrun.Client.search_runs`` and
``gitrun.search.api.search_run_records``; docs/search.md describes the language.
"""

from gitrun.search.grammar import (
    And,
    Comparison,
    Field,
    Not,
    Or,
    OrderBy,
    format_filter,
    format_order_by,
    parse_filter,
    parse_order_by,
)

__all__ = [
    "And",
    "Comparison",
    "Field",
    "Not",
    "Or",
    "OrderBy",
    "format_filter",
    "format_order_by",
    "parse_filter",
    "parse_order_by",
]
