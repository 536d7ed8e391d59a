"""`python -m jaxae.encode` and the anomaly scores of a trained run: a split or a .npy in, codes,
scores and labels out; the autoencoder's scores against NumPy's Bernoulli likelihood, the VAE's
against its evaluation's negative ELBO; bad arguments refused before anything is written."""

import numpy as np
import pytest

import jaxae
from jaxae.data import host, sources
from jaxae.engine import loop
from jaxae.tools import encode
from helpers import tiny


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny VAE and a tiny plain autoencoder (grey levels) on the embedded MNIST subset."""
    folders = {}
    for name, config in (("vae", tiny("vae_mnist")), ("ae", tiny("ae_mnist", num_steps=40))):
        folders[name] = loop.run(config, str(tmp_path_factory.mktemp(name)))
    return folders


@pytest.fixture(scope="module")
def test_split():
    return host.read_all(sources.open_tfds("mnist_5k", "test"), ["image", "label"])


def test_the_split_is_encoded_with_labels_and_scores(runs, test_split, tmp_path):
    out = tmp_path / "codes.npz"
    assert encode.main(["--workdir", runs["vae"].workdir, "--out", str(out)]) == 0
    saved = np.load(out)
    model = jaxae.load(runs["vae"].workdir)
    np.testing.assert_array_equal(saved["labels"], test_split["label"])
    np.testing.assert_allclose(saved["codes"], model.encode(test_split["image"]), rtol=1e-5, atol=1e-6)
    # The score is the negative ELBO (16 posterior draws), the eval's figure is from one draw.
    assert saved["scores"].shape == (1000,)
    assert saved["scores"].mean() == pytest.approx(runs["vae"].eval_metrics["eval/neg_elbo"], rel=0.02)
    np.testing.assert_array_equal(model.scores(test_split["image"][:10]), saved["scores"][:10])  # Deterministic.


def test_an_autoencoders_score_is_its_bernoulli_loss(runs, test_split, tmp_path):
    images = test_split["image"][:50]
    np.save(tmp_path / "digits.npy", images)
    out = tmp_path / "ae.npz"
    assert encode.main(["--workdir", runs["ae"].workdir, "--images", str(tmp_path / "digits.npy"), "--out", str(out)]) == 0
    saved = np.load(out)
    assert "labels" not in saved and saved["codes"].shape == (50, 4)
    model = jaxae.load(runs["ae"].workdir)
    p = np.clip(model.reconstruct(images).astype(np.float64), 1e-7, 1 - 1e-7)
    x = images / 255.0
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(50, -1).sum(1)
    np.testing.assert_allclose(saved["scores"], expected, rtol=1e-3)


def test_bad_arguments_are_one_line_and_write_nothing(runs, tmp_path, capsys):
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"keep")
    cases = [(["--out", str(taken)], "exists; choose a new file"),
             (["--out", str(tmp_path / "no" / "x.npz")], "its folder does not exist"),
             (["--out", str(tmp_path / "a.npz"), "--images", str(tmp_path / "missing.npy")], "is not a .npy file"),
             (["--out", str(tmp_path / "b.npz"), "--split", "validation"], "has no split 'validation'")]
    for extra, message in cases:
        assert encode.main(["--workdir", runs["ae"].workdir, *extra]) == 2
        error = capsys.readouterr().err
        assert message in error and error.startswith("jaxae.encode: error:") and len(error.strip().splitlines()) == 1
    assert taken.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == ["taken.npz"]


def test_a_run_on_arrays_asks_for_them_and_never_reads_another_data_sets(tmp_path, capsys):
    """Finding 1 of issue 27: a run trained on 8x8 arrays got MNIST's codes, scores and labels."""
    from sklearn.datasets import load_digits

    from jaxae.tools import plot

    images = (load_digits().images * 255 / 16).astype(np.uint8)[:160]
    arrays = sources.ArraySource.from_images(images[:128]), sources.ArraySource.from_images(images[128:])
    workdir = loop.train(tiny("ae_mnist", num_steps=10), str(tmp_path / "run"), *arrays).workdir
    capsys.readouterr()  # The run's progress.
    for tool, extra in ((encode, ["--out", str(tmp_path / "codes.npz")]), (plot, ["--out", str(tmp_path / "plots")])):
        assert tool.main(["--workdir", workdir, *extra]) == 2
        error = capsys.readouterr().err
        assert "trained on arrays" in error or "evaluated on arrays" in error
        assert "--images" in error and len(error.strip().splitlines()) == 1
        # Both tools read the checkpoint --step names, and refuse one the run does not have.
        assert tool.main(["--workdir", workdir, "--step", "7", *extra]) == 2
        assert "has no checkpoint of step 7; it has [10]" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    np.save(tmp_path / "mine.npy", images[128:])
    assert encode.main(["--workdir", workdir, "--images", str(tmp_path / "mine.npy"), "--out", str(tmp_path / "c.npz")]) == 0
    saved = np.load(tmp_path / "c.npz")
    assert set(saved) == {"codes", "scores"} and saved["codes"].shape == (32, 4)
    np.testing.assert_array_equal(saved["codes"], jaxae.load(workdir).encode(images[128:]))
    assert plot.main(["--workdir", workdir, "--images", str(tmp_path / "mine.npy"), "--out", str(tmp_path / "p"),
                      "--pairs", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["codes.png", "interpolations.png"]


def test_plot_writes_the_code_map_interpolations_and_traversals(runs, tmp_path, capsys):
    from PIL import Image

    from jaxae.tools import plot

    out = tmp_path / "plots"
    assert plot.main(["--workdir", runs["vae"].workdir, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["codes.png", "interpolations.png", "traversals.png"]
    with Image.open(out / "traversals.png") as image:  # 4 code dimensions of the tiny VAE by 8 steps of 28x28.
        assert image.size == (2 * (8 * 29 + 1), 2 * (4 * 29 + 1))
    assert plot.main(["--workdir", runs["vae"].workdir, "--out", str(out)]) == 2
    assert "exists; choose a new folder" in capsys.readouterr().err
    assert plot.main(["--workdir", runs["ae"].workdir, "--out", str(tmp_path / "ae")]) == 0
    assert sorted(p.name for p in (tmp_path / "ae").iterdir()) == ["codes.png", "interpolations.png"]
    for pairs, message in (("0", "--pairs=0 must be at least 1"), ("-3", "--pairs=-3 must be at least 1"),
                           ("501", "--pairs=501 needs 1002 images; there are 1000")):
        assert plot.main(["--workdir", runs["ae"].workdir, "--out", str(tmp_path / "bad"), "--pairs", pairs]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.partial").exists()


def test_the_scatter_plot_colours_each_point_by_its_label(tmp_path):
    from PIL import Image

    from jaxae.pictures import viz

    viz.scatter_png(str(tmp_path / "s.png"), np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 3]), size=100, radius=2)
    with Image.open(tmp_path / "s.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    assert tuple(pixels[100 - 20, 20]) == viz.PALETTE[0]  # (0, 0) at the lower-left margin (10 * radius).
    assert tuple(pixels[20, 100 - 20]) == viz.PALETTE[3]  # (1, 1) at the upper right.
