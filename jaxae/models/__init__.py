"""Flax Linen models, built by name from ``config.model``.

``build_model(model_config, image_shape)`` returns an ``Autoencoder`` or ``VAE`` whose encoder
and decoder come from ``mlp.py`` or ``conv.py``.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from jaxae.config import checks
from jaxae.errors import ConfigError
from jaxae.models import conv_ops
from jaxae.models.activations import ACTIVATIONS
from jaxae.models.autoencoder import OUTPUT_ACTIVATIONS, VAE, Autoencoder
from jaxae.models.conv import ConvDecoder, ConvEncoder, bottleneck_shape
from jaxae.models.initializers import KERNEL_INITS
from jaxae.models.mlp import MLPDecoder, MLPEncoder

MODELS = {"ae": Autoencoder, "vae": VAE}
ARCHITECTURES = ("mlp", "conv")
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}

__all__ = ["Autoencoder", "VAE", "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder",
           "build_model", "validate_model_config", "MODELS", "ARCHITECTURES"]


def validate_model_config(config, field: str = "model") -> None:
    """Checks the autoencoder fields of the section `field`; raises ConfigError naming the first bad one."""
    checks.choice(config, f"{field}.name", MODELS)
    checks.choice(config, f"{field}.architecture", ARCHITECTURES)
    checks.choice(config, f"{field}.activation", ACTIVATIONS)
    checks.choice(config, f"{field}.output_activation", OUTPUT_ACTIVATIONS)
    checks.choice(config, f"{field}.weight_init", KERNEL_INITS)
    checks.number(config, f"{field}.latent_dim", low=1, integer=True)
    checks.widths(config, f"{field}.hidden", allow_empty=True)
    checks.widths(config, f"{field}.decoder_hidden", allow_empty=True)
    checks.widths(config, f"{field}.channels", allow_empty=False)
    if "conv_impl" in checks.get(config, field):  # Absent from the configs of runs saved before it existed.
        checks.choice(config, f"{field}.conv_impl", conv_ops.IMPLEMENTATIONS)


def architecture_fields(model_config) -> tuple[str, ...]:
    """The model fields that `build_model` reads for this config (the others are ignored)."""
    shape = ("hidden", "decoder_hidden") if model_config.architecture == "mlp" else ("channels",)
    return ("name", "architecture", "latent_dim", "activation", "output_activation", "weight_init") + shape


def decoder_widths(model_config) -> tuple[int, ...]:
    """The decoder's hidden widths: the encoder's reversed unless `decoder_hidden` is given."""
    if model_config.get("decoder_hidden"):
        return tuple(model_config.decoder_hidden)
    return tuple(reversed(tuple(model_config.hidden)))


def build_model(model_config, image_shape: Sequence[int], compute_dtype: str = "float32"):
    """Builds the model named by `model_config.name` for images of `image_shape` (H, W, C).

    Raises:
      ConfigError: unknown name, architecture, activation or dtype; sizes the images cannot take.
    """
    name, arch = model_config.name, model_config.architecture
    if name not in MODELS:
        raise ConfigError(f"model.name={name!r} is unknown; choose one of {sorted(MODELS)}")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"model.architecture={arch!r} is unknown; choose one of {list(ARCHITECTURES)}")
    if model_config.output_activation not in OUTPUT_ACTIVATIONS:
        raise ConfigError(f"model.output_activation={model_config.output_activation!r} is unknown; "
                          f"choose one of {sorted(OUTPUT_ACTIVATIONS)}")
    if compute_dtype not in COMPUTE_DTYPES:
        raise ConfigError(f"compute_dtype={compute_dtype!r} is unknown; choose one of {sorted(COMPUTE_DTYPES)}")
    dtype = COMPUTE_DTYPES[compute_dtype]
    image_shape = tuple(int(d) for d in image_shape)
    features = model_config.latent_dim * (2 if name == "vae" else 1)
    common = dict(activation=model_config.activation, dtype=dtype, weight_init=model_config.weight_init)
    if arch == "mlp":
        encoder = MLPEncoder(hidden=tuple(model_config.hidden), features=features, **common)
        decoder = MLPDecoder(hidden=decoder_widths(model_config), output_shape=image_shape, **common)
    else:
        channels = tuple(model_config.channels)
        bottleneck_shape(image_shape, channels)  # Raises a ConfigError before any tracing.
        # How the convolutions are computed is not part of the model: parameters are the same either way.
        impl = conv_ops.resolve(model_config.get("conv_impl", "auto"))
        encoder = ConvEncoder(channels=channels, features=features, conv_impl=impl, **common)
        decoder = ConvDecoder(channels=channels, output_shape=image_shape, conv_impl=impl, **common)
    return MODELS[name](encoder=encoder, decoder=decoder, output_activation=model_config.output_activation)
