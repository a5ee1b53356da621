"""Train the composition autoencoder on several processes (GPUs or CPU cores, one machine or many)
with PyTorch's DistributedDataParallel, launched by ``torchrun``.

Nothing here re-implements distribution: ``torchrun`` starts the processes and sets their rank
and world size in the environment, :func:`torch.distributed.init_process_group` connects them,
and :func:`matae_utils.fit` sees the process group and trains with
:class:`torch.nn.parallel.DistributedDataParallel` (each process takes its share of every
epoch, gradients are averaged at each step). The script is the one the scaling-up appendix
explains::

    # one machine, 4 GPUs (NCCL) or 4 CPU processes (gloo)
    torchrun --standalone --nproc_per_node=4 -m matae_utils.distributed --epochs 200

    # two machines with 8 GPUs each: run this on both, with the first machine's address
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=node0.example.org:29500 -m matae_utils.distributed --epochs 200

Rank 0 writes the trained model with :func:`matae_utils.save_checkpoint`. If any process
fails, ``torchrun`` stops the others and exits with a non-zero status naming the failed rank.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "parse_args", "train"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options of ``python -m matae_utils.distributed``."""
    parser = argparse.ArgumentParser(
        prog="torchrun ... -m matae_utils.distributed",
        description="Train the composition autoencoder with DistributedDataParallel.")
    parser.add_argument("--dataset", default="expt_gap",
                        help="bundled dataset with a 'formula' column (default: expt_gap)")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="*", default=[64])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64,
                        help="per process; the global batch is nproc * batch-size")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N compounds (quick checks)")
    parser.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto",
                        help="auto: nccl when every process has a GPU, else gloo")
    parser.add_argument("--out", type=Path, default=Path("composition_ae_ddp.pt"),
                        help="checkpoint written by rank 0")
    parser.add_argument("--report", type=Path, default=None,
                        help="write each rank's final losses and weight checksum to "
                             "REPORT.rank<N>.json (used by the tests)")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> dict:
    """Join the process group that ``torchrun`` describes, train, and leave it.

    Returns:
        dict: this process's rank, world size, first and last training loss, the best
        validation loss and a checksum of the final weights (equal on every rank).
    """
    import hashlib

    import torch
    import torch.distributed as dist

    import matae_utils as mu

    if "RANK" not in os.environ:
        raise RuntimeError(
            "launch this module with torchrun, e.g. `torchrun --standalone --nproc_per_node=2 "
            "-m matae_utils.distributed`; RANK and WORLD_SIZE are not set")
    cuda = torch.cuda.is_available()
    backend = ("nccl" if cuda else "gloo") if args.backend == "auto" else args.backend
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
        df = mu.load_dataset(args.dataset)
        if args.limit is not None:
            df = df.iloc[: args.limit]
        if rank == 0:  # featurize once; the others then read the disk cache
            data = mu.prepare_compositions(df, seed=args.seed)
        dist.barrier()
        if rank != 0:
            data = mu.prepare_compositions(df, seed=args.seed)
        torch.manual_seed(args.seed)  # same initial weights everywhere (DDP broadcasts rank 0's)
        model = mu.AutoEncoder(data.X_train.shape[1], args.latent_dim, hidden=tuple(args.hidden))
        history = mu.fit(model, data.X_train, data.X_val, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                         device=device, seed=args.seed, progress=True)
        weights = b"".join(v.detach().cpu().numpy().tobytes()
                           for v in model.state_dict().values())
        result = {
            "rank": rank, "world_size": world, "backend": backend,
            "first_train_loss": history.train["loss"][0],
            "last_train_loss": history.train["loss"][-1],
            "best_val_loss": min(history.val["loss"]),
            "epochs": history.n_epochs,
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
        }
        if rank == 0:
            mu.save_checkpoint(model, args.out, metadata={
                "trained_with": f"torchrun, {world} processes, {backend}",
                "dataset": args.dataset, "descriptors": list(data.descriptors),
                "seed": args.seed, "best_val_loss": result["best_val_loss"]})
        if args.report is not None:
            path = args.report.with_name(f"{args.report.name}.rank{rank}.json")
            path.write_text(json.dumps(result, indent=1))
        # leave together: a rank that tears down gloo while its peer still talks to it aborts
        dist.barrier()
        return result
    finally:
        dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``torchrun ... -m matae_utils.distributed``."""
    result = train(parse_args(argv))
    if result["rank"] == 0:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
