"""Property prediction from composition features, compared the way Matbench compares.

This module holds the pieces of the book's property-prediction benchmark, so the chapter and
``make bench`` call the same code:

* :func:`prepare_fold` turns one outer fold (Matbench's folds come from
  :func:`matae_utils.datasets.matbench_folds`) into standardised arrays with an inner
  validation split taken from the training rows only;
* :class:`PropertyNet` is the supervised network (an :class:`~matae_utils.models.Encoder`
  followed by a small property head), trained from scratch or fine-tuned from a pretrained
  autoencoder;
* :func:`pretrain_autoencoder`, :func:`train_property_net` and :func:`train_semisupervised`
  train the three kinds of network with :func:`matae_utils.training.fit`;
* :func:`evaluate_fold` scores every row of the comparison table on one fold,
  :func:`summarize` turns the per-fold scores into mean ± standard deviation;
* :func:`learning_curve` repeats the comparison with few labels, :func:`composition_clusters`
  and :func:`leave_one_cluster_out` give the extrapolation test of Meredig et al. (2018).

Example::

    df = mu.load_dataset("matbench_expt_gap")
    X = mu.magpie_features(df["formula"]).to_numpy()
    y = df["gap expt"].to_numpy()
    scores = []
    for train_idx, test_idx in mu.matbench_folds(y, task="regression"):
        fold = prepare_fold(X, y, train_idx, test_idx, seed=0)
        scores.append(evaluate_fold(fold, task="regression", seed=0))
    summarize(scores)      # one row per model: mean and std of the MAE over the folds
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ._checks import as_array, check_choice, check_number
from .models import ACTIVATIONS, AutoEncoder, Encoder, SemiSupervisedAutoEncoder
from .training import fit, predict

__all__ = [
    "ROWS",
    "TASKS",
    "FoldData",
    "NetSettings",
    "PropertyNet",
    "composition_clusters",
    "cross_validate",
    "evaluate_fold",
    "leave_one_cluster_out",
    "learning_curve",
    "prepare_fold",
    "pretrain_autoencoder",
    "score",
    "summarize",
    "train_property_net",
    "train_semisupervised",
]

#: The two kinds of task and the metric each is scored with.
TASKS = {"regression": "MAE", "classification": "ROC-AUC"}

#: The rows of the comparison table, in the order they are printed.
ROWS = (
    "dummy",
    "rf",
    "pca_rf",
    "ae_rf",
    "mlp",
    "finetuned",
    "semisupervised",
)


# --------------------------------------------------------------------------- data
@dataclass
class FoldData:
    """One outer fold, standardised with statistics of its training rows only.

    Attributes:
        X_train (np.ndarray): float32 [n_train, d], the rows the models are fitted on.
        X_val (np.ndarray): float32 [n_val, d], inner validation rows (from the outer
            training fold) used for early stopping.
        X_test (np.ndarray): float32 [n_test, d], the outer test fold.
        y_train, y_val, y_test (np.ndarray): float32 targets of the same rows.
        train_idx, val_idx, test_idx (np.ndarray): positions of those rows in the table.
        keep (np.ndarray): bool [n_descriptors], the descriptors kept (not near-constant
            on the training rows).
        mean, scale (np.ndarray): standardisation statistics of the kept descriptors,
            computed on the training plus validation rows (the whole outer training fold).
        y_mean, y_scale (float): the networks are trained on ``(y - y_mean) / y_scale``
            and their predictions mapped back (0 and 1 unless ``prepare_fold`` was asked
            to scale the target); every score is in the target's own units.
    """

    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    y_mean: float = 0.0
    y_scale: float = 1.0

    @property
    def d(self) -> int:
        """Number of input features after dropping near-constant descriptors."""
        return int(self.X_train.shape[1])

    @property
    def X_fit(self) -> np.ndarray:
        """Training and validation rows together, [n_train + n_val, d] (the outer training fold)."""
        return np.concatenate([self.X_train, self.X_val])

    @property
    def y_fit(self) -> np.ndarray:
        """Targets of :attr:`X_fit`."""
        return np.concatenate([self.y_train, self.y_val])

    def transform(self, X: Any) -> np.ndarray:
        """Standardise new rows of raw descriptors exactly like this fold's rows.

        Args:
            X (array-like): [N, n_descriptors] raw descriptors (all columns, as given to
                :func:`prepare_fold`).

        Returns:
            np.ndarray: float32 [N, d].
        """
        X = as_array(X, "X", ndim=2, dtype=np.float64)
        if X.shape[1] != self.keep.size:
            raise ValueError(
                f"X must have the {self.keep.size} descriptors given to prepare_fold, "
                f"got {X.shape[1]}"
            )
        return ((X[:, self.keep] - self.mean) / self.scale).astype(np.float32)


def _modal_share(X: np.ndarray) -> np.ndarray:
    """Share of the rows taken by the most common value of each column, [n_columns]."""
    shares = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        _, counts = np.unique(X[:, j], return_counts=True)
        shares[j] = counts.max() / X.shape[0]
    return shares


def prepare_fold(
    X: Any,
    y: Any,
    train_idx: Any,
    test_idx: Any,
    *,
    val_size: float = 0.1,
    seed: int = 0,
    max_modal_share: float = 0.95,
    stratify: bool = False,
    scale_target: bool = False,
) -> FoldData:
    """Arrays of one outer fold: inner validation split, descriptor filter, standardisation.

    Everything is learned from the outer training rows only: the validation rows are a
    seeded random ``val_size`` of them (stratified on ``y`` with ``stratify=True``), the
    descriptors whose most common value covers more than ``max_modal_share`` of them are
    dropped (chapter 2 explains why), and the mean and standard deviation used to
    standardise every row come from them. The test rows never influence a choice.

    Args:
        X (array-like): [N, n_descriptors] raw descriptors (e.g. Magpie) of the whole table.
        y (array-like): [N] targets (eV, or 0/1 for a classification task).
        train_idx (array-like): positions of the outer training rows.
        test_idx (array-like): positions of the outer test rows.
        val_size (float): fraction of the training rows held out for early stopping, in (0, 1).
        seed (int): seed of the inner split.
        max_modal_share (float): drop descriptors whose modal value covers more of the
            training rows than this, in (0, 1].
        stratify (bool): stratify the inner split on ``y`` (classification).
        scale_target (bool): let the networks learn the standardised target (mean and
            standard deviation of the outer training rows), for targets far from unit scale
            such as strengths in MPa.

    Returns:
        FoldData: the standardised float32 arrays and the row positions.

    Raises:
        ValueError: for overlapping or out-of-range indices, NaN in ``X`` or ``y``, or
            settings out of range.
    """
    from sklearn.model_selection import train_test_split

    X = as_array(X, "X", ndim=2, dtype=np.float64)
    y = as_array(y, "y", ndim=1, dtype=np.float64)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} rows but X has {X.shape[0]}")
    train_idx = np.asarray(train_idx, dtype=np.int64)
    test_idx = np.asarray(test_idx, dtype=np.int64)
    for name, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array of row positions")
        if idx.min() < 0 or idx.max() >= X.shape[0]:
            raise ValueError(f"{name} has positions outside [0, {X.shape[0]})")
    if np.intersect1d(train_idx, test_idx).size:
        raise ValueError("train_idx and test_idx overlap: a test row would be trained on")
    val_size = check_number(val_size, "val_size", low=0, high=1, low_inclusive=False,
                            high_inclusive=False)
    max_modal_share = check_number(max_modal_share, "max_modal_share", low=0, high=1,
                                   low_inclusive=False)
    seed = check_number(seed, "seed", integer=True, low=0)

    fit_pos, val_pos = train_test_split(
        np.arange(train_idx.size),
        test_size=val_size,
        random_state=seed,
        stratify=y[train_idx] if stratify else None,
    )
    fit_idx, val_idx = np.sort(train_idx[fit_pos]), np.sort(train_idx[val_pos])
    outer = X[train_idx]
    keep = _modal_share(outer) <= max_modal_share
    mean = outer[:, keep].mean(axis=0)
    scale = outer[:, keep].std(axis=0)
    scale[scale == 0] = 1.0

    def _std(idx: np.ndarray) -> np.ndarray:
        return ((X[idx][:, keep] - mean) / scale).astype(np.float32)

    return FoldData(
        X_train=_std(fit_idx),
        X_val=_std(val_idx),
        X_test=_std(test_idx),
        y_train=y[fit_idx].astype(np.float32),
        y_val=y[val_idx].astype(np.float32),
        y_test=y[test_idx].astype(np.float32),
        train_idx=fit_idx,
        val_idx=val_idx,
        test_idx=test_idx.copy(),
        keep=keep,
        mean=mean,
        scale=scale,
        y_mean=float(y[train_idx].mean()) if scale_target else 0.0,
        y_scale=float(y[train_idx].std() or 1.0) if scale_target else 1.0,
    )


# --------------------------------------------------------------------------- model
class PropertyNet(nn.Module):
    """Encoder plus property head: ``y_hat = h_psi(f_theta(x))``.

    The encoder ``f_theta`` is the same :class:`~matae_utils.models.Encoder` an
    :class:`~matae_utils.models.AutoEncoder` uses, so its weights can be copied from a
    pretrained autoencoder (:meth:`from_autoencoder`); trained from random weights the same
    network is the "MLP from scratch" of the comparison. The head is a small MLP on the code.

    The loss is the mean absolute error for ``task="regression"`` (the metric of the band-gap
    task, robust to the many zero gaps of metals) and the binary cross-entropy on the logit
    for ``task="classification"``.

    Args:
        n_features (int): number of input features ``d``.
        latent_dim (int): size ``k`` of the code.
        hidden (Sequence[int]): encoder hidden sizes.
        head_hidden (Sequence[int]): hidden sizes of the head.
        task (str): ``"regression"`` or ``"classification"``.
        activation (str): hidden activation of encoder and head.
        dropout (float): dropout in the encoder's hidden layers.

    Example::

        net = PropertyNet(120, latent_dim=32, hidden=(128,))
        terms = net.loss(torch.randn(8, 120), torch.rand(8))  # {"loss": ...}
        y_hat = net.predict(torch.randn(8, 120))              # [8, 1]
    """

    supervised = True

    def __init__(
        self,
        n_features: int,
        latent_dim: int = 32,
        hidden: Sequence[int] = (128,),
        head_hidden: Sequence[int] = (64,),
        task: str = "regression",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice(task, "task", tuple(TASKS))
        head_hidden = tuple(int(check_number(h, "head_hidden", integer=True, low=1))
                            for h in head_hidden)
        self.encoder = Encoder(n_features, latent_dim, hidden=tuple(hidden),
                               activation=activation, dropout=dropout)
        layers: list[nn.Module] = []
        n_in = self.encoder.latent_dim
        for size in head_hidden:
            layers += [nn.Linear(n_in, size), ACTIVATIONS[activation]()]
            n_in = size
        layers.append(nn.Linear(n_in, 1))
        self.head = nn.Sequential(*layers)
        self.task = task
        self.input_shape = (self.encoder.n_features,)
        self.latent_dim = self.encoder.latent_dim
        self.config = {
            "n_features": self.encoder.n_features,
            "latent_dim": self.latent_dim,
            "hidden": list(hidden),
            "head_hidden": list(head_hidden),
            "task": task,
            "activation": activation,
            "dropout": float(dropout),
        }

    @classmethod
    def from_autoencoder(
        cls, autoencoder: AutoEncoder, *, head_hidden: Sequence[int] = (64,),
        task: str = "regression"
    ) -> PropertyNet:
        """A network whose encoder is a copy of a (pretrained) autoencoder's encoder.

        Args:
            autoencoder (AutoEncoder): a fully connected autoencoder (its encoder is copied,
                the autoencoder itself is not modified).
            head_hidden (Sequence[int]): hidden sizes of the new, randomly initialised head.
            task (str): ``"regression"`` or ``"classification"``.

        Returns:
            PropertyNet: on the CPU, encoder weights equal to the autoencoder's.
        """
        enc = autoencoder.encoder
        if not isinstance(enc, Encoder):
            raise TypeError(
                f"from_autoencoder needs an autoencoder with an MLP Encoder, got "
                f"{type(enc).__name__}"
            )
        net = cls(enc.n_features, enc.latent_dim, hidden=tuple(enc.hidden),
                  head_hidden=head_hidden, task=task, activation=enc.activation,
                  dropout=enc.dropout)
        net.encoder.load_state_dict(copy.deepcopy(enc.state_dict()))
        return net

    def forward(self, x: Tensor) -> Tensor:
        """Raw output: the property (regression) or its logit (classification).

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B].
        """
        return self.head(self.encoder(x)).squeeze(-1)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted property, or probability of the positive class.

        Args:
            x (Tensor): [B, n_features].

        Returns:
            Tensor: [B, 1].
        """
        out = self.forward(x)
        if self.task == "classification":
            out = torch.sigmoid(out)
        return out.unsqueeze(-1)

    def loss(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Supervised loss of a batch.

        Args:
            x (Tensor): [B, n_features].
            y (Tensor): [B] targets (0/1 for classification).

        Returns:
            dict[str, Tensor]: ``"loss"`` (mean absolute error, or mean binary
            cross-entropy).
        """
        if y is None:
            raise ValueError("PropertyNet is supervised: pass (X, y) to fit")
        y = y.reshape(-1)
        out = self.forward(x)
        if self.task == "classification":
            return {"loss": nn.functional.binary_cross_entropy_with_logits(out, y)}
        return {"loss": (out - y).abs().mean()}


# --------------------------------------------------------------------------- training
@dataclass
class NetSettings:
    """Architecture and training settings shared by every network of the comparison.

    The same encoder shape serves the autoencoder, the MLP from scratch, the fine-tuned
    network and the semi-supervised autoencoder, so the rows differ only in how the weights
    were obtained.

    Attributes:
        latent_dim (int): code size ``k``.
        hidden (tuple[int, ...]): encoder hidden sizes (the decoder mirrors them).
        head_hidden (tuple[int, ...]): hidden sizes of the property head.
        batch_size (int): mini-batch size of every run.
        epochs (int): maximum epochs of a supervised run (early stopping decides).
        patience (int): early-stopping patience on the inner validation loss.
        lr (float): learning rate of the supervised runs from scratch.
        ae_epochs (int): epochs of autoencoder pretraining.
        ae_lr (float): learning rate of pretraining.
        probe_epochs (int): epochs of the first fine-tuning stage (head only).
        finetune_lr (float): learning rate of the second stage (encoder and head).
        alpha (float): weight of the supervised term of the semi-supervised loss.
        semi_epochs (int): maximum epochs of the semi-supervised run.
        n_estimators (int): trees of every random forest.
        max_features (float | str | None): features tried per split of a forest; None
            means a third of them for regression and their square root for
            classification (Breiman's recommendations).
        forest_jobs (int): processes of each forest (-1: all cores).
        n_components (int | None): PCA components (``latent_dim`` when None).
    """

    latent_dim: int = 32
    hidden: tuple[int, ...] = (128,)
    head_hidden: tuple[int, ...] = (64,)
    batch_size: int = 256
    epochs: int = 100
    patience: int = 10
    lr: float = 1e-3
    ae_epochs: int = 30
    ae_lr: float = 3e-3
    probe_epochs: int = 10
    finetune_lr: float = 1e-3
    alpha: float = 1.0
    semi_epochs: int = 40
    n_estimators: int = 50
    max_features: float | str | None = None
    forest_jobs: int = -1
    n_components: int | None = None

    def fit_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments of :func:`matae_utils.training.fit` common to every run."""
        return {"batch_size": self.batch_size, "seed": int(seed), "progress": False,
                "device": "cpu"}


def pretrain_autoencoder(
    X_train: Any,
    X_val: Any | None = None,
    settings: NetSettings | None = None,
    *,
    seed: int = 0,
) -> AutoEncoder:
    """Train an autoencoder on descriptors alone (no labels).

    Args:
        X_train (array-like): [N, d] standardised descriptors of the pretraining pool.
        X_val (array-like | None): [M, d] rows whose reconstruction error picks the best
            epoch (no early stop: pretraining runs ``settings.ae_epochs`` epochs).
        settings (NetSettings | None): architecture and training settings.
        seed (int): seed of the initial weights and of the shuffling.

    Returns:
        AutoEncoder: trained, in eval mode, on the CPU.
    """
    s = settings or NetSettings()
    X_train = as_array(X_train, "X_train", ndim=2, dtype=np.float32)
    torch.manual_seed(seed)
    model = AutoEncoder(X_train.shape[1], s.latent_dim, hidden=tuple(s.hidden))
    fit(model, X_train, X_val, epochs=s.ae_epochs, lr=s.ae_lr, **s.fit_kwargs(seed))
    return model


def train_property_net(
    fold: FoldData,
    settings: NetSettings | None = None,
    *,
    task: str = "regression",
    autoencoder: AutoEncoder | None = None,
    seed: int = 0,
) -> PropertyNet:
    """Train a :class:`PropertyNet` from scratch, or fine-tune it from an autoencoder.

    From scratch (``autoencoder=None``) the network is trained with learning rate
    ``settings.lr`` and early stopping on the inner validation rows. Fine-tuning copies the
    autoencoder's encoder and trains in two stages: first the new head alone on the frozen
    encoder (``probe_epochs``, rate ``settings.lr``), then encoder and head together at the
    lower rate ``settings.finetune_lr`` with early stopping, so that large gradients from a
    random head cannot wreck the pretrained features in the first steps ("linear probing
    then fine-tuning").

    Args:
        fold (FoldData): the fold's arrays (trained on ``X_train``, stopped on ``X_val``).
        settings (NetSettings | None): settings.
        task (str): ``"regression"`` or ``"classification"``.
        autoencoder (AutoEncoder | None): pretrained autoencoder to start from.
        seed (int): seed of the head's initial weights and of the shuffling.

    Returns:
        PropertyNet: trained, in eval mode, on the CPU.
    """
    s = settings or NetSettings()
    train, val = (fold.X_train, _scaled(fold, fold.y_train)), (fold.X_val, _scaled(fold, fold.y_val))
    torch.manual_seed(seed)
    if autoencoder is None:
        net = PropertyNet(fold.d, s.latent_dim, hidden=tuple(s.hidden),
                          head_hidden=tuple(s.head_hidden), task=task)
        fit(net, train, val, epochs=s.epochs, lr=s.lr, patience=s.patience,
            **s.fit_kwargs(seed))
        return net
    net = PropertyNet.from_autoencoder(autoencoder, head_hidden=tuple(s.head_hidden), task=task)
    net.encoder.requires_grad_(False)  # stage 1: head only
    fit(net, train, val, epochs=s.probe_epochs, lr=s.lr, **s.fit_kwargs(seed))
    net.encoder.requires_grad_(True)  # stage 2: everything, at a lower rate
    fit(net, train, val, epochs=s.epochs, lr=s.finetune_lr, patience=s.patience,
        **s.fit_kwargs(seed))
    return net


def train_semisupervised(
    fold: FoldData,
    autoencoder: AutoEncoder,
    settings: NetSettings | None = None,
    *,
    unlabelled: Any | None = None,
    seed: int = 0,
) -> SemiSupervisedAutoEncoder:
    """Train a semi-supervised autoencoder that starts from a pretrained autoencoder.

    The model minimises reconstruction plus ``alpha`` times the squared error of its
    property head (:class:`~matae_utils.models.SemiSupervisedAutoEncoder`); the labelled
    rows are ``fold.X_train`` and the rows of ``unlabelled`` enter with a NaN label, so they
    shape the code through the reconstruction term only. Early stopping watches the same
    combined loss on the validation rows.

    Args:
        fold (FoldData): the fold's arrays.
        autoencoder (AutoEncoder): pretrained autoencoder; its encoder and decoder weights
            initialise the model (the head starts at random).
        settings (NetSettings | None): settings (``alpha``, ``semi_epochs``, ``finetune_lr``).
        unlabelled (array-like | None): [M, d] standardised descriptors without labels;
            never the test rows.
        seed (int): seed.

    Returns:
        SemiSupervisedAutoEncoder: trained, in eval mode, on the CPU.
    """
    s = settings or NetSettings()
    torch.manual_seed(seed)
    model = SemiSupervisedAutoEncoder(
        fold.d, s.latent_dim, n_targets=1, hidden=tuple(s.hidden),
        head_hidden=tuple(s.head_hidden), alpha=s.alpha,
    )
    model.encoder.load_state_dict(autoencoder.encoder.state_dict())
    model.decoder.load_state_dict(autoencoder.decoder.state_dict())
    X, y = fold.X_train, _scaled(fold, fold.y_train)
    if unlabelled is not None:
        U = as_array(unlabelled, "unlabelled", ndim=2, dtype=np.float32)
        X = np.concatenate([X, U])
        y = np.concatenate([y, np.full(U.shape[0], np.nan, dtype=np.float32)])
    fit(model, (X, y), (fold.X_val, _scaled(fold, fold.y_val)), epochs=s.semi_epochs, lr=s.finetune_lr,
        patience=s.patience, **s.fit_kwargs(seed))
    return model


# --------------------------------------------------------------------------- scoring
def score(task: str, y_true: Any, y_pred: Any) -> float:
    """The task's metric: mean absolute error (regression) or ROC-AUC (classification).

    Args:
        task (str): ``"regression"`` or ``"classification"``.
        y_true (array-like): [N] true values (0/1 for classification).
        y_pred (array-like): [N] predictions (scores or probabilities for classification).

    Returns:
        float: the metric.
    """
    from sklearn.metrics import mean_absolute_error, roc_auc_score

    check_choice(task, "task", tuple(TASKS))
    y_true = as_array(y_true, "y_true", dtype=np.float64).reshape(-1)
    y_pred = as_array(y_pred, "y_pred", dtype=np.float64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} values but y_pred has {y_pred.size}")
    if task == "regression":
        return float(mean_absolute_error(y_true, y_pred))
    return float(roc_auc_score(y_true, y_pred))


def _forest(task: str, settings: NetSettings, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    regression = task == "regression"
    cls = RandomForestRegressor if regression else RandomForestClassifier
    max_features = settings.max_features
    if max_features is None:
        max_features = 1 / 3 if regression else "sqrt"
    return cls(n_estimators=settings.n_estimators, max_features=max_features,
               n_jobs=settings.forest_jobs, random_state=seed)


def _forest_predict(task: str, forest: Any, X: np.ndarray) -> np.ndarray:
    if task == "regression":
        return forest.predict(X)
    return forest.predict_proba(X)[:, 1]


def _scaled(fold: FoldData, y: np.ndarray) -> np.ndarray:
    return ((y - fold.y_mean) / fold.y_scale).astype(np.float32)


def _net_predict(model: nn.Module, X: np.ndarray, fold: FoldData | None = None) -> np.ndarray:
    out = predict(model, X).reshape(-1)
    if fold is not None and getattr(model, "task", "regression") == "regression":
        out = out * fold.y_scale + fold.y_mean
    return out


def evaluate_fold(
    fold: FoldData,
    *,
    task: str = "regression",
    autoencoder: AutoEncoder | None = None,
    rows: Sequence[str] = ROWS,
    settings: NetSettings | None = None,
    unlabelled: Any | None = None,
    seed: int = 0,
    return_predictions: bool = False,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Score every row of the comparison on one fold; all rows see the same arrays.

    Rows (see :data:`ROWS`): ``dummy`` (training mean, or class prior); ``rf`` (random forest
    on the descriptors); ``pca_rf`` (the same forest on ``n_components`` principal
    components); ``ae_rf`` (the same forest on the frozen autoencoder's code); ``mlp``
    (:class:`PropertyNet` from scratch); ``finetuned`` (the same network, encoder initialised
    from the autoencoder, see :func:`train_property_net`); ``semisupervised``
    (:func:`train_semisupervised`). Forests are fitted on the training and validation rows
    together (they need no early stopping); networks are fitted on the training rows and
    stopped on the validation rows. The test rows are only predicted.

    Args:
        fold (FoldData): the fold.
        task (str): ``"regression"`` or ``"classification"``.
        autoencoder (AutoEncoder | None): the fold's pretrained autoencoder (trained on
            training rows of this fold only); pretrained here with
            :func:`pretrain_autoencoder` when None and a row needs it.
        rows (Sequence[str]): which rows to compute.
        settings (NetSettings | None): settings.
        unlabelled (array-like | None): extra unlabelled rows for the semi-supervised model.
        seed (int): seed of every model.
        return_predictions (bool): also return the test predictions of each row.

    Returns:
        dict[str, float]: row -> metric on the test rows (and, with
        ``return_predictions=True``, a second dict row -> [n_test] predictions).
    """
    from sklearn.decomposition import PCA

    check_choice(task, "task", tuple(TASKS))
    for row in rows:
        check_choice(row, "row", ROWS)
    s = settings or NetSettings()
    needs_ae = {"ae_rf", "finetuned", "semisupervised"} & set(rows)
    if needs_ae and autoencoder is None:
        autoencoder = pretrain_autoencoder(fold.X_train, fold.X_val, s, seed=seed)
    preds: dict[str, np.ndarray] = {}
    X_fit, y_fit = fold.X_fit, fold.y_fit
    for row in rows:
        if row == "dummy":
            value = float(y_fit.mean())
            preds[row] = np.full(fold.y_test.shape, value)
        elif row in ("rf", "pca_rf", "ae_rf"):
            if row == "rf":
                A_fit, A_test = X_fit, fold.X_test
            elif row == "pca_rf":
                pca = PCA(n_components=s.n_components or s.latent_dim, random_state=seed)
                A_fit = pca.fit_transform(X_fit)
                A_test = pca.transform(fold.X_test)
            else:
                A_fit = _encode(autoencoder, X_fit)
                A_test = _encode(autoencoder, fold.X_test)
            forest = _forest(task, s, seed).fit(A_fit, y_fit)
            preds[row] = _forest_predict(task, forest, A_test)
        elif row == "mlp":
            preds[row] = _net_predict(train_property_net(fold, s, task=task, seed=seed),
                                      fold.X_test, fold)
        elif row == "finetuned":
            net = train_property_net(fold, s, task=task, autoencoder=autoencoder, seed=seed)
            preds[row] = _net_predict(net, fold.X_test, fold)
        else:  # semisupervised
            model = train_semisupervised(fold, autoencoder, s, unlabelled=unlabelled, seed=seed)
            preds[row] = _net_predict(model, fold.X_test, fold)
    scores = {row: score(task, fold.y_test, p) for row, p in preds.items()}
    return (scores, preds) if return_predictions else scores


def _encode(model: nn.Module, X: np.ndarray) -> np.ndarray:
    from .training import encode

    return encode(model, X)


def summarize(results: Sequence[dict[str, float]], *, task: str = "regression") -> pd.DataFrame:
    """Mean and standard deviation over folds of per-fold scores.

    Args:
        results (Sequence[dict[str, float]]): one dict row -> score per fold (the output of
            :func:`evaluate_fold`).
        task (str): only names the metric columns.

    Returns:
        pandas.DataFrame: index = rows in the order of :data:`ROWS`, columns
        ``"<metric> mean"``, ``"<metric> std"`` (sample standard deviation over folds,
        ``ddof=1``) and ``"folds"``.
    """
    check_choice(task, "task", tuple(TASKS))
    if not results:
        raise ValueError("results is empty: pass one dict of scores per fold")
    frame = pd.DataFrame(list(results))
    order = [r for r in ROWS if r in frame.columns] + [c for c in frame.columns if c not in ROWS]
    metric = TASKS[task]
    return pd.DataFrame(
        {
            f"{metric} mean": frame[order].mean(),
            f"{metric} std": frame[order].std(ddof=1),
            "folds": frame[order].count(),
        }
    )


_NEEDS_AE = ("ae_rf", "finetuned", "semisupervised")


def _cross_validate_one(
    X: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    task: str,
    rows: tuple[str, ...],
    settings: NetSettings,
    seed: int,
    threads: int | None,
    scale_target: bool,
) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, Any] | None, int]:
    if threads is not None:  # inside a worker process: its own global state
        torch.set_num_threads(threads)
    fold = prepare_fold(X, y, train_idx, test_idx, seed=seed,
                        stratify=task == "classification", scale_target=scale_target)
    ae = None
    if set(_NEEDS_AE) & set(rows):
        ae = pretrain_autoencoder(fold.X_train, fold.X_val, settings, seed=seed)
    scores, preds = evaluate_fold(fold, task=task, autoencoder=ae, rows=rows,
                                  settings=settings, seed=seed, return_predictions=True)
    state = None if ae is None else {k: v.clone() for k, v in ae.state_dict().items()}
    return scores, preds, state, fold.d


def cross_validate(
    X: Any,
    y: Any,
    folds: Sequence[tuple[Any, Any]],
    *,
    task: str = "regression",
    rows: Sequence[str] = ROWS,
    settings: NetSettings | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    scale_target: bool = False,
    return_predictions: bool = False,
) -> tuple[list[Any], list[AutoEncoder | None]]:
    """Every row of the comparison on every outer fold (the Matbench protocol).

    For each fold: :func:`prepare_fold` (inner validation split, descriptor filter and
    standardisation from the training rows), one autoencoder pretrained on the fold's
    training rows (shared by the ``ae_rf``, ``finetuned`` and ``semisupervised`` rows), then
    :func:`evaluate_fold`. With ``n_jobs > 1`` the work runs in parallel worker processes
    (joblib), each with one PyTorch thread and single-process forests, which uses a small
    multi-core machine far better than threads inside tiny networks; each fold is split into
    two jobs (the rows that need the autoencoder, and the others) so that the workers stay
    busy. The results are the same as with ``n_jobs=1`` on the CPU.

    Args:
        X (array-like): [N, n_descriptors] raw descriptors.
        y (array-like): [N] targets.
        folds (Sequence): ``(train_idx, test_idx)`` pairs, e.g.
            :func:`matae_utils.datasets.matbench_folds`.
        task (str): ``"regression"`` or ``"classification"``.
        rows (Sequence[str]): rows of :data:`ROWS`.
        settings (NetSettings | None): settings.
        seed (int): seed of the inner splits and of every model.
        n_jobs (int): jobs run in parallel (1: everything in this process).
        scale_target (bool): see :func:`prepare_fold`.
        return_predictions (bool): each fold's entry becomes ``(scores, predictions)`` as
            returned by :func:`evaluate_fold`.

    Returns:
        tuple: the per-fold scores (list of dicts row -> metric, in the order of ``rows``, for
        :func:`summarize`) and the per-fold pretrained autoencoders (None where no row needed
        one).
    """
    from joblib import Parallel, delayed

    check_choice(task, "task", tuple(TASKS))
    for row in rows:
        check_choice(row, "row", ROWS)
    n_jobs = check_number(n_jobs, "n_jobs", integer=True, low=1)
    s = settings or NetSettings()
    X = as_array(X, "X", ndim=2, dtype=np.float64)
    y = as_array(y, "y", ndim=1, dtype=np.float64)
    if n_jobs > 1:
        s = dataclasses.replace(s, forest_jobs=1)
    threads = 1 if n_jobs > 1 else None
    groups = [g for g in (tuple(r for r in rows if r not in _NEEDS_AE),
                          tuple(r for r in rows if r in _NEEDS_AE)) if g]
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in folds]
    jobs = [
        delayed(_cross_validate_one)(X, y, tr, te, task, group, s, seed, threads, scale_target)
        for tr, te in folds
        for group in groups
    ]
    if n_jobs > 1:
        out = Parallel(n_jobs=n_jobs)(jobs)
    else:
        out = [func(*args, **kwargs) for func, args, kwargs in jobs]
    results: list[Any] = []
    autoencoders: list[AutoEncoder | None] = []
    for k in range(len(folds)):
        parts = out[k * len(groups):(k + 1) * len(groups)]
        scores = {r: v for part in parts for r, v in part[0].items()}
        preds = {r: v for part in parts for r, v in part[1].items()}
        scores = {r: scores[r] for r in rows}
        preds = {r: preds[r] for r in rows}
        results.append((scores, preds) if return_predictions else scores)
        state, d = next(((p[2], p[3]) for p in parts if p[2] is not None), (None, 0))
        if state is None:
            autoencoders.append(None)
            continue
        ae = AutoEncoder(d, s.latent_dim, hidden=tuple(s.hidden))
        ae.load_state_dict(state)
        autoencoders.append(ae.eval())
    return results, autoencoders


# --------------------------------------------------------------------------- learning curves
def _curve_point(
    fold: FoldData,
    n: int,
    seed: int,
    task: str,
    autoencoder: AutoEncoder | None,
    models: tuple[str, ...],
    settings: NetSettings,
    val_fraction: float,
    threads: int | None,
) -> list[dict[str, Any]]:
    if threads is not None:  # inside a worker process
        torch.set_num_threads(threads)
    X_pool, y_pool = fold.X_fit, fold.y_fit
    pick = np.random.default_rng(seed).choice(X_pool.shape[0], size=n, replace=False)
    n_val = max(5, int(round(val_fraction * n)))
    fit_pos, val_pos = pick[n_val:], pick[:n_val]
    sub = dataclasses.replace(
        fold, X_train=X_pool[fit_pos], X_val=X_pool[val_pos], y_train=y_pool[fit_pos],
        y_val=y_pool[val_pos], train_idx=fit_pos, val_idx=val_pos,
    )
    scores = evaluate_fold(sub, task=task, autoencoder=autoencoder, rows=models,
                           settings=settings, seed=seed)
    return [{"model": m, "n": n, "seed": seed, "score": v} for m, v in scores.items()]


def learning_curve(
    fold: FoldData,
    sizes: Sequence[int],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    task: str = "regression",
    autoencoder: AutoEncoder | None = None,
    models: Sequence[str] = ("rf", "mlp", "finetuned"),
    settings: NetSettings | None = None,
    val_fraction: float = 0.2,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Test scores when only ``n`` of the fold's training rows carry a label.

    For every size ``n`` and seed, ``n`` labelled rows are drawn (seeded) from the fold's
    training and validation rows; networks are trained on ``1 - val_fraction`` of them and
    stopped on the rest (at least 5 rows), forests use all ``n``. The test rows are the
    fold's test rows for every ``n``, so the points of a curve are comparable. The
    autoencoder (``finetuned`` needs one) is pretrained once by the caller on unlabelled
    rows; which rows it saw decides whether the curve is inductive (test rows excluded) or
    transductive.

    Args:
        fold (FoldData): the fold.
        sizes (Sequence[int]): numbers of labelled rows.
        seeds (Sequence[int]): seeds of the subsets and models (one curve point per seed).
        task (str): ``"regression"`` or ``"classification"``.
        autoencoder (AutoEncoder | None): the pretrained autoencoder.
        models (Sequence[str]): rows of :data:`ROWS` to compute.
        settings (NetSettings | None): settings.
        val_fraction (float): share of the ``n`` labels used for early stopping.
        n_jobs (int): (n, seed) points computed in parallel worker processes.

    Returns:
        pandas.DataFrame: one row per (model, n, seed) with columns ``model``, ``n``,
        ``seed``, ``score``.
    """
    from joblib import Parallel, delayed

    s = settings or NetSettings()
    n_jobs = check_number(n_jobs, "n_jobs", integer=True, low=1)
    val_fraction = check_number(val_fraction, "val_fraction", low=0, high=1,
                                low_inclusive=False, high_inclusive=False)
    n_pool = fold.y_fit.shape[0]
    points = [(int(check_number(n, "n", integer=True, low=10, high=n_pool)), int(seed))
              for n in sizes for seed in seeds]
    if n_jobs > 1:
        s = dataclasses.replace(s, forest_jobs=1)
    threads = 1 if n_jobs > 1 else None
    jobs = [delayed(_curve_point)(fold, n, seed, task, autoencoder, tuple(models), s,
                                  val_fraction, threads) for n, seed in points]
    if n_jobs > 1:
        out = Parallel(n_jobs=n_jobs)(jobs)
    else:
        out = [func(*args, **kwargs) for func, args, kwargs in jobs]
    records = [rec for part in out for rec in part]
    return pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------- extrapolation
def composition_clusters(
    X: Any, n_clusters: int = 5, *, seed: int = 0, max_modal_share: float = 0.95
) -> np.ndarray:
    """Cluster compounds by their standardised descriptors with k-means.

    Near-constant descriptors (modal value on more than ``max_modal_share`` of the rows)
    are dropped, the others standardised over all rows (no labels are used: the clusters
    only define which compounds are held out together), then grouped by
    :class:`sklearn.cluster.KMeans` with ``n_init=10``.

    Args:
        X (array-like): [N, n_descriptors] descriptors (e.g. Magpie).
        n_clusters (int): number of clusters ``k``.
        seed (int): seed of k-means.
        max_modal_share (float): filter of near-constant descriptors, in (0, 1].

    Returns:
        np.ndarray: int [N] cluster label of each row, 0..k-1 with cluster 0 the largest.
    """
    from sklearn.cluster import KMeans

    X = as_array(X, "X", ndim=2, dtype=np.float64)
    n_clusters = check_number(n_clusters, "n_clusters", integer=True, low=2, high=X.shape[0])
    X = X[:, _modal_share(X) <= max_modal_share]
    std = X.std(axis=0)
    std[std == 0] = 1.0
    Z = (X - X.mean(axis=0)) / std
    labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(Z)
    order = np.argsort(-np.bincount(labels, minlength=n_clusters), kind="stable")
    relabel = np.empty(n_clusters, dtype=np.int64)
    relabel[order] = np.arange(n_clusters)
    return relabel[labels]


def leave_one_cluster_out(labels: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that hold out one whole cluster at a time (Meredig et al., 2018).

    Args:
        labels (array-like): [N] cluster label of each row.

    Returns:
        list[tuple[np.ndarray, np.ndarray]]: one ``(train_idx, test_idx)`` per cluster, in
        sorted label order.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    clusters = np.unique(labels)
    if clusters.size < 2:
        raise ValueError("leave-one-cluster-out needs at least 2 clusters")
    positions = np.arange(labels.size, dtype=np.int64)
    return [(positions[labels != c], positions[labels == c]) for c in clusters]
