"""The training loop of the book, batched inference helpers and checkpoints.

:func:`fit` trains any model of :mod:`matae_utils.models` (or any ``nn.Module`` with a
``loss(x, y=None) -> dict`` method): mini-batches with seeded shuffling, every loss term
logged per epoch in a :class:`History`, early stopping on the validation loss, and the best
weights restored at the end. :func:`encode`, :func:`reconstruct` and :func:`predict` run a
trained model over a whole array (numpy in, numpy out). :func:`save_checkpoint` and
:func:`load_checkpoint` store a model as its class name, constructor arguments and weights,
loadable with ``torch.load(..., weights_only=True)``; :func:`load_pretrained` loads the small
checkpoints shipped with the package.

Example::

    model = AutoEncoder(n_features=X.shape[1], latent_dim=2)
    history = fit(model, X_train, X_val, epochs=200, patience=20, seed=0)
    Z = encode(model, X_test)  # np.ndarray [N, 2]
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ._checks import as_array, check_choice, check_finite, check_number, close_matches_hint

__all__ = [
    "History",
    "checkpoint_info",
    "decode",
    "encode",
    "fit",
    "get_device",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "predict",
    "pretrained_path",
    "reconstruct",
    "save_checkpoint",
]

#: Where the pretrained checkpoints shipped with the package live.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

ArrayLike = Tensor | np.ndarray | pd.DataFrame
TrainData = ArrayLike | tuple | Dataset

#: Optimisers of :func:`fit` by name (SGD with momentum 0.9).
_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": lambda params, **kw: torch.optim.SGD(params, momentum=0.9, **kw),
}


# --------------------------------------------------------------------------- history
@dataclass(repr=False)
class History:
    """What happened during :func:`fit`.

    Epochs are counted from 0, so ``history.val["loss"][history.best_epoch]`` is the best
    validation loss.

    Attributes:
        train (dict[str, list[float]]): each loss term (``"loss"``, ``"recon"``, ``"kl"``...)
            per epoch on the training data, the sample-weighted mean over the epoch's
            mini-batches (computed while the weights were changing). Mind the scales:
            ``"recon"`` is the reconstruction error **per element** for every model, so it
            compares across models; a VAE's ``"loss"``, ``"recon_sum"`` and ``"kl"`` are
            **sums per sample** (the ELBO's scale, ``n_features`` times larger).
        val (dict[str, list[float]]): the same terms on the validation data after each
            epoch, in eval mode; empty without validation data.
        best_epoch (int): the epoch whose weights the model holds at the end (lowest
            validation loss, or the last epoch without validation data).
        stopped_early (bool): whether early stopping ended training before ``epochs``.
        seconds (float): wall-clock training time.
    """

    train: dict[str, list[float]] = field(default_factory=dict)
    val: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def n_epochs(self) -> int:
        """Number of epochs actually run."""
        return len(self.train.get("loss", []))

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch, one column per term: ``train_loss``, ``val_loss``, ...

        Returns:
            pandas.DataFrame: indexed by ``epoch`` (from 0).
        """
        cols = {f"train_{k}": v for k, v in self.train.items()}
        cols.update({f"val_{k}": v for k, v in self.val.items()})
        frame = pd.DataFrame(cols)
        frame.index.name = "epoch"
        return frame

    def __repr__(self) -> str:
        return (
            f"History(n_epochs={self.n_epochs}, best_epoch={self.best_epoch}, "
            f"stopped_early={self.stopped_early}, seconds={self.seconds:.2f}, "
            f"terms={list(self.train)})"
        )


# --------------------------------------------------------------------------- devices
def get_device(device: str | torch.device = "auto") -> torch.device:
    """Pick the device to compute on.

    Args:
        device (str | torch.device): ``"auto"`` (CUDA if available, then Apple MPS, then
            CPU), or an explicit device such as ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    Returns:
        torch.device: the device.

    Raises:
        ValueError: if the name is not a device, or the requested accelerator is not
            available on this machine.
    """
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'auto'")
    if dev.type == "mps" and not mps_ok:
        raise ValueError(f"device {device!r} requested but Apple MPS is not available")
    return dev


def _fork_rng(device: torch.device):
    """Fork the global RNGs that training on ``device`` touches, restoring them afterwards."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.random.fork_rng(devices=[index], device_type="cuda")
    return torch.random.fork_rng(devices=[], device_type="cuda")


# --------------------------------------------------------------------------- data
def _model_dtype(model: nn.Module) -> torch.dtype:
    param = next(model.parameters(), None)
    if param is None:
        raise ValueError(f"{type(model).__name__} has no parameters to train or run")
    return param.dtype


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _to_tensor(data: Any, name: str, dtype: torch.dtype, allow_nan: bool = False) -> Tensor:
    """Array-like -> CPU tensor of ``dtype``; NaN (unless ``allow_nan``) and inf are errors."""
    arr = as_array(data, name, allow_nan=True)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real-valued, got {arr.dtype}")
    check_finite(arr, name, allow_nan=allow_nan)
    if not arr.flags.writeable:  # torch warns on read-only arrays (e.g. memmaps)
        arr = arr.copy()
    return torch.from_numpy(arr).to(dtype)


def _prepare(
    data: Any, name: str, model: nn.Module, device: torch.device
) -> tuple[Tensor, Tensor | None] | Dataset:
    """Validate ``train``/``val`` data (an array, a tuple (X, y) or a Dataset); move arrays."""
    if isinstance(data, Dataset):
        return data
    dtype = _model_dtype(model)
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"{name} as a tuple must be (X, y), got a tuple of length {len(data)}")
        if getattr(model, "supervised", None) is False:
            raise ValueError(
                f"{type(model).__name__} is unsupervised but (X, y) was given; pass X only "
                "(use SemiSupervisedAutoEncoder to learn from labels)"
            )
        X = _to_tensor(data[0], f"{name} X", dtype)
        y = _to_tensor(data[1], f"{name} y", dtype, allow_nan=True)
        if y.dim() not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} y must have shape [N] or [N, n_targets] with N={X.shape[0]} rows like "
                f"X, got {list(y.shape)}"
            )
    else:
        X, y = _to_tensor(data, f"{name} X", dtype), None
    name = f"{name} X"
    if X.dim() < 2:
        raise ValueError(
            f"{name} must have shape [N, n_features] (or [N, C, ...] for images), got "
            f"{list(X.shape)}; reshape a single sample with X[None]"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    return X.to(device), (None if y is None else y.to(device))  # small data: move once


def _batches(
    data: tuple[Tensor, Tensor | None] | Dataset,
    batch_size: int,
    shuffle: bool,
    gen: torch.Generator,
    device: torch.device,
    dtype: torch.dtype,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Mini-batches of ``data``. ``shard=(rank, world)`` gives this process its share of one
    permutation that every process draws alike (as ``DistributedSampler`` does): padded by
    wrapping around to a multiple of ``world``, so every process gets as many batches."""
    rank, world = shard
    if isinstance(data, tuple):
        X, y = data
        order = torch.randperm(len(X), generator=gen) if shuffle else torch.arange(len(X))
        if world > 1:  # training pads so that every process takes as many steps
            pad = -len(order) % world if shuffle else 0
            order = torch.cat([order, order[:pad]])[rank::world]
        for idx in order.to(X.device).split(batch_size):
            yield X[idx], (None if y is None else y[idx])
        return
    if isinstance(data, IterableDataset):
        # a stream (e.g. chunks read from disk) orders, shuffles and, under DDP, shards itself
        loader: Any = DataLoader(data, batch_size=batch_size)
        yield from _loader_batches(loader, device, dtype)
        return
    sampler = None
    if world > 1:
        from torch.utils.data.distributed import DistributedSampler

        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))  # alike on every rank
        sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=shuffle,
                                     seed=seed)
    loader = DataLoader(data, batch_size=batch_size, shuffle=shuffle and sampler is None,
                        generator=gen if sampler is None else None, sampler=sampler)
    yield from _loader_batches(loader, device, dtype)


def _loader_batches(
    loader: DataLoader, device: torch.device, dtype: torch.dtype
) -> Iterator[tuple[Tensor, Tensor | None]]:
    for item in loader:
        if isinstance(item, (tuple, list)):
            if len(item) == 1:  # e.g. TensorDataset(X)
                item = item[0]
            elif len(item) == 2:
                xb, yb = item
                yield xb.to(device, dtype), yb.to(device, dtype)
                continue
            else:
                raise ValueError(
                    f"a Dataset must yield x, (x,) or (x, y), got items of length {len(item)}"
                )
        if not isinstance(item, Tensor):
            raise TypeError(f"a Dataset must yield tensors, got {type(item).__name__}")
        yield item.to(device, dtype), None


class _LossCall(nn.Module):
    """Calls ``model.loss`` from ``forward``, so that DistributedDataParallel, which hooks
    into ``forward``, can wrap a model whose training objective is its ``loss`` method."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, y: Tensor | None = None) -> Mapping[str, Tensor]:
        return self.model.loss(x) if y is None else self.model.loss(x, y)


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of an initialised ``torch.distributed`` process group, else
    ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_means(terms: dict[str, float], n_seen: int) -> dict[str, float]:
    """Means over every process: the per-process means weighted by their sample counts."""
    import torch.distributed as dist

    keys = sorted(terms)
    sums = torch.tensor([terms[k] * n_seen for k in keys] + [float(n_seen)], dtype=torch.float64)
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    sums = sums.to(backend_device)
    dist.all_reduce(sums)
    return {k: float(v) / float(sums[-1]) for k, v in zip(keys, sums[:-1].tolist(), strict=True)}


def _run_epoch(
    model: nn.Module,
    batches: Iterator[tuple[Tensor, Tensor | None]],
    optimizer: torch.optim.Optimizer | None,
    epoch: int,
    lr: float,
    step: nn.Module | None = None,
) -> tuple[dict[str, float], int]:
    """One pass over the data; trains if ``optimizer`` is given. Returns the mean terms and
    the number of samples seen. ``step`` (a DDP-wrapped :class:`_LossCall`) computes the
    loss instead of ``model.loss`` when training is distributed."""
    totals: dict[str, Tensor] = {}
    n_seen = 0
    for i, (xb, yb) in enumerate(batches):
        if yb is not None and getattr(model, "supervised", None) is False:
            raise ValueError(
                f"{type(model).__name__} is unsupervised but the data has labels; pass X "
                "only (use SemiSupervisedAutoEncoder to learn from labels)"
            )
        if step is not None:
            terms = step(xb) if yb is None else step(xb, yb)
        else:
            terms = model.loss(xb) if yb is None else model.loss(xb, yb)
        if not isinstance(terms, Mapping) or "loss" not in terms:
            raise TypeError(
                f"{type(model).__name__}.loss must return a dict with a 'loss' key, got "
                f"{type(terms).__name__}"
            )
        loss = terms["loss"]
        if not bool(torch.isfinite(loss)):
            phase = "training" if optimizer is not None else "validation"
            raise RuntimeError(
                f"the {phase} loss became {loss.item()} at epoch {epoch}, batch {i}; lower "
                f"the learning rate (lr={lr:g} now), check that the data are scaled "
                "(e.g. standardised) and free of NaN, or add weight_decay"
            )
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        bs = xb.shape[0]
        n_seen += bs
        for key, value in terms.items():
            value = value.detach() * bs
            totals[key] = totals[key] + value if key in totals else value
    if n_seen == 0:
        raise ValueError("the data yielded no batches")
    return {key: float(total) / n_seen for key, total in totals.items()}, n_seen


# --------------------------------------------------------------------------- fit
def fit(
    model: nn.Module,
    train: TrainData,
    val: TrainData | None = None,
    *,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = None,
    device: str | torch.device = "auto",
    seed: int | None = 0,
    progress: bool = True,
    optimizer: str = "adam",
) -> History:
    """Train a model by mini-batch gradient descent on its ``loss``.

    Every epoch shuffles the training data (with a generator seeded by ``seed``), takes one
    optimiser step per mini-batch on ``model.loss(x)`` (or ``model.loss(x, y)``), and logs
    each term of the returned dict. With validation data, the model is evaluated after each
    epoch (in eval mode, without gradients); the weights with the lowest validation
    ``"loss"`` are restored at the end, and with ``patience`` training stops after that many
    epochs without improvement. Without validation data the model keeps its last weights.

    Training is reproducible: on the CPU, the same initial weights, data and ``seed`` give
    identical weights. The global random state (used for dropout, denoising noise and the
    VAE's sampling) is seeded inside ``fit`` and restored on exit, so with an int ``seed``
    calling ``fit`` does not change the random numbers drawn afterwards. The initial
    weights are not touched by ``seed``: they come from the model's construction (seed that
    with ``torch.manual_seed`` or ``matae_utils.set_seed``).

    Inside an initialised ``torch.distributed`` process group (e.g. a script launched with
    ``torchrun --nproc_per_node=N``), the same call trains with PyTorch's
    DistributedDataParallel: every process takes its share of each epoch's permutation
    (``batch_size`` is per process, so the global batch is ``N * batch_size``), gradients are
    averaged across processes at every step, and the logged training and validation losses
    are averaged over all processes, so early stopping takes the same decision everywhere
    and every process ends with the same weights. Only rank 0 shows a progress bar. See
    :mod:`matae_utils.distributed` for a complete script.

    The model trains on ``device`` and is moved back to the device it came in on when
    ``fit`` returns (also after an error), so ``model.encode(torch.from_numpy(X))`` works
    after training on a GPU. To keep it on the GPU, move it there yourself first
    (``model.to(device)``): it then comes in, and stays, on that device.

    Args:
        model (nn.Module): a model with ``loss(x, y=None) -> dict`` containing ``"loss"``.
        train: the training data, one of: a Tensor or array ``[N, ...]`` (unsupervised); a
            tuple ``(X, y)`` with ``y`` of shape ``[N]`` or ``[N, n_targets]`` where NaN marks
            a missing label (semi-supervised models only); or a
            ``torch.utils.data.Dataset`` yielding ``x`` or ``(x, y)`` (a map-style one, e.g.
            over a memory-mapped array, is shuffled with the seeded generator; an
            ``IterableDataset``, e.g. chunks streamed from disk, is taken in the order it
            yields and must shuffle, and under DDP shard, itself). Arrays and tensors are
            converted to the model's dtype (float32 by default).
        val: validation data in the same form, or None.
        epochs (int): maximum number of passes over the training data.
        batch_size (int): mini-batch size.
        lr (float): learning rate.
        weight_decay (float): L2 penalty passed to the optimiser.
        patience (int | None): stop after this many epochs without a lower validation
            loss; None trains for all ``epochs``. Needs ``val``.
        device (str | torch.device): where to train, see :func:`get_device`; the model
            returns to its own device afterwards.
        seed (int | None): seed of the shuffling and of the global random state during
            training; None draws one from PyTorch's global generator (so it follows
            ``torch.manual_seed``), advancing it.
        progress (bool): show a progress bar over epochs (``tqdm.auto``).
        optimizer (str): ``"adam"``, ``"adamw"`` or ``"sgd"`` (with momentum 0.9).

    Returns:
        History: the per-epoch losses, best epoch and timing. The model itself is trained
        in place and left in eval mode, on the device it had before the call.

    Raises:
        ValueError: for invalid settings, data with NaN or inf values (NaN is allowed in
            ``y`` only), labels given to an unsupervised model, or ``patience`` without
            ``val``.
        RuntimeError: if the loss becomes NaN or infinite during training.

    Example::

        model = VAE(n_features=X.shape[1], latent_dim=2)
        history = fit(model, X_train, X_val, epochs=300, patience=30, seed=0)
        history.to_frame().plot(logy=True)
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "loss", None)):
        raise TypeError(
            f"fit expects an nn.Module with a loss(x, y=None) method, got {type(model).__name__}"
        )
    check_number(epochs, "epochs", integer=True, low=1)
    check_number(batch_size, "batch_size", integer=True, low=1)
    check_number(lr, "lr", low=0, low_inclusive=False)
    check_number(weight_decay, "weight_decay", low=0)
    if patience is not None:
        check_number(patience, "patience", integer=True, low=1)
        if val is None:
            raise ValueError(
                f"patience={patience} needs validation data; pass val or set patience=None"
            )
    if seed is not None:
        check_number(seed, "seed", integer=True, low=0)
    check_choice(optimizer, "optimizer", _OPTIMIZERS)

    dev, home = get_device(device), _model_device(model)
    dtype = _model_dtype(model)
    train_data = _prepare(train, "train", model, dev)
    val_data = None if val is None else _prepare(val, "val", model, dev)

    model.to(dev)
    rank, world = _distributed()
    step = None
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # broadcasts rank 0's weights at construction, then averages gradients every step
        step = DistributedDataParallel(
            _LossCall(model), device_ids=[dev.index or 0] if dev.type == "cuda" else None)
        progress = progress and rank == 0
    opt = _OPTIMIZERS[optimizer](model.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    history = History()
    best_loss, best_state, stale = math.inf, None, 0
    start = time.perf_counter()
    bar = None
    if seed is None:  # drawn outside the fork, so successive calls get different seeds
        seed = int(torch.randint(0, 2**31 - 1, (1,)))
    try:
        with _fork_rng(dev):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            epoch_iter: Any = range(epochs)
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(epoch_iter, desc=f"fit {type(model).__name__}", unit="epoch")
                epoch_iter = bar
            for epoch in epoch_iter:
                model.train()
                batches = _batches(train_data, batch_size, True, gen, dev, dtype, (rank, world))
                tr, n_tr = _run_epoch(model, batches, opt, epoch, float(lr), step)
                if world > 1:
                    tr = _all_reduce_means(tr, n_tr)
                for key, value in tr.items():
                    history.train.setdefault(key, []).append(value)
                postfix = {key: f"{value:.4g}" for key, value in tr.items()}
                if val_data is not None:
                    model.eval()
                    with torch.no_grad():
                        batches = _batches(val_data, batch_size, False, gen, dev, dtype,
                                           (rank, world))
                        va, n_va = _run_epoch(model, batches, None, epoch, float(lr))
                    if world > 1:
                        va = _all_reduce_means(va, n_va)
                    for key, value in va.items():
                        history.val.setdefault(key, []).append(value)
                    postfix["val_loss"] = f"{va['loss']:.4g}"
                    if va["loss"] < best_loss:
                        best_loss, stale = va["loss"], 0
                        history.best_epoch = epoch
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    else:
                        stale += 1
                else:
                    history.best_epoch = epoch
                if bar is not None:
                    bar.set_postfix(postfix, refresh=False)
                if patience is not None and stale >= patience:
                    history.stopped_early = epoch < epochs - 1
                    break
    finally:
        if bar is not None:
            bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval().to(home)
        history.seconds = time.perf_counter() - start
    return history


# --------------------------------------------------------------------------- inference
@torch.no_grad()
def _apply(
    model: nn.Module, X: ArrayLike, method: str, batch_size: int, device: str | torch.device
) -> np.ndarray:
    """Run ``model.<method>`` over ``X`` in batches on ``device``, restoring mode and device."""
    if not callable(getattr(model, method, None)):
        raise TypeError(f"{type(model).__name__} has no {method}() method")
    check_number(batch_size, "batch_size", integer=True, low=1)
    dev, home, dtype = get_device(device), _model_device(model), _model_dtype(model)
    name = "Z" if method == "decode" else "X"
    X_t = _to_tensor(X, name, dtype)
    if X_t.dim() < 2 or X_t.shape[0] == 0:
        raise ValueError(f"{name} must have shape [N, ...] with N >= 1, got {list(X_t.shape)}")
    was_training = model.training
    model.eval().to(dev)
    try:
        fn = getattr(model, method)
        out = [fn(X_t[i : i + batch_size].to(dev)).cpu() for i in range(0, len(X_t), batch_size)]
    finally:
        model.train(was_training).to(home)
    return torch.cat(out).numpy()


def encode(
    model: nn.Module,
    X: ArrayLike,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Latent codes of a whole data set, in batches, in eval mode, without gradients.

    Args:
        model (nn.Module): a model with an ``encode`` method (a VAE gives posterior means).
        X (Tensor | np.ndarray | pandas.DataFrame): [N, n_features] (or [N, C, ...]).
        batch_size (int): rows per forward pass (only memory depends on it).
        device (str | torch.device): where to compute (see :func:`get_device`); the
            model is moved there for the call and back to its own device afterwards.

    Returns:
        np.ndarray: [N, latent_dim], in the model's dtype.
    """
    return _apply(model, X, "encode", batch_size, device)


def decode(
    model: nn.Module,
    Z: ArrayLike,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Decode a whole array of latent codes (e.g. a grid over the latent plane).

    Args:
        model (nn.Module): a model with a ``decode`` method.
        Z (Tensor | np.ndarray | pandas.DataFrame): [N, latent_dim].
        batch_size (int): rows per forward pass.
        device (str | torch.device): where to compute; the model returns to its device.

    Returns:
        np.ndarray: ``[N, *input_shape]``.
    """
    return _apply(model, Z, "decode", batch_size, device)


def reconstruct(
    model: nn.Module,
    X: ArrayLike,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Reconstructions ``model(X)`` of a whole data set, in batches, without gradients.

    Args:
        model (nn.Module): an autoencoder (its ``forward`` returns the reconstruction).
        X (Tensor | np.ndarray | pandas.DataFrame): [N, n_features] (or [N, C, ...]).
        batch_size (int): rows per forward pass.
        device (str | torch.device): where to compute; the model returns to its device.

    Returns:
        np.ndarray: same shape as ``X``.
    """
    return _apply(model, X, "forward", batch_size, device)


def predict(
    model: nn.Module,
    X: ArrayLike,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Property predictions of a model with a ``predict`` method (semi-supervised).

    Args:
        model (nn.Module): e.g. a :class:`~matae_utils.models.SemiSupervisedAutoEncoder`.
        X (Tensor | np.ndarray | pandas.DataFrame): [N, n_features].
        batch_size (int): rows per forward pass.
        device (str | torch.device): where to compute; the model returns to its device.

    Returns:
        np.ndarray: [N, n_targets].
    """
    return _apply(model, X, "predict", batch_size, device)


# --------------------------------------------------------------------------- checkpoints
def _plain(obj: Any, where: str) -> Any:
    """Copy ``obj`` keeping only what ``torch.load(weights_only=True)`` accepts."""
    if obj is None:
        return obj
    for kind in (bool, int, float, str):  # also turns subclasses (e.g. TorchVersion) plain
        if isinstance(obj, kind):
            return kind(obj)
    if isinstance(obj, np.generic) and not isinstance(obj, (np.str_, np.bytes_, np.void)):
        return obj.item()  # numpy scalar -> the same Python number
    if isinstance(obj, Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict keys must be str, got {key!r}")
            out[key] = _plain(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    hint = " (convert with .tolist() or torch.as_tensor)" if isinstance(obj, np.ndarray) else ""
    raise TypeError(
        f"{where} is a {type(obj).__name__}{hint}; a checkpoint may hold only tensors, "
        "numbers, strings, None, lists, tuples and dicts with str keys, because it is "
        "loaded with torch.load(weights_only=True)"
    )


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    *,
    history: History | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save a model as class name + constructor arguments + weights.

    The file is a plain dict ``{"format", "class", "config", "state_dict", "metadata",
    "history", "versions"}`` of tensors and plain containers, so it loads with
    ``torch.load(path, weights_only=True)`` and :func:`load_checkpoint` can rebuild the
    model without unpickling code. Numpy scalars in ``metadata`` are stored as Python numbers.

    Args:
        model (nn.Module): a model of :mod:`matae_utils.models` (or a class registered with
            :func:`matae_utils.models.register_model`) with a ``config`` dict.
        path (str | Path): destination file (``.pt`` by convention); parent folders are
            created.
        history (History | None): training history to store alongside.
        metadata (Mapping | None): anything else worth keeping (data set, scaling,
            metrics...), made of numbers, strings, lists, dicts and tensors.

    Returns:
        Path: the path written.

    Raises:
        TypeError: if the model has no ``config`` dict, or ``metadata`` holds objects
            that ``weights_only`` loading would refuse.
    """
    from . import __version__

    config = getattr(model, "config", None)
    if not isinstance(model, nn.Module) or not isinstance(config, Mapping):
        raise TypeError(
            f"save_checkpoint needs a matae_utils model with a .config dict, got "
            f"{type(model).__name__}; for other modules save model.state_dict() with torch.save"
        )
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    payload = {
        "format": "matae-checkpoint-1",
        "class": type(model).__name__,
        "config": _plain(dict(config), "config"),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "metadata": _plain(dict(metadata or {}), "metadata"),
        "history": None if history is None else _plain(dataclasses.asdict(history), "history"),
        "versions": {"matae_utils": str(__version__), "torch": str(torch.__version__)},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def _read(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} was refused by torch.load(weights_only=True): it holds objects other "
            "than tensors and plain containers, so it is not a matae checkpoint and loading "
            "it could run arbitrary code"
        ) from err
    missing = {"class", "config", "state_dict"} - set(payload if isinstance(payload, dict) else ())
    if missing:
        raise ValueError(
            f"{path} is not a matae checkpoint (missing {sorted(missing)}); was it written "
            "by save_checkpoint?"
        )
    return payload


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """Everything in a checkpoint except the weights.

    Args:
        path (str | Path): a file written by :func:`save_checkpoint`.

    Returns:
        dict: ``"class"``, ``"config"``, ``"metadata"``, ``"versions"`` and ``"history"``
        (a :class:`History` or None).
    """
    payload = _read(path)
    hist = payload.get("history")
    return {
        "class": payload["class"],
        "config": payload["config"],
        "metadata": payload.get("metadata", {}),
        "versions": payload.get("versions", {}),
        "history": None if hist is None else History(**hist),
    }


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_checkpoint`.

    The file is read with ``torch.load(path, weights_only=True)``, so a file holding
    arbitrary pickled objects is refused rather than executed.

    Args:
        path (str | Path): the checkpoint file.
        map_location (str | torch.device): device to load the weights and the model onto.

    Returns:
        nn.Module: the model, in eval mode on ``map_location``.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the file is not a safe matae checkpoint, or names a model class
            that is not registered in :data:`matae_utils.models.MODELS`.
    """
    from .models import MODELS

    payload = _read(path, map_location)
    name = payload["class"]
    cls = MODELS.get(name)
    if cls is None:
        raise ValueError(
            f"{path} holds a {name!r}, which is not a known model class "
            f"({sorted(MODELS)}).{close_matches_hint(name, MODELS)} Register custom classes "
            "with matae_utils.models.register_model"
        )
    model = cls(**payload["config"])
    model.load_state_dict(payload["state_dict"])
    return model.to(map_location).eval()


def list_pretrained() -> list[str]:
    """Names of the pretrained checkpoints shipped in ``matae_utils/weights``.

    Returns:
        list[str]: sorted names, usable with :func:`load_pretrained`.
    """
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def load_pretrained(name: str, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint shipped with the package, by name.

    Args:
        name (str): checkpoint name, the file ``matae_utils/weights/<name>.pt``
            (see :func:`list_pretrained`).
        map_location (str | torch.device): device to load the model onto.

    Returns:
        nn.Module: the model in eval mode. Its :func:`checkpoint_info` metadata says how it
        was trained (data, feature scaling, seed, command) and what it scored.

    Raises:
        ValueError: if no checkpoint of that name is shipped; the message lists the
            available names and suggests close matches.

    To ship a checkpoint, write it with :func:`save_checkpoint` to
    ``matae_utils/weights/<name>.pt`` (keep it well under 1 MB), with the data set, feature
    scaling, seed and ``fit`` settings in ``metadata`` and the script that made it in
    ``scripts/`` (see ``scripts/train_pretrained.py``).

    Example::

        model = load_pretrained("magpie_ae_k2")
        meta = checkpoint_info(pretrained_path("magpie_ae_k2"))["metadata"]
    """
    return load_checkpoint(pretrained_path(name), map_location=map_location)


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint (for :func:`checkpoint_info`).

    Args:
        name (str): a name from :func:`list_pretrained`.

    Returns:
        Path: ``matae_utils/weights/<name>.pt``.

    Raises:
        ValueError: if no checkpoint of that name is shipped (with close matches).
    """
    available = list_pretrained()
    if name not in available:
        raise ValueError(
            f"no pretrained checkpoint named {name!r}; available: {available}."
            + close_matches_hint(name, available)
        )
    return WEIGHTS_DIR / f"{name}.pt"
