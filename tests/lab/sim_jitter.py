#!/usr/bin/env python3
"""How well can a short set-up place a jittery path's centre? A simulation behind the jitter20
relay's definition (tests/lab/README.md, "Why ±20 ms of round trip").

The relay's jitter (relay/src/shape.rs): per direction a process of time with a knot every
max(50 ms, 4 × J), each knot uniform within ±J, linear between knots; a hold is D/2 plus the
process, never below zero. A set-up is N turns: the endpoint speaks, the controller answers at
once, the endpoint speaks again 1–40 ms after the answer. Each turn is one far-leg sample. The
estimators: farhand's (Lat::agreement: the densest ±max(5 ms, 20 %) window finds the mode, the
samples within twice that of the window's median agree, their Hodges–Lehmann centre) and, for
comparison, the median of all samples. Prints, per hold jitter J and added delay D, the share
of set-ups whose figure misses D by more than the lab's ± 15 ms, and the same for the IKI
median of 40 log-normal keystroke intervals against ± 10 %.

    tests/lab/sim_jitter.py [--trials 3000] [--seed 1]
"""
import argparse
import math
import random
import statistics


def process(rng, j_ms):
    """The relay's jitter process for one direction: offset (ms) at time t (ms)."""
    period = max(50.0, 4.0 * j_ms)
    knots = {}

    def at(t):
        k = int(t // period)
        for i in (k, k + 1):
            if i not in knots:
                knots[i] = rng.uniform(-j_ms, j_ms)
        frac = (t - k * period) / period
        return knots[k] + (knots[k + 1] - knots[k]) * frac
    return at


def setup_samples(rng, delay, turns, j_ms):
    out_, back = process(rng, j_ms), process(rng, j_ms)
    t, samples = rng.uniform(0, 80), []
    for _ in range(turns):
        there = max(0.0, delay / 2 + out_(t))
        answer = t + there + 0.3
        rtt = there + max(0.0, delay / 2 + back(answer)) + 0.3
        samples.append(rtt)
        t += rtt + rng.uniform(1, 40)
    return samples


def half_width(c):
    return max(5.0, 0.2 * c)


def hodges_lehmann(xs):
    return statistics.median((a + b) / 2 for i, a in enumerate(xs) for b in xs[i:])


def band_estimate(xs):
    best = []
    for c in xs:
        inside = [v for v in xs if abs(v - c) <= half_width(c)]
        if len(inside) > len(best):
            best = inside
    core = sorted(best)
    mode = core[(len(core) + 1) // 2 - 1]
    band = 2 * half_width(mode)
    return hodges_lehmann(sorted(v for v in xs if abs(v - mode) <= band))


def iki_miss(rng, j_ms, tol=0.10):
    median, spread = rng.uniform(150, 230), rng.uniform(0.2, 0.5)
    intervals = [min(600.0, max(70.0, median * math.exp(rng.gauss(0, spread)))) for _ in range(40)]
    hold, t, arrivals = process(rng, j_ms), 0.0, []
    for d in [0.0] + intervals:
        t += d
        arrivals.append(t + hold(t))
    got = statistics.median(b - a for a, b in zip(arrivals, arrivals[1:]))
    return abs(got / statistics.median(intervals) - 1) > tol


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print("hold ±J  delay  turns  band-estimate misses ±15 ms  all-median misses  IKI misses ±10 %")
    for j in (5, 10, 20):
        iki = sum(iki_miss(rng, j) for _ in range(args.trials)) / args.trials
        for delay in (0, 60, 120, 200):
            for turns in (7, 10):
                band = allmed = 0
                for _ in range(args.trials):
                    xs = setup_samples(rng, delay, turns, j)
                    band += abs(band_estimate(xs) - delay) > 15
                    allmed += abs(statistics.median(xs) - delay) > 15
                print(f"{j:6d}  {delay:5d}  {turns:5d}  {band / args.trials:27.2%}  "
                      f"{allmed / args.trials:17.2%}  {iki:16.2%}")


if __name__ == "__main__":
    main()
