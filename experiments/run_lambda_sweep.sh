#!/usr/bin/env bash
# The RWM-U lambda experiment end to end (issue 5, item 4): data from the scripted controller, the paper's world
# model, uncertainty versus error, and MOPO-PPO over lambda x seeds scored in MuJoCo on the unpenalised reward.
#
#   experiments/run_lambda_sweep.sh [OUT_DIR]            # defaults below: hours on CPU; use a GPU for the policies
#   ROWS=200000 MODEL_ITERS=800 POLICY_ITERS=150 NUM_ENVS=256 STEPS=24 JOBS=2 experiments/run_lambda_sweep.sh /tmp/small
#
# Every step is resumable: re-running the same command continues (finished sweep runs are skipped); a larger
# POLICY_ITERS continues finished policies to the new total.
set -euo pipefail

OUT=${1:-results/lambda_sweep}
ROWS=${ROWS:-1000000}            # issue 5: at least 1M Go2 transitions
WORKERS=${WORKERS:-2}            # MuJoCo processes for collection
MODEL_ITERS=${MODEL_ITERS:-2500} # paper Table S10
BATCH=${BATCH:-1024}             # paper Table S10
LR=${LR:-0.0001}                 # paper Table S10
POLICY_ITERS=${POLICY_ITERS:-2500}  # paper Table S11
NUM_ENVS=${NUM_ENVS:-4096}       # paper Table S11
STEPS=${STEPS:-100}              # paper Table S11 steps per env
LAMBDAS=${LAMBDAS:-0 0.5 1 2 5}
SEEDS=${SEEDS:-0 1 2}
JOBS=${JOBS:-1}
EPISODES=${EPISODES:-64}
DEVICE=${DEVICE:-cpu}
CURVE=${CURVE:-0}                # 1: also score every saved checkpoint (true return against PPO iterations)

mkdir -p "$OUT"
if [ ! -f "$OUT/data/dataset.rwmu" ]; then
  rwmu collect --task go2_flat --policy scripted --steps "$ROWS" --seed 0 --num-workers "$WORKERS" --format rwmu \
    --out "$OUT/data"
fi
if [ ! -f "$OUT/world_model/summary.json" ]; then
  RESUME=""; [ -f "$OUT/world_model/model_latest.pt" ] && RESUME="--resume"
  # paper architecture (Table S7/S10): GRU 2x256, B=5, M=32, N=8, batch 1024 (the train-model defaults)
  rwmu train-model --task go2_flat --data "$OUT/data/dataset.rwmu" --out "$OUT/world_model" \
    --optim.iterations "$MODEL_ITERS" --optim.batch-size "$BATCH" --optim.learning-rate "$LR" --device "$DEVICE" $RESUME
fi
if [ ! -f "$OUT/uncertainty/summary.json" ]; then
  rwmu eval-uncertainty --task go2_flat --world-model "$OUT/world_model/model_best.pt" \
    --data "$OUT/data/dataset.rwmu" --out "$OUT/uncertainty" --device "$DEVICE"
fi
rwmu sweep --world-model "$OUT/world_model/model_best.pt" --data "$OUT/data/dataset.rwmu" --out "$OUT/sweep" \
  --lambdas $LAMBDAS --seeds $SEEDS --jobs "$JOBS" --episodes "$EPISODES" \
  --iterations "$POLICY_ITERS" --num-envs "$NUM_ENVS" --steps-per-env "$STEPS" --device "$DEVICE" \
  $([ "$CURVE" = 1 ] && echo --curve)
echo "results: $OUT/uncertainty/summary.json, $OUT/sweep/sweep.md (sweep.csv, sweep.json, sweep.png)"
