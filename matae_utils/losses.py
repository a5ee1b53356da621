"""Loss functions shared by the models of :mod:`matae_utils.models`.

Every function takes tensors and returns tensors, so it can be used inside a model's
``loss`` method and backpropagated through. The conventions, stated once:

* ``mse`` and ``bce`` are elementwise losses reduced by ``reduction``:
  ``"mean"`` (over every element, the PyTorch default), ``"sum"`` (over every element),
  ``"per_sample"`` (summed over every dimension but the first, giving ``[B]``) or
  ``"none"`` (no reduction, same shape as the input).
* ``gaussian_kl`` returns one value per sample, ``[B]``.
* ``vae_loss`` returns a dict with a ``"loss"`` key (what the optimiser minimises) and one
  key per term, which :func:`matae_utils.training.fit` logs. Its ``"recon_sum"`` and
  ``"kl"`` are sums per sample (the ELBO's scale); its ``"recon"`` is the error per element,
  the scale of every other model's ``"recon"``.

Shapes are never broadcast: ``x_hat`` and ``x`` must have the same shape, otherwise a
``ValueError`` is raised (silent broadcasting of ``[B, 1]`` against ``[B]`` is a classic
source of wrong losses).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._checks import check_choice, check_number

__all__ = ["REDUCTIONS", "bce", "gaussian_kl", "mse", "vae_loss"]

#: Accepted values of the ``reduction`` argument.
REDUCTIONS = ("mean", "sum", "per_sample", "none")


def _check_pair(x_hat: Tensor, x: Tensor, name: str) -> None:
    if not isinstance(x_hat, Tensor) or not isinstance(x, Tensor):
        raise TypeError(
            f"{name}: expected two torch.Tensor, got {type(x_hat).__name__} and {type(x).__name__}"
        )
    if x_hat.shape != x.shape:
        raise ValueError(
            f"{name}: x_hat and x must have the same shape, got {list(x_hat.shape)} and "
            f"{list(x.shape)}"
        )
    if not (x_hat.is_floating_point() and x.is_floating_point()):
        raise TypeError(
            f"{name}: expected floating-point tensors, got {x_hat.dtype} and {x.dtype}; "
            "convert with .float()"
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "per_sample":
        if loss.dim() == 0:
            raise ValueError("reduction='per_sample' needs inputs with a batch dimension")
        return loss.reshape(loss.shape[0], -1).sum(dim=1)
    return loss  # "none"


def mse(x_hat: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error between a reconstruction and its target.

    Args:
        x_hat (Tensor): reconstruction, [B, ...].
        x (Tensor): target, same shape as ``x_hat``.
        reduction (str): ``"mean"``, ``"sum"``, ``"per_sample"`` or ``"none"``
            (see the module docstring).

    Returns:
        Tensor: a scalar, ``[B]`` for ``"per_sample"``, or ``[B, ...]`` for ``"none"``.

    Raises:
        ValueError: if the shapes differ or ``reduction`` is unknown.
        TypeError: if the inputs are not floating-point tensors.

    Example:
        >>> import torch
        >>> mse(torch.zeros(2, 3), torch.ones(2, 3), reduction="per_sample")
        tensor([3., 3.])
    """
    _check_pair(x_hat, x, "mse")
    check_choice(reduction, "reduction", REDUCTIONS)
    return _reduce((x_hat - x).pow(2), reduction)


def bce(x_hat: Tensor, x: Tensor, reduction: str = "mean", *, logits: bool = False) -> Tensor:
    """Binary cross-entropy for targets in [0, 1] (e.g. min-max scaled features, binary images).

    The targets may be any value in [0, 1], not only 0 or 1; the loss is then minimal (but not
    zero) at ``x_hat == x``.

    Args:
        x_hat (Tensor): predicted probabilities in [0, 1] (a decoder with
            ``output_activation="sigmoid"``), or unbounded logits if ``logits=True``; [B, ...].
        x (Tensor): targets in [0, 1], same shape as ``x_hat``.
        reduction (str): ``"mean"``, ``"sum"``, ``"per_sample"`` or ``"none"``.
        logits (bool): if True, ``x_hat`` holds logits and the numerically stable
            ``binary_cross_entropy_with_logits`` is used.

    Returns:
        Tensor: a scalar, ``[B]`` for ``"per_sample"``, or ``[B, ...]`` for ``"none"``.

    Raises:
        ValueError: if the shapes differ, a target or a probability lies outside [0, 1],
            or ``reduction`` is unknown.
        TypeError: if the inputs are not floating-point tensors.
    """
    _check_pair(x_hat, x, "bce")
    check_choice(reduction, "reduction", REDUCTIONS)
    if bool((x < 0).any() | (x > 1).any()):
        raise ValueError(
            "bce: targets must lie in [0, 1] (got min "
            f"{x.min().item():.3g}, max {x.max().item():.3g}); scale the data to [0, 1] "
            "(e.g. MinMaxScaler) or use the mse loss"
        )
    if logits:
        loss = F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")
    else:
        if bool((x_hat < 0).any() | (x_hat > 1).any()):
            raise ValueError(
                "bce: predictions must be probabilities in [0, 1]; use a decoder with "
                "output_activation='sigmoid', or pass logits=True for raw outputs"
            )
        loss = F.binary_cross_entropy(x_hat, x, reduction="none")
    return _reduce(loss, reduction)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """Closed-form KL divergence from a diagonal Gaussian to the standard normal.

    Computes ``KL(N(mu, diag(sigma^2)) || N(0, I))`` with ``sigma^2 = exp(logvar)``, i.e.
    ``0.5 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)``, summed over the latent
    dimensions.

    Args:
        mu (Tensor): posterior means, [B, latent_dim].
        logvar (Tensor): posterior log-variances, [B, latent_dim].

    Returns:
        Tensor: [B], the KL divergence of each sample (in nats, non-negative).

    Raises:
        ValueError: if ``mu`` and ``logvar`` have different shapes.

    Example:
        >>> import torch
        >>> gaussian_kl(torch.zeros(4, 2), torch.zeros(4, 2))
        tensor([0., 0., 0., 0.])
    """
    if mu.shape != logvar.shape:
        raise ValueError(
            f"gaussian_kl: mu and logvar must have the same shape, got {list(mu.shape)} and "
            f"{list(logvar.shape)}"
        )
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def vae_loss(
    x_hat: Tensor,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    beta: float = 1.0,
    recon: str = "mse",
) -> dict[str, Tensor]:
    """Negative evidence lower bound (ELBO) of a VAE, with a ``beta`` weight on the KL term.

    Convention: both terms of the loss are **summed over the features (or latent
    dimensions) of a sample and averaged over the batch**, so they are on the same
    per-sample scale and ``beta=1`` is the ELBO of the standard VAE. With ``recon="mse"``
    the reconstruction term ``"recon_sum"`` is the sum of squared errors, which is the
    Gaussian negative log-likelihood with fixed variance 1/2 up to a constant; with
    ``recon="bce"`` it is the Bernoulli negative log-likelihood. ``"recon_sum"`` is therefore
    ``n_features`` times larger than the per-element mean that
    :class:`~matae_utils.models.AutoEncoder` reports as ``"recon"``; the dict also holds that
    per-element ``"recon"`` (not part of the loss), so the two models compare directly.

    Args:
        x_hat (Tensor): reconstruction, [B, ...].
        x (Tensor): target, same shape as ``x_hat``.
        mu (Tensor): posterior means, [B, latent_dim].
        logvar (Tensor): posterior log-variances, [B, latent_dim].
        beta (float): weight of the KL term (``beta > 1`` favours disentangled, smoother
            latent spaces at the cost of reconstruction; ``beta < 1`` the opposite).
        recon (str): ``"mse"`` or ``"bce"``.

    Returns:
        dict[str, Tensor]: scalars ``"loss"`` (= recon_sum + beta * kl), ``"recon_sum"``
        and ``"kl"`` (per-sample sums, batch means), and ``"recon"`` (the reconstruction
        error per element, = recon_sum / elements per sample).

    Raises:
        ValueError: if ``recon`` is unknown, ``beta`` is negative, or shapes disagree.
    """
    check_number(beta, "beta", low=0)
    per_sample = {"mse": mse, "bce": bce}[check_choice(recon, "recon", ("mse", "bce"))]
    rec_sum = per_sample(x_hat, x, reduction="per_sample").mean()
    if mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"vae_loss: mu has batch size {mu.shape[0]} but x has batch size {x.shape[0]}"
        )
    kl = gaussian_kl(mu, logvar).mean()
    recon = rec_sum / x[0].numel()
    return {"loss": rec_sum + beta * kl, "recon_sum": rec_sum, "kl": kl, "recon": recon}
