"""DistributedDataParallel helpers for `torchrun` (1..N processes; NCCL on GPU, gloo on CPU).

Follows the PyTorch DDP tutorial / torchrun conventions: RANK, LOCAL_RANK and WORLD_SIZE come from the
environment; without them we run as a single process (rank 0 of 1) and never touch torch.distributed.
Data order is stateless: `EpochBatcher.batch(step)` derives the rank's indices for any step from
(seed, epoch) through `DistributedSampler`, so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as tdist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler


@dataclass
class DistInfo:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistInfo:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1).

    device: "cuda", "cpu" or None (cuda when available). Each rank uses cuda:LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (device == "cuda") or (device is None and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group(backend="nccl" if use_cuda else "gloo", **({"device_id": dev} if use_cuda else {}))
    return DistInfo(rank=rank, local_rank=local, world_size=world, device=dev)


def cleanup() -> None:
    if tdist.is_available() and tdist.is_initialized():
        tdist.barrier()
        tdist.destroy_process_group()


def get_rank() -> int:
    return tdist.get_rank() if tdist.is_available() and tdist.is_initialized() else 0


def get_world_size() -> int:
    return tdist.get_world_size() if tdist.is_available() and tdist.is_initialized() else 1


def is_main() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if get_world_size() > 1:
        tdist.barrier()


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, numpy and torch (CPU + CUDA) with seed + rank, so ranks draw different masks/noise."""
    s = seed + rank
    random.seed(s)
    np.random.seed(s % (2**32))
    torch.manual_seed(s)


def wrap_ddp(model: torch.nn.Module, info: DistInfo, **kw) -> torch.nn.Module:
    """DDP-wrap when world_size > 1 (parameters are broadcast from rank 0 at construction)."""
    if not info.distributed:
        return model
    if info.device.type == "cuda":
        return DDP(model, device_ids=[info.device.index], **kw)
    return DDP(model, **kw)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, DDP) else model


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    if get_world_size() > 1:
        x = x.clone()
        tdist.all_reduce(x, op=tdist.ReduceOp.SUM)
        x /= get_world_size()
    return x


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any rank (used for the time budget / SIGTERM stop)."""
    if get_world_size() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_(t: torch.Tensor, src: int = 0) -> None:
    if get_world_size() > 1:
        tdist.broadcast(t, src)


class _Len:
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


class EpochBatcher:
    """Per-rank batches of dataset indices, a pure function of the global step.

    Every epoch the (seed, epoch)-shuffled index list is split across ranks by DistributedSampler
    (drop_last, so all ranks take the same number of steps); each rank's part is cut into batches of
    `batch_size` (the per-rank batch), dropping the ragged end.
    """

    def __init__(
        self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True
    ):
        self.n, self.batch_size = n, batch_size
        self.sampler = DistributedSampler(
            _Len(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True
        )
        self.steps_per_epoch = len(self.sampler) // batch_size
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"dataset of {n} items is too small for {world_size} ranks x batch {batch_size}; lower --batch-size"
            )
        self._epoch: int | None = None
        self._idx: list[int] = []

    def batch(self, step: int) -> torch.Tensor:
        epoch, off = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._idx = list(iter(self.sampler))
            self._epoch = epoch
        return torch.tensor(self._idx[off * self.batch_size : (off + 1) * self.batch_size], dtype=torch.long)  # (B,)
