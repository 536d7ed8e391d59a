"""The PyTorch peer of `conv_vae_mnist`: the same convolutional VAE (4x4 stride-2 convolutions with
32 and 64 channels, a dense code of 20, transposed convolutions back), started from jaxae's
initial parameters, trained by `torch_vae.TorchTrainer`. Needs the `bench` extra.

    python -m benchmarks.torch_conv_vae      # checks that both frameworks give the same logits
"""

from __future__ import annotations

import numpy as np

from benchmarks import torch_vae


def training_images() -> np.ndarray:
    """The 4,000 training digits, statically binarised at 0.5, channels first: float32 [4000, 1, 28, 28]."""
    return torch_vae.training_images().reshape(-1, 1, 28, 28)


def jaxae_initial_params(seed: int = 0) -> dict:
    from configs import conv_vae_mnist

    return torch_vae.jaxae_initial_params(seed, conv_vae_mnist.get_config())


def _copy(module, weight, bias):
    import torch

    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.array(weight)))  # A writable, contiguous copy.
        module.bias.copy_(torch.from_numpy(np.array(bias)))
    return module


def torch_conv(p):
    """nn.Conv2d (4x4, stride 2, padding 1) holding a Flax stride-2 convolution's {'kernel' [4, 4, in, out], 'bias'}."""
    from torch import nn

    kernel = p["kernel"]
    return _copy(nn.Conv2d(kernel.shape[2], kernel.shape[3], 4, 2, 1), kernel.transpose(3, 2, 0, 1), p["bias"])


def torch_deconv(p):
    """nn.ConvTranspose2d holding a Flax transposed convolution's parameters. Flax's (with
    transpose_kernel=False) correlates with the unflipped kernel, PyTorch's with the flipped one."""
    from torch import nn

    kernel = p["kernel"][::-1, ::-1]
    return _copy(nn.ConvTranspose2d(kernel.shape[2], kernel.shape[3], 4, 2, 1), kernel.transpose(2, 3, 0, 1),
                 p["bias"])


def torch_dense(p):
    """nn.Linear holding a Flax Dense layer's {'kernel' [in, out], 'bias'}."""
    from torch import nn

    return _copy(nn.Linear(*p["kernel"].shape), p["kernel"].T, p["bias"])


def build_torch_conv_vae(params):
    """The module holding `params`; Flax flattens [batch, H, W, C] where PyTorch holds [batch, C, H, W]."""
    import torch
    from torch import nn

    enc, dec = params["encoder"], params["decoder"]
    convs = sorted(k for k in enc if k.startswith("conv_"))
    deconvs = sorted(k for k in dec if k.startswith("deconv_")) + ["out"]
    grid_channels = dec["in"]["kernel"].shape[1]

    class TorchConvVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(torch_conv(enc[k]) for k in convs)
            self.code = torch_dense(enc["out"])
            self.grid = torch_dense(dec["in"])
            self.deconvs = nn.ModuleList(torch_deconv(dec[k]) for k in deconvs)

        def forward(self, x, eps=None):
            h = x
            for layer in self.convs:
                h = torch.relu(layer(h))
            mu, logvar = self.code(h.permute(0, 2, 3, 1).flatten(1)).chunk(2, dim=-1)
            z = mu + torch.exp(0.5 * logvar) * (torch.randn_like(mu) if eps is None else eps)
            side = int(round((grid_channels // self.deconvs[0].in_channels) ** 0.5))
            h = torch.relu(self.grid(z)).view(len(z), side, side, -1).permute(0, 3, 1, 2)
            for layer in self.deconvs[:-1]:
                h = torch.relu(layer(h))
            return self.deconvs[-1](h), mu, logvar

    return TorchConvVAE()


def trainer(*, compiled: bool):
    """A `torch_vae.TorchTrainer` of this model on the training digits."""
    return torch_vae.TorchTrainer(jaxae_initial_params(), training_images(), compiled=compiled,
                                  build=build_torch_conv_vae)


def main():
    """Same parameters, same digits, the same noise: jaxae's and PyTorch's logits agree."""
    import jax
    import torch

    from configs import conv_vae_mnist
    from jaxae.models import build_model

    params = jaxae_initial_params()
    images = training_images()[:64]
    eps = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    model = build_model(conv_vae_mnist.get_config().model, (28, 28, 1))
    _, aux = jax.jit(model.apply)({"params": params}, images.transpose(0, 2, 3, 1), eps=eps)
    with torch.no_grad():
        logits, _, _ = build_torch_conv_vae(params)(torch.from_numpy(images), torch.from_numpy(eps))
    gap = np.abs(np.asarray(aux["logits"]).transpose(0, 3, 1, 2) - logits.numpy()).max()
    print(f"largest logit difference, jaxae against PyTorch: {gap:.2e}")
    assert gap < 1e-3, gap


if __name__ == "__main__":
    main()
