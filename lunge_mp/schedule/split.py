"""Sharing work between workers: arrivals dealt in turn, VU counts split evenly, VU ramps.

Pure integer arithmetic; no clocks, no sockets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from lunge_mp.schedule.rates import stage_pairs


def split_round_robin(offsets: list[int], workers: int, start: int) -> tuple[list[list[int]], int]:
    """Deal `offsets` over `workers` in turn, the first to worker `start` (taken mod workers).

    Item j goes to worker (start + j) mod W, so worker w gets offsets[(w − start) mod W :: W],
    in order. Returns the per-worker lists and the next start, (start + len(offsets)) mod W:
    feeding it to the next batch keeps every worker's running total within 1 of the others.
    """
    if workers < 1:
        raise ValueError(f"split_round_robin: workers must be >= 1, got {workers}")
    start %= workers
    parts = [offsets[(w - start) % workers::workers] for w in range(workers)]
    return parts, (start + len(offsets)) % workers


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` as `parts` integers summing to it: q = total // parts each, plus one for the
    first total mod parts of them (so they differ by at most 1)."""
    if parts < 1:
        raise ValueError(f"split_evenly: parts must be >= 1, got {parts}")
    if total < 0:
        raise ValueError(f"split_evenly: total must be >= 0, got {total}")
    q, r = divmod(total, parts)
    return [q + 1] * r + [q] * (parts - r)


def vus_at(start_vus: int, stages: Iterable[object], t: float) -> int:
    """VUs a ramping-vus scenario runs at t seconds, exactly as k6 steps them.

    On stage i (t ∈ [Tᵢ, Tᵢ + dᵢ)) the line is V(t) = vᵢ₋₁ + (vᵢ − vᵢ₋₁)·(t − Tᵢ)/dᵢ
    (v₋₁ = start_vus). k6 adds VU k when V reaches k going up and removes VU k when V
    reaches k − 1 going down, so the count is ⌊V(t)⌋ on a rise and ⌈V(t)⌉ on a fall
    (a VU is kept until the line has really dropped below it). A stage with dᵢ = 0 jumps
    to vᵢ at Tᵢ. Before 0: start_vus; from the end of the last stage on: its target.
    Computed in exact rationals, so V landing on an integer never rounds the wrong way.
    """
    pairs = stage_pairs(stages)
    if t < 0 or not pairs:
        return math.floor(start_vus)
    x = Fraction(t)
    t0 = Fraction(0)
    v_prev = Fraction(start_vus)
    for d_f, v_f in pairs:
        d, v = Fraction(d_f), Fraction(v_f)
        if x < t0 + d:
            line = v_prev + (v - v_prev) * (x - t0) / d
            if v >= v_prev:
                return line.numerator // line.denominator
            return -((-line.numerator) // line.denominator)
        t0 += d
        v_prev = v
    return math.floor(pairs[-1][1])


def iteration_shares(total: int, vus: list[int]) -> list[int]:
    """shared-iterations: split `total` over workers in proportion to their VUs, exactly.

    Largest remainder: floor shares first, then one more each to the largest fractions.
    """
    all_vus = sum(vus)
    if all_vus == 0:
        return [0] * len(vus)
    exact = [total * v / all_vus for v in vus]
    shares = [int(x) for x in exact]
    by_fraction = sorted(range(len(vus)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_fraction[: total - sum(shares)]:
        shares[i] += 1
    return shares
