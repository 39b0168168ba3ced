"""Every recipe rwmu knows, defined once: the names that commands (``--recipe``), experiment files, tables and the
manifest use. docs/recipes.md is generated from this module (``rwmu recipes --markdown``).

The policy deltas are built from a few shared parts (``PPO_CPU``, ``BC_CORE``, ...), each declared once below with
the section of docs/results.md that measured it. Every published result names the experiment file that regenerates
it. Changing a recipe's settings means a new version number, and new results.
"""

from __future__ import annotations

from typing import Literal

from rwmu.errors import RwmuError
from rwmu.recipes.recipe import Delta, PublishedResult, Recipe, merge, world_model_config
from rwmu.training.world_model_config import TrainModelConfig

# ------------------------------------------------------------------------------------------------------------------
# World models
WORLD_MODELS: dict[str, Delta] = {
    # paper Tables S7 and S10: GRU 2x256, B = 5, M = 32, N = 8, batch 1024, 2500 iterations at 1e-4
    "paper": {},
    # the CPU-scale model of every graded-data experiment (docs/results.md, "The datasets"): a quarter of the GRU
    # weights, half the history, 3000 iterations at 1e-3 (about 15 minutes on one core)
    "cpu": {
        "architecture": {"history_horizon": 16, "rnn_hidden_size": 128, "rnn_num_layers": 1},
        "optim": {"iterations": 3000, "batch_size": 256, "learning_rate": 1e-3},
        "validation": {"interval": 500, "windows": 64, "horizons": (8, 32)},
        "checkpoint_interval": 500,
    },
    # the demo's: the same network, 800 iterations (100,000 rows), only the final checkpoint
    "demo": {
        "architecture": {"history_horizon": 16, "rnn_hidden_size": 128, "rnn_num_layers": 1},
        "optim": {"iterations": 800, "batch_size": 256, "learning_rate": 1e-3},
        "validation": {"interval": 160, "windows": 64, "horizons": (8, 32)},
        "checkpoint_interval": 800,
    },
}

# ------------------------------------------------------------------------------------------------------------------
# Parts of the policy deltas
PPO_CPU: Delta = {"iterations": 100, "steps_per_env": 24, "env": {"num_envs": 512}}
"""100 PPO iterations x 512 envs x 24 steps: the CPU scale of every graded-data experiment (docs/notebook.md 6-11)."""
BC_CORE: Delta = {"behavior": {"init": True, "regularizer_steps": 5, "critic_warmup": 10}}
"""start from the behaviour-cloned actor, pull it back after every update, train the critic first (docs/method.md 6.4)"""
SHORT: Delta = {"env": {"episode_length": 48}}
"""MOPO's short branched rollouts (h = 48 steps)"""
FILTER: Delta = {"behavior": {"top_fraction": 0.1}}
"""filtered BC: clone only the episodes with the top 10 % true returns (%BC, Chen et al. 2021)"""
DATA_COMMANDS: Delta = {"ppo": {"learning_rate": 1e-4}, "env": {"data_command_ratio": 1.0}}
"""branched starts keep the data's command, and a first PPO learning rate that does not undo the cloned actor"""
LONG: Delta = {"env": {"episode_length": 256}}
"""the task's 256-step imagined episodes"""
BF16: Delta = {"env": {"model_precision": "bfloat16"}}
"""the world model's products in bfloat16 (1.76x per iteration, policies as good; docs/performance.md)"""
NO_REGULARIZER: Delta = {"behavior": {"regularizer_steps": 0}}
HALT: Delta = {"env": {"halt_quantile": 0.99}}
"""MOReL-style halting: an imagined episode ends where u passes the data's 0.99 quantile"""
CLONE_ONLY: Delta = {
    "iterations": 1,
    "steps_per_env": 24,
    "env": {"num_envs": 64, "uncertainty_penalty": 0.0},
    "behavior": {"init": True, "critic_warmup": 1},
}
"""behaviour cloning alone: the cloned actor, frozen through a one-iteration run that trains only the critic"""


def _iterations(n: int) -> Delta:
    return {"iterations": n}


GRADED = "experiments/{}.toml"


def _result(
    dataset: str,
    lam: float,
    seeds: int,
    mean: float,
    ci: float | None,
    score: float,
    falls: int,
    episodes: int,
    experiment: str | None = None,
) -> PublishedResult:
    return PublishedResult(dataset, lam, seeds, mean, ci, score, falls, episodes, experiment or GRADED.format(dataset))


# ------------------------------------------------------------------------------------------------------------------
# The recipes (most useful first)
_RECIPES = [
    Recipe(
        "mopo_fbc_dc256",
        1,
        "filtered-BC start, BC regulariser, data commands, lr 1e-4, 256-step episodes",
        "MOPO-PPO from the actor cloned on the best 10 % of the data's episodes, pulled back towards them after every "
        "PPO update, with branched starts that keep the data's recorded command, a first learning rate of 1e-4 and "
        "the task's 256-step imagined episodes; 100 iterations x 512 envs x 24 steps. The best measured recipe on "
        "data from many policies: it beats every policy in the data and the cloned start, and walks on command "
        "schedules it was never tuned on.",
        "data of several behaviour policies of mixed quality (the graded 'mixed' data)",
        "cpu",
        merge(PPO_CPU, BC_CORE, FILTER, DATA_COMMANDS, LONG),
        _result("mixed", 1.0, 3, 6.280, 0.183, 0.932, 1, 96),
    ),
    Recipe(
        "mopo_bc_dc256_1000it_bf16",
        1,
        "BC start and regulariser, data commands, 256 steps, 1000 iterations, bf16",
        "MOPO-PPO from the actor cloned on all the data, with the BC regulariser, data commands, lr 1e-4 and 256-step "
        "episodes, for 1000 PPO iterations with bfloat16 imagination. The best measured recipe on one behaviour "
        "policy's data recorded with action noise: its interval lies above the data's own (noisy) policy, 4.61. On "
        "one deterministic policy's data no recipe reaches the behaviour policy (docs/results.md).",
        "one behaviour policy's data, recorded with action noise (the graded 'medium_noise' data)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, BF16, _iterations(1000)),
        _result("medium_noise", 1.0, 3, 5.497, 0.822, 0.695, 3, 96),
    ),
    Recipe(
        "paper",
        1,
        "paper Tables S10 and S11 from a random actor",
        "The paper's settings: the GRU 2x256 world model of Table S10 and MOPO-PPO of Table S11 (4096 envs x 100 "
        "steps, 2500 iterations, lambda = 1) from a random actor. Sized for a GPU; at CPU scale (recipe 'mopo') it "
        "does not walk.",
        "any; sized for a GPU",
        "paper",
        {},
    ),
    Recipe(
        "reference",
        1,
        "the reference release's scale: 8192 envs x 24 steps, 500 iterations, random actor",
        "The reference release's offline configuration: 8192 envs x 24 steps per iteration for 500 iterations from "
        "a random actor, on the paper's world model.",
        "any; sized for a GPU",
        "paper",
        {"iterations": 500, "steps_per_env": 24, "env": {"num_envs": 8192}},
    ),
    Recipe(
        "demo",
        1,
        "the demo's: BC start and regulariser, 48-step rollouts, 150 iterations x 256 envs",
        "What `rwmu demo` trains on its 100,000 rows of the shipped expert with action noise 0.5: the demo world "
        "model, then MOPO-PPO from the behaviour-cloned actor with the BC regulariser and 48-step branched rollouts, "
        "150 iterations x 256 envs x 24 steps (about 10 minutes for the whole demo on 2 cores).",
        "a small noisy-expert dataset (rwmu demo)",
        "demo",
        merge({"iterations": 150, "steps_per_env": 24, "save_interval": 150, "env": {"num_envs": 256}}, BC_CORE, SHORT),
        _result("demo", 1.0, 1, 6.47, None, 0.99, 0, 32, "rwmu demo --out demo_out"),
    ),
    Recipe(
        "mopo",
        1,
        "MOPO-PPO from a random actor at CPU scale (the paper's method, 100 iterations)",
        "MOPO-PPO as the paper runs it, from a random actor, at the CPU scale of the graded experiments. Does not "
        "walk: 100 iterations are far from the paper's 2500 x 4096 x 100 steps.",
        "any (contrast)",
        "cpu",
        PPO_CPU,
        _result("mixed", 1.0, 1, 0.315, None, -0.872, 32, 32),
    ),
    Recipe(
        "bc",
        1,
        "behaviour cloning of all the data, no PPO update",
        "The actor cloned on every row of the data, frozen through a one-iteration run that trains only the critic: "
        "what cloning alone gives.",
        "any (contrast)",
        "cpu",
        CLONE_ONLY,
        _result("medium", 0.0, 3, 4.861, 0.643, 0.503, 6, 96),
    ),
    Recipe(
        "fbc",
        1,
        "filtered behaviour cloning: the episodes with the top 10 % true returns, no PPO update",
        "The actor cloned on the episodes whose true return is in the data's top 10 % (%BC), no PPO update.",
        "data of several policies (contrast)",
        "cpu",
        merge(CLONE_ONLY, FILTER),
        _result("mixed", 0.0, 3, 5.874, 0.745, 0.809, 2, 96),
    ),
    Recipe(
        "mopo_bc",
        1,
        "BC start and regulariser, 48-step branched rollouts",
        "MOPO-PPO from the actor cloned on all the data, with the BC regulariser and MOPO's 48-step branched "
        "rollouts; the first recipe that kept a cloned walk.",
        "any (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT),
        _result("medium", 1.0, 3, 4.276, 0.947, 0.326, 19, 96),
    ),
    Recipe(
        "mopo_fbc",
        1,
        "filtered-BC start, BC regulariser, 48-step branched rollouts",
        "mopo_bc from the filtered-BC actor (top 10 % of episodes).",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT, FILTER),
        _result("mixed", 1.0, 3, 6.129, 0.562, 0.886, 0, 96),
    ),
    Recipe(
        "mopo_fbc_excess",
        1,
        "mopo_fbc with the calibrated penalty (u above the data's 0.9 quantile)",
        "mopo_fbc charging only the uncertainty above the model's own 0.9 quantile on held-out data.",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT, FILTER, {"env": {"penalty": "excess"}}),
        _result("mixed", 1.0, 1, 5.597, None, 0.726, 1, 32),
    ),
    Recipe(
        "mopo_fbc_300it",
        1,
        "mopo_fbc with 300 PPO iterations",
        "mopo_fbc with three times the PPO.",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT, FILTER, _iterations(300)),
        _result("mixed", 1.0, 3, 5.974, 1.026, 0.840, 5, 96),
    ),
    Recipe(
        "mopo_fbc_dc",
        1,
        "mopo_fbc with data commands and lr 1e-4",
        "mopo_fbc whose branched starts keep the data's command, with a first PPO learning rate of 1e-4.",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT, FILTER, DATA_COMMANDS),
        _result("mixed", 1.0, 3, 6.105, 1.417, 0.879, 6, 96),
    ),
    Recipe(
        "mopo_bc_dc",
        1,
        "mopo_bc with data commands and lr 1e-4",
        "mopo_bc whose branched starts keep the data's command, with a first PPO learning rate of 1e-4.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, SHORT, DATA_COMMANDS),
        _result("medium_noise", 1.0, 3, 4.635, 1.289, 0.435, 25, 96),
    ),
    Recipe(
        "mopo_bc_dc256",
        1,
        "mopo_bc_dc with 256-step episodes",
        "mopo_bc_dc with the task's 256-step imagined episodes.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG),
        _result("medium_noise", 1.0, 3, 4.866, 0.554, 0.505, 12, 96),
    ),
    Recipe(
        "mopo_bc_dc256_300it",
        1,
        "mopo_bc_dc256 with 300 PPO iterations",
        "mopo_bc_dc256 with 300 PPO iterations.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(300)),
        _result("medium_noise", 1.0, 3, 5.167, 1.081, 0.596, 13, 96),
    ),
    Recipe(
        "mopo_bc_dc256_300it_excess",
        1,
        "mopo_bc_dc256_300it with the calibrated penalty",
        "mopo_bc_dc256_300it charging only the uncertainty above the data's 0.9 quantile.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(300), {"env": {"penalty": "excess"}}),
        _result("medium_noise", 1.0, 3, 5.483, 0.422, 0.691, 5, 96),
    ),
    Recipe(
        "mopo_bc_dc256_300it_bf16",
        1,
        "mopo_bc_dc256_300it with bfloat16 imagination",
        "mopo_bc_dc256_300it with the world model's matrix products in bfloat16.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(300), BF16),
        _result("medium_noise", 1.0, 3, 5.271, 0.532, 0.627, 9, 96),
    ),
    Recipe(
        "mopo_bc_dc256_300it_noreg_bf16",
        1,
        "mopo_bc_dc256_300it_bf16 without the BC regulariser",
        "The cloned actor is only the start: does the uncertainty penalty keep PPO on the data when nothing else "
        "does? It does not: the policies fall in 43-46 % of episodes.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(300), BF16, NO_REGULARIZER),
        _result("medium_noise", 1.0, 3, 3.246, 1.449, 0.014, 41, 96),
    ),
    Recipe(
        "mopo_bc_dc256_1000it_reg300_bf16",
        1,
        "mopo_bc_dc256_1000it_bf16 with the regulariser in the first 300 only",
        "The BC regulariser released after 300 of 1000 iterations: does the penalty then keep the policy on the data? "
        "Better than lambda = 0, but both lose the walk they had at iteration 300.",
        "one policy's data (study)",
        "cpu",
        merge(
            PPO_CPU,
            BC_CORE,
            DATA_COMMANDS,
            LONG,
            _iterations(1000),
            BF16,
            {"behavior": {"regularizer_iterations": 300}},
        ),
        _result("medium_noise", 1.0, 3, 3.757, 2.561, 0.169, 26, 96),
    ),
    Recipe(
        "mopo_bc_dc256_300it_noreg_halt_bf16",
        1,
        "no BC regulariser, MOReL-style halting at the data's u quantile 0.99",
        "mopo_bc_dc256_300it_noreg_bf16 where an imagined episode ends as u passes the 0.99 quantile of u on "
        "held-out data: the setting where the penalty gained most over lambda = 0 (paired +0.84 +- 1.20, 5 seeds).",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(300), BF16, NO_REGULARIZER, HALT),
        _result("medium_noise", 1.0, 5, 4.834, 0.768, 0.495, 20, 160),
    ),
    Recipe(
        "mopo_bc_dc256_1000it_noreg_halt_bf16",
        1,
        "the halting recipe for 1000 PPO iterations",
        "mopo_bc_dc256_300it_noreg_halt_bf16 for 1000 iterations: does the penalty keep its lead when PPO has longer "
        "to exploit the model? Both lambdas lose the walk.",
        "one policy's data (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, DATA_COMMANDS, LONG, _iterations(1000), BF16, NO_REGULARIZER, HALT),
        _result("medium_noise", 1.0, 5, 3.956, 1.363, 0.229, 50, 160),
    ),
    Recipe(
        "mopo_fbc_dc256_bf16",
        1,
        "mopo_fbc_dc256 with bfloat16 imagination",
        "The default recipe with the world model's matrix products in bfloat16, to fit the many seeds of the "
        "powered lambda experiment on a CPU (experiments/lambda_select.toml).",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, FILTER, DATA_COMMANDS, LONG, BF16),
    ),
    Recipe(
        "mopo_fbc_dc256_noreg_halt_bf16",
        1,
        "mopo_fbc_dc256_bf16 without the BC regulariser, with halting",
        "The default recipe in bfloat16 with nothing but the penalty and halting (the data's u quantile 0.99) to "
        "keep PPO on the data after the filtered-BC start: the setting where the penalty has the most to do.",
        "data of several policies (study)",
        "cpu",
        merge(PPO_CPU, BC_CORE, FILTER, DATA_COMMANDS, LONG, BF16, NO_REGULARIZER, HALT),
    ),
]

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}
DEFAULT_RECIPE = "mopo_fbc_dc256"
"""The recipe ``rwmu train-model`` and ``rwmu train-policy`` use unless ``--recipe`` says otherwise: the best
measured one (docs/results.md, "Does the offline policy beat its data?")."""


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or a one-line error listing the known ones."""
    if name not in RECIPES:
        raise RwmuError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)} (rwmu recipes lists them)")
    return RECIPES[name]


def world_model_for(recipe: Recipe, extra: Delta | None = None, where: str = "world model") -> TrainModelConfig:
    """The world-model config of ``recipe`` (the paper's Table S10 settings with the delta it names), with ``extra``
    applied on top (an experiment block's override)."""
    return world_model_config(merge(WORLD_MODELS[recipe.world_model], extra or {}), where=where)


RecipeName = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
"""A ``--recipe`` value: one of the registry's names (tyro lists them in ``--help``)."""


def recipe_help() -> str:
    """The ``--recipe`` help text: the default recipe and what it is, and where the others are described."""
    default = RECIPES[DEFAULT_RECIPE]
    result = f"; published: {default.result.line()}" if default.result else ""
    return (
        f"the recipe whose settings are the defaults (flags still win); default {default.name}: the best "
        f"measured recipe, {default.summary}{result}. rwmu recipes describes every recipe (docs/recipes.md)"
    )
