"""``python -m gitrun.projects.trial SPEC``: run one :class:`RunSpec` (JSON) in a process of its own.

How the backends and ``gitrun.projects.run`` run a run: the same :func:`execute` as ``gitrun run``,
so its signals and statuses are the same. The exit status is the command's; 1 with a message on
stderr when the run cannot start.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from gitrun.errors import GitrunError
    from gitrun.projects.runner import RunSpec, execute

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gitrun.projects.trial SPEC_JSON", file=sys.stderr)
        return 2
    try:
        return execute(RunSpec.from_json(args[0])).exit_status
    except GitrunError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
