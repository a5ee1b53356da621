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

``ms_coarse_ae_k16``, ``ms_coarse_ae_k32``, ``ms_coarse_ae_k64``, ``ms_spinodal_ae_k64``, ``xrd_ae_k16``
    The convolutional autoencoder codecs of chapter 7 (``book/07_compression.ipynb``):
    ``mu.ConvAutoEncoder`` with a sigmoid output on Cahn-Hilliard microstructures (64 x 64;
    the two sets of ``MICROSTRUCTURE_SETS``, 900 + 100 training images and 200 held-out
    images drawn with their own seeds) or on simulated XRD patterns (``mu.xrd_dataset``, 8
    per prototype; 20 % of the prototypes held out). Initialised with
    ``torch.manual_seed(0)``, trained with ``mu.fit`` and the settings ``MS_FIT`` /
    ``XRD_FIT`` on the CPU; weights stored as float16. The metadata adds the int8 scale and
    offset of every code dimension (fitted on the training codes) and the held-out PSNR (or
    MSE) of the int8 codes, of the float32 codes and of PCA with the same number of int8
    numbers; a ``<name>.json`` beside the ``.pt`` repeats the metadata in plain text.
    ``tests/test_compression.py`` reproduces the recorded numbers.

``ms_beta_vae_b1``, ``ms_beta_vae_b16``
    The pixel-level beta-VAEs of chapter 9 (``book/09_advanced_denoising_disentanglement.ipynb``,
    pitfalls):
    ``mu.ConvVAE((1, 32, 32), latent_dim=6, channels=(8, 16, 32))``, sigmoid output and BCE,
    on 32 x 32 Cahn-Hilliard images with three known factors (``MS_BETA_DATA``; 2000
    training, 200 validation and 400 test images from data seeds 0, 1, 2), initialised with
    ``torch.manual_seed(0)`` and trained with ``MS_BETA_FIT`` on the CPU. The metadata holds
    the data settings, the test MSE and the test mutual information gap;
    ``tests/test_advanced_models.py`` reproduces them.

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
MS_CHANNELS = (4, 8, 16, 32)
MS_FIT = {"epochs": 15, "batch_size": 32, "lr": 3e-3, "patience": 5, "seed": 0}
XRD_DATA = {"n_per_prototype": 8, "seed": 0}
XRD_CHANNELS = (4, 8, 8, 8)
XRD_FIT = {"epochs": 20, "batch_size": 32, "lr": 3e-3, "patience": 5, "seed": 0}


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

    model.half().float()  # the file stores float16 weights: evaluate exactly those
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
    if "test_psnr_int8" in metadata:  # the key every shipped checkpoint has (tests/test_training.py)
        metadata["test_mse"] = float(10 ** (-metadata["test_psnr_int8"] / 10))
    else:
        metadata["test_mse"] = metadata["test_mse_int8"]
    model = model.half()  # halves the file; the chapter counts the decoder at 2 bytes/weight
    path = mu.save_checkpoint(model, WEIGHTS / f"{name}.pt", history=history, metadata=metadata)
    model.float()
    plain = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in metadata.items()}
    info = {"name": name, "class": type(model).__name__, "config": model.config, **plain}
    (WEIGHTS / f"{name}.json").write_text(json.dumps(info, indent=1, default=list) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.1f} KB, "
          f"{history.n_epochs} epochs (best {history.best_epoch}): "
          + ", ".join(f"{k} {v:.3f}" for k, v in metadata.items() if k.startswith(("test_psnr", "test_mse"))))
    return path


def microstructure_ae(set_name: str, k: int, trained: tuple | None = None) -> Path:
    """Train and save a convolutional autoencoder codec of one microstructure set.

    ``trained=(model, history)`` skips the training and only re-evaluates and re-saves.
    """
    from matae_utils.compression import PCACodec

    train, test = microstructure_data(set_name)
    if trained is None:
        torch.manual_seed(0)  # initial weights
        model = mu.ConvAutoEncoder(
            (1, 64, 64), latent_dim=k, channels=MS_CHANNELS, output_activation="sigmoid"
        )
        history = mu.fit(
            model, train[:MS_N_TRAIN], train[MS_N_TRAIN:], device="cpu", progress=False, **MS_FIT
        )
    else:
        model, history = trained

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
        "dataset": "Cahn-Hilliard microstructures from mu.generate_microstructures",
        "data_seed": spec["train_seed"],
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


def xrd_ae(k: int, trained: tuple | None = None) -> Path:
    """Train and save the 1-D convolutional autoencoder of simulated XRD patterns.

    ``trained=(model, history)`` skips the training and only re-evaluates and re-saves.
    """
    from matae_utils.compression import PCACodec

    X, names, is_test = xrd_data()
    train_all, test = X[~is_test][:, None], X[is_test][:, None]
    # validation: 10 % of the training prototypes, held out from the gradient steps
    _, val_idx = mu.group_train_test_split(names[~is_test], test_size=0.1, seed=0)
    is_val = np.zeros(len(train_all), dtype=bool)
    is_val[val_idx] = True
    if trained is None:
        torch.manual_seed(0)
        model = mu.ConvAutoEncoder(
            (1, X.shape[1]), latent_dim=k, channels=XRD_CHANNELS, output_activation="sigmoid"
        )
        history = mu.fit(
            model, train_all[~is_val], train_all[is_val], device="cpu", progress=False, **XRD_FIT
        )
    else:
        model, history = trained

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
        "dataset": "simulated XRD of the AFLOW prototypes from mu.xrd_dataset",
        "data_seed": XRD_DATA["seed"],
        "n_train": int((~is_val).sum()),
        "n_val": int(is_val.sum()),
        "n_test": int(is_test.sum()),
        "init_seed": 0,
        "fit": dict(XRD_FIT, device="cpu"),
        "metric": "mean squared error per point on the held-out patterns",
    }
    return _save_codec(model, f"xrd_ae_k{k}", history, train_all, test, metadata, scores)


#: Cahn-Hilliard images of the beta-VAE sweep (chapter 9): 32 x 32 pixels, three known
#: generating factors (mean composition, gradient-energy coefficient, reduced time).
MS_BETA_DATA = {"size": 32, "c_mean": (0.3, 0.7), "kappa": (0.25, 1.0), "time": (30.0, 600.0)}
MS_BETA_N = {"train": 2000, "val": 200, "test": 400}  # data seeds 0, 1, 2
MS_BETA_FIT = {"epochs": 60, "batch_size": 64, "lr": 2e-3, "seed": 0}
MS_BETA_VALUES = (1, 16)


def ms_beta_factors(params) -> np.ndarray:
    """The generating factors of the sweep: c_mean, log10 kappa, log10 reduced time [N, 3]."""
    return np.c_[params["c_mean"], np.log10(params["kappa"]), np.log10(params["reduced_time"])]


def ms_beta_vae(beta: int) -> Path:
    """Train and save the convolutional beta-VAE of chapter 9 for one beta."""
    data = {}
    for seed, part in enumerate(("train", "val", "test")):
        images, params = mu.generate_microstructures(MS_BETA_N[part], seed=seed, **MS_BETA_DATA)
        data[part] = (images[:, None], params)
    torch.manual_seed(0)  # initial weights
    model = mu.ConvVAE((1, 32, 32), latent_dim=6, channels=(8, 16, 32), beta=float(beta),
                       output_activation="sigmoid", recon_loss="bce")  # fmt: skip
    history = mu.fit(model, data["train"][0], data["val"][0], device="cpu", progress=False,
                     **MS_BETA_FIT)  # fmt: skip
    X_test, p_test = data["test"]
    Z = mu.encode(model, X_test, device="cpu")
    X_hat = mu.reconstruct(model, X_test, device="cpu")
    mig = mu.mutual_information_gap(Z, ms_beta_factors(p_test))["mig"]
    metadata = {
        "description": f"convolutional beta-VAE (beta={beta}) of 32 x 32 Cahn-Hilliard images",
        "data": f"mu.generate_microstructures(n, seed=s, **{MS_BETA_DATA})",
        "data_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in MS_BETA_DATA.items()},
        "n": dict(MS_BETA_N),
        "data_seeds": {"train": 0, "val": 1, "test": 2},
        "factors": ["c_mean", "log10 kappa", "log10 reduced_time"],
        "init_seed": 0,
        "fit": dict(MS_BETA_FIT, device="cpu"),
        "test_mse": float(np.mean((X_hat - X_test) ** 2)),
        "test_mig": float(mig),
        "metric": "test_mse: squared error per pixel of the posterior-mean reconstructions; "
        "test_mig: mutual information gap of the posterior means (20 bins)",
        "command": f"python scripts/train_pretrained.py ms_beta_vae_b{beta}",
    }
    path = mu.save_checkpoint(model, WEIGHTS / f"ms_beta_vae_b{beta}.pt", history=history,
                              metadata=metadata)  # fmt: skip
    print(f"{path.name}: test MSE {metadata['test_mse']:.4f}, MIG {mig:.3f}, "
          f"{history.seconds:.0f} s")  # fmt: skip
    return path


CHECKPOINTS = {
    "magpie_ae_k2": magpie_ae_k2,
    **{f"ms_coarse_ae_k{k}": functools.partial(microstructure_ae, "coarse", k) for k in (16, 32, 64)},
    "ms_spinodal_ae_k64": functools.partial(microstructure_ae, "spinodal", 64),
    "xrd_ae_k16": functools.partial(xrd_ae, 16),
    **{f"ms_beta_vae_b{b}": functools.partial(ms_beta_vae, b) for b in MS_BETA_VALUES},
}


def main(names: list[str]) -> None:
    torch.set_num_threads(1)  # deterministic and fast for a model this small
    for name in names or list(CHECKPOINTS):
        if name not in CHECKPOINTS:
            raise SystemExit(f"unknown checkpoint {name!r}; known: {sorted(CHECKPOINTS)}")
        CHECKPOINTS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
