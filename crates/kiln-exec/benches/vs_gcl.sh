#!/usr/bin/env bash
# `kiln exec` against gitlab-ci-local on the same 10-job, 3-stage shell pipeline with
# needs and artifacts: wall time and peak memory, side by side.
#
#   crates/kiln-exec/benches/vs_gcl.sh [RUNS]       (default RUNS=5, plus one warm-up each)
#   KILN_BIN=/path/to/kiln crates/kiln-exec/benches/vs_gcl.sh [RUNS]   (no build)
#
# Installs node 22 and gitlab-ci-local with npm into $GCL_DIR (default
# /tmp/kiln-bench-gcl, reused when present) and needs rsync (gitlab-ci-local's shell
# executor copies the tree with it; Debian: apt-get install rsync). Builds kiln in
# release mode. Not part of any test run: it downloads from the npm registry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
runs="${1:-5}"
gcl_dir="${GCL_DIR:-/tmp/kiln-bench-gcl}"

command -v rsync >/dev/null || { echo "rsync is missing (apt-get install rsync)" >&2; exit 2; }
if [ ! -x "$gcl_dir/node_modules/.bin/gitlab-ci-local" ]; then
    mkdir -p "$gcl_dir"
    (cd "$gcl_dir" && npm install --no-audit --no-fund node@22 gitlab-ci-local >&2)
fi
# KILN_BIN: a kiln binary built elsewhere (a snapshot's own target dir), used as is.
kiln_bin="${KILN_BIN:-}"
if [ -z "$kiln_bin" ]; then
    (cd "$repo" && cargo build --release -p kiln >&2)
    kiln_bin="$repo/target/release/kiln"
fi

exec python3 "$here/vs_gcl.py" \
    --kiln "$kiln_bin" \
    --gcl-bin "$gcl_dir/node_modules/.bin" \
    --runs "$runs"
