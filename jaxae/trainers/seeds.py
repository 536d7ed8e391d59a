"""Several seeds of any family in one program: `num_seeds` = S > 1.

`SeedsTrainer` wraps the family's trainer and keeps the contract, so the loop, runners and
evaluator do not know it is there. Its state is the family's with a leading seed axis [S, ...] on
every leaf but the step (one step count for all). Seed s starts from the family's
`init(fold_in(key, s))`, seed 0 from the run's key itself, so seed 0 is the single-seed run of
the same config. Each step runs the family's step on all S states under `vmap`, with the same
batch: the seeds differ in their initialisation and in every random draw of the steps (noise,
shifts, VAE samples: all keyed by the state's key) and share the batch order, which is the run's.

Hooks (K-means, DEC's targets, JULE's merges) are host code with NumPy, scikit-learn and
data-dependent shapes, which `vmap` cannot batch: they run seed by seed. Train metrics are the
mean over seeds plus each seed's ('loss/seed_1'); an eval reports each seed's metrics and their
mean and standard deviation ('cluster_acc', 'cluster_acc_std', 'cluster_acc/seed_1').
`jaxae.load` gives seed 0's model, and `export` writes seed 0's files. Every member of the contract
(`base.CONTRACT`) is forwarded here; tests/test_contract.py fails on one that is not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jaxae.trainers.base import Phase, Trainer


def seed_axes(state):
    """The `vmap` axes of a stacked state: 0 for every leaf, None for the shared step."""
    return jax.tree.map(lambda _: 0, state.replace(step=None))  # None is an empty subtree: it stays.


def one_seed(state, seed: int):
    """Seed `seed`'s state out of a stacked one."""
    return jax.tree.map(lambda leaf: leaf[seed], state.replace(step=None)).replace(step=state.step)


def stacked(states):
    """One state with a leading seed axis from a list of the seeds' states (their step is shared)."""
    leaves = jax.tree.map(lambda *seeds: jnp.stack(seeds), *[s.replace(step=None) for s in states])
    return leaves.replace(step=states[0].step)


def spread(per_seed: list[dict], *, std: bool = True) -> dict:
    """{name: mean over seeds, name_std: their std (with `std`), name/seed_s: seed s's} of the
    seeds' reports (the names every seed reports)."""
    names = [name for name in per_seed[0] if all(name in report for report in per_seed)]
    out = {}
    for name in names:
        values = np.asarray([float(report[name]) for report in per_seed])
        out[name] = float(values.mean())
        if std:
            out[f"{name}_std"] = float(values.std())
        out |= {f"{name}/seed_{seed}": float(value) for seed, value in enumerate(values)}
    return out


class SeedsTrainer(Trainer):
    """The family's trainer run for `num_seeds` seeds at once (see the module's docstring)."""

    def __init__(self, inner: Trainer, num_seeds: int):
        # Not Trainer.__init__: every attribute is the family's.
        self.inner, self.num_seeds = inner, num_seeds
        self.config, self.spec, self.num_examples = inner.config, inner.spec, inner.num_examples
        self.axis_name, self.steps_per_epoch = inner.axis_name, inner.steps_per_epoch
        self.guarded_metrics, self.exported_files = inner.guarded_metrics, inner.exported_files
        self.every_step_metrics = inner.every_step_metrics

    def train_fields(self, config):
        return self.inner.train_fields(config)

    def eval_fields(self, config):
        return self.inner.eval_fields(config)

    def optional_eval_fields(self, config):
        return self.inner.optional_eval_fields(config)

    def identity(self):
        return self.inner.identity() | {"num_seeds": self.num_seeds}

    def label_classes(self):
        return self.inner.label_classes()

    def check_data(self, source):
        self.inner.check_data(source)

    def init(self, key):
        keys = jnp.stack([key] + [jax.random.fold_in(key, seed) for seed in range(1, self.num_seeds)])
        states = jax.vmap(self.inner.init)(keys)
        return states.replace(step=states.step[0])

    def init_from(self):
        return self.inner.init_from()

    def adopt(self, state, trained):
        """Every seed's state given the same trained run."""
        return stacked([self.inner.adopt(one_seed(state, seed), trained) for seed in range(self.num_seeds)])

    def phases(self):
        return tuple(Phase(phase.name, phase.num_steps, self._all_seeds(phase.step), on_start=self._in_turn(phase.on_start),
                           refresh=self._in_turn(phase.refresh), refresh_every=phase.refresh_every)
                     for phase in self.inner.phases())

    def _all_seeds(self, step):
        if step is None:  # A phase that is its start hook alone.
            return None

        def step_all(state, batch):
            new, metrics = jax.vmap(step, in_axes=(seed_axes(state), None))(state, batch)
            means = {name: jnp.mean(value) for name, value in metrics.items()}
            each = {f"{name}/seed_{seed}": value[seed] for name, value in metrics.items()
                    for seed in range(self.num_seeds)}
            return new.replace(step=new.step[0]), means | each

        return step_all

    def _in_turn(self, hook):
        if hook is None:
            return None

        def each_seed(state, split):
            results = [hook(one_seed(state, seed), split) for seed in range(self.num_seeds)]
            return stacked([new for new, _ in results]), spread([report for _, report in results], std=False)

        return each_seed

    def window_means(self, sums: dict, steps: int) -> dict[str, float]:
        """Seed s's metrics ('name/seed_s') by the family's rule with seed s's own skips; the means
        over seeds by the same rule with the mean skip count, which leaves out each skipped (step,
        seed) pair."""
        suffixes = tuple(f"/seed_{seed}" for seed in range(self.num_seeds))
        means = self.inner.window_means({name: value for name, value in sums.items() if not name.endswith(suffixes)},
                                        steps)
        for suffix in suffixes:
            own = {name.removesuffix(suffix): value for name, value in sums.items() if name.endswith(suffix)}
            means |= {name + suffix: value for name, value in self.inner.window_means(own, steps).items()}
        return means

    def diagnose(self, means):
        """The family's diagnosis of each seed's own metrics ('train/<name>/seed_<s>'); the first failure."""
        for seed in range(self.num_seeds):
            suffix = f"/seed_{seed}"
            own = {name.removesuffix(suffix): value for name, value in means.items() if name.endswith(suffix)}
            problem = self.inner.diagnose(own)
            if problem:
                return f"seed {seed}: {problem}"
        return None

    def eval_step(self, state, batch, mask):
        """The family's sums for each seed, [S, ...]."""
        return jax.vmap(self.inner.eval_step, in_axes=(seed_axes(state), None, None))(state, batch, mask)

    def eval_report(self, sums):
        return spread([self.inner.eval_report(jax.tree.map(lambda x: x[seed], sums))
                       for seed in range(self.num_seeds)])

    def pictures(self, state, batch, num_samples: int):
        """Seed 0's pictures."""
        return self.inner.pictures(one_seed(state, 0), batch, num_samples)

    def state_sharding(self, abstract_state, mesh):
        """The family's placement of one seed's state, with the seed axis in front left whole."""
        one = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype),
                           abstract_state.replace(step=None)).replace(step=abstract_state.step)
        inner = self.inner.state_sharding(one, mesh)
        with_seeds = jax.tree.map(lambda s: NamedSharding(s.mesh, PartitionSpec(None, *s.spec)), inner.replace(step=None))
        return with_seeds.replace(step=inner.step)

    def export(self, state, source, workdir: str) -> dict[str, float]:
        """Seed 0's files and measures."""
        return self.inner.export(one_seed(state, 0), source, workdir)

    def inference(self, state, mesh):
        """Seed 0's trained model."""
        return self.inner.inference(one_seed(state, 0), mesh)
