#!/usr/bin/env bash
# MOPO-PPO on the graded datasets (docs/results.md section 6): for the medium and the mixed dataset of
# experiments/graded_datasets.py, a world model, then `rwmu sweep` over lambda x 3 seeds of
#   bc               behaviour cloning alone (the cloned actor, frozen through a one-iteration run),
#   fbc              filtered behaviour cloning: only the episodes with the top 10 % true returns ("%BC"),
#   mopo_fbc         MOPO-PPO from the filtered-BC actor, with the behaviour-cloning regulariser (on the same pairs)
#                    and short branched rollouts (h = 48); mixed data only,
#   mopo_bc          the same from the BC actor of all the data,
#   mopo             MOPO-PPO from a random actor (as the paper, at the same CPU scale; one seed),
#   mopo_fbc_excess  mopo_fbc with the calibrated penalty (only u above the data's 0.9 quantile is charged; one seed;
#                    mixed data),
#   mopo_fbc_300it   mopo_fbc with 300 PPO iterations instead of 100 (longer PPO; mixed data),
#   mopo_fbc_dc      mopo_fbc whose branched starts keep the command recorded at their dataset row
#                    (--env.data-command-ratio 1) and whose PPO starts at learning rate 1e-4 (mixed data),
#   mopo_bc_dc       the same from the BC actor (medium data, and medium_noise: the same behaviour policy with action
#                    noise, NAMES=medium_noise; docs/results.md section 11),
#   mopo_fbc_dc256   mopo_fbc_dc with the task's 256-step imagined episodes instead of 48 (mixed data),
#   mopo_bc_dc256    mopo_bc_dc with 256-step episodes (medium, medium_noise),
#   mopo_bc_dc256_300it  the same with 300 PPO iterations (medium, medium_noise),
#   mopo_bc_dc256_300it_excess  the same with the calibrated penalty, lambda 1 and 5 (medium_noise),
#   mopo_bc_dc256_300it_bf16  mopo_bc_dc256_300it with the world model's products in bfloat16 (medium_noise),
#   mopo_bc_dc256_1000it_bf16  the same with 1000 PPO iterations (medium_noise),
#   mopo_bc_dc256_300it_noreg_bf16  mopo_bc_dc256_300it_bf16 without the behaviour-cloning regulariser (the cloned
#                    actor is only the start): does the uncertainty penalty keep PPO on the data when nothing else
#                    does? (medium_noise; docs/results.md section 11.3),
#   mopo_bc_dc256_1000it_reg300_bf16  mopo_bc_dc256_1000it_bf16 with the regulariser in the first 300 PPO iterations
#                    only: once it is released, does the penalty keep the policy on the data? (medium_noise; 11.4),
#   mopo_bc_dc256_300it_noreg_halt_bf16  mopo_bc_dc256_300it_noreg_bf16 with MOReL-style halting: an imagined episode
#                    ends where u passes the 0.99 quantile of u on held-out data (medium_noise, 11.5; medium, 11.7),
#   mopo_bc_dc256_300it_noreg_halt_bf16_l05  the same at lambda = 0.5 (medium_noise; 11.5),
#   mopo_bc_dc256_1000it_noreg_halt_bf16  the same with 1000 PPO iterations, continuing it (medium_noise; 11.6),
# every policy scored in MuJoCo on the unpenalised reward (rwmu evaluate, 32 episodes, the 8 built-in schedules) and
# checked with rwmu check-model; then experiments/mopo_graded_table.py writes the table, the ONNX exports and
# docs/results/policies.json.
#   bash experiments/mopo_graded.sh results/datasets results/grid
# METHODS="mopo_bc mopo_fbc" runs only those sweeps. The datasets may also be experiments/published_datasets.sh's
# (no datasets.json): medium's behaviour policy is then its published export.
# Resumes: a finished world model or sweep run is skipped (rwmu sweep resumes run by run). The methods run in order
# of importance over both datasets, so a stopped experiment still has the main comparison.
set -euo pipefail
DATASETS=${1:?folder of experiments/graded_datasets.py}
OUT=${2:?output folder}
SEEDS=${SEEDS:-"0 1 2"}
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=1
# PPO scale of every MOPO-PPO run (CPU budget: about 4 minutes per run on one core).
PPO="--iterations 100 --num-envs 512 --steps-per-env 24"
# Behaviour cloning around PPO (docs/method.md section 6.4) and MOPO's short branched rollouts (h = 48 steps).
BC_CORE="--behavior.init --behavior.regularizer-steps 5 --behavior.critic-warmup 10"
BC="$BC_CORE --env.episode-length 48"
FILTER="--behavior.top-fraction 0.1"
NAMES=${NAMES:-"medium mixed"}
METHODS=${METHODS:-"bc fbc mopo_bc mopo_fbc mopo mopo_fbc_excess mopo_fbc_300it mopo_fbc_dc mopo_fbc_dc256 mopo_bc_dc \
mopo_bc_dc256 mopo_bc_dc256_300it mopo_bc_dc256_300it_excess mopo_bc_dc256_300it_bf16 \
mopo_bc_dc256_1000it_bf16 mopo_bc_dc256_300it_noreg_bf16 mopo_bc_dc256_1000it_reg300_bf16 \
mopo_bc_dc256_300it_noreg_halt_bf16 mopo_bc_dc256_300it_noreg_halt_bf16_l05 mopo_bc_dc256_1000it_noreg_halt_bf16"}
want() { [[ " $METHODS " == *" $1 "* ]]; }
start_from() {  # start_from DATASET DONE NEW: a new sweep NEW continues the finished sweep DONE (rwmu sweep extends
  # its runs to the new --iterations) unless NEW exists already
  [ -d "$OUT/$1/$3" ] || [ ! -f "$OUT/$1/$2/sweep.json" ] || cp -r "$OUT/$1/$2" "$OUT/$1/$3"
}

sweep() {  # sweep DATASET METHOD FLAGS...: one rwmu sweep into OUT/DATASET/METHOD
  local d=$1 method=$2
  shift 2
  rwmu sweep --out "$OUT/$d/$method" --world-model "$OUT/$d/wm/model_best.pt" --data "$DATASETS/$d/dataset.rwmu" \
      --seeds $SEEDS --episodes 32 --jobs "$JOBS" "$@"
}

for d in $NAMES; do
  [ -f "$OUT/$d/wm/model_best.pt" ] || rwmu train-model --task go2_flat --data "$DATASETS/$d/dataset.rwmu" \
      --out "$OUT/$d/wm" \
      --architecture.history-horizon 16 --architecture.rnn-hidden-size 128 --architecture.rnn-num-layers 1 \
      --optim.iterations 3000 --optim.batch-size 256 --optim.learning-rate 1e-3 --validation.interval 500 \
      --validation.windows 64 --validation.horizons 8 32 --checkpoint-interval 500 --no-progress
done
behavior_flag() {  # rwmu sweep's behaviour-policy flag for dataset $1: medium has one behaviour policy
  if [[ "$1" == medium* ]] && [ ! -f "$DATASETS/datasets.json" ]; then
    echo "--behavior-policy docs/results/policies/behavior/model_550"
  elif [ "$1" = medium ]; then
    echo "--behavior-policy $(python -c "import json,sys; g=json.load(open(sys.argv[1])); \
print(g['run'] + '/' + next(e['checkpoints'] for e in g['datasets'] if e['dataset'] == 'medium') + '.pt')" \
      "$DATASETS/datasets.json")"
  else
    echo "--no-behavior"  # the mixed data has no single behaviour policy: datasets.json gives its mixture's score
  fi
}
ONE="--lambdas 0 --iterations 1 --num-envs 64 --steps-per-env 24 --no-behavior"
# shellcheck disable=SC2086
for d in $NAMES; do
  want bc && sweep "$d" bc $ONE --train-args="--behavior.init --behavior.critic-warmup 1"
  want fbc && sweep "$d" fbc $ONE --train-args="--behavior.init --behavior.critic-warmup 1 $FILTER"
done
# shellcheck disable=SC2086,SC2046
want mopo_bc && for d in $NAMES; do sweep "$d" mopo_bc --lambdas 0 1 $PPO --train-args="$BC" $(behavior_flag "$d"); done
# From the filtered-BC actor on the mixed data only: on the medium data (one behaviour policy) the top episodes are
# those with easy commands, and filtered BC scores below BC (docs/results.md section 6).
# shellcheck disable=SC2086
want mopo_fbc && sweep mixed mopo_fbc --lambdas 0 1 $PPO --train-args="$BC $FILTER" --no-behavior
# The contrast runs, one seed each: MOPO-PPO from a random actor, and the calibrated penalty.
# shellcheck disable=SC2086
want mopo && for d in $NAMES; do SEEDS=0 sweep "$d" mopo --lambdas 1 $PPO --no-behavior; done
# shellcheck disable=SC2086
want mopo_fbc_excess && SEEDS=0 sweep mixed mopo_fbc_excess --lambdas 1 $PPO --train-args="$BC $FILTER --env.penalty excess" --no-behavior
# Longer PPO: three times the iterations (about 12 minutes per run on one core).
# shellcheck disable=SC2086
want mopo_fbc_300it && sweep mixed mopo_fbc_300it --lambdas 0 1 ${PPO/--iterations 100/--iterations 300} --train-args="$BC $FILTER" \
    --no-behavior
# Branched starts in the data's (state, command) pairs, and a first PPO learning rate that does not undo the cloned
# actor (docs/results.md section 10: at 1e-3 the first update moved the actor 9x its cloning error away).
DC="--ppo.learning-rate 1e-4 --env.data-command-ratio 1.0"
# shellcheck disable=SC2086
want mopo_fbc_dc && sweep mixed mopo_fbc_dc --lambdas 0 1 $PPO --train-args="$BC $FILTER $DC" --no-behavior
# The same with the task's 256-step episodes: long enough to see a drift under one command build up.
# shellcheck disable=SC2086
want mopo_fbc_dc256 && sweep mixed mopo_fbc_dc256 --lambdas 0 1 $PPO \
    --train-args="$BC_CORE $FILTER $DC --env.episode-length 256" --no-behavior
# shellcheck disable=SC2086,SC2046
want mopo_bc_dc && for d in $NAMES; do
  if [[ "$d" == medium* ]]; then sweep "$d" mopo_bc_dc --lambdas 0 1 $PPO --train-args="$BC $DC" $(behavior_flag "$d"); fi
done
# The same with 256-step episodes on the medium data, for 100 and for 300 PPO iterations, and at 300 iterations with
# the calibrated penalty (only u above the data's 0.9 quantile is charged; lambda 1 and 5; noisy medium data).
DC256="$BC_CORE $DC --env.episode-length 256"
PPO300=${PPO/--iterations 100/--iterations 300}
for d in $NAMES; do
  if [[ "$d" == medium* ]]; then
    # shellcheck disable=SC2086,SC2046
    want mopo_bc_dc256 && sweep "$d" mopo_bc_dc256 --lambdas 0 1 $PPO --train-args="$DC256" $(behavior_flag "$d")
    # shellcheck disable=SC2086,SC2046
    want mopo_bc_dc256_300it && sweep "$d" mopo_bc_dc256_300it --lambdas 0 1 $PPO300 --train-args="$DC256" \
        $(behavior_flag "$d")
  fi
done
NOREG_HALT="${DC256/--behavior.regularizer-steps 5 /} --env.model-precision bfloat16 --env.halt-quantile 0.99"
for d in $NAMES; do
  # No regulariser, and halting where u leaves the data's range (--env.halt-quantile 0.99): section 11.5 (noisy
  # medium data), 11.7 (deterministic medium data).
  if [[ "$d" == medium* ]] && want mopo_bc_dc256_300it_noreg_halt_bf16; then
    # shellcheck disable=SC2086,SC2046
    sweep "$d" mopo_bc_dc256_300it_noreg_halt_bf16 --lambdas 0 1 $PPO300 --train-args="$NOREG_HALT" \
        $(behavior_flag "$d")
  fi
  # The same at lambda = 0.5: a penalty half the size (medium_noise; section 11.5).
  if [ "$d" = medium_noise ] && want mopo_bc_dc256_300it_noreg_halt_bf16_l05; then
    # shellcheck disable=SC2086,SC2046
    sweep "$d" mopo_bc_dc256_300it_noreg_halt_bf16_l05 --lambdas 0.5 $PPO300 --train-args="$NOREG_HALT" \
        $(behavior_flag "$d")
  fi
done
if [[ " $NAMES " == *" medium_noise "* ]]; then
  # The data's own policy: the behaviour policy with the action noise that recorded medium_noise (the sweeps score it
  # without the noise).
  [ -f "$OUT/medium_noise/behavior_with_noise.json" ] || rwmu evaluate \
      --policy docs/results/policies/behavior/model_550 --action-noise 0.4 --episodes 32 --no-progress \
      --json "$OUT/medium_noise/behavior_with_noise.json" > /dev/null
  # shellcheck disable=SC2086,SC2046
  want mopo_bc_dc256_300it_excess && sweep medium_noise mopo_bc_dc256_300it_excess --lambdas 1 5 $PPO300 \
      --train-args="$DC256 --env.penalty excess" $(behavior_flag medium_noise)
  # The same recipe with the world model's matrix products in bfloat16 (a speed option, docs/performance.md): does
  # the policy score as with float32?
  # shellcheck disable=SC2086,SC2046
  want mopo_bc_dc256_300it_bf16 && sweep medium_noise mopo_bc_dc256_300it_bf16 --lambdas 0 1 $PPO300 \
      --train-args="$DC256 --env.model-precision bfloat16" $(behavior_flag medium_noise)
  # Longer PPO, where a policy could learn to exploit the model's errors: 1000 iterations (bfloat16 imagination),
  # continuing the 300-iteration runs above when they exist.
  if want mopo_bc_dc256_1000it_bf16; then
    start_from medium_noise mopo_bc_dc256_300it_bf16 mopo_bc_dc256_1000it_bf16
    # shellcheck disable=SC2086,SC2046
    sweep medium_noise mopo_bc_dc256_1000it_bf16 --lambdas 0 1 ${PPO/--iterations 100/--iterations 1000} \
        --train-args="$DC256 --env.model-precision bfloat16" $(behavior_flag medium_noise)
  fi
  # The same 300-iteration recipe without the regulariser (no --behavior.regularizer-steps): only the cloned start
  # and the penalty tie the policy to the data.
  # shellcheck disable=SC2086,SC2046
  want mopo_bc_dc256_300it_noreg_bf16 && sweep medium_noise mopo_bc_dc256_300it_noreg_bf16 --lambdas 0 1 $PPO300 \
      --train-args="${DC256/--behavior.regularizer-steps 5 /} --env.model-precision bfloat16" $(behavior_flag medium_noise)
  # 1000 iterations with the regulariser released after 300 (continuing the 300-iteration runs above when they exist:
  # their first 300 iterations are this recipe's).
  if want mopo_bc_dc256_1000it_reg300_bf16; then
    start_from medium_noise mopo_bc_dc256_300it_bf16 mopo_bc_dc256_1000it_reg300_bf16
    # shellcheck disable=SC2086,SC2046
    sweep medium_noise mopo_bc_dc256_1000it_reg300_bf16 --lambdas 0 1 ${PPO/--iterations 100/--iterations 1000} \
        --train-args="$DC256 --behavior.regularizer-iterations 300 --env.model-precision bfloat16" \
        $(behavior_flag medium_noise)
  fi
  # The same for 1000 iterations (continuing the 300-iteration runs above when they exist): does the penalty keep
  # its lead, and does lambda = 0 drift further, when PPO has longer to exploit the model?
  if want mopo_bc_dc256_1000it_noreg_halt_bf16; then
    start_from medium_noise mopo_bc_dc256_300it_noreg_halt_bf16 mopo_bc_dc256_1000it_noreg_halt_bf16
    # shellcheck disable=SC2086,SC2046
    sweep medium_noise mopo_bc_dc256_1000it_noreg_halt_bf16 --lambdas 0 1 ${PPO/--iterations 100/--iterations 1000} \
        --train-args="$NOREG_HALT" $(behavior_flag medium_noise)
  fi
fi
if [ -f "$DATASETS/datasets.json" ]; then python experiments/mopo_graded_table.py "$OUT" --datasets "$DATASETS"; fi
