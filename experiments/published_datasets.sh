#!/usr/bin/env bash
# The graded datasets "medium" and "mixed" (docs/results.md section 4) recorded again from the behaviour policies
# published in docs/results/policies/behavior (ONNX exports of the train-online checkpoints), so that a fresh clone
# has them without re-running train-online. Same collection settings as experiments/graded_datasets.py.
#
#   bash experiments/published_datasets.sh [OUT=results/datasets]
#
# A dataset that is already there is kept; an interrupted collection continues with --resume. NAMES="medium mixed"
# (the default) collects those two; "medium_noise" is medium's behaviour policy with Gaussian action noise of std 0.4
# (docs/results.md section 11).
set -euo pipefail
OUT=${1:-results/datasets}
POLICIES=docs/results/policies/behavior
COMMON=(--task go2_flat --steps 1000000 --num-envs 64 --num-workers 2 --seed 0 --format rwmu --no-progress)

collect() {  # NAME ARGS...
    local name=$1; shift
    local out="$OUT/$name"
    if [[ -f "$out/dataset.rwmu" ]]; then echo "$out/dataset.rwmu: kept"; return; fi
    local resume=()
    [[ -d "$out/.collect" ]] && resume=(--resume)
    echo "+ rwmu collect $* ${COMMON[*]} --out $out ${resume[*]}"
    rwmu collect "$@" "${COMMON[@]}" --out "$out" "${resume[@]}"
}

NAMES=${NAMES:-"medium mixed"}
want() { [[ " $NAMES " == *" $1 "* ]]; }
want medium && collect medium --policy "$POLICIES/model_550"
want mixed && collect mixed --policy "$POLICIES" --checkpoints 0:700:50
want medium_noise && collect medium_noise --policy "$POLICIES/model_550" --action-noise 0.4
exit 0
