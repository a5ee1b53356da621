"""Timings of the physics-based data generators (plain script, prints a small report).

Usage::

    python benchmarks/bench_generators.py            # everything
    python benchmarks/bench_generators.py --only microstructure
    python benchmarks/bench_generators.py --only xrd --n-per-prototype 10

Targets: 2000 Cahn-Hilliard microstructures of 64 x 64 in under 20 s on 2 CPU cores.
The XRD part times the cold pymatgen peak-list computation for all AFLOW prototypes
(the disk cache is bypassed), then augmented datasets built from the in-memory cache.
Wall-clock times depend on what else runs on the machine, so the load average and the
process CPU time are printed too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager

import numpy as np


@contextmanager
def timer(label: str):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<58s} wall {wall:7.2f} s   cpu {cpu:7.2f} s")


def bench_microstructure(n: int, size: int) -> None:
    from matae_utils.microstructure import characteristic_length, generate_microstructures

    generate_microstructures(4, size=size, time=(100.0, 110.0), seed=1)  # warm up imports
    with timer(f"generate_microstructures({n}, size={size})"):
        images, params = generate_microstructures(n, size=size, seed=0)
    print(
        f"    {images.shape} {images.dtype}, mean steps {params.steps.mean():.0f}, "
        f"domain size {np.median(characteristic_length(images)):.1f} px (median), "
        f"image std {images.std(axis=(1, 2)).mean():.2f}"
    )


def bench_xrd(n_per_prototype: int) -> None:
    import matae_utils.xrd as xrd

    with timer("load_prototypes() (cold: json + SpacegroupAnalyzer)"):
        table = xrd.load_prototypes()
    print(f"    {len(table)} prototypes")

    with tempfile.TemporaryDirectory() as cache_dir:  # leave ~/.cache/matae alone
        os.environ["MATAE_CACHE"] = cache_dir
        with timer("peak lists of all prototypes (cold, pymatgen) + .npz"):
            _, labels = xrd.xrd_dataset(n_per_prototype=1, seed=0)
        print(f"    usable: {labels['name'].nunique()}, skipped: {len(labels.attrs['skipped'])}")
        xrd._PEAKS.clear()
        with timer("peak lists of all prototypes (from the .npz cache)"):
            xrd.xrd_dataset(n_per_prototype=1, seed=0)

    for profile in ("gaussian", "pseudo-voigt"):
        with timer(f"xrd_dataset(n_per_prototype={n_per_prototype}, {profile}) warm"):
            X, labels = xrd.xrd_dataset(
                n_per_prototype=n_per_prototype, profile=profile, cache=False, seed=0
            )
        print(f"    X {X.shape} {X.dtype}, {X.nbytes / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("microstructure", "xrd"), default=None)
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-per-prototype", type=int, default=10)
    args = parser.parse_args()

    print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")
    if args.only in (None, "microstructure"):
        bench_microstructure(args.n_images, args.size)
    if args.only in (None, "xrd"):
        bench_xrd(args.n_per_prototype)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
