"""Defaults every experiment starts from (each configs/<name>.py overrides a few fields), and the
shrinking of any config to its tiny variant for tests and smoke runs: ``--config configs/<name>.py:tiny``.
"""

import ml_collections

VARIANTS = ("", "tiny")  # '' is the full run.


def check_variant(variant: str) -> None:
    """Raises ValueError for a variant no config offers, so ':tine' is an error, not a full-size run."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; the variants are {', '.join(map(repr, VARIANTS))}")


def get_base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.trainer = "autoencoder"  # the family (trainers/registry.py) that trains this config.
    config.seed = 0
    config.num_seeds = 1  # > 1: that many seeds trained at once in one program (jaxae/trainers/seeds.py).
    config.compute_dtype = "float32"  # float32 | bfloat16 | float16; parameters stay float32.

    config.model = ml_collections.ConfigDict()
    config.model.name = "vae"  # ae | vae (the autoencoder family)
    config.model.architecture = "mlp"  # mlp | conv
    config.model.hidden = (512, 256)  # MLP encoder widths; the decoder mirrors them ...
    config.model.decoder_hidden = ()  # ... unless given here.
    config.model.channels = (32, 64)  # conv encoder channels, each halving height and width.
    # How convolutions are computed (same parameters either way): auto (patch products on CPU,
    # XLA's convolutions elsewhere) | native | matmul. See jaxae/models/conv_ops.py.
    config.model.conv_impl = "auto"
    config.model.latent_dim = 20
    config.model.activation = "relu"
    config.model.output_activation = "sigmoid"  # sigmoid (images in [0, 1]) | identity
    config.model.weight_init = "he_normal"  # he_normal (suits ReLU) | lecun_normal (Flax default) | glorot_uniform | torch

    config.loss = ml_collections.ConfigDict()
    config.loss.reconstruction = "bce"  # bce (Bernoulli, nats) | mse (summed squared error)
    config.loss.beta = 1.0  # KL weight for the VAE (beta-VAE when != 1).
    config.loss.kl_warmup_steps = 0  # beta ramps linearly from 0 over this many steps.
    config.loss.iw_samples = 1  # VAE: > 1 trains on the importance-weighted bound of K draws (IWAE).
    config.loss.eval_iw_samples = 0  # VAE: > 0 reports eval/iw_nll, the K-draw importance-weighted NLL.
    config.loss.l1_weight = 0.0  # L1 penalty on weights (kernels only).
    config.loss.l2_weight = 0.0  # L2 penalty on weights (kernels only).
    config.loss.activity_l1 = 0.0  # L1 on the code, per example.
    config.loss.kl_sparsity_weight = 0.0  # KL(target || mean sigmoid(code)) per unit.
    config.loss.kl_sparsity_target = 0.05

    config.noise = ml_collections.ConfigDict()
    config.noise.kind = "none"  # none | gaussian | masking | salt_and_pepper (denoising AE)
    config.noise.level = 0.0  # stddev for gaussian, rate otherwise.

    config.data = ml_collections.ConfigDict()
    config.data.name = "mnist_5k"  # embedded: mnist_5k, sklearn_digits; or any prepared tfds name.
    config.data.tfds_data_dir = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets.
    config.data.train_split = "train"  # a split, or a tfds slice of one: 'train[:90%]'.
    config.data.eval_split = "test"
    # data.name='image_folder' (jaxae/data/image_folder.py): the folder; its images' size (0: the one
    # size they share; s: resized to s x s) and channels (0: 1 if every image is grey, else 3); and,
    # for a folder without train/ and test/, the seeded fraction of it (of each class) that is test.
    config.data.path = ""
    config.data.image_size = 0
    config.data.channels = 0
    config.data.test_fraction = 0.1
    config.data.split_seed = 0
    config.data.binarize = "static"  # none | static | dynamic
    config.data.binarize_threshold = 0.5
    config.data.augment_shift = 0  # > 0: training images move by up to this many pixels (input and target).
    config.data.placement = "auto"  # auto | device | stream
    config.data.device_memory_budget_mb = 1024  # 'auto' keeps a split on the devices below this size.
    config.data.host_memory_budget_mb = 4096  # streaming: a split below this is decoded once into host memory.
    config.data.prefetch = 4  # host batches read ahead on the streaming path.

    # Early stopping (jaxae/engine/early_stopping.py): '' off, or an eval metric watched at every eval
    # on a validation part carved from the training split; the run stops after `patience` evals
    # without an improvement by more than min_delta, and the best state is kept in <workdir>/best.
    config.early_stopping = ml_collections.ConfigDict()
    config.early_stopping.metric = ""
    config.early_stopping.mode = "min"  # min | max
    config.early_stopping.patience = 5
    config.early_stopping.min_delta = 0.0
    config.early_stopping.validation_fraction = 0.1
    config.early_stopping.split_seed = 0

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.name = "adam"  # adam | adamw | sgd | momentum
    config.optimizer.learning_rate = 1e-3
    config.optimizer.schedule = "constant"  # constant | cosine
    config.optimizer.warmup_steps = 0
    config.optimizer.b1 = 0.9
    config.optimizer.b2 = 0.999
    config.optimizer.eps = 1e-8
    config.optimizer.weight_decay = 1e-4  # adamw only.
    config.optimizer.momentum = 0.9  # momentum only.
    config.optimizer.grad_clip_norm = 0.0  # 0 disables clipping.
    # True (sgd and momentum only): learning_rate is per pixel value, divided by H*W*C for the per-image
    # summed reconstruction, so one SGD rate suits any image size (Adam's step does not grow with the loss).
    config.optimizer.per_pixel = False

    config.batch_size = 128  # global: split across all devices of all processes.
    config.eval_batch_size = 512  # a multiple of 8 devices; the last batch is padded and masked.
    config.num_epochs = 5
    config.num_steps = 0  # > 0 overrides num_epochs.
    config.log_every = 50
    config.eval_every = 0  # 0: evaluate at the end only.
    config.checkpoint_every = 500  # must be a multiple of log_every.
    config.keep_checkpoints = 3
    config.steps_per_dispatch = 0  # steps per jitted lax.scan on the device path; 0: log_every.
    config.num_image_examples = 8  # test images shown with their reconstructions.
    config.num_samples = 64  # prior samples drawn for a VAE's grid.
    config.nonfinite = "stop"  # stop: a NaN/Inf loss or gradient ends the run | skip: skip the update, count it
    config.compile_cache_dir = ""  # empty: ~/.cache/jaxae/jax; "none" disables the cache.

    config.parallel = ml_collections.ConfigDict()
    config.parallel.num_devices = 0  # 0: every device of every process.
    config.parallel.mode = "jit"  # jit (sharded jit over a mesh) | pmap (classic replicated state)
    return config


def make_tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Shrinks a config to seconds on a CPU: small widths, a few steps, frequent logs and saves."""
    config.model.hidden = (32,)
    config.model.channels = (4, 8)
    config.model.latent_dim = 4
    return tiny_cadence(config)


def tiny_cadence(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The tiny variants' batches, length and cadence: 20 steps of 32, logs every 5, evals and saves every 10."""
    config.batch_size = 32
    config.eval_batch_size = 64
    config.num_steps = 20
    config.log_every = 5
    config.eval_every = 10
    config.checkpoint_every = 10
    config.num_samples = 16
    config.num_image_examples = 4
    return config


def get_clustering_config(trainer: str) -> ml_collections.ConfigDict:
    """The deep-clustering families' shared defaults: the 784-500-500-2000-10 autoencoder of DEC,
    IDEC, DCN and VaDE, K-means with 20 restarts, 10 clusters, and DEC-Keras's pretraining: 300
    epochs of squared error, SGD with momentum 0.9 at a rate of about 1 on the per-pixel mean
    (`optimizer.per_pixel`: 1.0192 / 784 = 1.3e-3 on our per-image sum of 28x28 digits, and the
    same per-pixel step on images of any size), weights uniform in +-1/sqrt(fan_in). On mnist_5k it
    gave test ACC 0.66 after K-means, where Adam at 1e-3 for 200 epochs gave 0.51 (0.60 with 20 %
    masking noise)."""
    config = get_base_config()
    config.trainer = trainer
    config.model.name = "ae"
    config.model.hidden = (500, 500, 2000)
    config.model.latent_dim = 10
    config.model.output_activation = "identity"
    config.model.weight_init = "torch"
    config.loss.reconstruction = "mse"
    config.data.binarize = "none"
    # Digits shifted by up to 3 pixels in training (as DEC-DA, Guo et al. 2018): AE + K-means went
    # from 0.66 to 0.71 test ACC on mnist_5k, IDEC from 0.73 to 0.79. For 8x8 digits use 0 (1 pixel
    # is an eighth of the image: AE + K-means fell from 0.75 to 0.66 on sklearn_digits).
    config.data.augment_shift = 3
    config.batch_size = 256
    config.optimizer.name = "momentum"
    config.optimizer.per_pixel = True  # An override of learning_rate is per pixel too; adam needs per_pixel=False.
    config.optimizer.learning_rate = 1.0192  # Per pixel: 1.3e-3, in float32 exactly, on a 784-pixel sum.
    # 1,000 epochs lift DEC on mnist_5k from 0.755 to 0.859 test ACC and N2D from 0.806 to 0.931
    # (docs/clustering.md, "Longer pretraining"); 300 keep every clustering config under 10 minutes standalone
    # on a 2-core CPU.
    config.pretrain = ml_collections.ConfigDict({"num_epochs": 300, "num_steps": 0})
    config.cluster = ml_collections.ConfigDict()
    config.cluster.n_clusters = 10
    config.cluster.init_from = ""  # a workdir whose autoencoder replaces the pretraining phase.
    config.cluster.kmeans_restarts = 20
    config.cluster.kmeans_iterations = 300
    config.cluster.augment = True  # Shift the clustering phase's images too (by data.augment_shift).
    config.cluster.eval_labels = True  # False: the eval split has no labels; it reports the reconstruction only.
    config.cluster.optimizer = ml_collections.ConfigDict(get_base_config().optimizer.to_dict())  # Adam, 1e-3.
    config.num_image_examples = 10
    return config


def make_tiny_clustering(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """`make_tiny` plus a short pretraining and few K-means restarts."""
    make_tiny(config)
    config.pretrain.num_steps = 10
    config.cluster.kmeans_restarts = 2
    config.cluster.n_clusters = 10
    config.data.augment_shift = 1
    return config


def _without_autoencoder_sections(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The base config less what only the autoencoder family reads (its loss, noise, optimizer and
    input binarisation): the adversarial families have their own sections."""
    for section in ("loss", "noise", "optimizer"):
        del config[section]
    for field in ("binarize", "binarize_threshold", "augment_shift"):
        del config.data[field]
    return config


def get_gan_config() -> ml_collections.ConfigDict:
    """The GAN family's defaults (jaxae/trainers/adversarial/gan.py): a DCGAN on the embedded digits, scaled to
    [-1, 1]; Adam 2e-4 with b1 0.5 for both players, N(0, 0.02) weights (Radford et al., 2016)."""
    config = _without_autoencoder_sections(get_base_config())
    config.trainer = "gan"
    config.model = ml_collections.ConfigDict()
    config.model.architecture = "conv"  # conv (DCGAN players) | mlp
    config.model.noise_dim = 100
    config.model.noise = "normal"  # normal | uniform (in [-1, 1])
    config.model.categorical_codes = 0  # InfoGAN: the categories of its categorical code (0: none).
    config.model.continuous_codes = 0  # InfoGAN: its continuous codes, each uniform in [-1, 1].
    config.model.generator_hidden = ()  # dense widths before the generator's grid (or image, for mlp).
    config.model.discriminator_hidden = ()  # dense widths after the discriminator's convolutions.
    config.model.channels = (64, 128)  # the discriminator's convolutions; the generator mirrors them.
    config.model.batch_norm = True  # in the generator, over the global batch.
    config.model.discriminator_batch_norm = False  # in the discriminator (not after its first layer).
    config.model.q_hidden = 128  # InfoGAN's Q head width.
    config.model.negative_slope = 0.2  # the discriminator's leaky ReLU.
    config.model.weight_init = "dcgan_normal"
    config.model.conv_impl = "auto"

    config.gan = ml_collections.ConfigDict()
    config.gan.loss = "non_saturating"  # non_saturating | minimax | least_squares | hinge
    config.gan.label_smoothing = 0.0  # one-sided: real examples' target is 1 - this.
    config.gan.r1_weight = 0.0  # gamma of the R1 penalty, gamma/2 E|grad_x D(x)|^2 on real examples.
    config.gan.n_critic = 1  # discriminator updates per generator update.
    config.gan.categorical_weight = 1.0  # InfoGAN's lambda for the categorical code ...
    config.gan.continuous_weight = 1.0  # ... and for the continuous codes (both 1 in the reference code).
    config.gan.d_wins_below = 1e-3  # a window-mean discriminator loss below this stops the run (0: never).
    config.gan.eval_labels = True  # InfoGAN: score the categorical code against the eval split's labels.

    adam = dict(get_base_config().optimizer.to_dict(), learning_rate=2e-4, b1=0.5)
    config.generator_optimizer = ml_collections.ConfigDict(adam)
    config.discriminator_optimizer = ml_collections.ConfigDict(adam)
    config.batch_size = 64
    config.num_samples = 64
    return config


def make_tiny_gan(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A GAN config shrunk to seconds on a CPU."""
    config.model.noise_dim = 8
    config.model.channels = (4, 8)
    config.model.generator_hidden = tuple(16 for _ in config.model.generator_hidden)
    config.model.discriminator_hidden = tuple(16 for _ in config.model.discriminator_hidden)
    config.model.q_hidden = 8
    return tiny_cadence(config)


def get_aae_config() -> ml_collections.ConfigDict:
    """The adversarial autoencoders' defaults (jaxae/trainers/adversarial/aae.py): MLP encoder and decoder of two
    1,000-unit ReLU layers, a code discriminator of two 1,000-unit leaky ReLU layers (Makhzani et
    al., 2016), a Bernoulli likelihood on grey levels; Adam 1e-3 (reconstruction) and 2e-4 with b1
    0.5 (discriminator, and the encoder's regularisation phase)."""
    config = _without_autoencoder_sections(get_base_config())
    config.trainer = "aae"
    config.model = ml_collections.ConfigDict()
    config.model.hidden = (1000, 1000)  # the encoder; the decoder mirrors it ...
    config.model.decoder_hidden = ()  # ... unless given here.
    config.model.discriminator_hidden = (1000, 1000)
    config.model.latent_dim = 8  # the Gaussian (style) code.
    config.model.n_clusters = 0  # > 0: a categorical code of this many clusters beside the style.
    config.model.weight_init = "he_normal"

    config.aae = ml_collections.ConfigDict()
    config.aae.loss = "non_saturating"  # as gan.loss
    config.aae.d_wins_below = 1e-3
    config.aae.eval_labels = True  # with clusters: score them against the eval split's labels.

    adam = get_base_config().optimizer.to_dict()
    config.autoencoder_optimizer = ml_collections.ConfigDict(adam)  # reconstruction: Adam 1e-3.
    config.discriminator_optimizer = ml_collections.ConfigDict(dict(adam, learning_rate=2e-4, b1=0.5))
    config.encoder_optimizer = ml_collections.ConfigDict(dict(adam, learning_rate=2e-4, b1=0.5))  # regularisation.
    config.batch_size = 100
    return config


def make_tiny_aae(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """An adversarial autoencoder config shrunk to seconds on a CPU."""
    config.model.hidden = (32,)
    config.model.discriminator_hidden = (16,)
    config.model.latent_dim = 4
    return tiny_cadence(config)


def get_tabular_config() -> ml_collections.ConfigDict:
    """The tabular family's defaults (jaxae/trainers/tabular/trainer.py): a dense autoencoder over
    standardised numeric columns and embedded categorical ones, squared error plus cross-entropy."""
    config = _without_autoencoder_sections(get_base_config())
    config.trainer = "tabular"
    config.optimizer = get_base_config().optimizer
    for field in ("name", "architecture", "channels", "conv_impl", "output_activation"):
        del config.model[field]
    config.model.hidden = (64, 32)
    config.model.latent_dim = 8
    config.table = ml_collections.ConfigDict()
    config.table.cardinalities = ()  # ids per categorical column ('categorical' field); () for none.
    config.table.embed_dim = 4  # each categorical column's embedding size.
    config.table.categorical_weight = 1.0  # cross-entropy's weight against the squared error.
    # True: the data carries masks of its observed cells ('numeric_observed', 'categorical_observed');
    # missing cells are left out of the loss and the scores (a CSV file with missing values sets it).
    config.table.missing = False
    config.table.hide_fraction = 0.0  # with missing cells: observed cells hidden from the input per step.
    config.data.name = "sklearn_breast_cancer"  # or 'csv', a CSV file of yours (data.path, data.csv).
    config.data.csv = ml_collections.ConfigDict()  # data.name='csv' (jaxae/data/csv_table.py):
    config.data.csv.label = ""  # a column kept out of the inputs, stored as the rows' label (evaluation only).
    config.data.csv.categorical = ""  # comma-separated number-like columns to read as categories.
    config.data.csv.ordinal = ""  # ordered categories: 'size:S<M<L;grade:low<mid<high'.
    config.data.csv.ignore = ""  # comma-separated columns to leave out (row ids, notes).
    config.data.csv.delimiter = ","
    config.batch_size = 32
    config.eval_batch_size = 128
    config.num_image_examples = 0
    return config


def get_autorec_config() -> ml_collections.ConfigDict:
    """AutoRec's defaults (jaxae/trainers/autorec/trainer.py): I-AutoRec on MovieLens-100K with 500 sigmoid
    units and an identity output, as the paper and its code (NNRec) have it; Adam in minibatches
    rather than the paper's full-batch L-BFGS, which reached no better test RMSE in our runs and took
    longer (docs/autorec.md)."""
    config = _without_autoencoder_sections(get_base_config())
    config.trainer = "autorec"
    config.optimizer = get_base_config().optimizer
    config.optimizer.schedule = "cosine"
    config.model = ml_collections.ConfigDict()
    config.model.hidden_units = 500
    config.model.activation = "sigmoid"
    config.model.weight_init = "torch"  # U(+-1/sqrt(fan_in)).
    config.autorec = ml_collections.ConfigDict()
    config.autorec.l2 = 300.0  # the paper's lambda on the summed squared error.
    config.autorec.rating_range = (1.0, 5.0)  # predictions are clipped to it.
    config.autorec.default_rating = 3.0  # for a row or column with no training rating (the paper's choice).
    config.data.name = "ratings"
    config.data.ratings = ml_collections.ConfigDict()
    config.data.ratings.source = "ml-100k"  # ml-100k (RecBole's wheel) | synthetic | a user,item,rating CSV path
    config.data.ratings.rows = "items"  # items: I-AutoRec | users: U-AutoRec
    config.data.ratings.split_seed = 0
    config.data.ratings.test_fraction = 0.1
    config.batch_size = 64
    config.eval_batch_size = 256
    config.num_image_examples = 0
    config.num_samples = 0
    return config


def get_sgns_config() -> ml_collections.ConfigDict:
    """Skip-gram with negative sampling's defaults (jaxae/trainers/sgns/trainer.py): word2vec's and gensim's
    (d=100, window 5, 5 negatives, sample 1e-3, learning rate 0.025 falling to 1e-4, min_count 5)."""
    config = _without_autoencoder_sections(get_base_config())
    config.trainer = "sgns"
    config.model = ml_collections.ConfigDict()
    config.model.embedding_dim = 100
    config.sgns = ml_collections.ConfigDict()
    config.sgns.window = 5  # the widest window a side; each centre draws its own from 1..window.
    config.sgns.negatives = 5  # k, from the unigram distribution to the 3/4 (per centre word, or per pair).
    config.sgns.shared_negatives = True  # k per centre word, shared by its window's pairs; False: k per pair, as word2vec.
    config.sgns.sample = 1e-3  # word2vec's subsampling threshold (0: keep every word).
    config.sgns.learning_rate = 0.025  # plain SGD on the sum of the pairs' losses, as word2vec's.
    config.sgns.final_learning_rate = 1e-4  # reached linearly at the last step.
    config.sgns.max_summed_uses = 16.0  # a row used more often in a batch is scaled to this many average uses (0: off).
    config.sgns.updates = "rows"  # rows: add each gathered row's gradient | dense: gradients of whole tables
    config.sgns.tables = "replicated"  # replicated | sharded: rows split over the devices (jit only)
    config.data.name = "corpus"
    config.data.corpus = ml_collections.ConfigDict()
    config.data.corpus.source = "gensim-wiki"  # gensim-wiki | gensim-lee | synthetic | a text file (a document a line)
    config.data.corpus.min_count = 5
    config.data.corpus.chunk_length = 1024  # tokens a chunk (word2vec.c cuts sentences at 1,000 words).
    config.batch_size = 8  # chunks a step: about 8,000 words, 45,000 pairs.
    config.eval_batch_size = 8
    config.num_image_examples = 0
    config.num_samples = 0
    return config
