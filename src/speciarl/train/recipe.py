"""The paper's units (images per generation, images per update, G, epochs) → TRL's batch fields.

A preset states the recipe as the paper does (docs/method.md, "Training recipe"): 256 images per
generation, 128 images per optimizer update, G = 10 rollouts per image, 15 epochs. TRL counts
completions per device, so the same recipe needs other `gradient_accumulation_steps`,
`steps_per_generation` and `max_steps` on 1, 4 or 8 GPUs and on another training-set size. This
module does that arithmetic once, at launch, from the world size and the training-set size, and
refuses numbers that do not divide (naming what to change) instead of rounding them away.

TRL's terms: a *generation* is one batch of rollouts (`generation_batch_size` completions over all
processes); it is cut into `steps_per_generation` micro-batches of `per_device_train_batch_size`
completions per process; `gradient_accumulation_steps` micro-batches make one optimizer update.
TRL's sampler drops an incomplete last generation of an epoch (as verl's dataloader drops the last
incomplete batch), so an epoch is floor(train_size / images_per_generation) generations.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# TRL fields that the recipe derives: a config states either the recipe or these, never both.
DERIVED_FIELDS = ("gradient_accumulation_steps", "steps_per_generation", "generation_batch_size", "max_steps",
                  "num_train_epochs")
# The keys of the printed / logged schedule (and of `speciarl train --dry-run`'s JSON object).
SUMMARY_KEYS = ("world_size", "images_per_generation", "images_per_update", "updates_per_generation",
                "generations", "optimizer_steps", "epochs", "num_generations")


@dataclass(frozen=True)
class Schedule:
    """A resolved training schedule: the recipe's units and the TRL fields that realise them."""

    world_size: int
    train_size: int
    images_per_generation: float
    images_per_update: float
    updates_per_generation: float
    generations: float
    optimizer_steps: int
    epochs: float
    num_generations: int
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    steps_per_generation: int
    generation_batch_size: int
    from_recipe: bool

    def summary(self) -> dict[str, Any]:
        """The schedule in the paper's units (whole numbers shown as ints)."""
        return {key: _tidy(getattr(self, key)) for key in SUMMARY_KEYS}

    def trl_args(self) -> dict[str, int]:
        """The GRPOConfig fields the recipe sets (`generation_batch_size` follows from these in TRL)."""
        return {"per_device_train_batch_size": self.per_device_train_batch_size,
                "gradient_accumulation_steps": self.gradient_accumulation_steps,
                "steps_per_generation": self.steps_per_generation, "max_steps": self.optimizer_steps}

    def as_dict(self) -> dict[str, Any]:
        return {key: _tidy(value) for key, value in asdict(self).items()}

    def describe(self) -> str:
        """One block of text for the start of a run."""
        s = self.summary()
        return (f"schedule ({'recipe' if self.from_recipe else 'raw TRL fields'}, {s['world_size']} process(es), "
                f"{self.train_size} training images): {s['images_per_generation']} images x G={s['num_generations']}"
                f" per generation, {s['images_per_update']} images per update, {s['updates_per_generation']} "
                f"update(s) per generation, {s['generations']} generations = {s['epochs']} epochs, "
                f"{s['optimizer_steps']} optimizer steps | TRL: per_device_train_batch_size="
                f"{self.per_device_train_batch_size} gradient_accumulation_steps={self.gradient_accumulation_steps} "
                f"steps_per_generation={self.steps_per_generation} generation_batch_size={self.generation_batch_size}")


def _tidy(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def env_world_size() -> int:
    """The number of processes of this launch (torchrun / accelerate launch set WORLD_SIZE)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def resolve_recipe(*, images_per_generation: int, images_per_update: int | None, epochs: int, num_generations: int,
                   per_device_train_batch_size: int, num_iterations: int, world_size: int, train_size: int,
                   where: str) -> Schedule:
    """The TRL fields for the recipe on `world_size` processes and `train_size` images, or a
    ConfigError (prefixed with `where`) that says which number to change."""
    p, g, n, b = images_per_generation, num_generations, world_size, per_device_train_batch_size
    u = images_per_update if images_per_update is not None else p
    for name, value in (("recipe.images_per_generation", p), ("recipe.images_per_update", u),
                        ("recipe.epochs", epochs), ("num_generations", g), ("per_device_train_batch_size", b),
                        ("num_iterations", num_iterations), ("world size", n)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}: `{name}` must be a positive whole number, got {value!r}")
    if p % u:
        raise ConfigError(f"{where}: recipe.images_per_generation ({p}) must be a multiple of "
                          f"recipe.images_per_update ({u}): change one of them")
    per_update = u * g  # completions per optimizer update, over all processes
    if per_update % n:
        raise ConfigError(f"{where}: {u} images x G={g} = {per_update} completions per update cannot be split "
                          f"evenly over {n} processes: launch a number of processes that divides {per_update}")
    if (per_update // n) % b:
        fits = [d for d in range(1, per_update // n + 1) if (per_update // n) % d == 0]
        raise ConfigError(f"{where}: {per_update} completions per update over {n} processes is {per_update // n} per "
                          f"process, not a multiple of per_device_train_batch_size={b}: set "
                          f"per_device_train_batch_size to one of {fits}")
    if train_size < p:
        raise ConfigError(f"{where}: the training set has {train_size} images, fewer than one generation "
                          f"(recipe.images_per_generation = {p}): lower images_per_generation or use more data")
    grad_accum = per_update // (n * b)
    updates = p // u
    gens = (train_size // p) * epochs
    return Schedule(world_size=n, train_size=train_size, images_per_generation=p, images_per_update=u,
                    updates_per_generation=updates * num_iterations, generations=gens,
                    optimizer_steps=gens * updates * num_iterations, epochs=epochs, num_generations=g,
                    per_device_train_batch_size=b, gradient_accumulation_steps=grad_accum,
                    steps_per_generation=grad_accum * updates, generation_batch_size=p * g, from_recipe=True)


def schedule_of_trl(trl: Any, *, world_size: int, train_size: int) -> Schedule:
    """What raw TRL fields mean in the recipe's units (for configs without a `recipe` section)."""
    g, n, b = trl.num_generations, world_size, trl.per_device_train_batch_size
    spg, ga, iters = trl.steps_per_generation, trl.gradient_accumulation_steps, trl.num_iterations
    gen_batch = b * n * spg
    p = gen_batch / g
    updates = spg * iters / ga
    per_epoch = train_size // p if p else 0
    if trl.max_steps and trl.max_steps > 0:
        steps = trl.max_steps
        gens = steps / updates
    else:
        gens = per_epoch * trl.num_train_epochs
        steps = int(gens * updates)
    return Schedule(world_size=n, train_size=train_size, images_per_generation=p, images_per_update=b * n * ga / g,
                    updates_per_generation=updates, generations=gens, optimizer_steps=int(steps),
                    epochs=gens / per_epoch if per_epoch else float("inf"), num_generations=g,
                    per_device_train_batch_size=b, gradient_accumulation_steps=ga, steps_per_generation=spg,
                    generation_batch_size=gen_batch, from_recipe=False)


def training_set_size(data: Any, fallback: int | None, where: str) -> int:
    """The number of images the run will see: counted in `data.train_file` when it exists (capped by
    `data.max_samples`), `data.synthetic.n_images` for generated data, else `fallback` (a dry run's
    --train-size); none of these is an error that says what to do."""
    if data.synthetic is not None:
        n = data.synthetic.n_images
    elif data.train_file and Path(data.train_file).is_file():
        from ..records import iter_json_objects

        n = sum(1 for _ in iter_json_objects(data.train_file))
        if n == 0:
            raise ConfigError(f"{where}: the training file {data.train_file} has no rows")
    elif fallback is not None:
        return fallback
    else:
        raise ConfigError(f"{where}: the schedule needs the training-set size, but data.train_file "
                          f"({data.train_file}) does not exist: build it first, or pass --train-size N to a dry run")
    return min(n, data.max_samples) if data.max_samples else n
