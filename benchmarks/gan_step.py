"""The DCGAN step of `configs/dcgan_mnist.py` (the GAN trainer's own), against PyTorch on the same CPU.

    python -m benchmarks.gan_step --repeats 5        # needs the bench extra for the PyTorch rows (or --no-torch)

jaxae's row is `GANTrainer.train_step`, K steps per dispatch in one jitted `lax.scan` with the
digits on the device, at batch 128: generator z [100] -> dense 7x7x128 -> BatchNorm -> ReLU ->
transposed conv 128 -> 64 (14x14) -> BatchNorm -> ReLU -> transposed conv 64 -> 1 (28x28) -> tanh;
discriminator conv 1 -> 64 -> leaky ReLU (0.2) -> conv 64 -> 128 -> leaky ReLU -> dense -> 1 logit;
4x4 stride-2 kernels; the non-saturating loss, Adam 2e-4 with b1 0.5 for both players. The
discriminator learns real against fake, then the generator learns, through the updated
discriminator, to be called real. The PyTorch peer is the same network and step, written plainly
(eager with fused Adam, or with `torch.compile`d modules): the generator runs forward once per step,
each player's backward pass computes only its own gradients (`torch.autograd.grad`), and every
framework starts from the same parameters (jaxae's initial ones).
"""

from __future__ import annotations

import functools
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.measure import interleaved_rates, matmul_gflops, peer_arguments, write_report

NOISE, CHANNELS, BATCH, SLOPE = 100, (64, 128), 128, 0.2


def trainer():
    """The GAN trainer of `dcgan_mnist` at batch 128 (the platform's convolution formulation)."""
    from configs import dcgan_mnist
    from jaxae.data import sources
    from jaxae.trainers import create_trainer

    config = dcgan_mnist.get_config()
    config.batch_size = BATCH
    source = sources.open_tfds("mnist_5k", "train")
    return create_trainer(config, source.spec, len(source))


def real_images() -> np.ndarray:
    """The 4,000 training digits as stored: uint8 [4000, 28, 28, 1] (the trainer scales them to [-1, 1])."""
    from jaxae.data import host, sources

    return host.read_all(sources.open_tfds("mnist_5k", "train"), ["image"])["image"].reshape(-1, 28, 28, 1)


def initial_state(seed: int = 0):
    """The trainer's initial TrainState (params, Adam states, BatchNorm statistics) as NumPy arrays."""
    return jax.device_get(jax.jit(trainer().init)(jax.random.PRNGKey(seed)))


class JaxGanSteps:
    """`steps` GAN trainer steps per dispatch in one jitted `lax.scan`, batches gathered on the device."""

    def __init__(self, state, images, *, steps: int, seed: int = 0):
        gan = trainer()
        data = jnp.asarray(images)

        def step(carry, _):
            state, key = carry
            key, batch_key = jax.random.split(key)
            chosen = jax.random.randint(batch_key, (BATCH,), 0, len(images))
            state, metrics = gan.train_step(state, {"image": data[chosen]})
            return (state, key), metrics["d_loss"]

        self.carry = (jax.tree.map(jnp.asarray, state), jax.random.PRNGKey(seed))
        self.scan = jax.jit(lambda carry: jax.lax.scan(step, carry, None, length=steps), donate_argnums=0)
        self.steps = steps

    def run(self, steps: int) -> float:
        """Trains `steps` (a multiple of the dispatch size); returns the last discriminator loss."""
        for _ in range(steps // self.steps):
            self.carry, loss_d = self.scan(self.carry)
        return float(loss_d[-1])


def torch_batch_norm(p, channels: int):
    """nn.BatchNorm2d holding a jaxae BatchNorm's {'scale', 'bias'} (momentum 0.1 = jaxae's 0.9, eps 1e-5)."""
    from torch import nn

    from benchmarks.torch_conv_vae import _copy

    return _copy(nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1), p["scale"], p["bias"])


def torch_models(params):
    """PyTorch's generator and discriminator holding the trainer's `params` (layers copied as
    `torch_conv_vae` does)."""
    import torch
    from torch import nn

    from benchmarks.torch_conv_vae import torch_conv, torch_dense, torch_deconv

    g, d = params["generator"], params["discriminator"]

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.grid, self.grid_norm = torch_dense(g["grid"]), torch_batch_norm(g["grid_norm"], CHANNELS[1])
            self.deconv = torch_deconv(g["deconv_0"])
            self.deconv_norm = torch_batch_norm(g["deconv_0_norm"], CHANNELS[0])
            self.out = torch_deconv(g["out"])

        def forward(self, z):
            h = self.grid(z).view(len(z), 7, 7, CHANNELS[1]).permute(0, 3, 1, 2)
            h = torch.relu(self.deconv_norm(self.deconv(torch.relu(self.grid_norm(h)))))
            return torch.tanh(self.out(h))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([torch_conv(d["conv_0"]), torch_conv(d["conv_1"])])
            self.out = torch_dense(d["out"])

        def forward(self, x):
            for conv in self.convs:
                x = nn.functional.leaky_relu(conv(x), SLOPE)
            return self.out(x.permute(0, 2, 3, 1).flatten(1))

    return Generator(), Discriminator()


class TorchGanSteps:
    """The same step in plain PyTorch: eager with Adam(fused=True), or with `torch.compile`d modules."""

    def __init__(self, state, images, *, compiled: bool, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.generator, self.discriminator = torch_models(state.params)
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
                           for m in (self.generator, self.discriminator)]
        if compiled:
            self.generator, self.discriminator = torch.compile(self.generator), torch.compile(self.discriminator)
        scaled = images.astype(np.float32) / 127.5 - 1.0  # As the trainer scales them: [-1, 1].
        self.data = torch.from_numpy(np.ascontiguousarray(scaled.transpose(0, 3, 1, 2)))

    def _update(self, optimizer, loss, module):
        parameters = list(module.parameters())
        for parameter, grad in zip(parameters, self.torch.autograd.grad(loss, parameters)):
            parameter.grad = grad
        optimizer.step()

    def run(self, steps: int) -> float:
        torch = self.torch
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        for _ in range(steps):
            real = self.data[torch.randint(len(self.data), (BATCH,))]
            fake = self.generator(torch.randn(BATCH, NOISE))
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake.detach())
            loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
            self._update(self.optimizers[1], loss_d, self.discriminator)
            fake_logits = self.discriminator(fake)
            self._update(self.optimizers[0], bce(fake_logits, torch.ones_like(fake_logits)), self.generator)
        return float(loss_d.detach())


def rows(state, images, *, steps: int, torch_rows: bool = True, compiled: bool = True) -> dict:
    """{row name: object with run(steps)} from `initial_state()` and `real_images()`, each warmed up
    (compiled) already."""
    made = {"gan_jaxae_scan": JaxGanSteps(state, images, steps=steps)}
    if torch_rows:
        made["gan_torch_eager_fused_adam"] = TorchGanSteps(state, images, compiled=False)
        if compiled:
            made["gan_torch_compiled"] = TorchGanSteps(state, images, compiled=True)
    for row in made.values():
        row.run(steps)
    return made


def largest_differences(state, images) -> tuple[float, float]:
    """Both frameworks on the same noise and digits, BatchNorm on the batch's own moments:
    (generator output gap, discriminator logit gap)."""
    import torch

    gan = trainer()
    torch_generator, torch_discriminator = torch_models(state.params)
    z = np.random.default_rng(0).normal(size=(16, NOISE)).astype(np.float32)
    real = np.asarray(gan.real_images(jnp.asarray(images[:16])))
    fake = np.asarray(gan.generate(state, z, train=True)[0])
    logits = np.asarray(gan.judge(state.params["discriminator"], None, real, train=False)[0])
    with torch.no_grad():
        torch_fake = torch_generator(torch.from_numpy(z)).numpy().transpose(0, 2, 3, 1)
        torch_logits = torch_discriminator(torch.from_numpy(np.array(real.transpose(0, 3, 1, 2))))
    return float(np.abs(fake - torch_fake).max()), float(np.abs(logits - torch_logits.numpy()[:, 0]).max())


def main(argv=None):
    parser = peer_arguments(__doc__, repeats=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per sample (and per jaxae dispatch)")
    args = parser.parse_args(argv)
    report = {"jax": jax.__version__, "matmul_f32_gflops": matmul_gflops()}
    state, images = initial_state(), real_images()
    if not args.no_torch:
        gaps = largest_differences(state, images)
        report["largest_differences"] = {"generator": gaps[0], "discriminator": gaps[1]}
        assert max(gaps) < 1e-3, gaps
    made = rows(state, images, steps=args.steps, torch_rows=not args.no_torch)
    samples = interleaved_rates({name: functools.partial(row.run, args.steps) for name, row in made.items()},
                                args.steps * BATCH, repeats=args.repeats)
    report["examples_per_sec_samples"] = samples
    report["examples_per_sec"] = {name: statistics.median(values) for name, values in samples.items()}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
