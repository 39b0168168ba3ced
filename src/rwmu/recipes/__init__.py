"""Named, versioned recipes: what the experiments learned about training, as deltas on the command configs.

``rwmu train-model`` and ``rwmu train-policy`` start from :data:`DEFAULT_RECIPE`; ``--recipe NAME`` picks another
and any flag still wins. ``rwmu recipes`` lists them; docs/recipes.md describes each with its published result.
"""

from rwmu.recipes.recipe import PublishedResult, Recipe, apply_delta, merge, world_model_config
from rwmu.recipes.registry import (
    DEFAULT_RECIPE,
    RECIPES,
    WORLD_MODELS,
    RecipeName,
    get_recipe,
    recipe_help,
    world_model_for,
)

__all__ = [
    "DEFAULT_RECIPE",
    "RECIPES",
    "WORLD_MODELS",
    "PublishedResult",
    "Recipe",
    "RecipeName",
    "apply_delta",
    "get_recipe",
    "merge",
    "recipe_help",
    "world_model_config",
    "world_model_for",
]
