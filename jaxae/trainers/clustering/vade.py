"""VaDE (Jiang et al., 2017): a VAE whose prior is a learnable Gaussian mixture, one component per
cluster. Generative story: c ~ Cat(pi), z ~ N(mu_c, diag(var_c)), x ~ p(x | z).

Phases: the VAE pretrained as a plain autoencoder on its mean code (or an autoencoder run taken
from `cluster.init_from`), then at the clustering phase's start a diagonal GMM fitted to the codes
of the whole training split (scikit-learn's EM, started from the shared K-means centres, as the
authors' code fits sklearn's GMM), then the ELBO

  E_q[log p(x | z)] - KL(q(z, c | x) || p(z, c))

trained on the network and the mixture together (`cluster.mixture`). Responsibilities are computed
in log space (`jaxae.cluster.mixture`). A digit's cluster is the component most responsible for its
mean code. The likelihood is Gaussian with a fixed per-pixel variance (`vade.pixel_variance`), so
the network pretrained with squared error for DCN and DEC serves here too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxae import losses
from jaxae.cluster import mixture
from jaxae.config import checks
from jaxae.trainers.clustering.shared import ClusteringTrainer

LOGVAR_INIT = -4.0  # The posterior's log-variance head starts at a constant exp(-4) = 0.018.


class VaDETrainer(ClusteringTrainer):
    """Variational deep embedding: the mixture's parameters in params['mixture']."""

    model_name = "vae"

    @classmethod
    def validate_config(cls, config) -> None:
        super().validate_config(config)
        checks.number(config, "vade.pixel_variance", low=0, low_open=True)
        checks.number(config, "vade.gmm_iterations", low=1, integer=True)

    def identity(self):
        return super().identity() | self.identity_of("vade.pixel_variance")

    def cluster_init(self, key, latent_dim):
        del key
        k = self.n_clusters
        return {"mixture": {"logits": jnp.zeros((k,), jnp.float32), "means": jnp.zeros((k, latent_dim), jnp.float32),
                            "log_vars": jnp.zeros((k, latent_dim), jnp.float32)}}, {}

    def centroids(self, state):
        return state.params["mixture"]["means"]

    def predict(self, state, codes):
        """The most responsible component for each code [n, latent] -> [n] int32."""
        return jnp.argmax(mixture.log_responsibilities(codes, state.params["mixture"]), axis=-1).astype(jnp.int32)

    # ------------------------------------------------------------------ pretraining and its hand-over

    def pretrain_step(self, state, batch):
        """The VAE trained as an autoencoder on its mean code: the decoder's squared error (or BCE)."""
        targets, inputs, _ = self.ae.train_inputs(state, batch["image"])

        def loss_fn(params):
            logits = self.ae.model.apply({"params": params}, self.ae.code_of(params, inputs), method="decode_logits")
            reconstruction = logits if self.config.model.output_activation == "identity" else jax.nn.sigmoid(logits)
            recon = jnp.mean(self.ae.reconstruction_nll(reconstruction, {"logits": logits}, targets))
            return recon, ({"loss": recon, "recon": recon}, None)

        params, opt_state, metrics, _ = self.gradient_step(self.ae.tx, state.params["autoencoder"],
                                                           state.opt_state["pretrain"], loss_fn)
        return state.replace(step=state.step + 1, params={**state.params, "autoencoder": params},
                             opt_state={**state.opt_state, "pretrain": opt_state}), metrics

    def adopt_pretrained(self, params):
        """An autoencoder's encoder ends in [hidden, latent]; this VAE's in [hidden, 2 latent] (mean, log-variance)."""
        out = params["encoder"]["out"]
        wide = {"kernel": jnp.concatenate([out["kernel"], jnp.zeros_like(out["kernel"])], axis=-1),
                "bias": jnp.concatenate([out["bias"], jnp.zeros_like(out["bias"])], axis=-1)}
        return {**params, "encoder": {**params["encoder"], "out": wide}}

    def begin(self, state, codes, found):
        """A diagonal GMM fitted to the codes from the K-means centres; the log-variance head reset."""
        from sklearn.mixture import GaussianMixture  # Imported here: scikit-learn is slow to import.

        gmm = GaussianMixture(self.n_clusters, covariance_type="diag", means_init=np.asarray(found.centroids),
                              max_iter=self.config.vade.gmm_iterations, reg_covar=1e-6, random_state=0).fit(codes)
        fitted = {"logits": jnp.log(jnp.asarray(gmm.weights_, jnp.float32)),
                  "means": jnp.asarray(gmm.means_, jnp.float32),
                  "log_vars": jnp.log(jnp.asarray(gmm.covariances_, jnp.float32))}
        autoencoder = state.params["autoencoder"]
        out = autoencoder["encoder"]["out"]
        d = self.config.model.latent_dim
        # Each code's posterior starts narrow around the pretrained code, whatever the head held.
        out = {"kernel": out["kernel"].at[:, d:].set(0.0), "bias": out["bias"].at[d:].set(LOGVAR_INIT)}
        autoencoder = {**autoencoder, "encoder": {**autoencoder["encoder"], "out": out}}
        state = state.replace(params={**state.params, "autoencoder": autoencoder, "mixture": fitted})
        return state, {"gmm_log_likelihood": float(gmm.score(codes)), "gmm_iterations": int(gmm.n_iter_)}

    # ------------------------------------------------------------------ the clustering phase

    def gaussian_nll(self, reconstruction, targets):
        """-log N(targets; reconstruction, pixel_variance) per example, without the constant."""
        return losses.squared_error(reconstruction, targets) / (2.0 * self.config.vade.pixel_variance)

    def cluster_step(self, state, batch):
        """One step on -ELBO, for the network and the mixture together."""
        targets, inputs, eps = self.cluster_inputs(state, batch["image"])

        def loss_fn(params):
            reconstruction, aux = self.ae.apply(params["autoencoder"], inputs, eps, train=True)
            nll = self.gaussian_nll(reconstruction, targets)
            kl = mixture.vade_kl(aux["z"], aux["mu"], aux["logvar"], params["mixture"])
            loss = jnp.mean(nll + kl)
            return loss, ({"loss": loss, "recon": jnp.mean(nll), "kl": jnp.mean(kl)}, None)

        state, metrics, _ = self.update(state, loss_fn)
        return state, metrics
