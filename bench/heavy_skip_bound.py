#!/usr/bin/env python3
"""How much could the heavy kernel gain by skipping far components? An optimistic bound.

The heavy kernel (shaders/step-heavy.wgsl) evaluates every component for every particle: one
exp each. A component can be skipped for a batch of particles when its contribution to every
particle's log-sum-exp is below a threshold: exp(v - max) < exp(-threshold) for each particle,
where v <= lw - lambda_min(P) dist(batch box, mean)^2 / 2 bounds the component's log-term over the
batch's bounding box. threshold 104 drops only terms that are exactly 0 in f32 (bit-identical
results); 17 drops terms below f32 rounding of the sum.

This script measures, at each sigma of the workload (edm2's tree, VE, EDM sigmas 5 to 0.002, 32
Heun steps), the fraction of (batch, component) pairs that could NOT be skipped, with particles drawn
from the exact noised class law at that sigma, sorted along a Morton curve (so that a batch is
spatially compact), in batches of --batch (a SIMD batch of the kernel: 8 invocations x 16
particles = 128), and each particle's running max replaced by its final max (the best case).
The reciprocal of the mean fraction bounds the speed-up skipping could give. One JSON object on
stdout.
"""
import argparse
import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def morton(x):
    """Morton (Z-order) keys of 2-D points, 16 bits per coordinate."""
    q = ((x - x.min(0)) / (np.ptp(x, 0) + 1e-12) * 65535).astype(np.uint64)

    def spread(v):
        v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)

    return spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default=os.path.join(ROOT, "examples", "tree-2d.json"))
    ap.add_argument("--particles", type=int, default=1 << 15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=104.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    spec = json.load(open(a.spec))
    classes = spec["classes"]
    comps = [c for cl in classes for c in cl["components"]]
    mean = np.array([c["mean"] for c in comps], dtype=np.float64)
    cov = np.array([c["cov"] for c in comps], dtype=np.float64)
    cls = np.concatenate([np.full(len(cl["components"]), i) for i, cl in enumerate(classes)])
    class_w = np.array([cl.get("weight", 1.0) for cl in classes], dtype=np.float64)
    class_w /= class_w.sum()
    w = np.array([c.get("weight", 1.0) for c in comps], dtype=np.float64)
    w = w / np.array([w[cls == k].sum() for k in cls]) * class_w[cls]
    target = [cl["name"] for cl in classes].index(spec["target"])
    in_target = np.where(cls == target)[0]

    solver, process = spec["solver"], spec["process"]
    smax, smin, steps = process["sigmaMax"], solver["tMin"], solver["steps"]
    rho = solver["grid"]["rho"]
    # The N + 1 EDM sigmas of N steps: Heun evaluates the score at both ends of each interval.
    i = np.arange(steps + 1)
    sigmas = (smax ** (1 / rho) + i / steps * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho

    rng = np.random.default_rng(a.seed)
    n, b = a.particles, a.batch
    rows = []
    for s in sigmas:
        k = rng.choice(in_target, size=n, p=w[in_target] / w[in_target].sum())
        chol = np.linalg.cholesky(cov[k])
        x = mean[k] + np.einsum("nij,nj->ni", chol, rng.standard_normal((n, 2))) + s * rng.standard_normal((n, 2))
        x = x[np.argsort(morton(x))]
        noised = cov + s * s * np.eye(2)
        prec = np.linalg.inv(noised)
        lw = np.log(w) - 0.5 * np.log(np.linalg.det(noised)) - np.log(2 * np.pi)
        lam_min = np.linalg.eigvalsh(prec)[:, 0]
        vmax = np.empty(n)
        for c in range(0, n, 4096):  # chunks: [chunk, components, 2] temporaries
            r = x[c : c + 4096, None, :] - mean[None, in_target, :]
            v = lw[None, in_target] - 0.5 * np.einsum("nki,kij,nkj->nk", r, prec[in_target], r)
            vmax[c : c + 4096] = v.max(1)
        evaluated = []
        for start in range(0, n, b):
            xb = x[start : start + b]
            gap = np.maximum(0, np.maximum(xb.min(0) - mean, mean - xb.max(0)))
            upper = lw - 0.5 * lam_min * (gap**2).sum(1)
            evaluated.append((upper >= vmax[start : start + b].min() - a.threshold).mean())
        rows.append({"sigma": float(s), "fractionEvaluated": float(np.mean(evaluated))})
    mean_fraction = float(np.mean([r["fractionEvaluated"] for r in rows]))
    print(
        json.dumps(
            {
                "benchmark": "heavy-skip-bound",
                "configuration": vars(a),
                "steps": rows,
                "meanFractionEvaluated": mean_fraction,
                "speedupBound": 1 / mean_fraction,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
