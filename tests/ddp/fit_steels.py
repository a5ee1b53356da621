"""Driver for tests/test_distributed.py, launched by torchrun: trains an autoencoder on the
standardised numeric columns of the bundled NIMS steels with ``mu.fit`` inside a gloo process
group and writes each rank's losses and weight checksum to ``<out>.rank<N>.json``.

``--fail-rank R`` makes rank R raise after training, to check that the run fails clearly.
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

import matae_utils as mu

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--fail-rank", type=int, default=None)
args = parser.parse_args()

torch.set_num_threads(1)
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
steels = mu.load_dataset("steel_fatigue").select_dtypes("number")
X = steels.to_numpy(np.float32)
X = (X - X.mean(0)) / (X.std(0) + 1e-6)
torch.manual_seed(rank)  # different initial weights per rank: DDP must broadcast rank 0's
model = mu.AutoEncoder(X.shape[1], 3, hidden=(16,))
history = mu.fit(model, X[:350], X[350:], epochs=args.epochs, batch_size=32, lr=3e-3,
                 device="cpu", seed=0, progress=False)
if rank == args.fail_rank:
    raise RuntimeError(f"deliberate failure on rank {rank}")
weights = b"".join(v.numpy().tobytes() for v in model.state_dict().values())
args.out.with_name(f"{args.out.name}.rank{rank}.json").write_text(json.dumps({
    "rank": rank, "world": world, "train": history.train["loss"], "val": history.val["loss"],
    "sha": hashlib.sha256(weights).hexdigest()}))
dist.barrier()
dist.destroy_process_group()
