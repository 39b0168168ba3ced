#!/usr/bin/env bash
# MOPO-PPO at demo scale on a graded dataset: a demo-size world model (GRU 1x128, M=16, 800 iterations), then one
# lambda=1 policy per penalty convention (reference, excess), each scored in MuJoCo and checked with check-model.
#   bash experiments/mopo_demo_scale.sh results/datasets/mixed/dataset.rwmu results/mixed_demo
# Resumes: finished stages are skipped. docs/results.md section 5 quotes its output.
set -euo pipefail
DATA=${1:?dataset.rwmu}
OUT=${2:?output folder}
export OMP_NUM_THREADS=1
[ -f "$OUT/wm/model_best.pt" ] || rwmu train-model --task go2_flat --data "$DATA" --out "$OUT/wm" \
    --architecture.history-horizon 16 --architecture.rnn-hidden-size 128 --architecture.rnn-num-layers 1 \
    --optim.iterations 800 --optim.batch-size 256 --optim.learning-rate 1e-3 --validation.interval 160 \
    --validation.windows 64 --validation.horizons 8 32 --checkpoint-interval 800 --no-progress
for mode in reference excess; do
  P="$OUT/pi_$mode"
  [ -f "$P/summary.json" ] || rwmu train-policy --task go2_flat --world-model "$OUT/wm/model_best.pt" --data "$DATA" \
      --out "$P" --iterations 150 --steps-per-env 24 --env.num-envs 256 --env.penalty "$mode" \
      --env.uncertainty-penalty 1.0 --seed 0 --save-interval 150
  rwmu evaluate --task go2_flat --policy "$P" --episodes 32 --json "$P/eval.json" --no-progress
  rwmu check-model --world-model "$OUT/wm/model_best.pt" --data "$DATA" --policy "$P" --episodes 8 --num-envs 8 \
      --json "$P/check.json" --no-progress
done
