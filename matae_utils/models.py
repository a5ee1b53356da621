"""Autoencoder models: layers and the math only.

Every model here is a plain :class:`torch.nn.Module` with the same small interface, which
the training loop (:func:`matae_utils.training.fit`), the metrics, the plots and the widgets
rely on:

* ``encode(x) -> z`` with ``z`` of shape ``[B, latent_dim]``,
* ``decode(z) -> x_hat`` with ``x_hat`` of shape ``[B, *input_shape]``,
* ``forward(x) -> x_hat`` (the reconstruction),
* ``loss(x, y=None) -> dict`` with a ``"loss"`` key (what is minimised) and one key per term;
  ``"recon"`` is always the reconstruction error **per element** (mean over the batch and
  the features), so it can be compared across models; the VAE adds ``"recon_sum"``, the same
  error summed over the features of a sample as in the ELBO,
* attributes ``input_shape`` (tuple), ``latent_dim`` (int), ``config`` and ``supervised``
  (whether ``loss`` uses labels).

Each model is a :func:`~dataclasses.dataclass` whose fields are its settings: they are
validated in ``__post_init__``, ``model.config`` is ``dataclasses.asdict(model)`` (tuples as
lists, so it is JSON-able), ``type(model)(**model.config)`` rebuilds the model and a
checkpoint stores the config beside the weights. Subclasses add fields (``SparseAutoEncoder``
adds ``l1``; the ``VAE`` adds ``beta`` and reuses the autoencoder's layers).

No optimiser, data loading or plotting lives here. Inputs are checked cheaply at the public
entry points: a tensor of the wrong shape raises ``ValueError``, an integer or boolean tensor
raises ``TypeError``.

Initial weights come from PyTorch's global random number generator: call
``torch.manual_seed`` (or ``matae_utils.set_seed``) before building a model to make its
initialisation reproducible.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ._checks import check_choice, check_number
from .losses import bce, mse, vae_loss

__all__ = [
    "ACTIVATIONS",
    "MODELS",
    "OUTPUT_ACTIVATIONS",
    "AutoEncoder",
    "BaseAutoEncoder",
    "ConvAutoEncoder",
    "Decoder",
    "DenoisingAutoEncoder",
    "Encoder",
    "SemiSupervisedAutoEncoder",
    "SparseAutoEncoder",
    "VAE",
    "register_model",
]

#: Hidden-layer activations by name; ``None`` and ``"linear"`` mean no non-linearity.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}

#: Accepted output activations of a decoder (see :class:`Decoder` for how to choose).
OUTPUT_ACTIVATIONS = (None, "sigmoid", "softmax", "softplus")

# the model classes are dataclasses of their settings; eq=False keeps nn.Module's hashing
# by identity, repr=False its layer-by-layer repr
_model = dataclass(eq=False, repr=False)


# --------------------------------------------------------------------------- validation
def _positive_int(value: Any, name: str) -> int:
    return check_number(value, name, integer=True, low=1)


def _int_tuple(value: Any, name: str) -> tuple[int, ...]:
    """Layer sizes: an int means one layer; a sequence of positive ints otherwise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    if not isinstance(value, (Sequence, np.ndarray)) or isinstance(value, str):
        raise TypeError(f"{name} must be a sequence of positive ints, got {value!r}")
    return tuple(_positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))


def _activation(name: str | None) -> nn.Module:
    key = check_choice("linear" if name is None else name, "activation", ACTIVATIONS)
    return ACTIVATIONS[key]()


def _output_activation(name: str | None, n_out: int, dim: int) -> nn.Module:
    if name is None:
        return nn.Identity()
    check_choice(name, "output_activation", OUTPUT_ACTIVATIONS[1:])
    if name == "softmax":
        if n_out < 2:
            raise ValueError("output_activation='softmax' needs at least 2 outputs to normalise")
        return nn.Softmax(dim=dim)
    return nn.Sigmoid() if name == "sigmoid" else nn.Softplus()


def _check_recon_loss(recon_loss: str, output_activation: str | None) -> None:
    check_choice(recon_loss, "recon_loss", ("mse", "bce"))
    if recon_loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            "recon_loss='bce' compares probabilities: use output_activation='sigmoid' "
            f"(got {output_activation!r}) and data scaled to [0, 1]"
        )


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(["B", *map(str, shape)]) + "]"


def _check_tensor(x: Any, shape: tuple[int, ...], hint: str, what: str = "input") -> None:
    """Cheap checks of a batch: a floating-point Tensor of shape [B, *shape]."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"expected {what} as a torch.Tensor, got {type(x).__name__}; convert with "
            "torch.as_tensor(x, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"expected {what} as a floating-point tensor (e.g. torch.float32), got {x.dtype}; "
            "convert with x.float()"
        )
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"expected {what} of shape {_fmt_shape(shape)} ({hint}), got {list(x.shape)}"
        )


def _check_dtype(x: Tensor, module: nn.Module) -> None:
    param = next(module.parameters(), None)
    if param is not None and x.dtype != param.dtype:
        raise TypeError(
            f"expected dtype {param.dtype} to match the model's parameters, got {x.dtype}; "
            f"convert with x.to({param.dtype})"
        )


def _mlp(
    n_in: int, hidden: tuple[int, ...], n_out: int, activation: str | None, dropout: float
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(n_in, size), _activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = size
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class _Configured(nn.Module):
    """An ``nn.Module`` whose dataclass fields are its settings."""

    @property
    def config(self) -> dict[str, Any]:
        """The settings as a JSON-able dict: ``type(self)(**self.config)`` rebuilds the model."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }


# --------------------------------------------------------------------------- blocks
@_model
class Encoder(_Configured):
    """MLP encoder: ``n_features -> hidden[0] -> ... -> latent_dim``.

    Each hidden layer is ``Linear -> activation (-> Dropout)``; the last layer is linear
    so the code is unbounded.

    Args:
        n_features (int): number of input features.
        latent_dim (int): size of the code.
        hidden (Sequence[int] | int): hidden-layer sizes, first to last; an int means one
            layer, ``()`` means a single linear map.
        activation (str | None): hidden activation, a key of :data:`ACTIVATIONS`;
            ``None`` or ``"linear"`` gives a linear encoder.
        dropout (float): dropout probability after each hidden activation, in [0, 1).

    Example::

        enc = Encoder(13, 2, hidden=(32, 16))
        z = enc(torch.randn(8, 13))  # [8, 2]
    """

    n_features: int
    latent_dim: int
    hidden: Sequence[int] | int = (64,)
    activation: str | None = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__init__()
        self.n_features = _positive_int(self.n_features, "n_features")
        self.latent_dim = _positive_int(self.latent_dim, "latent_dim")
        self.hidden = _int_tuple(self.hidden, "hidden")
        self.dropout = check_number(self.dropout, "dropout", low=0, high=1, high_inclusive=False)
        _activation(self.activation)  # validate the name even without hidden layers
        self.input_shape = (self.n_features,)
        self.net = _mlp(
            self.n_features, self.hidden, self.latent_dim, self.activation, self.dropout
        )

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch.

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B, latent_dim].
        """
        _check_tensor(x, self.input_shape, f"n_features={self.n_features}")
        return self.net(x)


@_model
class Decoder(_Configured):
    """MLP decoder: ``latent_dim -> hidden[0] -> ... -> n_features -> output activation``.

    Choose ``output_activation`` from how the data were scaled, because a bounded output
    that cannot reach the targets puts a floor under the loss:

    * standardised features (zero mean, unit variance; any sign) -> ``None``;
    * features min-max scaled to [0, 1], binary images -> ``"sigmoid"``;
    * fractions that sum to 1 (element fractions of a composition, phase fractions)
      -> ``"softmax"`` (over the features, so every output row sums to 1);
    * non-negative quantities (intensities, counts, band gaps) -> ``"softplus"``.

    Args:
        latent_dim (int): size of the code.
        n_features (int): number of output features.
        hidden (Sequence[int] | int): hidden-layer sizes from the code outwards (an
            autoencoder passes its encoder's sizes reversed).
        activation (str | None): hidden activation, a key of :data:`ACTIVATIONS` or None.
        output_activation (str | None): ``None``, ``"sigmoid"``, ``"softmax"`` or
            ``"softplus"``.

    Example::

        dec = Decoder(2, 13, hidden=(16, 32))
        x_hat = dec(torch.randn(8, 2))  # [8, 13]
    """

    latent_dim: int
    n_features: int
    hidden: Sequence[int] | int = (64,)
    activation: str | None = "relu"
    output_activation: str | None = None

    def __post_init__(self) -> None:
        super().__init__()
        self.latent_dim = _positive_int(self.latent_dim, "latent_dim")
        self.n_features = _positive_int(self.n_features, "n_features")
        self.hidden = _int_tuple(self.hidden, "hidden")
        _activation(self.activation)
        self.input_shape = (self.latent_dim,)
        self.net = _mlp(self.latent_dim, self.hidden, self.n_features, self.activation, 0.0)
        self.out = _output_activation(self.output_activation, self.n_features, dim=-1)

    def forward(self, z: Tensor) -> Tensor:
        """Decode a batch of codes.

        Args:
            z (Tensor): [B, latent_dim].

        Returns:
            Tensor: [B, n_features].
        """
        _check_tensor(z, self.input_shape, f"latent_dim={self.latent_dim}", "latent codes")
        return self.out(self.net(z))


# --------------------------------------------------------------------------- models
class BaseAutoEncoder(_Configured):
    """Interface and shared plumbing of the autoencoders: encode, decode, forward, loss.

    Subclasses are dataclasses (``@dataclass(eq=False, repr=False)``) whose fields are
    their settings; their ``__post_init__`` calls ``super().__init__()`` and sets
    ``encoder``, ``decoder``, ``input_shape``, ``latent_dim`` and ``recon_loss``; the
    methods below then check the inputs and do the rest. Subclass it (or
    :class:`AutoEncoder`) and decorate with :func:`register_model` to write a new
    autoencoder that works with the training loop, checkpoints, metrics and widgets.
    """

    #: Whether ``loss`` uses labels ``y``; :func:`matae_utils.training.fit` refuses labelled
    #: data for unsupervised models instead of silently ignoring the labels.
    supervised = False

    input_shape: tuple[int, ...]
    latent_dim: int
    recon_loss: str
    encoder: nn.Module
    decoder: nn.Module

    def _shape_hint(self) -> str:
        return f"n_features={self.input_shape[0]}"

    def _check_x(self, x: Tensor) -> None:
        _check_tensor(x, self.input_shape, self._shape_hint())
        _check_dtype(x, self)

    def _check_z(self, z: Tensor) -> None:
        _check_tensor(z, (self.latent_dim,), f"latent_dim={self.latent_dim}", "latent codes")
        _check_dtype(z, self)

    def _recon(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """Reconstruction error per element (mean over batch and features)."""
        return bce(x_hat, x) if self.recon_loss == "bce" else mse(x_hat, x)

    def encode(self, x: Tensor) -> Tensor:
        """Map inputs to codes.

        Args:
            x (Tensor): ``[B, *input_shape]``.

        Returns:
            Tensor: [B, latent_dim].
        """
        self._check_x(x)
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Map codes back to input space.

        Args:
            z (Tensor): [B, latent_dim].

        Returns:
            Tensor: ``[B, *input_shape]``.
        """
        self._check_z(z)
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruct a batch: ``decode(encode(x))``.

        Args:
            x (Tensor): ``[B, *input_shape]``.

        Returns:
            Tensor: ``[B, *input_shape]``.
        """
        return self.decoder(self.encode(x))

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruction loss of a batch.

        Args:
            x (Tensor): ``[B, *input_shape]``.
            y (Tensor | None): ignored (unsupervised model); accepted so every model
                has the same signature.

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` and ``"recon"`` (equal here): the squared
            error **per element** (mean over the batch and the features), or the mean
            binary cross-entropy if ``recon_loss="bce"``.
        """
        rec = self._recon(self(x), x)
        return {"loss": rec, "recon": rec}


@_model
class AutoEncoder(BaseAutoEncoder):
    """Fully connected autoencoder: an :class:`Encoder` and a mirrored :class:`Decoder`.

    With ``hidden=()`` and ``activation=None`` (or ``"linear"``) the model is a *linear*
    autoencoder; trained with the MSE loss on centred data, its decoder spans the same
    subspace as the first ``latent_dim`` principal components (PCA), although the basis
    itself is not orthogonal or ordered.

    Args:
        n_features (int): number of input features.
        latent_dim (int): size of the code.
        hidden (Sequence[int] | int): encoder hidden sizes; the decoder uses them reversed.
        activation (str | None): hidden activation, a key of :data:`ACTIVATIONS` or None.
        output_activation (str | None): decoder output activation, see :class:`Decoder`.
        recon_loss (str): ``"mse"`` (default) or ``"bce"`` for data in [0, 1] (needs
            ``output_activation="sigmoid"``).
        dropout (float): dropout in the encoder's hidden layers, in [0, 1).

    Attributes:
        encoder (Encoder): the encoder block.
        decoder (Decoder): the decoder block.
        input_shape (tuple[int]): ``(n_features,)``.
        config (dict): the settings above (JSON-able).

    Example::

        model = AutoEncoder(n_features=13, latent_dim=2, hidden=(32, 16))
        z = model.encode(torch.randn(8, 13))       # [8, 2]
        terms = model.loss(torch.randn(8, 13))     # {"loss": ..., "recon": ...}
    """

    n_features: int
    latent_dim: int
    hidden: Sequence[int] | int = (64,)
    activation: str | None = "relu"
    output_activation: str | None = None
    recon_loss: str = "mse"
    dropout: float = 0.0

    #: Encoder outputs per latent dimension (the VAE's encoder gives a mean and a log-variance).
    _outputs_per_code = 1

    def __post_init__(self) -> None:
        super().__init__()
        self.latent_dim = _positive_int(self.latent_dim, "latent_dim")
        self.hidden = _int_tuple(self.hidden, "hidden")
        _check_recon_loss(self.recon_loss, self.output_activation)
        self.encoder = Encoder(
            n_features=self.n_features,
            latent_dim=self._outputs_per_code * self.latent_dim,
            hidden=self.hidden,
            activation=self.activation,
            dropout=self.dropout,
        )
        self.decoder = Decoder(
            latent_dim=self.latent_dim,
            n_features=self.n_features,
            hidden=self.hidden[::-1],
            activation=self.activation,
            output_activation=self.output_activation,
        )
        self.n_features, self.dropout = self.encoder.n_features, self.encoder.dropout
        self.input_shape = (self.n_features,)


@_model
class SparseAutoEncoder(AutoEncoder):
    """Autoencoder with an L1 penalty on the code, pushing most code entries to zero.

    ``loss = recon + l1 * sparsity`` where ``sparsity`` is the L1 norm of the code,
    ``sum_j |z_j|``, averaged over the batch. The penalty can be dodged by shrinking the
    code while the decoder weights grow; a little ``weight_decay`` in the optimiser
    prevents that.

    Args:
        n_features, latent_dim, hidden, activation, output_activation, recon_loss, dropout:
            as for :class:`AutoEncoder` (``latent_dim`` is often larger here).
        l1 (float): weight of the sparsity term, >= 0.

    Example::

        model = SparseAutoEncoder(13, 8, l1=1e-3)
        sorted(model.loss(torch.randn(4, 13)))  # ['loss', 'recon', 'sparsity']
    """

    _: KW_ONLY  # the settings a subclass adds are keyword-only
    l1: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        self.l1 = check_number(self.l1, "l1", low=0)

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruction plus L1 sparsity of the code.

        Args:
            x (Tensor): [B, n_features].
            y (Tensor | None): ignored (unsupervised model).

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` (= recon + l1 * sparsity), ``"recon"``
            (per element) and ``"sparsity"`` (mean over the batch of the code's L1 norm).
        """
        z = self.encode(x)  # [B, latent_dim]
        rec = self._recon(self.decoder(z), x)
        sparsity = z.abs().sum(dim=1).mean()
        return {"loss": rec + self.l1 * sparsity, "recon": rec, "sparsity": sparsity}


@_model
class DenoisingAutoEncoder(AutoEncoder):
    """Autoencoder trained to reconstruct clean inputs from corrupted ones.

    In training mode (``model.train()``), :meth:`loss` corrupts the input with additive
    Gaussian noise of standard deviation ``noise_std`` and then sets each entry to 0 with
    probability ``mask_prob`` (masking noise; 0 is the feature mean for standardised data),
    and measures the reconstruction against the *clean* input. In eval mode, and in
    :meth:`encode`, :meth:`decode` and :meth:`forward`, nothing is corrupted, so validation
    losses measure plain reconstruction. The corruption draws from PyTorch's global random
    number generator, which :func:`matae_utils.training.fit` seeds.

    Args:
        n_features, latent_dim, hidden, activation, output_activation, recon_loss, dropout:
            as for :class:`AutoEncoder`.
        noise_std (float): standard deviation of the additive Gaussian noise, >= 0 (in the
            units of the data, so about the fraction of a standard deviation for
            standardised features).
        mask_prob (float): probability of zeroing each entry, in [0, 1).

    Example::

        model = DenoisingAutoEncoder(13, 2, noise_std=0.2, mask_prob=0.1)
        noisy = model.corrupt(torch.randn(4, 13))
    """

    _: KW_ONLY
    noise_std: float = 0.1
    mask_prob: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.noise_std = check_number(self.noise_std, "noise_std", low=0)
        self.mask_prob = check_number(
            self.mask_prob, "mask_prob", low=0, high=1, high_inclusive=False
        )

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return a corrupted copy of ``x`` (whatever the train/eval mode).

        Args:
            x (Tensor): [B, n_features].
            generator (torch.Generator | None): random number generator on ``x``'s device;
                None uses PyTorch's global one.

        Returns:
            Tensor: [B, n_features], ``x`` plus Gaussian noise, with masked entries set to 0.
        """
        self._check_x(x)
        out = x
        if self.noise_std > 0:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            out = out + self.noise_std * noise
        if self.mask_prob > 0:
            keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.mask_prob
            out = torch.where(keep, out, torch.zeros((), dtype=x.dtype, device=x.device))
        return out

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruction of the clean input from a corrupted one (in training mode).

        Args:
            x (Tensor): clean inputs, [B, n_features].
            y (Tensor | None): ignored (unsupervised model).

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` and ``"recon"`` (equal here, per element).
        """
        x_in = self.corrupt(x) if self.training else x  # corrupt checks x
        rec = self._recon(self.decoder(self.encode(x_in)), x)
        return {"loss": rec, "recon": rec}


@_model
class VAE(AutoEncoder):
    """Variational autoencoder with a diagonal Gaussian encoder and a standard normal prior.

    The autoencoder's layers with an encoder twice as wide: it outputs the mean ``mu`` and
    log-variance ``logvar`` of ``q(z | x)`` side by side. In training mode :meth:`loss`
    samples ``z = mu + exp(logvar / 2) * eps`` (the reparameterisation trick); in eval mode
    it decodes ``mu`` instead, so a validation loss (and early stopping on it) is
    deterministic. Pass ``sample=True`` or ``False`` to choose explicitly.

    The loss is the negative ELBO with a ``beta`` weight on the KL term, whose terms are
    **summed over the features of a sample** and averaged over the batch (see
    :func:`matae_utils.losses.vae_loss`): ``"loss" = "recon_sum" + beta * "kl"``. The dict
    also holds ``"recon"``, the reconstruction error **per element** as for every other
    model (``recon_sum / n_features``), for comparisons with an :class:`AutoEncoder`.

    :meth:`encode` and :meth:`forward` are deterministic: ``encode`` returns the posterior
    mean ``mu`` (the usual point embedding for plots and downstream models) and ``forward``
    decodes it. Use :meth:`encode_dist` for ``(mu, logvar)`` and :meth:`sample` to generate.

    Args:
        n_features, latent_dim, hidden, activation, output_activation, recon_loss, dropout:
            as for :class:`AutoEncoder`.
        beta (float): weight of the KL term, >= 0 (1 is the standard VAE).

    Example::

        vae = VAE(13, 2, beta=1.0)
        terms = vae.loss(torch.randn(8, 13))   # {"loss", "recon_sum", "kl", "recon"}
        new = vae.sample(5, seed=0)            # [5, 13]
    """

    _: KW_ONLY
    beta: float = 1.0

    _outputs_per_code = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        self.beta = check_number(self.beta, "beta", low=0)

    def encode_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Parameters of the approximate posterior ``q(z | x)``.

        Args:
            x (Tensor): [B, n_features].

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``logvar``, each [B, latent_dim].
        """
        mu, logvar = super().encode(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: Tensor) -> Tensor:
        """Posterior mean ``mu`` (deterministic).

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B, latent_dim].
        """
        return self.encode_dist(x)[0]

    @staticmethod
    def reparameterize(
        mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw ``z = mu + sigma * eps`` with ``eps ~ N(0, I)``, differentiable in mu, logvar.

        Args:
            mu (Tensor): [B, latent_dim].
            logvar (Tensor): [B, latent_dim].
            generator (torch.Generator | None): random number generator on ``mu``'s
                device; None uses PyTorch's global one.

        Returns:
            Tensor: [B, latent_dim].
        """
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def loss(
        self, x: Tensor, y: Tensor | None = None, sample: bool | None = None
    ) -> dict[str, Tensor]:
        """Negative ELBO of a batch.

        Args:
            x (Tensor): [B, n_features].
            y (Tensor | None): ignored (unsupervised model).
            sample (bool | None): decode one sample of ``z ~ q(z | x)`` per input (True)
                or the posterior mean (False); None means ``self.training``, so the loss
                is stochastic in training mode and deterministic in eval mode.

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` (= recon_sum + beta * kl),
            ``"recon_sum"`` and ``"kl"`` (per-sample sums averaged over the batch) and
            ``"recon"`` (the reconstruction error per element).
        """
        mu, logvar = self.encode_dist(x)  # [B, latent_dim] each
        if self.training if sample is None else sample:
            z = self.reparameterize(mu, logvar)
        else:
            z = mu
        return vae_loss(self.decoder(z), x, mu, logvar, beta=self.beta, recon=self.recon_loss)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """Generate ``n`` new inputs by decoding ``z ~ N(0, I)``.

        The codes are drawn on the CPU with a local :class:`torch.Generator`, so a given
        ``seed`` gives the same samples on any device and leaves the global random state
        untouched.

        Args:
            n (int): number of samples.
            seed (int | None): seed of the local generator; None gives fresh samples.

        Returns:
            Tensor: [n, n_features], on the model's device, without gradient.
        """
        n = _positive_int(n, "n")
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        param = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=gen, dtype=param.dtype)
        return self.decoder(z.to(param.device))


class _ConvLayers:
    """The stride-2 convolution stacks that :class:`ConvAutoEncoder` and
    :class:`ConvDenoisingAutoEncoder` share, for ``(C, L)`` signals or ``(C, H, W)`` images.

    Every convolution (kernel 4, stride 2, padding 1) halves each spatial size, so sizes
    not divisible by ``2 ** len(channels)`` are zero-padded at the end before the first one
    and the reconstruction is cropped back by the same amount.
    """

    def __init__(self, shape: tuple[int, ...], channels: tuple[int, ...],
                 activation: str | None) -> None:
        if len(shape) not in (2, 3):
            raise ValueError(
                f"input_shape must be (C, L) for 1D signals or (C, H, W) for images, got {shape}"
            )
        _activation(activation)
        self.shape, self.channels, self.activation = shape, channels, activation
        factor = 2 ** len(channels)
        spatial = tuple(math.ceil(s / factor) * factor for s in shape[1:])  # padded sizes
        pad = tuple(p - s for p, s in zip(spatial, shape[1:], strict=True))
        self.conv, self.deconv, self._padder = (
            (nn.Conv1d, nn.ConvTranspose1d, nn.ConstantPad1d)
            if len(spatial) == 1
            else (nn.Conv2d, nn.ConvTranspose2d, nn.ConstantPad2d)
        )
        # zero-pad at the end of each spatial axis; padding lists (before, after) pairs from
        # the last axis backwards, and the same padding negated crops the output back
        self._fpad = tuple(v for p in reversed(pad) for v in (0, p)) if any(pad) else ()
        self.small = tuple(s // factor for s in spatial)  # spatial sizes after the stack
        self.c_last = channels[-1] if channels else shape[0]  # channels after the stack

    def encoder(self) -> list[nn.Module]:
        """Padding (if needed), then each convolution with its activation."""
        layers: list[nn.Module] = [self._padder(self._fpad, 0.0)] if self._fpad else []
        c_in = self.shape[0]
        for c in self.channels:
            layers += [self.conv(c_in, c, kernel_size=4, stride=2, padding=1),
                       _activation(self.activation)]
            c_in = c
        return layers

    def decoder(self, output_activation: str | None) -> list[nn.Module]:
        """The mirrored transposed convolutions (no activation after the last), the crop
        (if needed) and the output activation, from ``c_last`` channels to the input's."""
        layers: list[nn.Module] = []
        outs = [*self.channels[-2::-1], self.shape[0]] if self.channels else []
        c_in = self.c_last
        for i, c in enumerate(outs):
            layers.append(self.deconv(c_in, c, kernel_size=4, stride=2, padding=1))
            if i < len(outs) - 1:
                layers.append(_activation(self.activation))
            c_in = c
        if self._fpad:
            layers.append(self._padder(tuple(-v for v in self._fpad), 0.0))
        layers.append(_output_activation(output_activation, self.shape[0], dim=1))
        return layers


class _ChannelAxisCheck:
    """Input checks of the convolutional models: a missing channel axis gets its own hint."""

    input_shape: tuple[int, ...]

    def _shape_hint(self) -> str:
        return f"input_shape={self.input_shape}"

    def _check_x(self, x: Tensor) -> None:
        shape = self.input_shape
        if isinstance(x, Tensor) and shape[0] == 1 and tuple(x.shape[1:]) == shape[1:]:
            raise ValueError(
                f"expected input of shape {_fmt_shape(shape)} ({self._shape_hint()}), got "
                f"{list(x.shape)}; add the channel axis with x[:, None]"
            )
        super()._check_x(x)


@_model
class ConvAutoEncoder(_ChannelAxisCheck, BaseAutoEncoder):
    """Convolutional autoencoder for images ``[B, C, H, W]`` or 1D signals ``[B, C, L]``.

    The encoder stacks stride-2 convolutions (kernel 4, padding 1), each halving every
    spatial size, then flattens and maps linearly to the code; the decoder mirrors it with
    stride-2 transposed convolutions, so the output has exactly the input's shape. The
    halvings need spatial sizes divisible by ``2 ** len(channels)``; other sizes are
    zero-padded at the end before the first convolution and the reconstruction is cropped
    back (e.g. an XRD pattern of 1401 points is padded to 1408 with 3 convolutions), so
    any size works and the loss only sees the real points.

    Use ``input_shape=(1, 64, 64)`` for a 64 x 64 grey-scale microstructure and
    ``input_shape=(1, L)`` for a powder XRD pattern of ``L`` points (add the channel axis
    to an array of patterns ``X`` of shape [N, L] with ``X[:, None, :]``).

    Args:
        input_shape (Sequence[int]): ``(C, H, W)`` for images or ``(C, L)`` for signals.
        latent_dim (int): size of the code.
        channels (Sequence[int]): output channels of each convolution, from the input
            inwards; ``()`` means no convolution (a linear map of the flattened input).
        output_activation (str | None): ``None``, ``"sigmoid"`` (pixel values in [0, 1]),
            ``"softmax"`` (over the channels, e.g. one channel per phase) or ``"softplus"``
            (non-negative intensities).
        activation (str | None): activation after each convolution.
        recon_loss (str): ``"mse"`` or ``"bce"`` (needs ``output_activation="sigmoid"``).

    Example::

        model = ConvAutoEncoder((1, 64, 64), latent_dim=16, channels=(16, 32, 64))
        x_hat = model(torch.rand(2, 1, 64, 64))    # [2, 1, 64, 64]
        xrd = ConvAutoEncoder((1, 1401), latent_dim=8)
        z = xrd.encode(torch.rand(2, 1, 1401))     # [2, 8]
        xrd(torch.rand(2, 1, 1401)).shape          # [2, 1, 1401]
    """

    input_shape: Sequence[int] = (1, 64, 64)
    latent_dim: int = 16
    channels: Sequence[int] = (16, 32, 64)
    output_activation: str | None = None
    activation: str | None = "relu"
    recon_loss: str = "mse"

    def __post_init__(self) -> None:
        super().__init__()
        shape = self.input_shape = _int_tuple(self.input_shape, "input_shape")
        channels = self.channels = _int_tuple(self.channels, "channels")
        layers = _ConvLayers(shape, channels, self.activation)
        self.latent_dim = _positive_int(self.latent_dim, "latent_dim")
        _check_recon_loss(self.recon_loss, self.output_activation)
        n_flat = layers.c_last * math.prod(layers.small)
        enc = [*layers.encoder(), nn.Flatten(), nn.Linear(n_flat, self.latent_dim)]
        dec: list[nn.Module] = [nn.Linear(self.latent_dim, n_flat)]
        if channels:
            dec.append(_activation(self.activation))
        dec.append(nn.Unflatten(1, (layers.c_last, *layers.small)))  # [B, c_last, *small]
        self.encoder = nn.Sequential(*enc)  # [B, latent_dim]
        self.decoder = nn.Sequential(*dec, *layers.decoder(self.output_activation))


@_model
class SemiSupervisedAutoEncoder(AutoEncoder):
    """Autoencoder with a property head on the code, trained on partly labelled data.

    ``loss(x, y) = recon + alpha * supervised`` where ``supervised`` is the mean squared
    error of ``predict(x)`` over the labels that are present: ``NaN`` in ``y`` marks a
    missing label (per entry, so each target may be missing independently), and a batch
    without any label contributes ``supervised = 0``. The unlabelled rows still shape the
    latent space through the reconstruction term, which is the point of the model.

    Args:
        n_features, latent_dim, hidden, activation, output_activation, recon_loss, dropout:
            as for :class:`AutoEncoder` (``activation`` is also the head's).
        n_targets (int): number of properties predicted from the code.
        head_hidden (Sequence[int] | int): hidden sizes of the property head.
        alpha (float): weight of the supervised term, >= 0.

    Example::

        model = SemiSupervisedAutoEncoder(13, 2, n_targets=1)
        y = torch.tensor([1.2, float("nan"), 0.3, float("nan")])   # 2 of 4 labelled
        terms = model.loss(torch.randn(4, 13), y)  # {"loss", "recon", "supervised"}
    """

    supervised = True

    _: KW_ONLY
    n_targets: int = 1
    head_hidden: Sequence[int] | int = (32,)
    alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.n_targets = _positive_int(self.n_targets, "n_targets")
        self.head_hidden = _int_tuple(self.head_hidden, "head_hidden")
        self.alpha = check_number(self.alpha, "alpha", low=0)
        self.head = _mlp(self.latent_dim, self.head_hidden, self.n_targets, self.activation, 0.0)

    def predict(self, x: Tensor) -> Tensor:
        """Predict the properties from the code.

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B, n_targets].
        """
        return self.head(self.encode(x))

    def _check_y(self, y: Tensor, batch: int) -> Tensor:
        if not isinstance(y, Tensor):
            raise TypeError(f"expected labels y as a torch.Tensor, got {type(y).__name__}")
        if not y.is_floating_point():
            raise TypeError(
                f"expected labels y as a floating-point tensor (NaN marks a missing label), "
                f"got {y.dtype}; convert with y.float()"
            )
        if y.dim() == 1 and self.n_targets == 1:
            y = y.unsqueeze(1)
        if tuple(y.shape) != (batch, self.n_targets):
            raise ValueError(
                f"expected labels y of shape [{batch}, {self.n_targets}] (batch size, "
                f"n_targets={self.n_targets}), got {list(y.shape)}"
            )
        return y

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruction plus supervised MSE over the labelled entries.

        Args:
            x (Tensor): [B, n_features].
            y (Tensor | None): [B, n_targets] or [B] (if ``n_targets == 1``), NaN where the
                label is missing; None means no labels at all.

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` (= recon + alpha * supervised), ``"recon"``
            (per element) and ``"supervised"`` (mean squared error over the present
            labels, 0 if none).
        """
        z = self.encode(x)  # [B, latent_dim]
        rec = self._recon(self.decoder(z), x)
        if y is None:
            sup = rec.new_zeros(())
        else:
            y = self._check_y(y, x.shape[0])  # [B, n_targets]
            pred = self.head(z)
            present = ~torch.isnan(y)
            # zero the missing entries before the product so NaN * 0 never enters the graph
            sq = torch.where(present, pred - torch.nan_to_num(y), torch.zeros_like(pred)) ** 2
            sup = sq.sum() / present.sum().clamp(min=1)
        return {"loss": rec + self.alpha * sup, "recon": rec, "supervised": sup}


#: Model classes that checkpoints can rebuild, by class name.
MODELS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        Encoder,
        Decoder,
        AutoEncoder,
        SparseAutoEncoder,
        DenoisingAutoEncoder,
        VAE,
        ConvAutoEncoder,
        SemiSupervisedAutoEncoder,
    )
}


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Make a custom model class loadable by :func:`matae_utils.training.load_checkpoint`.

    Use as a class decorator. ``cls(**model.config)`` must rebuild the model: subclass a
    model of this module (or :class:`BaseAutoEncoder`) and declare the added settings as
    dataclass fields (``@dataclass(eq=False, repr=False)``); a plain ``nn.Module`` sets
    ``self.config`` to its constructor arguments (a JSON-able dict) itself.

    Args:
        cls (type): an ``nn.Module`` subclass.

    Returns:
        type: ``cls`` unchanged.

    Raises:
        TypeError: if ``cls`` is not an ``nn.Module`` subclass.
        ValueError: if the name is that of a built-in model of this module.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_model expects an nn.Module subclass, got {cls!r}")
    known = MODELS.get(cls.__name__)
    if known is not None and known is not cls and known.__module__ == __name__:
        raise ValueError(
            f"{cls.__name__!r} is a built-in model of matae_utils.models; give your class "
            "another name"
        )
    # re-registering a name (re-running a notebook cell) replaces the earlier class
    MODELS[cls.__name__] = cls
    return cls


# --------------------------------------------------------------------------- generative design
@_model
class CompositionVAE(VAE):
    """VAE of compositions: a categorical decoder over the elements, optionally a property head.

    The decoder outputs probabilities ``pi = softmax(logits)`` over the ``n_features``
    elements, and the reconstruction term of the ELBO is the categorical negative
    log-likelihood of the atomic fractions, the cross-entropy per atom (natural log)::

        recon_sum = -sum_j x_j * log(pi_j)

    which is the multinomial log-likelihood of a formula unit divided by its number of
    atoms; compared with the squared error through a softmax, its gradient with respect to
    the logits is simply ``pi - x`` and does not vanish when the softmax saturates, so small
    fractions are learnt too. ``"loss" = recon_sum + beta * kl + alpha * supervised``; with
    ``n_targets >= 1`` a head on the posterior mean predicts properties, trained on the
    labels present (``NaN`` marks a missing label, as for
    :class:`SemiSupervisedAutoEncoder`). ``recon_loss`` is not used (the likelihood is
    fixed) and ``output_activation`` must be ``"softmax"``.

    Args:
        n_features, latent_dim, hidden, activation, dropout: as for :class:`AutoEncoder`.
        beta (float): weight of the KL term, >= 0.
        n_targets (int): properties predicted from the code; 0 (default) means no head.
        head_hidden (Sequence[int] | int): hidden sizes of the property head.
        alpha (float): weight of the supervised term, >= 0.

    Example::

        model = CompositionVAE(94, 8, beta=0.05, n_targets=1, alpha=0.1)
        terms = model.loss(x, y)      # {"loss", "recon_sum", "kl", "recon", "supervised"}
        gap = model.predict_latent(torch.zeros(1, 8))   # [1, 1]
    """

    output_activation: str | None = "softmax"

    _: KW_ONLY
    n_targets: int = 0
    head_hidden: Sequence[int] | int = (32,)
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.output_activation != "softmax":
            raise ValueError(
                "CompositionVAE decodes element fractions with a categorical likelihood: "
                f"output_activation must be 'softmax', got {self.output_activation!r}"
            )
        super().__post_init__()
        self.n_targets = check_number(self.n_targets, "n_targets", integer=True, low=0)
        self.head_hidden = _int_tuple(self.head_hidden, "head_hidden")
        self.alpha = check_number(self.alpha, "alpha", low=0)
        self.head = (
            _mlp(self.latent_dim, self.head_hidden, self.n_targets, self.activation, 0.0)
            if self.n_targets
            else None
        )

    @property
    def supervised(self) -> bool:  # type: ignore[override]
        """Whether ``loss`` uses labels: only with a property head."""
        return self.n_targets > 0

    # the same label checks as the semi-supervised autoencoder (NaN = missing label)
    _check_y = SemiSupervisedAutoEncoder._check_y

    def _head(self) -> nn.Module:
        if self.head is None:
            raise ValueError("this CompositionVAE has no property head (n_targets=0)")
        return self.head

    def predict_latent(self, z: Tensor) -> Tensor:
        """Property predicted for latent codes.

        Args:
            z (Tensor): [B, latent_dim].

        Returns:
            Tensor: [B, n_targets].
        """
        self._check_z(z)
        return self._head()(z)

    def predict(self, x: Tensor) -> Tensor:
        """Property predicted from the posterior mean of each input.

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B, n_targets].
        """
        return self._head()(self.encode(x))

    def loss(
        self, x: Tensor, y: Tensor | None = None, sample: bool | None = None
    ) -> dict[str, Tensor]:
        """Negative ELBO with the categorical likelihood, plus the supervised term.

        Args:
            x (Tensor): [B, n_features] atomic fractions (rows sum to 1).
            y (Tensor | None): [B, n_targets] or [B], NaN where missing; None = no labels.
            sample (bool | None): decode a sample of ``z`` (True) or the mean (False);
                None means ``self.training``, as for :meth:`VAE.loss`.

        Returns:
            dict[str, Tensor]: ``"loss"``, ``"recon_sum"`` (cross-entropy per atom),
            ``"kl"``, ``"recon"`` (= recon_sum / n_features) and, with a head,
            ``"supervised"`` (MSE over the present labels, 0 if none).
        """
        from .losses import gaussian_kl

        mu, logvar = self.encode_dist(x)  # [B, latent_dim] each
        if self.training if sample is None else sample:
            z = self.reparameterize(mu, logvar)
        else:
            z = mu
        log_pi = torch.log_softmax(self.decoder.net(z), dim=-1)  # [B, n_features]
        rec = -(x * log_pi).sum(dim=1).mean()
        kl = gaussian_kl(mu, logvar).mean()
        terms = {
            "loss": rec + self.beta * kl,
            "recon_sum": rec,
            "kl": kl,
            "recon": rec / self.n_features,
        }
        if self.head is None:
            if y is not None:
                raise ValueError("labels y given to a CompositionVAE without a head (n_targets=0)")
            return terms
        if y is None:
            sup = rec.new_zeros(())
        else:
            y = self._check_y(y, x.shape[0])  # [B, n_targets]
            pred = self.head(mu)
            present = ~torch.isnan(y)
            sq = torch.where(present, pred - torch.nan_to_num(y), torch.zeros_like(pred)) ** 2
            sup = sq.sum() / present.sum().clamp(min=1)
        terms["loss"] = terms["loss"] + self.alpha * sup
        terms["supervised"] = sup
        return terms


@_model
class ConvVAE(ConvAutoEncoder):
    """Convolutional VAE: the layers of :class:`ConvAutoEncoder`, the math of :class:`VAE`.

    The encoder's last linear layer outputs ``2 * latent_dim`` numbers, the mean and
    log-variance of ``q(z | x)``; the decoder is the convolutional autoencoder's. The loss
    (negative ELBO, per-sample sums: ``"loss" = "recon_sum" + beta * "kl"``), the
    train/eval behaviour (a sample of ``z`` in training mode, the mean in eval mode),
    :meth:`encode` (the posterior mean) and :meth:`sample` are those of :class:`VAE`.

    Args:
        input_shape, latent_dim, channels, output_activation, activation, recon_loss:
            as for :class:`ConvAutoEncoder`.
        beta (float): weight of the KL term, >= 0.

    Example::

        model = ConvVAE((1, 32, 32), latent_dim=8, channels=(16, 32),
                        output_activation="sigmoid", recon_loss="bce")
        terms = model.loss(torch.rand(4, 1, 32, 32))   # {"loss", "recon_sum", "kl", "recon"}
        images = model.sample(6, seed=0)                # [6, 1, 32, 32]
    """

    _: KW_ONLY
    beta: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.beta = check_number(self.beta, "beta", low=0)
        last = self.encoder[-1]  # Linear(n_flat, latent_dim) -> Linear(n_flat, 2 * latent_dim)
        self.encoder[-1] = nn.Linear(last.in_features, 2 * self.latent_dim)

    def encode_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Parameters of the approximate posterior ``q(z | x)``.

        Args:
            x (Tensor): ``[B, *input_shape]``.

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``logvar``, each [B, latent_dim].
        """
        self._check_x(x)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    encode = VAE.encode
    reparameterize = staticmethod(VAE.reparameterize)
    loss = VAE.loss
    sample = VAE.sample


MODELS.update(CompositionVAE=CompositionVAE, ConvVAE=ConvVAE)
__all__ += ["CompositionVAE", "ConvVAE"]


# ----------------------------------------------------------------- added for chapter 9 (C13)
@_model
class ConvDenoisingAutoEncoder(_ChannelAxisCheck, BaseAutoEncoder):
    """Fully convolutional denoising autoencoder, trained on (corrupted, clean) pairs.

    The encoder is a stack of stride-2 convolutions (kernel 4, padding 1) followed by a
    kernel-3 convolution to ``code_channels`` channels: the code is a feature map at
    ``1 / 2**len(channels)`` of the input's resolution, flattened to
    ``[B, code_channels * L']`` by :meth:`encode`. The decoder mirrors it with transposed
    convolutions. There is no dense layer, so a peak is handled the same way wherever it
    sits, and the code can be about as large as the input: a denoising autoencoder needs
    no bottleneck, because the corruption, not the code size, stops it from learning the
    identity (Vincent et al. 2010). Sizes that are not divisible by ``2**len(channels)``
    are zero-padded at the end and the output cropped back, as in
    :class:`ConvAutoEncoder`.

    :class:`DenoisingAutoEncoder` corrupts its inputs itself with Gaussian or masking
    noise. Realistic corruption (counting statistics, a background) is simulated outside
    the model, so this one learns from pairs: ``loss(x, y)`` compares the reconstruction of
    the corrupted input ``x`` with the clean target ``y``. Train it with
    ``mu.fit(model, (X_noisy[:, None], X_clean), ...)``: the targets may be flattened to
    ``[N, prod(input_shape)]`` (``fit`` takes labels of shape ``[N]`` or ``[N, n]``) and are
    reshaped to the input's shape. Without ``y`` the loss is plain reconstruction.

    Args:
        input_shape (Sequence[int]): ``(C, L)`` for signals or ``(C, H, W)`` for images.
        channels (Sequence[int]): channels of the stride-2 convolutions, from the input
            inwards (at least one).
        code_channels (int): channels of the code's feature map.
        activation (str | None): activation after each hidden convolution.
        output_activation (str | None): ``None``, ``"sigmoid"`` or ``"softplus"``
            (non-negative intensities), see :class:`ConvAutoEncoder`.
        recon_loss (str): ``"mse"`` or ``"bce"``.

    Attributes:
        latent_dim (int): size of the flattened code, ``code_channels * prod(L')``.

    Example::

        model = ConvDenoisingAutoEncoder((1, 1401), channels=(16, 32), code_channels=4)
        terms = model.loss(torch.rand(4, 1, 1401), torch.rand(4, 1401))  # {"loss", "recon"}
        model.encode(torch.rand(4, 1, 1401)).shape                      # [4, 1408]
    """

    input_shape: Sequence[int] = (1, 1401)
    channels: Sequence[int] = (16, 32)
    code_channels: int = 4
    activation: str | None = "relu"
    output_activation: str | None = None
    recon_loss: str = "mse"

    supervised = True

    def __post_init__(self) -> None:
        super().__init__()
        shape = self.input_shape = _int_tuple(self.input_shape, "input_shape")
        channels = self.channels = _int_tuple(self.channels, "channels")
        layers = _ConvLayers(shape, channels, self.activation)
        if not channels:
            raise ValueError("channels must list at least one convolution, e.g. (16, 32)")
        self.code_channels = _positive_int(self.code_channels, "code_channels")
        _check_recon_loss(self.recon_loss, self.output_activation)
        self._code_shape = (self.code_channels, *layers.small)
        self.latent_dim = self.code_channels * math.prod(layers.small)
        conv, act = layers.conv, self.activation
        enc = [*layers.encoder(),
               conv(layers.c_last, self.code_channels, kernel_size=3, padding=1), nn.Flatten()]
        dec = [nn.Unflatten(1, self._code_shape),
               conv(self.code_channels, layers.c_last, kernel_size=3, padding=1),
               _activation(act), *layers.decoder(self.output_activation)]
        self.encoder = nn.Sequential(*enc)  # [B, latent_dim]
        self.decoder = nn.Sequential(*dec)  # [B, *input_shape]

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruction error of the clean target from the corrupted input.

        Args:
            x (Tensor): corrupted inputs, ``[B, *input_shape]``.
            y (Tensor | None): clean targets, ``[B, *input_shape]`` or flattened
                ``[B, prod(input_shape)]``; None uses ``x`` itself.

        Returns:
            dict[str, Tensor]: scalars ``"loss"`` and ``"recon"`` (equal, per element).

        Raises:
            ValueError: if ``y`` does not hold one target of ``input_shape`` per input.
        """
        if y is None:
            return super().loss(x)
        if y.shape[0] != x.shape[0] or y[0].numel() != math.prod(self.input_shape):
            raise ValueError(
                f"targets y must have shape [B, {', '.join(map(str, self.input_shape))}] or "
                f"[B, {math.prod(self.input_shape)}] with B={x.shape[0]}, got {list(y.shape)}"
            )
        rec = self._recon(self(x), y.reshape(x.shape))
        return {"loss": rec, "recon": rec}




@_model
class MultimodalAutoEncoder(BaseAutoEncoder):
    """One encoder per modality into a shared code; decoders rebuild every modality.

    The input ``x`` holds the modalities side by side (``modalities`` gives their numbers
    of columns, in order), e.g. a steel's composition (9 columns) then its processing
    (16 columns). Each modality ``m`` has its own :class:`Encoder` ``f_m``; the joint code
    is the mean of the modality codes, ``z = (1/M) sum_m f_m(x_m)``, and one
    :class:`Decoder` per modality rebuilds its columns from any code. The loss asks for the
    whole ``x`` back from the joint code *and* from every single-modality code:

    ``loss = recon(g(z), x) + cross_weight * (1/M) sum_m recon(g(f_m(x_m)), x)``

    so that a code computed from one modality alone lands where the joint code would, and
    the other modality can be predicted from it (:meth:`cross_predict`), in the spirit of
    the multimodal autoencoders of Ngiam et al. (2011), which zero one modality during
    training. All terms are per element (mean over the batch and the columns).

    Args:
        modalities (Sequence[int]): number of columns of each modality, >= 2 modalities.
        latent_dim (int): size of the shared code.
        hidden (Sequence[int] | int): hidden sizes of every encoder (decoders: reversed).
        activation (str | None): hidden activation.
        dropout (float): dropout in the encoders' hidden layers.
        cross_weight (float): weight of the single-modality reconstructions, >= 0
            (keyword-only).

    Example::

        model = MultimodalAutoEncoder((9, 16), latent_dim=4, hidden=(32,))
        terms = model.loss(torch.randn(8, 25))   # {"loss", "recon", "recon_joint", "cross"}
        proc = model.cross_predict(torch.randn(8, 9), source=0, target=1)   # [8, 16]
    """

    modalities: Sequence[int] = (1, 1)
    latent_dim: int = 4
    hidden: Sequence[int] | int = (32,)
    activation: str | None = "relu"
    dropout: float = 0.0
    _: KW_ONLY
    cross_weight: float = 1.0

    recon_loss = "mse"

    def __post_init__(self) -> None:
        super().__init__()
        sizes = self.modalities = _int_tuple(self.modalities, "modalities")
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"modalities must list the column counts of >= 2 modalities, got {sizes}"
            )
        self.latent_dim = _positive_int(self.latent_dim, "latent_dim")
        self.hidden = _int_tuple(self.hidden, "hidden")
        self.cross_weight = check_number(self.cross_weight, "cross_weight", low=0)
        self.encoders = nn.ModuleList(
            Encoder(n_features=s, latent_dim=self.latent_dim, hidden=self.hidden,
                    activation=self.activation, dropout=self.dropout)
            for s in sizes
        )  # fmt: skip
        self.decoders = nn.ModuleList(
            Decoder(latent_dim=self.latent_dim, n_features=s, hidden=self.hidden[::-1],
                    activation=self.activation)
            for s in sizes
        )  # fmt: skip
        self.dropout = self.encoders[0].dropout
        self.input_shape = (sum(sizes),)
        bounds = np.cumsum((0, *sizes))
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def _shape_hint(self) -> str:
        return f"modalities={self.modalities}: the columns of all modalities side by side"

    def _check_m(self, m: Any, name: str) -> int:
        return check_number(m, name, integer=True, low=0, high=len(self.modalities) - 1)

    def split(self, x: Tensor) -> list[Tensor]:
        """The columns of each modality: list of ``[B, modalities[m]]``."""
        return [x[:, s] for s in self._slices]

    def encode_modality(self, x_m: Tensor, m: int) -> Tensor:
        """Code of one modality alone.

        Args:
            x_m (Tensor): [B, modalities[m]].
            m (int): index of the modality.

        Returns:
            Tensor: [B, latent_dim].
        """
        m = self._check_m(m, "m")
        _check_tensor(x_m, (self.modalities[m],), f"modality {m} has {self.modalities[m]} columns")
        _check_dtype(x_m, self)
        return self.encoders[m](x_m)

    def encode(self, x: Tensor) -> Tensor:
        """Joint code: the mean of the modality codes.

        Args:
            x (Tensor): [B, sum(modalities)].

        Returns:
            Tensor: [B, latent_dim].
        """
        self._check_x(x)
        codes = [enc(part) for enc, part in zip(self.encoders, self.split(x), strict=True)]
        return torch.stack(codes).mean(dim=0)

    def decode(self, z: Tensor) -> Tensor:
        """Every modality from a code, side by side.

        Args:
            z (Tensor): [B, latent_dim].

        Returns:
            Tensor: [B, sum(modalities)].
        """
        self._check_z(z)
        return torch.cat([dec(z) for dec in self.decoders], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction from the joint code, [B, sum(modalities)]."""
        return self.decode(self.encode(x))

    def cross_predict(self, x_m: Tensor, source: int, target: int) -> Tensor:
        """Predict modality ``target`` from modality ``source`` alone.

        Args:
            x_m (Tensor): [B, modalities[source]].
            source (int): index of the given modality.
            target (int): index of the predicted modality.

        Returns:
            Tensor: [B, modalities[target]].
        """
        target = self._check_m(target, "target")
        return self.decoders[target](self.encode_modality(x_m, source))

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Joint plus cross-modal reconstruction.

        Args:
            x (Tensor): [B, sum(modalities)].
            y (Tensor | None): ignored (unsupervised model).

        Returns:
            dict[str, Tensor]: scalars ``"loss"``, ``"recon_joint"`` (from the joint code),
            ``"cross"`` (mean over the single-modality codes) and ``"recon"`` (=
            ``recon_joint``, per element, comparable with other models).
        """
        self._check_x(x)
        codes = [enc(part) for enc, part in zip(self.encoders, self.split(x), strict=True)]
        joint = mse(self.decode(torch.stack(codes).mean(dim=0)), x)
        cross = torch.stack([mse(self.decode(z), x) for z in codes]).mean()
        return {"loss": joint + self.cross_weight * cross, "recon_joint": joint,
                "cross": cross, "recon": joint}  # fmt: skip


MODELS["MultimodalAutoEncoder"] = MultimodalAutoEncoder
__all__ += ["MultimodalAutoEncoder"]

MODELS["ConvDenoisingAutoEncoder"] = ConvDenoisingAutoEncoder
__all__ += ["ConvDenoisingAutoEncoder"]
