"""The layers contract holds (import-linter, the real tool), and the logging hot path imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
HEAVY = ("pandas", "altair", "dvc", "git", "jinja2", "rich", "vl_convert", "matplotlib", "pluggy")  # git: GitPython


def test_import_linter_contracts_are_kept() -> None:
    proc = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_logging_path_imports_nothing_heavy(tmp_path: Path) -> None:
    # import-linter counts function-level imports too, which lazy loading needs: this checks what
    # a training script really loads, from import to the end of a run.
    code = f"""
import sys
import gitrun
gitrun.set_tracking_uri({str(tmp_path / "store")!r})
with gitrun.start_run():
    gitrun.log_param("lr", 0.1)
    gitrun.set_tag("stage", "dev")
    gitrun.log_metric("loss", 0.5, step=1)
    gitrun.log_metrics({{"acc": 0.9, "f1": 0.8}}, step=1)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(",".join(loaded))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    # pluggy loads at start_run (the run-context hook); the rest never
    assert set(filter(None, proc.stdout.strip().split(","))) <= {"pluggy"}, proc.stdout
