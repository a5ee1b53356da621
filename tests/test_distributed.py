"""Multi-process training with PyTorch's DistributedDataParallel, launched by torchrun, on the CPU
with the gloo backend (two processes): what the scaling-up appendix promises.

- ``mu.fit`` inside a process group: the loss falls, and both ranks end with identical weights
  (they start from different ones; DDP broadcasts rank 0's and averages every gradient), and
  their logged losses are the same global averages.
- A rank that fails makes the whole run fail, with the failing rank and its error in the output.
- ``python -m matae_utils.distributed`` (the appendix's script) trains and writes its checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "ddp" / "fit_steels.py"

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("this torch build has no gloo backend", allow_module_level=True)


def _torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def _reports(out: Path) -> list[dict]:
    return [json.loads(out.with_name(f"{out.name}.rank{r}.json").read_text()) for r in (0, 1)]


def test_fit_under_ddp_learns_and_keeps_the_ranks_identical(tmp_path):
    out = tmp_path / "report"
    proc = _torchrun(str(DRIVER), "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = _reports(out)
    assert (r0["world"], r1["world"]) == (2, 2)
    assert r0["train"][-1] < 0.7 * r0["train"][0], r0["train"]  # the loss falls
    assert r0["sha"] == r1["sha"]  # identical weights on both ranks
    assert r0["train"] == pytest.approx(r1["train"]) and r0["val"] == pytest.approx(r1["val"])


def test_a_failing_rank_fails_the_run_clearly(tmp_path):
    proc = _torchrun(str(DRIVER), "--out", str(tmp_path / "report"), "--epochs", "2",
                     "--fail-rank", "1")
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "deliberate failure on rank 1" in log
    assert "rank" in log and "FAILED" in log.upper()  # torchrun's failure summary


def test_the_appendix_script_trains_and_saves_a_checkpoint(tmp_path):
    ckpt, report = tmp_path / "ae.pt", tmp_path / "report"
    proc = _torchrun("-m", "matae_utils.distributed", "--limit", "300", "--epochs", "5",
                     "--batch-size", "32", "--out", str(ckpt), "--report", str(report))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = _reports(report)
    assert r0["backend"] == "gloo" and r0["weights_sha256"] == r1["weights_sha256"]
    assert r0["last_train_loss"] < r0["first_train_loss"]
    import matae_utils as mu

    model = mu.load_checkpoint(ckpt)
    assert model.latent_dim == 2
    assert mu.checkpoint_info(ckpt)["metadata"]["trained_with"] == "torchrun, 2 processes, gloo"


def test_the_script_refuses_to_run_without_torchrun():
    proc = subprocess.run([sys.executable, "-m", "matae_utils.distributed", "--limit", "10"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != "RANK"})
    assert proc.returncode != 0 and "launch this module with torchrun" in proc.stderr
