r"""Interpreting autoencoders: latent traversals and integrated gradients.

Two questions a materials scientist asks of a trained model:

* *What does a code dimension mean?* Move along it and decode (a **latent traversal**,
  :func:`latent_traversal`), then read the decoded inputs in physical units (wt%, degrees
  Celsius) through the inverse of the scaler the data were standardised with.
* *Which inputs drive an output?* (a code dimension, or a property predicted from the
  code). **Integrated gradients** (Sundararajan, Taly and Yan 2017) attribute the change
  of a scalar output :math:`F` between a baseline input :math:`x'` and the input
  :math:`x` to the input features:

  .. math::

      \mathrm{IG}_j(x) = (x_j - x'_j) \int_0^1
      \frac{\partial F}{\partial x_j}\big(x' + \alpha (x - x')\big)\, d\alpha ,

  estimated here with the trapezoidal rule on ``n_steps`` intervals. The attributions
  add up to the change of the output (**completeness**),
  :math:`\sum_j \mathrm{IG}_j = F(x) - F(x')`, up to the quadrature error that
  :func:`integrated_gradients` returns as ``delta``.

The functions take a plain callable ``fn`` from a batch of inputs ``[B, d]`` to one output
per row ``[B]`` (e.g. ``lambda x: model.encode(x)[:, 0]``), so they work with any model of
the package. Captum (``captum.attr.IntegratedGradients``) implements the same method with
more options; this short version keeps the book's dependencies light and is tested
against finite differences and the completeness axiom (``tests/test_interpret.py``).

References:
    Sundararajan, M., Taly, A. and Yan, Q. (2017). Axiomatic attribution for deep
    networks. Proceedings of the 34th International Conference on Machine Learning,
    PMLR 70, 3319-3328.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._checks import as_array, check_number

__all__ = ["integrated_gradients", "latent_traversal", "input_gradients"]


def _as_input(x: Any, name: str, dtype: torch.dtype) -> Tensor:
    arr = as_array(x, name, ndim=2, dtype=np.float64)
    return torch.as_tensor(arr, dtype=dtype)


def _scalar_outputs(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    out = fn(x)
    if not isinstance(out, Tensor):
        raise TypeError(f"fn must return a Tensor, got {type(out).__name__}")
    if out.dim() == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (x.shape[0],):
        raise ValueError(
            f"fn must return one scalar per input row, shape [{x.shape[0]}] (or "
            f"[{x.shape[0]}, 1]); got {list(out.shape)}. Select an output, e.g. "
            "lambda x: model.encode(x)[:, 0]"
        )
    return out


def input_gradients(fn: Callable[[Tensor], Tensor], x: Any, *, dtype: torch.dtype = torch.float32
                    ) -> np.ndarray:
    """Gradient of a scalar output with respect to each input row.

    Args:
        fn (callable): ``[B, d] -> [B]`` (one output per row, rows independent).
        x (array-like): inputs [B, d].
        dtype (torch.dtype): dtype the inputs are given to ``fn`` in (the model's).

    Returns:
        np.ndarray: float64 [B, d], ``dF/dx`` at each row.
    """
    xt = _as_input(x, "x", dtype).requires_grad_(True)
    out = _scalar_outputs(fn, xt)
    (grad,) = torch.autograd.grad(out.sum(), xt)
    return grad.detach().cpu().numpy().astype(np.float64)


def integrated_gradients(
    fn: Callable[[Tensor], Tensor],
    x: Any,
    *,
    baseline: Any | None = None,
    n_steps: int = 64,
    dtype: torch.dtype = torch.float32,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Integrated-gradients attributions of a scalar output to the input features.

    Args:
        fn (callable): ``[B, d] -> [B]`` (or ``[B, 1]``): one output per input row, rows
            independent (a model in eval mode: no batch-norm statistics, no dropout).
        x (array-like): inputs [B, d].
        baseline (array-like, optional): reference input [d] or [B, d]; default zeros
            (the training mean for standardised descriptors).
        n_steps (int): trapezoidal intervals along the straight path, >= 1.
        dtype (torch.dtype): dtype the inputs are given to ``fn`` in (the model's).

    Returns:
        tuple: ``(attributions, delta)``: float64 [B, d] (in the units of the output)
        and float64 [B], ``sum_j attributions - (F(x) - F(baseline))``, the completeness
        error of the quadrature (shrinks as ``n_steps`` grows).

    Raises:
        TypeError: if ``fn`` does not return a tensor.
        ValueError: for NaN inputs, a baseline of the wrong shape or an output that is not
            one scalar per row.

    Example::

        attr, delta = integrated_gradients(lambda x: net(x)[:, 0], X_test[:5])
        attr.sum(axis=1)   # = net(X_test[:5]) - net(0), up to delta
    """
    n_steps = check_number(n_steps, "n_steps", integer=True, low=1)
    xt = _as_input(x, "x", dtype)
    if baseline is None:
        base = torch.zeros_like(xt)
    else:
        b = as_array(baseline, "baseline", dtype=np.float64)
        if b.shape == (xt.shape[1],):
            b = np.broadcast_to(b, xt.shape)
        if b.shape != tuple(xt.shape):
            raise ValueError(
                f"baseline must have shape [{xt.shape[1]}] or {list(xt.shape)}, got {list(b.shape)}"
            )
        base = torch.as_tensor(np.array(b), dtype=dtype)  # a copy: b may be a read-only view
    alphas = torch.linspace(0.0, 1.0, n_steps + 1, dtype=dtype)  # [S + 1]
    weights = torch.full((n_steps + 1,), 1.0 / n_steps, dtype=torch.float64)
    weights[0] = weights[-1] = 0.5 / n_steps  # trapezoidal rule
    diff = xt - base  # [B, d]
    B, d = xt.shape
    path = (base[None] + alphas[:, None, None] * diff[None]).reshape(-1, d)  # [(S+1) B, d]
    path.requires_grad_(True)
    out = _scalar_outputs(fn, path)  # [(S+1) B]
    (grad,) = torch.autograd.grad(out.sum(), path)
    grad = grad.detach().to(torch.float64).reshape(n_steps + 1, B, d)
    avg = (weights[:, None, None] * grad).sum(dim=0)  # [B, d]
    attributions = (avg * diff.to(torch.float64)).cpu().numpy()
    ends = out.detach().to(torch.float64).reshape(n_steps + 1, B)
    delta = attributions.sum(axis=1) - (ends[-1] - ends[0]).cpu().numpy()
    return attributions, delta


@torch.no_grad()
def latent_traversal(model: torch.nn.Module, z: Any, dim: int, values: Any) -> np.ndarray:
    """Decode a code with one dimension swept over ``values`` (the others held fixed).

    Args:
        model (nn.Module): a model with ``decode(z)`` and ``latent_dim``.
        z (array-like): the starting code [latent_dim] (e.g. the mean code of the data).
        dim (int): the code dimension to sweep, in ``[0, latent_dim)``.
        values (array-like): the values given to ``z[dim]`` [T].

    Returns:
        np.ndarray: float64 ``[T, *input_shape]``, the decoded inputs (in the model's
        units; apply the inverse of the data scaler for physical units).

    Raises:
        ValueError: for a code of the wrong size or a dimension out of range.
    """
    k = int(model.latent_dim)
    z0 = as_array(z, "z", ndim=1, dtype=np.float64)
    if z0.shape != (k,):
        raise ValueError(f"z must have latent_dim={k} entries, got {z0.shape[0]}")
    dim = check_number(dim, "dim", integer=True, low=0, high=k - 1)
    vals = as_array(values, "values", ndim=1, dtype=np.float64)
    codes = np.repeat(z0[None], len(vals), axis=0)
    codes[:, dim] = vals
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        out = model.decode(torch.as_tensor(codes, dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
    return out.cpu().numpy().astype(np.float64)
