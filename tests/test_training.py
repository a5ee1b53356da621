"""Tests of matae_utils.training: fit, History, inference helpers and checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from torch import nn
from torch.utils.data import TensorDataset

from matae_utils import training
from matae_utils.models import (
    VAE,
    AutoEncoder,
    ConvAutoEncoder,
    DenoisingAutoEncoder,
    SemiSupervisedAutoEncoder,
)
from matae_utils.training import (
    History,
    checkpoint_info,
    decode,
    encode,
    fit,
    get_device,
    list_pretrained,
    load_checkpoint,
    load_pretrained,
    predict,
    reconstruct,
    save_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def low_rank():
    """200 x 8 data close to a 2-D subspace, standardised-ish."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 2))
    X = latent @ rng.normal(size=(2, 8)) + 0.05 * rng.normal(size=(200, 8))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _new_ae(n_features=8, seed=0, **kwargs):
    torch.manual_seed(seed)
    return AutoEncoder(n_features, 2, hidden=(16,), **kwargs)


# ------------------------------------------------------------------ devices
def test_get_device(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")).type == "cpu"
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else ("mps" if mps_ok else "cpu")
    assert get_device("auto").type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device("auto") == torch.device("cuda")  # a GPU is preferred when present
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if not mps_ok:
        assert get_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        get_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


# ------------------------------------------------------------------ fit
def test_loss_falls_and_history(low_rank):
    model = _new_ae()
    hist = fit(model, low_rank[:160], low_rank[160:], epochs=30, lr=1e-2, progress=False)
    assert isinstance(hist, History)
    assert set(hist.train) == set(hist.val) == {"loss", "recon"}
    assert len(hist.train["loss"]) == len(hist.val["loss"]) == hist.n_epochs == 30
    assert hist.train["loss"][-1] < 0.3 * hist.train["loss"][0]
    assert hist.val["loss"][hist.best_epoch] == min(hist.val["loss"])
    assert hist.seconds > 0 and not hist.stopped_early
    frame = hist.to_frame()
    assert list(frame.columns) == ["train_loss", "train_recon", "val_loss", "val_recon"]
    assert frame.index.name == "epoch" and len(frame) == 30
    assert "best_epoch" in repr(hist)
    assert not model.training  # left in eval mode


def test_best_weights_restored(low_rank):
    model = _new_ae()
    hist = fit(model, low_rank[:160], low_rank[160:], epochs=15, lr=3e-2, progress=False)
    with torch.no_grad():
        val = model.loss(torch.from_numpy(low_rank[160:]))["loss"].item()
    assert val == pytest.approx(min(hist.val["loss"]), rel=1e-5)


def test_same_seed_same_weights_different_seed_different(low_rank):
    # a denoising model with dropout exercises the global RNG as well as shuffling
    def run(seed):
        torch.manual_seed(0)
        model = DenoisingAutoEncoder(8, 2, hidden=(16,), dropout=0.2, mask_prob=0.1)
        fit(model, low_rank, epochs=3, seed=seed, progress=False)
        return _weights(model)

    first = run(1)
    assert _same(first, run(1))
    assert not _same(first, run(2))
    model = _new_ae()
    state = torch.get_rng_state()
    fit(model, low_rank, epochs=1, seed=5, progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # fit restores the global RNG


def test_seed_none_follows_and_advances_global_rng(low_rank):
    a, b = _new_ae(), _new_ae()  # identical weights; global RNG left at the same state
    fit(a, low_rank, epochs=1, seed=None, progress=False)
    fit(b, low_rank, epochs=1, seed=None, progress=False)  # draws a new seed
    assert not _same(_weights(a), _weights(b))
    c = _new_ae()  # back to the state `a` started from
    fit(c, low_rank, epochs=1, seed=None, progress=False)
    assert _same(_weights(a), _weights(c))


def test_linear_autoencoder_spans_pca_subspace():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    scales = np.array([3.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1])
    X = (rng.normal(size=(512, 8)) * scales) @ q.T
    X = (X - X.mean(0)).astype(np.float32)
    torch.manual_seed(0)
    model = AutoEncoder(8, 2, hidden=(), activation=None)
    fit(model, X, epochs=40, lr=2e-2, batch_size=64, progress=False)
    W = model.decoder.net[0].weight.detach().numpy()  # [8, 2], columns span the decoder
    P = PCA(n_components=2).fit(X).components_.T  # [8, 2]
    assert np.degrees(subspace_angles(W, P)).max() < 5.0


def test_early_stopping_restores_best_epoch():
    class Scalar(nn.Module):
        """Train pulls w towards the mean of the training data (2); val measures (w - 1)^2."""

        supervised = False

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def loss(self, x, y=None):
            return {"loss": ((x - self.w) ** 2).mean()}

    model = Scalar()
    train, val = torch.full((8, 1), 2.0), torch.full((8, 1), 1.0)
    hist = fit(
        model,
        train,
        val,
        epochs=200,
        batch_size=8,
        lr=0.05,
        patience=5,
        optimizer="sgd",
        progress=False,
    )
    assert hist.stopped_early
    assert hist.n_epochs == hist.best_epoch + 1 + 5 < 200
    assert hist.val["loss"][hist.best_epoch] == min(hist.val["loss"])
    # the restored w is the one of the best epoch, not of the last
    assert (model.w.item() - 1.0) ** 2 == pytest.approx(min(hist.val["loss"]), rel=1e-5)
    assert (model.w.item() - 1.0) ** 2 < hist.val["loss"][-1]


def test_no_val_keeps_last_epoch_and_patience_needs_val(low_rank):
    hist = fit(_new_ae(), low_rank, epochs=3, progress=False)
    assert hist.best_epoch == 2 and hist.val == {}
    with pytest.raises(ValueError, match="patience=3 needs validation data"):
        fit(_new_ae(), low_rank, epochs=3, patience=3, progress=False)


def test_data_forms(low_rank):
    X = torch.from_numpy(low_rank)
    reference = _new_ae()
    fit(reference, low_rank, epochs=1, progress=False)  # float32 ndarray
    # a tensor, a DataFrame and float64 data (converted to float32) train identically
    for form in (X, pd.DataFrame(low_rank), low_rank.astype(np.float64)):
        model = _new_ae()
        hist = fit(model, form, epochs=1, progress=False)
        assert hist.n_epochs == 1 and np.isfinite(hist.train["loss"][0])
        assert _same(_weights(model), _weights(reference)), type(form).__name__
    hist = fit(_new_ae(), TensorDataset(X), TensorDataset(X[:20]), epochs=2, progress=False)
    assert hist.n_epochs == 2 and len(hist.val["loss"]) == 2
    # a Dataset is shuffled by a seeded DataLoader: reproducible too
    a, b = _new_ae(), _new_ae()
    fit(a, TensorDataset(X), epochs=2, seed=3, progress=False)
    fit(b, TensorDataset(X), epochs=2, seed=3, progress=False)
    assert _same(_weights(a), _weights(b))


def test_data_larger_than_memory(low_rank, tmp_path):
    """A memory-mapped array behind a map-style Dataset trains exactly like the array itself;
    an IterableDataset (a stream of chunks) is taken in the order it yields."""
    path = tmp_path / "X.npy"
    np.save(path, low_rank)
    mapped = np.load(path, mmap_mode="r")

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(mapped)

        def __getitem__(self, i):
            return torch.from_numpy(np.array(mapped[i]))

    class Chunks(torch.utils.data.IterableDataset):
        def __iter__(self):
            for start in range(0, len(mapped), 50):  # read 50 rows at a time
                yield from torch.from_numpy(np.array(mapped[start:start + 50]))

    a, b = _new_ae(), _new_ae()
    fit(a, Rows(), epochs=2, seed=3, progress=False)
    fit(b, TensorDataset(torch.from_numpy(low_rank)), epochs=2, seed=3, progress=False)
    assert _same(_weights(a), _weights(b))
    hist = fit(_new_ae(), Chunks(), Chunks(), epochs=3, batch_size=32, progress=False)
    assert hist.n_epochs == 3 and hist.val["loss"][-1] < hist.val["loss"][0]
    ordered = _new_ae()
    fit(ordered, torch.from_numpy(low_rank), epochs=1, batch_size=32, progress=False)
    streamed = _new_ae()
    fit(streamed, Chunks(), epochs=1, batch_size=32, progress=False)
    assert not _same(_weights(ordered), _weights(streamed))  # the array path shuffles


def test_progress_bar_runs(low_rank, capsys):
    fit(_new_ae(), low_rank, low_rank[:10], epochs=2, progress=True)
    assert "val_loss" in capsys.readouterr().err


def test_semi_supervised_fit_with_nan_labels(low_rank):
    rng = np.random.default_rng(1)
    y = low_rank[:, 0] * 2 + 0.1 * rng.normal(size=len(low_rank))
    y[rng.random(len(y)) < 0.7] = np.nan  # 70 % unlabelled
    torch.manual_seed(0)
    model = SemiSupervisedAutoEncoder(8, 2, hidden=(16,), head_hidden=(8,))
    hist = fit(
        model,
        (low_rank[:160], y[:160]),
        (low_rank[160:], y[160:]),
        epochs=30,
        lr=1e-2,
        progress=False,
    )
    assert set(hist.train) == {"loss", "recon", "supervised"}
    assert all(np.isfinite(v) for v in hist.train["supervised"])
    assert hist.train["supervised"][-1] < 0.5 * hist.train["supervised"][0]
    assert predict(model, low_rank).shape == (200, 1)


def test_conv_autoencoder_trains():
    torch.manual_seed(0)
    imgs = torch.rand(16, 1, 16, 16)
    model = ConvAutoEncoder((1, 16, 16), latent_dim=4, channels=(4, 8))
    hist = fit(model, imgs, epochs=5, batch_size=8, lr=1e-2, progress=False)
    assert hist.train["loss"][-1] < hist.train["loss"][0]
    assert encode(model, imgs).shape == (16, 4)
    assert reconstruct(model, imgs.numpy()).shape == (16, 1, 16, 16)


# ------------------------------------------------------------------ errors
def test_nan_and_inf_in_data_raise_before_training(low_rank):
    X = low_rank.copy()
    X[3, 2] = np.nan
    X[7, 0] = np.inf
    model = _new_ae()
    before = _weights(model)
    with pytest.raises(
        ValueError, match=r"train X contains 2 NaN or infinite values \(rows \[3, 7\]"
    ):
        fit(model, X, epochs=1, progress=False)
    with pytest.raises(ValueError, match="val X contains"):
        fit(model, low_rank, X, epochs=1, progress=False)
    assert _same(before, _weights(model))
    y = np.zeros(len(low_rank))
    y[0] = np.inf
    with pytest.raises(ValueError, match="train y contains 1 infinite"):
        fit(SemiSupervisedAutoEncoder(8, 2), (low_rank, y), epochs=1, progress=False)


def test_nan_loss_raises_with_hint():
    X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    model = _new_ae(5)
    with pytest.raises(RuntimeError, match="lower the learning rate"):
        fit(model, X, epochs=20, lr=1e4, optimizer="sgd", progress=False)
    assert not model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer"),
    ],
)
def test_bad_settings(low_rank, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit(_new_ae(), low_rank, progress=False, **kwargs)


def test_bad_data(low_rank):
    with pytest.raises(ValueError, match=r"unsupervised but \(X, y\) was given"):
        fit(_new_ae(), (low_rank, np.zeros(200)), epochs=1, progress=False)
    with pytest.raises(ValueError, match="unsupervised but the data has labels"):
        ds = TensorDataset(torch.from_numpy(low_rank), torch.zeros(200))
        fit(_new_ae(), ds, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"shape \[N, n_features\]"):
        fit(_new_ae(), low_rank[0], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 8\]"):
        fit(_new_ae(), low_rank[:, :5], epochs=1, progress=False)
    with pytest.raises(TypeError, match="numeric"):
        fit(_new_ae(), np.array([["a"] * 8] * 4), epochs=1, progress=False)
    with pytest.raises(ValueError, match="N=200 rows"):
        fit(SemiSupervisedAutoEncoder(8, 2), (low_rank, np.zeros(10)), epochs=1, progress=False)
    with pytest.raises(TypeError, match="loss"):
        fit(nn.Linear(2, 2), low_rank, epochs=1, progress=False)


# ------------------------------------------------------------------ inference helpers
def test_inference_helpers(low_rank):
    model = _new_ae(dropout=0.5)
    model.train()
    Z = encode(model, low_rank, batch_size=7)
    assert isinstance(Z, np.ndarray) and Z.shape == (200, 2) and Z.dtype == np.float32
    assert model.training  # mode restored
    with torch.no_grad():
        model.eval()
        ref = model.encode(torch.from_numpy(low_rank)).numpy()
    np.testing.assert_allclose(Z, ref, rtol=1e-5, atol=1e-6)  # eval mode: no dropout
    np.testing.assert_allclose(encode(model, pd.DataFrame(low_rank)), Z, rtol=1e-5, atol=1e-6)
    assert reconstruct(model, low_rank).shape == low_rank.shape
    assert decode(model, Z).shape == low_rank.shape
    X = low_rank.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encode(model, X)
    with pytest.raises(TypeError, match="predict"):
        predict(model, low_rank)


def test_vae_encode_helper_gives_means(low_rank):
    torch.manual_seed(0)
    model = VAE(8, 2)
    Z = encode(model, low_rank)
    with torch.no_grad():
        mu, _ = model.encode_dist(torch.from_numpy(low_rank))
    np.testing.assert_allclose(Z, mu.numpy(), rtol=1e-5, atol=1e-6)


def test_vae_validation_loss_is_deterministic_so_early_stopping_follows_it(low_rank):
    torch.manual_seed(0)
    model = VAE(8, 2, hidden=(16,))
    val = low_rank[160:]
    hist = fit(model, low_rank[:160], val, epochs=20, lr=1e-2, patience=5, progress=False)
    with torch.no_grad():  # the restored best weights, evaluated twice in eval mode
        again = [model.loss(torch.from_numpy(val))["loss"].item() for _ in range(2)]
    assert again[0] == again[1]
    assert again[0] == pytest.approx(hist.val["loss"][hist.best_epoch], rel=1e-6)
    assert hist.val["loss"][hist.best_epoch] == min(hist.val["loss"])
    assert set(hist.val) == {"loss", "recon_sum", "kl", "recon"}


# ------------------------------------------------------------------ devices of the model
class _MoveRecorder:
    """Records every device a given model is moved to with ``.to``."""

    def __init__(self, monkeypatch, model):
        self.devices = []
        real_to = nn.Module.to

        def to(module, *args, **kwargs):
            if module is model:
                self.devices.append(torch.device(args[0] if args else kwargs["device"]))
            return real_to(module, *args, **kwargs)

        monkeypatch.setattr(nn.Module, "to", to)


def test_fit_returns_the_model_to_its_device(low_rank, monkeypatch):
    model = _new_ae()
    # a stand-in accelerator that a CPU machine can run: "cpu:0" differs from "cpu" by
    # equality, so a move to it and a move back are told apart
    fake_gpu = torch.device("cpu", 0)
    monkeypatch.setattr(training, "get_device", lambda device="auto": fake_gpu)
    moves = _MoveRecorder(monkeypatch, model)
    fit(model, low_rank, low_rank[:20], epochs=2, progress=False)
    assert moves.devices[0] == fake_gpu  # trained there ...
    assert moves.devices[-1] == torch.device("cpu")  # ... and handed back where it came from
    assert all(p.device.type == "cpu" for p in model.parameters())
    # after fit the model's own methods take CPU tensors directly
    assert model.encode(torch.from_numpy(low_rank)).shape == (200, 2)
    # the restore also happens when training fails
    moves.devices.clear()
    with pytest.raises(RuntimeError, match="lower the learning rate"):
        fit(model, low_rank, epochs=20, lr=1e4, optimizer="sgd", progress=False)
    assert moves.devices[-1] == torch.device("cpu")


@pytest.mark.parametrize("helper", [encode, reconstruct, decode])
def test_inference_helpers_do_not_move_the_model(low_rank, monkeypatch, helper):
    model = _new_ae()
    fake_gpu = torch.device("cpu", 0)
    moves = _MoveRecorder(monkeypatch, model)
    data = low_rank if helper is not decode else np.zeros((5, 2), np.float32)
    out = helper(model, data, device=fake_gpu)
    assert isinstance(out, np.ndarray) and len(out) == len(data)
    assert moves.devices == [fake_gpu, torch.device("cpu")]  # there and back
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_a_real_gpu_keeps_the_model_on_the_cpu(low_rank):
    model = _new_ae()
    fit(model, low_rank, epochs=1, device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cpu"
    assert model.encode(torch.from_numpy(low_rank)).shape == (200, 2)
    encode(model, low_rank, device="cuda")
    assert next(model.parameters()).device.type == "cpu"


# ------------------------------------------------------------------ checkpoints
CHECKPOINT_MODELS = {
    "ae": lambda: AutoEncoder(8, 2, hidden=(16, 4), output_activation="softplus"),
    "vae": lambda: VAE(8, 3, beta=4.0),
    "semi": lambda: SemiSupervisedAutoEncoder(8, 2, n_targets=2, alpha=0.3),
    "conv1d": lambda: ConvAutoEncoder((2, 32), latent_dim=3, channels=(4, 8)),
}


@pytest.mark.parametrize("name", list(CHECKPOINT_MODELS))
def test_checkpoint_round_trip(tmp_path, name):
    torch.manual_seed(0)
    model = CHECKPOINT_MODELS[name]()
    x = torch.randn(4, *model.input_shape)
    hist = History(train={"loss": [2.0, 1.0]}, best_epoch=1, seconds=0.5)
    path = save_checkpoint(
        model,
        tmp_path / "sub" / f"{name}.pt",
        history=hist,
        metadata={"dataset": "toy", "rmse": np.float64(0.25), "cols": ["a", "b"]},
    )
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    info = checkpoint_info(path)
    assert info["class"] == type(model).__name__
    assert info["metadata"] == {"dataset": "toy", "rmse": 0.25, "cols": ["a", "b"]}
    assert info["history"].train == hist.train and info["history"].best_epoch == 1
    raw = torch.load(path, weights_only=True)  # plain containers only
    assert set(raw) >= {"class", "config", "state_dict", "metadata"}


def test_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"class": "AutoEncoder", "config": {}, "state_dict": {}, "x": pd.Timestamp(0)}, path)
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(path)


def test_checkpoint_errors(tmp_path):
    model = _new_ae()
    path = save_checkpoint(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["class"] = "Transformer"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match="not a known model class"):
        load_checkpoint(tmp_path / "unknown.pt")
    payload["class"] = "AutoEncodr"
    torch.save(payload, tmp_path / "typo.pt")
    with pytest.raises(ValueError, match="Did you mean 'AutoEncoder'"):
        load_checkpoint(tmp_path / "typo.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a matae checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match=r"metadata\['arr'\] is a ndarray"):
        save_checkpoint(model, tmp_path / "bad.pt", metadata={"arr": np.zeros(3)})
    with pytest.raises(TypeError, match="config dict"):
        save_checkpoint(nn.Linear(2, 2), tmp_path / "lin.pt")


def test_load_pretrained(tmp_path, monkeypatch):
    assert "magpie_ae_k2" in list_pretrained()
    with pytest.raises(ValueError, match=r"no pretrained checkpoint named 'no_such_checkpoint'"):
        load_pretrained("no_such_checkpoint")
    with pytest.raises(ValueError, match=r"Did you mean 'magpie_ae_k2'"):  # the closest first
        load_pretrained("magpie_ae_k3")
    with pytest.raises(ValueError, match="no pretrained checkpoint"):
        load_pretrained("../etc/passwd")
    monkeypatch.setattr(training, "WEIGHTS_DIR", tmp_path)
    model = _new_ae()
    save_checkpoint(model, tmp_path / "toy_ae.pt")
    assert list_pretrained() == ["toy_ae"]
    loaded = load_pretrained("toy_ae")
    assert isinstance(loaded, AutoEncoder)
    for p, q in zip(model.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match=r"available: \['toy_ae'\]\. Did you mean 'toy_ae'"):
        load_pretrained("toy-ae")
    assert training.pretrained_path("toy_ae") == tmp_path / "toy_ae.pt"


def test_a_checkpoint_is_shipped():
    """The parametrised test below must not be empty (it used to skip silently)."""
    assert "magpie_ae_k2" in list_pretrained()


@pytest.mark.parametrize("name", list_pretrained())
def test_every_shipped_checkpoint_loads_into_its_model(name):
    """Each tiny pretrained checkpoint shipped in matae_utils/weights rebuilds its model."""
    path = training.pretrained_path(name)
    # small enough to ship in the wheel: tens to a few hundred KB (issue 17)
    assert path.stat().st_size < 300_000
    raw = torch.load(path, weights_only=True)  # plain containers only
    # float32, or float16 to halve the file (loading casts into the model's float32 weights)
    assert all(v.dtype in (torch.float32, torch.float16) for v in raw["state_dict"].values())
    model = load_pretrained(name)
    assert isinstance(model, torch.nn.Module) and not model.training
    x = torch.zeros(2, *model.input_shape)
    assert model(x).shape == x.shape
    meta = checkpoint_info(path)["metadata"]
    assert {"command", "metric", "test_mse", "data"} <= set(meta)  # how to reproduce, and what
    assert {"data_seed", "data_seeds"} & set(meta)  # the training data's seed(s)
    assert meta["command"].startswith("python scripts/train_pretrained.py")


def test_magpie_ae_k2_reproduces_its_recorded_test_mse():
    """Featurize the recorded test compounds, standardise them with the recorded scaler and
    reconstruct: the error is the one recorded by scripts/train_pretrained.py."""
    from matae_utils.featurize import magpie_features

    model = load_pretrained("magpie_ae_k2")
    info = checkpoint_info(training.pretrained_path("magpie_ae_k2"))
    meta = info["metadata"]
    formulas = meta["test_formulas"].split()
    assert len(formulas) == meta["n_test"] > 500
    raw = magpie_features(formulas, progress=False)[meta["descriptors"]].to_numpy()
    X = ((raw - meta["scaler_mean"].numpy()) / meta["scaler_scale"].numpy()).astype(np.float32)
    assert X.shape == (meta["n_test"], model.n_features)
    mse = float(np.mean((reconstruct(model, X) - X) ** 2))
    assert mse == pytest.approx(meta["test_mse"], rel=1e-4)
    assert mse < meta["test_mse_pca2"]  # better than the recorded PCA baseline on the split
    assert info["history"].best_epoch >= 0 and model.latent_dim == 2
