#!/usr/bin/env bash
# The README's demo and its timing: every stage's wall time lands in OUT/stages.json and OUT/report.md.
#   experiments/run_demo.sh [OUT_DIR] [extra rwmu demo flags]
set -euo pipefail
OUT=${1:-/tmp/rwmu_demo}; shift || true
time rwmu demo --out "$OUT" "$@"
