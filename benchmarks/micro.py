"""Micro-benchmarks of the package: import time, featurization, the Cahn-Hilliard generator,
one training epoch of each chapter model, and ``mu.fit`` against a textbook full-batch loop.

Each function returns a list of result rows (dicts with ``name``, ``value``, ``unit`` and, where
there is one, ``baseline``, ``ratio`` and ``target``); ``benchmarks/run.py`` collects them into
``benchmarks/results.json``. Timings are wall-clock seconds on this machine: compare them within
one run (the ratios), not across machines.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np


def _seconds(fn: Callable[[], object], repeat: int = 1) -> float:
    """Median wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_time() -> list[dict]:
    code = "import time; t = time.perf_counter(); import matae_utils; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    return [{"name": "import matae_utils", "value": statistics.median(runs), "unit": "s",
             "target": "< 1 s", "holds": statistics.median(runs) < 1.0,
             "protocol": "median of 5 fresh interpreters"}]


def featurization() -> list[dict]:
    import matae_utils as mu

    formulas = mu.deduplicate_formulas(mu.load_dataset("expt_gap"))["formula"]
    previous = os.environ.get("MATAE_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MATAE_CACHE"] = cache
        try:
            cold = _seconds(lambda: mu.magpie_features(formulas, progress=False))
            warm = _seconds(lambda: mu.magpie_features(formulas, progress=False), repeat=3)
        finally:
            if previous is None:
                os.environ.pop("MATAE_CACHE")
            else:
                os.environ["MATAE_CACHE"] = previous
    return [
        {"name": f"Magpie features of expt_gap ({len(formulas)} formulas), cold", "value": cold,
         "unit": "s", "protocol": "empty MATAE_CACHE, serial (n_jobs=1)"},
        {"name": "Magpie features of expt_gap, from the disk cache", "value": warm, "unit": "s",
         "baseline": cold, "ratio": warm / cold, "target": "cached < cold / 4",
         "holds": warm < cold / 4},
    ]


def cahn_hilliard() -> list[dict]:
    import matae_utils as mu

    mu.generate_microstructures(4, seed=1)  # imports and FFT plans
    n = 500
    seconds = _seconds(lambda: mu.generate_microstructures(n, size=64, seed=0))
    return [{"name": "Cahn-Hilliard microstructures (64 x 64, default times)",
             "value": n / seconds, "unit": "images/s", "target": ">= 100 images/s",
             "holds": n / seconds >= 100, "protocol": f"{n} images, seed 0"}]


def one_epoch_per_model() -> list[dict]:
    """One epoch of each chapter's model on the CPU, at the chapters' batch sizes."""
    import torch

    import matae_utils as mu

    torch.set_num_threads(1)
    data = mu.prepare_compositions()
    X = data.X_train
    images, _ = mu.generate_microstructures(512, size=64, seed=0)
    images = images[:, None].astype(np.float32)  # [N, 1, 64, 64]
    patterns = mu.xrd_dataset(n_per_prototype=2, seed=0)[0].astype(np.float32)
    patterns = patterns[:, None] if patterns.ndim == 2 else patterns  # [N, 1, L]
    d = X.shape[1]
    cases = [
        ("AutoEncoder, Magpie (chapters 1-2)", lambda: mu.AutoEncoder(d, 2, hidden=(64,)), X, 64),
        ("VAE, Magpie", lambda: mu.VAE(d, 2, hidden=(64,)), X, 64),
        ("ConvAutoEncoder 2-D, 64 x 64 microstructures",
         lambda: mu.ConvAutoEncoder(images.shape[1:], 16), images, 32),
        ("ConvAutoEncoder 1-D, XRD patterns",
         lambda: mu.ConvAutoEncoder(patterns.shape[1:], 16), patterns, 64),
    ]
    rows = []
    for name, build, train, batch in cases:
        torch.manual_seed(0)
        model = build()
        history = mu.fit(model, train, epochs=1, batch_size=batch, device="cpu", progress=False)
        rows.append({"name": f"one epoch: {name}", "value": history.seconds, "unit": "s",
                     "protocol": f"{len(train)} samples, batch {batch}, 1 CPU thread"})
    return rows


def fit_vs_full_batch() -> list[dict]:
    """``mu.fit`` (mini-batches of 64, Adam) against the full-batch loop textbooks show
    (one Adam step per epoch on all rows), same model, data and number of epochs."""
    import torch

    import matae_utils as mu

    torch.set_num_threads(1)
    data = mu.prepare_compositions()
    d, epochs = data.X_train.shape[1], 100
    torch.manual_seed(0)
    model = mu.AutoEncoder(d, 2, hidden=(64,))
    history = mu.fit(model, data.X_train, data.X_val, epochs=epochs, batch_size=64, seed=0,
                     device="cpu", progress=False)
    fit_val = min(history.val["loss"])
    fit_time = history.seconds

    torch.manual_seed(0)
    plain = mu.AutoEncoder(d, 2, hidden=(64,))
    X = torch.from_numpy(data.X_train)
    X_val = torch.from_numpy(data.X_val)
    opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    start = time.perf_counter()
    best = float("inf")
    for _ in range(epochs):
        plain.train()
        loss = ((plain(X) - X) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        plain.eval()
        with torch.no_grad():
            best = min(best, float(((plain(X_val) - X_val) ** 2).mean()))
    plain_time = time.perf_counter() - start
    return [
        {"name": "fit vs full-batch loop: validation MSE after 100 epochs", "value": fit_val,
         "baseline": best, "ratio": fit_val / best, "unit": "MSE per element",
         "target": "fit < full batch", "holds": fit_val < best,
         "protocol": "AutoEncoder(d, 2, hidden=(64,)), prepare_compositions(seed=0), Adam 1e-3"},
        {"name": "fit vs full-batch loop: time for 100 epochs", "value": fit_time,
         "baseline": plain_time, "ratio": fit_time / plain_time, "unit": "s",
         "protocol": f"same run; fit takes {-(-len(X) // 64)} mini-batch steps per epoch, "
                     "the loop one step"},
    ]


ALL = {
    "import": import_time,
    "featurization": featurization,
    "cahn_hilliard": cahn_hilliard,
    "one_epoch": one_epoch_per_model,
    "fit_vs_full_batch": fit_vs_full_batch,
}
