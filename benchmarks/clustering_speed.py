"""Seconds per epoch of DCN's and IDEC's clustering phase: jaxae (`train.py`'s loop) against a plain
PyTorch implementation of the same network (784-500-500-2000-10 and back), loss, optimizer (Adam,
fused in PyTorch), batch (256) and refresh schedule, on the 4,000 training digits of mnist_5k.

An epoch's time is the difference between a long and a short run divided by the epochs between
them, so start-up, compilation, K-means and the final save cancel out; what remains is the steps
and, for IDEC, the target refreshes over the whole split (every 8 steps). DEC's stopping test is
turned off (tolerance 0) so that every step trains. Runs are interleaved and repeated; medians are
reported with the host's matmul rate. Needs the `bench` extra (PyTorch).

    python -m benchmarks.clustering_speed --repeats 3 --out docs/clustering_speed.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks.measure import matmul_gflops, write_report

SHORT, LONG = 2, 12  # Epochs of the clustering phase in the two runs whose difference is timed.


def training_images() -> np.ndarray:
    """The 4,000 training digits as float32 [4000, 784] in [0, 1]."""
    from jaxae.data import host, sources

    sources.prepare_embedded("mnist_5k", None)
    images = host.read_all(sources.open_tfds("mnist_5k", "train", None), ["image"])["image"]
    return (images.reshape(len(images), -1) / 255.0).astype(np.float32)


def pretrained_run(root: str) -> str:
    """A 1-step 'pretrained' autoencoder + K-means run to start the clustering runs from (speed only)."""
    from configs import ae_kmeans_mnist
    from jaxae.engine import loop

    config = ae_kmeans_mnist.get_config()
    config.pretrain.num_steps, config.compile_cache_dir = 1, "none"
    workdir = os.path.join(root, "pretrained")
    loop.run(config, workdir)
    return workdir


def jaxae_seconds(method: str, epochs: int, init_from: str, root: str) -> float:
    """Wall seconds of `loop.run` for `epochs` of the clustering phase."""
    import importlib

    from jaxae.engine import loop

    config = importlib.import_module(f"configs.{method}_mnist").get_config()
    config.cluster.init_from, config.num_epochs = init_from, epochs
    config.eval_every, config.checkpoint_every, config.log_every = 0, 10**6, 8
    if method == "idec":
        config.dec.tolerance = 0.0
    workdir = tempfile.mkdtemp(dir=root)
    start = time.perf_counter()
    loop.run(config, workdir)
    return time.perf_counter() - start


class TorchClustering:
    """The same autoencoder, loss and updates in eager PyTorch (Adam with fused=True)."""

    def __init__(self, method: str, images: np.ndarray, seed: int = 0):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        widths = [784, 500, 500, 2000, 10]

        def stack(sizes):
            layers = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        self.torch, self.method = torch, method
        self.encoder, self.decoder = stack(widths), stack(widths[::-1])
        self.x = torch.from_numpy(images)
        self.centroids = nn.Parameter(torch.randn(10, 10))
        parameters = [*self.encoder.parameters(), *self.decoder.parameters()]
        if method == "idec":
            parameters.append(self.centroids)
            self.targets = torch.full((len(images), 10), 0.1)
            lr = 1e-3
        else:
            self.counts = torch.full((10,), 100.0)
            lr = 1e-4
        self.optimizer = torch.optim.Adam(parameters, lr=lr, fused=True)
        self.step = 0

    def soft_assignments(self, z):
        q = 1.0 / (1.0 + torch_cdist2(self.torch, z, self.centroids))
        return q / q.sum(1, keepdim=True)

    def refresh(self):
        with self.torch.no_grad():
            q = self.soft_assignments(self.encoder(self.x))
            weight = q**2 / q.sum(0)
            self.targets = weight / weight.sum(1, keepdim=True)

    def train_step(self, index):
        torch = self.torch
        x = self.x[index]
        z = self.encoder(x)
        recon = ((self.decoder(z) - x) ** 2).sum(1)
        if self.method == "dcn":
            with torch.no_grad():
                assignments = torch_cdist2(torch, z, self.centroids).argmin(1)
            loss = (recon + 0.5 * ((z - self.centroids[assignments]) ** 2).sum(1)).mean()
        else:
            q = self.soft_assignments(z)
            p = self.targets[index]
            kl = (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1).mean()
            loss = 0.1 * kl + recon.mean() / 784
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.method == "dcn":
            with torch.no_grad():
                members = torch.nn.functional.one_hot(assignments, 10).float()
                batch_counts = members.sum(0)
                new_counts = self.counts + batch_counts
                moved = (self.counts[:, None] * self.centroids + members.T @ z.detach()) / new_counts[:, None]
                self.centroids.copy_(torch.where(batch_counts[:, None] > 0, moved, self.centroids))
                self.counts = new_counts
        self.step += 1
        if self.method == "idec" and self.step % 8 == 0:
            self.refresh()

    def run(self, epochs: int, batch_size: int = 256) -> float:
        """Wall seconds for `epochs` (shuffled, last partial batch dropped, as jaxae's order)."""
        generator = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(epochs):
            order = generator.permutation(len(self.x))
            for begin in range(0, len(order) - batch_size + 1, batch_size):
                self.train_step(self.torch.from_numpy(order[begin:begin + batch_size]))
        return time.perf_counter() - start


def torch_cdist2(torch, a, b):
    return (a.pow(2).sum(1, keepdim=True) - 2 * a @ b.T + b.pow(2).sum(1)).clamp_min(0)


def torch_seconds(method: str, epochs: int, images: np.ndarray) -> float:
    """Wall seconds of `epochs` in PyTorch, after one warm-up epoch (eager has no compile to pay)."""
    model = TorchClustering(method, images)
    model.run(1)
    return model.run(epochs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    import torch

    root = tempfile.mkdtemp(prefix="jaxae-clustering-speed-")
    images = training_images()
    init_from = pretrained_run(root)
    samples = {f"{who}_{method}": [] for method in ("dcn", "idec") for who in ("jaxae", "torch")}
    for _ in range(args.repeats):  # Interleaved: each repeat times every row once.
        for method in ("dcn", "idec"):
            long, short = jaxae_seconds(method, LONG, init_from, root), jaxae_seconds(method, SHORT, init_from, root)
            samples[f"jaxae_{method}"].append((long - short) / (LONG - SHORT))
            samples[f"torch_{method}"].append(torch_seconds(method, LONG - SHORT, images) / (LONG - SHORT))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    report = {
        "matmul_f32_gflops": matmul_gflops(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "seconds_per_epoch": medians, "samples": samples,
        "jaxae_speedup": {method: medians[f"torch_{method}"] / medians[f"jaxae_{method}"] for method in ("dcn", "idec")},
    }
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
