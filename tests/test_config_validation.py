"""Config and workdir checks: every mistake is a ConfigError naming the field, before any compile."""

import os

import pytest
from hypothesis import given, settings, strategies as st

from configs import vae_mnist
from jaxae import loop
from jaxae.config_validation import prepare_workdir, validate_config
from jaxae.errors import ConfigError

POSITIVE_INTS = ["batch_size", "eval_batch_size", "log_every", "checkpoint_every", "keep_checkpoints",
                 "model.latent_dim"]


def test_every_shipped_config_is_valid(tiny_config):
    for name in ["vae_mnist", "ae_mnist", "dae_mnist", "sparse_ae_mnist", "conv_vae_mnist"]:
        validate_config(tiny_config(name))
        validate_config(__import__(f"configs.{name}", fromlist=["get_config"]).get_config())


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
    ({"parallel.mode": "pmap", "parallel.num_devices": 4}, "gpu", 2, "needs every device"),
])
def test_platform_refuses_what_it_cannot_run(changes, platform, processes, message):
    from jaxae.parallel import check_platform

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
