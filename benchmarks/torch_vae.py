"""The peer rows: the same MLP VAE trained by plain PyTorch (eager with fused Adam, or compiled)
and by pythae 0.1.2, started from jaxae's initial parameters so that every row trains the same
model from the same point. Needs the `bench` extra: pip install -e '.[bench]'.

    python -m benchmarks.torch_vae --epochs 5      # a plain-PyTorch run as a whole process
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def training_images() -> np.ndarray:
    """The 4,000 training digits, statically binarised at 0.5: float32 [4000, 784]."""
    from jaxae.data import host, sources

    images = host.read_all(sources.open_tfds("mnist_5k", "train"), ["image"])["image"]
    return (images.reshape(len(images), -1) / 255.0 > 0.5).astype(np.float32)


def jaxae_initial_params(seed: int = 0, config=None) -> dict:
    """A config's initial parameters (vae_mnist's by default: He init), as NumPy: {'encoder': {...}, 'decoder': {...}}."""
    import jax

    from configs import vae_mnist
    from jaxae.data import sources
    from jaxae.trainers import create_trainer

    train = sources.open_tfds("mnist_5k", "train")
    trainer = create_trainer(config or vae_mnist.get_config(), train.spec, len(train))
    return jax.tree.map(np.asarray, jax.jit(trainer.init)(jax.random.PRNGKey(seed)).params)


def build_torch_vae(params):
    """784-512-256-(2x20) encoder and 20-256-512-784 decoder holding `params` (Flax kernels are [in, out])."""
    import torch
    from torch import nn

    def layers(tree):
        names = sorted((k for k in tree if k.startswith("hidden_")), key=lambda k: int(k.split("_")[1])) + ["out"]
        modules = []
        for name in names:
            kernel, bias = tree[name]["kernel"], tree[name]["bias"]
            linear = nn.Linear(*kernel.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
                linear.bias.copy_(torch.from_numpy(bias.copy()))
            modules += [linear, nn.ReLU()]
        return nn.Sequential(*modules[:-1])

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = layers(params["encoder"]), layers(params["decoder"])

        def forward(self, x):
            mu, logvar = self.encoder(x).chunk(2, dim=-1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.decoder(z), mu, logvar

    return TorchVAE()


def torch_loss(model, x):
    import torch.nn.functional as F

    logits, mu, logvar = model(x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
    kl = 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(-1)
    return (recon + kl).mean()


class TorchTrainer:
    """Plain PyTorch: eager with Adam(fused=True), or the whole step under torch.compile.
    `build` makes the module from jaxae's parameters (the MLP VAE by default)."""

    def __init__(self, params, images, *, compiled: bool, batch_size: int = 128, seed: int = 0, build=None):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.model = (build or build_torch_vae)(params)
        self.data = torch.from_numpy(images)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=not compiled)

        def step(x):
            self.optimizer.zero_grad(set_to_none=True)
            loss = torch_loss(self.model, x)
            loss.backward()
            self.optimizer.step()
            return loss

        self.step = torch.compile(step) if compiled else step
        self._order, self._position = None, 0

    def run(self, steps: int) -> float:
        """Trains `steps` batches (drop-remainder epochs, reshuffled); returns the last loss."""
        per_epoch = len(self.data) // self.batch_size
        for _ in range(steps):
            if self._order is None or self._position == per_epoch:
                self._order, self._position = self.torch.randperm(len(self.data), generator=self.generator), 0
            batch = self._order[self._position * self.batch_size:(self._position + 1) * self.batch_size]
            loss = self.step(self.data[batch])
            self._position += 1
        return float(loss)


def pythae_epochs_per_second(params, images, *, epochs: int = 1) -> float:
    """Epochs per second of pythae 0.1.2's own trainer on the same model (its loop, its logging)."""
    import tempfile

    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    reference = build_torch_vae(params)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = reference.encoder

        def forward(self, x):
            mu, logvar = self.net(x.reshape(len(x), -1)).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = reference.decoder

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    model = VAE(VAEConfig(input_dim=(784,), latent_dim=20, reconstruction_loss="bce"), encoder=Encoder(),
                decoder=Decoder())
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, per_device_train_batch_size=128, num_epochs=epochs,
                                   learning_rate=1e-3, optimizer_cls="Adam", no_cuda=True)
        data = torch.from_numpy(images)
        trainer = BaseTrainer(model, BaseDataset(data, torch.zeros(len(data))), training_config=config)
        start = time.perf_counter()
        trainer.train()
        return epochs / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description="A plain-PyTorch VAE run as a whole process.")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    images = training_images()
    trainer = TorchTrainer(jaxae_initial_params(), images, compiled=False)
    loss = trainer.run(args.epochs * (len(images) // 128))
    print(f"torch eager: {args.epochs} epochs, final batch loss {loss:.2f}, {time.perf_counter() - start:.2f} s in-process")


if __name__ == "__main__":
    main()
