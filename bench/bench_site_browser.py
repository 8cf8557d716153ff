"""Is the experiment page usable at 10,000 runs? Measured in real headless Chromium.

    python bench/bench_site_browser.py [--runs 10000] [--steps 100] [--json]

Builds a store of RUNS runs x 5 metrics x STEPS steps (bench_site.make_store), builds the site, opens
``experiment.html`` from ``file://`` in Debian's Chromium (Playwright, executable_path) and times,
in the page: load until the table shows rows; sorting by a metric column (click to rows re-drawn);
a grammar filter (typing to rows re-drawn); scrolling to the end of the table; and the number of
table rows in the DOM (virtual scrolling keeps it small). Console errors are counted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_site import make_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ROWS = "#runs-table tbody tr:not(.spacer)"


def measure(page_path: Path, profile: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.perf_counter()
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_selector(ROWS)
        load_s = time.perf_counter() - started
        dom_rows = page.locator(ROWS).count()
        total = page.evaluate("() => document.querySelectorAll('#runs-table tbody tr').length")

        first = page.locator(ROWS).first.get_attribute("data-run-id")
        started = time.perf_counter()
        page.click('th[data-col^="m:"] button')
        page.wait_for_function(
            "(first) => document.querySelector('#runs-table tbody tr:not(.spacer)').dataset.runId !== first", arg=first
        )
        sort_s = time.perf_counter() - started

        count_text = "() => (document.querySelector('#row-count') || {}).textContent || ''"
        before = page.evaluate(count_text)
        started = time.perf_counter()
        box = page.locator("#filter")
        box.fill("params.lr < 0.001 OR (params.opt = 'adam' AND metrics.val_acc > 0.9)")
        box.press("Enter")
        page.wait_for_function(f"(before) => ({count_text})() !== before", arg=before, timeout=30_000)
        filter_s = time.perf_counter() - started  # includes the filter box's input debounce
        shown = page.evaluate(count_text)
        box.fill("")
        box.press("Enter")

        started = time.perf_counter()
        page.evaluate(
            "() => { const s = document.scrollingElement; s.scrollTop = s.scrollHeight; "
            "const t = document.querySelector('.table-scroll, #runs-scroll'); if (t) t.scrollTop = t.scrollHeight; }"
        )
        page.wait_for_timeout(100)
        last_visible = page.locator(ROWS).last.get_attribute("data-run-id")
        scroll_s = time.perf_counter() - started
        context.close()
    return {
        "load_to_rows_s": round(load_s, 3),
        "rows_in_dom": dom_rows,
        "tr_elements": total,
        "sort_s": round(sort_s, 3),
        "filter_s": round(filter_s, 3),
        "filter_count_text": shown.strip(),
        "scroll_to_end_s": round(scroll_s, 3),
        "last_row_after_scroll": last_visible,
        "console_errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-browser-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        make_store(repo, args.runs, 5, args.steps)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gitrun", "site", "build", "-o", str(work / "site"), "--no-history"],
            cwd=repo,
            check=True,
            capture_output=True,
        )
        build_s = time.perf_counter() - started
        pages = sorted((work / "site").glob("experiments/*.html")) or sorted((work / "site").glob("experiment*.html"))
        result = {"runs": args.runs, "steps": args.steps, "build_s": round(build_s, 1), "page": pages[0].name}
        result["page_bytes"] = pages[0].stat().st_size
        result.update(measure(pages[0], work / "profile"))
    print(json.dumps(result, indent=1) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
