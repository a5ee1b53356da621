"""Train the small pretrained checkpoints shipped in ``matae_utils/weights`` (reproducibly).

Usage, from the repository root (CPU, one thread, about a minute the first time while the
Magpie descriptors are computed and cached)::

    .venv/bin/python scripts/train_pretrained.py            # writes every checkpoint
    .venv/bin/python scripts/train_pretrained.py magpie_ae_k2

``magpie_ae_k2``
    A composition autoencoder with a 2-D code, the setup of chapters 1 and 2: the
    experimental band-gap data set ``expt_gap`` deduplicated by reduced formula, its Magpie
    descriptors, a split grouped by formula (``seed=0``: 20 % test, then 10 % of the rest
    for validation), near-constant descriptors dropped and the rest standardised on the
    training rows -- all of it ``mu.prepare_compositions("expt_gap", seed=0)``. The model
    is ``mu.AutoEncoder(d, latent_dim=2, hidden=(16,))`` (kept small so the file stays a
    few tens of KB), initialised with ``torch.manual_seed(0)`` and trained with
    ``mu.fit(..., epochs=300, batch_size=128, lr=2e-3, patience=20, seed=0, device="cpu")``.

The checkpoint's metadata (see ``mu.checkpoint_info``) records what a reader needs to use
and to check it: the data set, the data seed and split sizes, the kept descriptors and the
scaler (mean, scale) to standardise new compositions, the test formulas, the test-set
reconstruction MSE (per element, standardised units) with the PCA baseline on the same
split, the library versions and this command. ``tests/test_training.py`` reloads the file
and reproduces the recorded test MSE.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import torch

import matae_utils as mu

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "matae_utils" / "weights"

FIT = {"epochs": 300, "batch_size": 128, "lr": 2e-3, "patience": 20, "seed": 0}


def magpie_ae_k2() -> Path:
    """Train and save the 2-D composition autoencoder; return the path written."""
    from sklearn.decomposition import PCA

    data = mu.prepare_compositions("expt_gap", seed=0)
    torch.manual_seed(0)  # initial weights
    model = mu.AutoEncoder(data.d, latent_dim=2, hidden=(16,))
    history = mu.fit(model, data.X_train, data.X_val, device="cpu", progress=False, **FIT)
    test_mse = float(np.mean((mu.reconstruct(model, data.X_test, device="cpu") - data.X_test) ** 2))
    pca = PCA(n_components=2).fit(data.X_train)
    pca_hat = pca.inverse_transform(pca.transform(data.X_test))
    pca_mse = float(np.mean((pca_hat - data.X_test) ** 2))
    metadata = {
        "description": "composition autoencoder, 2-D code, standardised Magpie descriptors",
        "dataset": "expt_gap",
        "data": 'mu.prepare_compositions("expt_gap", seed=0)',
        "data_seed": 0,
        "n_train": len(data.train_idx),
        "n_val": len(data.val_idx),
        "n_test": len(data.test_idx),
        "descriptors": list(data.descriptors),
        "scaler_mean": torch.as_tensor(data.scaler.mean_, dtype=torch.float64),
        "scaler_scale": torch.as_tensor(data.scaler.scale_, dtype=torch.float64),
        # one space-separated string: a third of the size of a list of strings
        "test_formulas": " ".join(data.compounds["formula"].iloc[data.test_idx]),
        "init_seed": 0,
        "fit": dict(FIT, device="cpu"),
        "test_mse": test_mse,
        "test_mse_pca2": pca_mse,
        "metric": "mean squared reconstruction error per element on the test compounds, "
        "in standardised units",
        "command": "python scripts/train_pretrained.py magpie_ae_k2",
    }
    path = mu.save_checkpoint(
        model, WEIGHTS / "magpie_ae_k2.pt", history=history, metadata=metadata
    )
    print(
        f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.1f} KB, "
        f"{history.n_epochs} epochs (best {history.best_epoch}), test MSE {test_mse:.4f} "
        f"(PCA-2: {pca_mse:.4f})"
    )
    return path


# ----------------------------------------------------------- chapter 7: compression codecs
#: The two microstructure sets of chapter 7 (``mu.generate_microstructures`` arguments):
#: the generator's default range (early spinodal patterns) and a coarse set (2-6 x larger
#: gradient energy, so domains about twice as large); training and held-out images are
#: drawn with different seeds.
MICROSTRUCTURE_SETS = {
    "spinodal": {"params": {}, "train_seed": 0, "test_seed": 1},
    "coarse": {"params": {"kappa": [2.0, 6.0], "time": [300.0, 1000.0]}, "train_seed": 2, "test_seed": 3},
}
MS_N_TRAIN, MS_N_VAL, MS_N_TEST = 900, 100, 200
MS_CHANNELS = (8, 16, 32, 32)
MS_FIT = {"epochs": 80, "batch_size": 32, "lr": 2e-3, "patience": 15, "seed": 0}
XRD_DATA = {"n_per_prototype": 8, "seed": 0}
XRD_CHANNELS = (8, 16, 16, 16)
XRD_FIT = {"epochs": 150, "batch_size": 64, "lr": 2e-3, "patience": 20, "seed": 0}


def microstructure_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Training (900 fit + 100 validation) and held-out images [N, 1, 64, 64] of a set."""
    spec = MICROSTRUCTURE_SETS[name]
    params = {k: tuple(v) for k, v in spec["params"].items()}
    train, _ = mu.generate_microstructures(
        MS_N_TRAIN + MS_N_VAL, seed=spec["train_seed"], **params
    )
    test, _ = mu.generate_microstructures(MS_N_TEST, seed=spec["test_seed"], **params)
    return train[:, None], test[:, None]


def _save_codec(model, name: str, history, train, test, metadata: dict, pca_psnr) -> Path:
    """Fit the int8 quantiser on the training codes, record test PSNRs, save as float16."""
    import json

    from matae_utils.compression import AutoEncoderCodec

    codec = AutoEncoderCodec(model, dtype="int8").fit(train)
    metadata = dict(metadata)
    metadata.update(
        {
            "int8_scale": torch.as_tensor(codec.quantizer_.scale_),
            "int8_offset": torch.as_tensor(codec.quantizer_.offset_),
            "weights_dtype": "float16 (loaded into a float32 model)",
            "command": f"python scripts/train_pretrained.py {name}",
        }
    )
    metadata.update(pca_psnr(codec, train, test))
    model = model.half()  # halves the file; the chapter counts the decoder at 2 bytes/weight
    path = mu.save_checkpoint(model, WEIGHTS / f"{name}.pt", history=history, metadata=metadata)
    model.float()
    plain = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in metadata.items()}
    info = {"name": name, "class": type(model).__name__, "config": model.config, **plain}
    (WEIGHTS / f"{name}.json").write_text(json.dumps(info, indent=1, default=list) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.1f} KB, "
          f"{history.n_epochs} epochs (best {history.best_epoch}): "
          + ", ".join(f"{k} {v:.3f}" for k, v in metadata.items() if k.startswith("test_")))
    return path


def microstructure_ae(set_name: str, k: int) -> Path:
    """Train and save a convolutional autoencoder codec of one microstructure set."""
    from matae_utils.compression import PCACodec

    train, test = microstructure_data(set_name)
    torch.manual_seed(0)  # initial weights
    model = mu.ConvAutoEncoder(
        (1, 64, 64), latent_dim=k, channels=MS_CHANNELS, output_activation="sigmoid"
    )
    history = mu.fit(
        model, train[:MS_N_TRAIN], train[MS_N_TRAIN:], device="cpu", progress=False, **MS_FIT
    )

    def scores(codec, train, test):
        pca = PCACodec(k, dtype="int8", clip=(0.0, 1.0)).fit(train[:, 0])
        x = test[:, 0]
        return {
            "test_psnr_float32": float(mu.psnr(x, mu.reconstruct(model, test)[:, 0], data_range=1.0)),
            "test_psnr_int8": float(mu.psnr(x, codec.decode(codec.encode(test))[:, 0], data_range=1.0)),
            "test_psnr_pca_int8": float(mu.psnr(x, pca.decode(pca.encode(x)), data_range=1.0)),
        }

    spec = MICROSTRUCTURE_SETS[set_name]
    metadata = {
        "description": f"convolutional autoencoder codec, {k}-number code, {set_name} "
        "Cahn-Hilliard microstructures (64 x 64, values in [0, 1])",
        "data": f"mu.generate_microstructures({MS_N_TRAIN + MS_N_VAL}, seed={spec['train_seed']}, "
        f"**{spec['params']}) (first {MS_N_TRAIN} fit, last {MS_N_VAL} validation); held out: "
        f"mu.generate_microstructures({MS_N_TEST}, seed={spec['test_seed']}, **{spec['params']})",
        "set": set_name,
        "generator_params": spec["params"],
        "train_seed": spec["train_seed"],
        "test_seed": spec["test_seed"],
        "n_train": MS_N_TRAIN,
        "n_val": MS_N_VAL,
        "n_test": MS_N_TEST,
        "init_seed": 0,
        "fit": dict(MS_FIT, device="cpu"),
        "metric": "PSNR (dB, data range 1) on the held-out images; int8 = code quantised "
        "with the per-dimension scale and offset stored here",
    }
    return _save_codec(model, f"ms_{set_name}_ae_k{k}", history, train, test, metadata, scores)


def xrd_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated patterns [N, 1401], their prototype names, and the held-out mask (20 %
    of the prototypes, ``mu.group_train_test_split(names, test_size=0.2, seed=0)``)."""
    X, labels = mu.xrd_dataset(**XRD_DATA)
    names = labels["name"].to_numpy()
    _, test_idx = mu.group_train_test_split(names, test_size=0.2, seed=0)
    is_test = np.zeros(len(X), dtype=bool)
    is_test[test_idx] = True
    return X, names, is_test


def xrd_ae(k: int) -> Path:
    """Train and save the 1-D convolutional autoencoder of simulated XRD patterns."""
    from matae_utils.compression import PCACodec

    X, names, is_test = xrd_data()
    train_all, test = X[~is_test][:, None], X[is_test][:, None]
    # validation: 10 % of the training prototypes, held out from the gradient steps
    _, val_idx = mu.group_train_test_split(names[~is_test], test_size=0.1, seed=0)
    is_val = np.zeros(len(train_all), dtype=bool)
    is_val[val_idx] = True
    torch.manual_seed(0)
    model = mu.ConvAutoEncoder(
        (1, X.shape[1]), latent_dim=k, channels=XRD_CHANNELS, output_activation="sigmoid"
    )
    history = mu.fit(
        model, train_all[~is_val], train_all[is_val], device="cpu", progress=False, **XRD_FIT
    )

    def scores(codec, train, test):
        pca = PCACodec(k, dtype="int8").fit(train[:, 0])
        x = test[:, 0]
        mse = lambda r: float(np.mean((r - x) ** 2))  # noqa: E731
        return {
            "test_mse_float32": mse(mu.reconstruct(model, test)[:, 0]),
            "test_mse_int8": mse(codec.decode(codec.encode(test))[:, 0]),
            "test_mse_pca_int8": mse(pca.decode(pca.encode(x))),
        }

    metadata = {
        "description": f"1-D convolutional autoencoder codec, {k}-number code, simulated powder "
        "XRD patterns of the AFLOW prototypes (1401 points, 10-80 deg 2theta, max 1)",
        "data": f"mu.xrd_dataset(**{XRD_DATA}); held out: 20 % of the prototypes "
        "(mu.group_train_test_split(labels.name, test_size=0.2, seed=0)); validation: 10 % "
        "of the remaining prototypes (same function, seed=0)",
        "data_seed": XRD_DATA["seed"],
        "n_train": int((~is_val).sum()),
        "n_val": int(is_val.sum()),
        "n_test": int(is_test.sum()),
        "init_seed": 0,
        "fit": dict(XRD_FIT, device="cpu"),
        "metric": "mean squared error per point on the held-out patterns",
    }
    return _save_codec(model, f"xrd_ae_k{k}", history, train_all, test, metadata, scores)


CHECKPOINTS = {
    "magpie_ae_k2": magpie_ae_k2,
    **{f"ms_coarse_ae_k{k}": functools.partial(microstructure_ae, "coarse", k) for k in (16, 32, 64, 128)},
    "ms_spinodal_ae_k128": functools.partial(microstructure_ae, "spinodal", 128),
    "xrd_ae_k16": functools.partial(xrd_ae, 16),
}


def main(names: list[str]) -> None:
    torch.set_num_threads(1)  # deterministic and fast for a model this small
    for name in names or list(CHECKPOINTS):
        if name not in CHECKPOINTS:
            raise SystemExit(f"unknown checkpoint {name!r}; known: {sorted(CHECKPOINTS)}")
        CHECKPOINTS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
