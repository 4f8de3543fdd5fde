"""runutil.auto_total_steps: the automatic step count fills the time budget, and --max-steps caps it."""

import torch
from mmamba.checkpoint import Deadline
from mmamba.runutil import auto_total_steps


def test_fills_the_budget_and_respects_the_cap():
    cpu = torch.device("cpu")
    deadline = Deadline(1.0, margin_s=0.0, device=cpu, install_signals=False)  # 60 s, just started
    # 30 steps timed in 1 s -> ~30 steps/s over the ~60 s left, minus the 6 % reserve
    total = auto_total_steps(40, 30, 1.0, deadline, cpu)
    assert 40 + 0.9 * 30 * 59 < total <= 40 + 30 * 60
    assert auto_total_steps(40, 30, 1.0, deadline, cpu, cap=500) == 500
    assert auto_total_steps(40, 30, 1.0, deadline, cpu, cap=10**6) == total  # a loose cap changes nothing
