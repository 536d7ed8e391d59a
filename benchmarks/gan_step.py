"""A DCGAN-sized generator + discriminator step on 28x28 digits, jaxae's convolutions against PyTorch.

    python -m benchmarks.gan_step --repeats 5        # needs the bench extra for the PyTorch rows (or --no-torch)

Generator: z [100] -> dense 7x7x128 -> ReLU -> transposed conv 128 -> 64 (14x14) -> ReLU ->
transposed conv 64 -> 1 (28x28) -> tanh (jaxae's `ConvDecoder`); discriminator: conv 1 -> 64
(14x14) -> leaky ReLU -> conv 64 -> 128 (7x7) -> leaky ReLU -> dense -> 1 logit (`ConvEncoder`);
4x4 stride-2 kernels, no BatchNorm. One step: the discriminator learns real against fake, then
the generator learns, through the updated discriminator, to be called real (non-saturating loss);
Adam 2e-4, b1 0.5, batch 128. The generator's forward runs once per step in both frameworks,
and each player's backward pass computes only its own gradients (PyTorch through
`torch.autograd.grad`). Every framework starts from the same parameters (jaxae's initial ones).
"""

from __future__ import annotations

import functools
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.measure import interleaved_rates, matmul_gflops, peer_arguments, write_report
from jaxae.models.conv import ConvDecoder, ConvEncoder
from jaxae.models.conv_ops import resolve

NOISE, CHANNELS, BATCH = 100, (64, 128), 128


def real_images() -> np.ndarray:
    """The 4,000 training digits in [-1, 1]: float32 [4000, 28, 28, 1]."""
    from jaxae.data import host, sources

    images = host.read_all(sources.open_tfds("mnist_5k", "train"), ["image"])["image"]
    return (images.astype(np.float32) / 127.5 - 1.0).reshape(-1, 28, 28, 1)


def models():
    """(generator, discriminator) Flax modules, with the platform's convolution formulation."""
    impl = resolve("auto")
    generator = ConvDecoder(CHANNELS, (28, 28, 1), weight_init="he_normal", conv_impl=impl)
    discriminator = ConvEncoder(CHANNELS, 1, activation="leaky_relu", weight_init="he_normal", conv_impl=impl)
    return generator, discriminator


def initial_params(seed: int = 0) -> dict:
    """{'generator': ..., 'discriminator': ...} as NumPy arrays."""
    generator, discriminator = models()
    g_key, d_key = jax.random.split(jax.random.PRNGKey(seed))
    params = {"generator": generator.init(g_key, jnp.zeros((1, NOISE)))["params"],
              "discriminator": discriminator.init(d_key, jnp.zeros((1, 28, 28, 1)))["params"]}
    return jax.tree.map(np.asarray, params)


class JaxGanSteps:
    """`steps` GAN steps per dispatch in one jitted `lax.scan`, batches gathered on the device."""

    def __init__(self, params, images, *, steps: int, seed: int = 0):
        generator, discriminator = models()
        self.tx = optax.adam(2e-4, b1=0.5)
        data = jnp.asarray(images)

        def bce(logits, label):
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)))

        def step(carry, index):
            params, opt_states, key = carry
            key, noise_key, batch_key = jax.random.split(key, 3)
            real = data[jax.random.randint(batch_key, (BATCH,), 0, len(images))]
            z = jax.random.normal(noise_key, (BATCH, NOISE))
            g_apply = lambda g: jnp.tanh(generator.apply({"params": g}, z))
            fake, generator_vjp = jax.vjp(g_apply, params["generator"])
            d_apply = lambda d, x: discriminator.apply({"params": d}, x)
            d_loss = lambda d: bce(d_apply(d, real), 1.0) + bce(d_apply(d, jax.lax.stop_gradient(fake)), 0.0)
            loss_d, d_grads = jax.value_and_grad(d_loss)(params["discriminator"])
            updates, d_state = self.tx.update(d_grads, opt_states[1], params["discriminator"])
            d_params = optax.apply_updates(params["discriminator"], updates)
            loss_g, fake_grads = jax.value_and_grad(lambda x: bce(d_apply(d_params, x), 1.0))(fake)
            (g_grads,) = generator_vjp(fake_grads)
            updates, g_state = self.tx.update(g_grads, opt_states[0], params["generator"])
            g_params = optax.apply_updates(params["generator"], updates)
            carry = ({"generator": g_params, "discriminator": d_params}, (g_state, d_state), key)
            return carry, (loss_d, loss_g)

        params = jax.tree.map(jnp.asarray, params)
        self.carry = (params, (self.tx.init(params["generator"]), self.tx.init(params["discriminator"])),
                      jax.random.PRNGKey(seed))
        self.scan = jax.jit(lambda carry: jax.lax.scan(step, carry, jnp.arange(steps)), donate_argnums=0)
        self.steps = steps

    def run(self, steps: int) -> float:
        """Trains `steps` (a multiple of the dispatch size); returns the last discriminator loss."""
        for _ in range(steps // self.steps):
            self.carry, (loss_d, _) = self.scan(self.carry)
        return float(loss_d[-1])


def torch_models(params):
    """PyTorch's generator and discriminator holding `params` (layers copied as `torch_conv_vae` does)."""
    import torch
    from torch import nn

    from benchmarks.torch_conv_vae import torch_conv, torch_dense, torch_deconv

    g, d = params["generator"], params["discriminator"]

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.grid, self.deconv, self.out = torch_dense(g["in"]), torch_deconv(g["deconv_0"]), torch_deconv(g["out"])

        def forward(self, z):
            h = torch.relu(self.grid(z)).view(len(z), 7, 7, CHANNELS[1]).permute(0, 3, 1, 2)
            return torch.tanh(self.out(torch.relu(self.deconv(h))))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([torch_conv(d["conv_0"]), torch_conv(d["conv_1"])])
            self.out = torch_dense(d["out"])

        def forward(self, x):
            for conv in self.convs:
                x = nn.functional.leaky_relu(conv(x))
            return self.out(x.permute(0, 2, 3, 1).flatten(1))

    return Generator(), Discriminator()


class TorchGanSteps:
    """The same step in plain PyTorch: eager with Adam(fused=True), or with `torch.compile`d modules."""

    def __init__(self, params, images, *, compiled: bool, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.generator, self.discriminator = torch_models(params)
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
                           for m in (self.generator, self.discriminator)]
        if compiled:
            self.generator, self.discriminator = torch.compile(self.generator), torch.compile(self.discriminator)
        self.data = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))

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


def rows(params, images, *, steps: int, torch_rows: bool = True, compiled: bool = True) -> dict:
    """{row name: object with run(steps)} from `initial_params()` and `real_images()`, each warmed up
    (compiled) already."""
    made = {"gan_jaxae_scan": JaxGanSteps(params, images, steps=steps)}
    if torch_rows:
        made["gan_torch_eager_fused_adam"] = TorchGanSteps(params, images, compiled=False)
        if compiled:
            made["gan_torch_compiled"] = TorchGanSteps(params, images, compiled=True)
    for row in made.values():
        row.run(steps)
    return made


def largest_differences(params, images) -> tuple[float, float]:
    """Both frameworks on the same noise and digits: (generator output gap, discriminator logit gap)."""
    import torch

    generator, discriminator = models()
    torch_generator, torch_discriminator = torch_models(params)
    z = np.random.default_rng(0).normal(size=(16, NOISE)).astype(np.float32)
    fake = np.tanh(np.asarray(generator.apply({"params": params["generator"]}, z)))
    logits = np.asarray(discriminator.apply({"params": params["discriminator"]}, images[:16]))
    with torch.no_grad():
        torch_fake = torch_generator(torch.from_numpy(z)).numpy().transpose(0, 2, 3, 1)
        torch_logits = torch_discriminator(torch.from_numpy(np.ascontiguousarray(images[:16].transpose(0, 3, 1, 2))))
    return float(np.abs(fake - torch_fake).max()), float(np.abs(logits - torch_logits.numpy()).max())


def main(argv=None):
    parser = peer_arguments(__doc__, repeats=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per sample (and per jaxae dispatch)")
    args = parser.parse_args(argv)
    report = {"jax": jax.__version__, "matmul_f32_gflops": matmul_gflops()}
    params, images = initial_params(), real_images()
    if not args.no_torch:
        gaps = largest_differences(params, images)
        report["largest_differences"] = {"generator": gaps[0], "discriminator": gaps[1]}
        assert max(gaps) < 1e-3, gaps
    made = rows(params, images, steps=args.steps, torch_rows=not args.no_torch)
    samples = interleaved_rates({name: functools.partial(row.run, args.steps) for name, row in made.items()},
                                args.steps * BATCH, repeats=args.repeats)
    report["examples_per_sec_samples"] = samples
    report["examples_per_sec"] = {name: statistics.median(values) for name, values in samples.items()}
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
