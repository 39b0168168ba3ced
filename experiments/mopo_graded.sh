#!/usr/bin/env bash
# MOPO-PPO on the graded datasets (docs/results.md section 6): for the medium and the mixed dataset of
# experiments/graded_datasets.py, a world model, then `rwmu sweep` over lambda x 3 seeds of
#   bc       behaviour cloning alone (the cloned actor, frozen through a one-iteration run),
#   mopo_bc  MOPO-PPO from the cloned actor with the behaviour-cloning regulariser and short branched rollouts,
#   mopo     MOPO-PPO from a random actor (as the paper, at the same CPU scale),
# every policy scored in MuJoCo on the unpenalised reward (rwmu evaluate, 32 episodes, the 8 built-in schedules) and
# checked with rwmu check-model; then experiments/mopo_graded_table.py writes the table, the ONNX exports and
# docs/results/policies.json.
#   bash experiments/mopo_graded.sh results/datasets results/grid
# Resumes: a finished world model or sweep run is skipped (rwmu sweep resumes run by run).
set -euo pipefail
DATASETS=${1:?folder of experiments/graded_datasets.py}
OUT=${2:?output folder}
SEEDS=${SEEDS:-"0 1 2"}
LAMBDAS=${LAMBDAS:-"0 1 3"}
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=1
# PPO scale of every MOPO-PPO run (CPU budget: about 4 minutes per run on one core).
PPO="--iterations 100 --num-envs 512 --steps-per-env 24"
# Behaviour cloning around PPO (docs/method.md section 6.4) and MOPO's short branched rollouts (h = 48 steps).
BC="--behavior.init --behavior.regularizer-steps 5 --behavior.critic-warmup 10 --env.episode-length 48"

for d in ${NAMES:-medium mixed}; do
  DATA="$DATASETS/$d/dataset.rwmu"
  WM="$OUT/$d/wm"
  [ -f "$WM/model_best.pt" ] || rwmu train-model --task go2_flat --data "$DATA" --out "$WM" \
      --architecture.history-horizon 16 --architecture.rnn-hidden-size 128 --architecture.rnn-num-layers 1 \
      --optim.iterations 3000 --optim.batch-size 256 --optim.learning-rate 1e-3 --validation.interval 500 \
      --validation.windows 64 --validation.horizons 8 32 --checkpoint-interval 500 --no-progress
  BEHAVIOR="--no-behavior"  # the mixed data has no single behaviour policy: datasets.json gives its mixture's score
  if [ "$d" = medium ]; then
    BEHAVIOR="--behavior-policy $(python -c "import json,sys; g=json.load(open(sys.argv[1])); \
print(g['run'] + '/' + next(e['checkpoints'] for e in g['datasets'] if e['dataset'] == 'medium') + '.pt')" \
      "$DATASETS/datasets.json")"
  fi
  COMMON=(--world-model "$WM/model_best.pt" --data "$DATA" --seeds $SEEDS --episodes 32 --jobs "$JOBS")
  # shellcheck disable=SC2086
  rwmu sweep --out "$OUT/$d/bc" "${COMMON[@]}" --lambdas 0 --iterations 1 --num-envs 64 --steps-per-env 24 \
      --no-behavior --train-args="--behavior.init --behavior.critic-warmup 1"
  # shellcheck disable=SC2086
  rwmu sweep --out "$OUT/$d/mopo_bc" "${COMMON[@]}" --lambdas $LAMBDAS $PPO --train-args="$BC" $BEHAVIOR
  # shellcheck disable=SC2086
  rwmu sweep --out "$OUT/$d/mopo" "${COMMON[@]}" --lambdas 1 $PPO --no-behavior
done
python experiments/mopo_graded_table.py "$OUT" --datasets "$DATASETS"
