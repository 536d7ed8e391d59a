"""Config and workdir checks: every mistake is a ConfigError naming the field, before any compile."""

import ast
import os

import pytest
from hypothesis import given, settings, strategies as st

from configs import vae_mnist
from jaxae.config.validation import validate_config
from jaxae.engine import loop
from jaxae.errors import ConfigError
from jaxae.runs.workdir import prepare_workdir

POSITIVE_INTS = ["batch_size", "eval_batch_size", "log_every", "checkpoint_every", "keep_checkpoints",
                 "model.latent_dim"]


def test_every_shipped_config_is_valid():
    from jaxae.config import experiments

    names = experiments.names()
    assert {"vae_mnist", "iwae_mnist", "tabular_breast_cancer", "dcgan_mnist"} <= set(names)
    for name in names:
        validate_config(experiments.get_config(name, "tiny"))
        validate_config(experiments.get_config(name))


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(POSITIVE_INTS), value=st.one_of(st.integers(max_value=0), st.just(2.5),
                                                              st.just("8"), st.none()))
def test_non_positive_or_mistyped_sizes_name_the_field(field, value):
    config = vae_mnist.get_config("tiny")
    section, _, name = field.rpartition(".")
    with config.ignore_type():  # ConfigDict guards types itself; this checks jaxae's own net too.
        (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        validate_config(config)


@pytest.mark.parametrize("field, value, message", [
    ("model.name", "gan", "model.name='gan' is unknown"),
    ("model.activation", "swish2", "model.activation='swish2' is unknown"),
    ("loss.reconstruction", "hinge", "loss.reconstruction='hinge' is unknown"),
    ("model.hidden", (512, 0), "model.hidden=(512, 0) must hold positive integers"),
    ("noise.kind", "blur", "noise.kind='blur' is unknown"),
    ("loss.kl_sparsity_target", 1.0, "loss.kl_sparsity_target=1.0 must be <"),
    ("optimizer.learning_rate", 0.0, "optimizer.learning_rate=0.0 must be >"),
    ("checkpoint_every", 7, "checkpoint_every=7 must be a multiple of log_every=5"),
    ("data.binarize", "otsu", "data.binarize='otsu' is unknown"),
])
def test_bad_values_name_field_and_value(field, value, message):
    config = vae_mnist.get_config("tiny")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        validate_config(config)


def test_bce_needs_a_sigmoid_output():
    config = vae_mnist.get_config("tiny")
    config.model.output_activation = "identity"
    with pytest.raises(ConfigError, match="needs model.output_activation='sigmoid'"):
        validate_config(config)


def test_workdir_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="is not writable"):
        prepare_workdir(str(blocker / "run"))
    with pytest.raises(ConfigError, match="is not a directory"):
        prepare_workdir(str(blocker))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_workdir_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            prepare_workdir(str(tmp_path / "run"))
    finally:
        tmp_path.chmod(0o700)


def test_run_checks_the_config_before_touching_the_workdir(tmp_path):
    config = vae_mnist.get_config("tiny")
    config.model.latent_dim = -3
    with pytest.raises(ConfigError, match="model.latent_dim=-3"):
        loop.run(config, str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("changes, platform, processes, message", [
    ({"compute_dtype": "float16"}, "tpu", 1, "float16' is not supported on TPU"),
    ({"parallel.mode": "pmap"}, "gpu", 2, "parallel.mode='pmap' runs within one process"),
    ({"parallel.num_devices": 4}, "gpu", 2, "a multi-process run uses every device"),
])
def test_platform_refuses_what_it_cannot_run(changes, platform, processes, message):
    from jaxae.devices.parallel import check_platform

    config = vae_mnist.get_config("tiny")
    for field, value in changes.items():
        section, _, name = field.rpartition(".")
        (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError, match=message):
        check_platform(config, platform, processes, device_count=16)
    check_platform(config, "cpu", 1, device_count=16)  # The same settings run on one CPU process.


def test_unknown_parallel_mode_is_refused():
    config = vae_mnist.get_config("tiny")
    config.parallel.mode = "shard_map"
    with pytest.raises(ConfigError, match="parallel.mode='shard_map' is unknown"):
        validate_config(config)


CHOICE_FIELDS = ["model.name", "model.architecture", "model.activation", "model.output_activation", "model.weight_init",
                 "compute_dtype", "loss.reconstruction", "noise.kind", "data.binarize", "data.placement",
                 "optimizer.name", "optimizer.schedule", "parallel.mode", "nonfinite"]
BELOW_ZERO = st.floats(max_value=0, exclude_max=True)
AT_OR_BELOW_ZERO = st.floats(max_value=0)
INVALID_FLOATS = {  # Values outside each field's valid range.
    "loss.beta": BELOW_ZERO, "optimizer.grad_clip_norm": BELOW_ZERO, "optimizer.learning_rate": AT_OR_BELOW_ZERO,
    "loss.kl_sparsity_target": st.one_of(AT_OR_BELOW_ZERO, st.floats(min_value=1)),
    "data.binarize_threshold": st.one_of(BELOW_ZERO, st.floats(min_value=1, exclude_min=True)),
}


@st.composite
def invalid_settings(draw):
    """(field, value) pairs that no valid config has."""
    kind = draw(st.sampled_from(["choice", "float", "int", "widths"]))
    if kind == "choice":
        field = draw(st.sampled_from(CHOICE_FIELDS))
        return field, draw(st.text(min_size=0, max_size=12).filter(lambda t: t not in VALID_CHOICES[field]))
    if kind == "float":
        field = draw(st.sampled_from(sorted(INVALID_FLOATS)))
        return field, draw(st.one_of(INVALID_FLOATS[field], st.just(float("nan")), st.just(float("inf")), st.just("0.1")))
    if kind == "int":
        field = draw(st.sampled_from(POSITIVE_INTS + ["num_steps", "eval_every", "seed", "parallel.num_devices"]))
        return field, draw(st.one_of(st.integers(max_value=-1), st.just(True), st.just(1.5)))
    field = draw(st.sampled_from(["model.hidden", "model.channels", "model.decoder_hidden"]))
    return field, draw(st.lists(st.integers(max_value=0), min_size=1, max_size=3).map(tuple))


VALID_CHOICES = {field: set() for field in CHOICE_FIELDS}


def _collect_valid_choices():
    from jaxae.config import validation as cv

    for field in CHOICE_FIELDS:
        config = vae_mnist.get_config("tiny")
        probe = "\x00not-a-choice"
        section, _, name = field.rpartition(".")
        (config[section] if section else config)[name] = probe
        try:
            cv.validate_config(config)
        except ConfigError as error:  # The message lists the valid values.
            VALID_CHOICES[field] = set(ast.literal_eval(str(error).split("choose one of ")[1]))


_collect_valid_choices()


@settings(max_examples=150, deadline=None)
@given(setting=invalid_settings())
def test_generated_invalid_configs_end_in_one_line_naming_the_field(setting):
    field, value = setting
    config = vae_mnist.get_config("tiny")
    section, _, name = field.rpartition(".")
    with config.ignore_type():
        (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    assert field in message and "\n" not in message
