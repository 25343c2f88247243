#!/usr/bin/env python3
"""PyTorch CPU sampler of a heavy Gaussian mixture spec (bench/heavy.ts runs it side by side).

Reads a spec in this project's format (docs/spec.md) restricted to what the heavy benchmark
uses: Gaussian components (full covariances), cfg against the unconditional law, the VE (EDM)
process, Heun on the EDM grid. Samples it in float32 with its own loop over the mixture's exact
score, the same discretisation as the project (N Heun steps between the N + 1 EDM sigmas
sigma_max .. tMin, two score evaluations per step), and prints one JSON object on stdout.

Two implementations of the exact score (--variant):
  precision  the noised precision P_k = (S_k + sigma^2 I)^-1 and log-normaliser per component,
             computed once per sigma (as the project's host table does); per particle
             z_k = P_k (mu_k - x), log-weights in log space, softmax; the conditional and the
             unconditional score share the per-component terms (one pass over all components).
  edm2       the formulation of NVlabs/edm2's toy_example.py GaussianMixture (written anew): the
             eigendecomposition S = Q L Q^T once, per call L + sigma^2, one einsum for
             z = Q (L + sigma^2)^-1 Q^T (mu - x), weights phi N(x; mu, S + sigma^2 I) in linear
             space, and two separate mixtures (the class, and both classes) for the guidance.

Particles are processed in chunks (--chunk) so that the [chunk, components, dim] temporaries
stay in cache; the timing covers the sampling loop only (no import, no spec parsing).
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time


def load_mixture(path, torch):
    with open(path) as f:
        spec = json.load(f)
    if spec["process"]["kind"] != "ve":
        raise SystemExit("torch baseline: only the ve process")
    if spec.get("guidance", {}).get("kind", "none") not in ("cfg", "none"):
        raise SystemExit("torch baseline: only cfg or no guidance")
    guidance = spec.get("guidance", {"kind": "none"})
    if guidance.get("negative", "unconditional") != "unconditional":
        raise SystemExit("torch baseline: only the unconditional negative")
    dim = spec["dim"]
    cw = [c.get("weight", 1.0) for c in spec["classes"]]
    cw_sum = sum(cw)
    mus, covs, log_w_cond, log_w_uncond, is_target = [], [], [], [], []
    for c, cls in zip(cw, spec["classes"]):
        ws = [k.get("weight", 1.0) for k in cls["components"]]
        ws_sum = sum(ws)
        for w, k in zip(ws, cls["components"]):
            if k["kind"] != "gaussian":
                raise SystemExit("torch baseline: Gaussian components only")
            cov = k["cov"]
            if isinstance(cov, (int, float)):
                cov = [[cov if i == j else 0.0 for j in range(dim)] for i in range(dim)]
            elif not isinstance(cov[0], list):
                cov = [[cov[i] if i == j else 0.0 for j in range(dim)] for i in range(dim)]
            mus.append(k["mean"])
            covs.append(cov)
            log_w_cond.append(math.log(w / ws_sum))
            log_w_uncond.append(math.log(c / cw_sum) + math.log(w / ws_sum))
            is_target.append(cls["name"] == spec["target"])
    f32 = torch.float32
    return {
        "spec": spec,
        "dim": dim,
        "mu": torch.tensor(mus, dtype=f32),
        "cov": torch.tensor(covs, dtype=f32),
        "log_w_cond": torch.tensor(log_w_cond, dtype=f32),
        "log_w_uncond": torch.tensor(log_w_uncond, dtype=f32),
        "target": torch.tensor(is_target),
        "w": float(guidance.get("w", 0.0)) if guidance["kind"] == "cfg" else 0.0,
    }


def edm_sigmas(sigma_max, sigma_min, steps, rho):
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(a + (b - a) * i / steps) ** rho for i in range(steps + 1)]


class PrecisionScore:
    """Guided score from per-sigma precision matrices and log-normalisers (log space)."""

    def __init__(self, m, torch):
        self.torch = torch
        self.m = m
        self.t_idx = m["target"].nonzero().squeeze(1)
        self.cache = {}

    def tables(self, sigma):
        t = self.cache.get(sigma)
        if t is None:
            torch, m = self.torch, self.m
            eye = torch.eye(m["dim"], dtype=torch.float32)
            c = m["cov"] + (sigma * sigma) * eye
            p = torch.linalg.inv(c)
            log_norm = -0.5 * torch.logdet(c) - 0.5 * m["dim"] * math.log(2 * math.pi)
            t = (p, m["log_w_cond"] + log_norm, m["log_w_uncond"] + log_norm)
            self.cache[sigma] = t
        return t

    def __call__(self, x, sigma):
        torch = self.torch
        p, lw_cond, lw_uncond = self.tables(sigma)
        diff = self.m["mu"].unsqueeze(0) - x.unsqueeze(1)  # [n, K, d]
        z = torch.einsum("kij,nkj->nki", p, diff)  # P (mu - x): the component scores
        quad = (diff * z).sum(-1)  # [n, K]
        r_u = torch.softmax(lw_uncond - 0.5 * quad, dim=1)
        s_u = torch.einsum("nk,nkd->nd", r_u, z)
        quad_t = quad.index_select(1, self.t_idx)
        r_t = torch.softmax(lw_cond.index_select(0, self.t_idx) - 0.5 * quad_t, dim=1)
        s_t = torch.einsum("nk,nkd->nd", r_t, z.index_select(1, self.t_idx))
        w = self.m["w"]
        return (1 + w) * s_t - w * s_u


class Edm2Score:
    """Guided score as edm2's toy GaussianMixture evaluates it: eigenbasis, linear-space weights, two mixtures."""

    def __init__(self, m, torch):
        self.torch = torch
        self.w = m["w"]
        t = m["target"]
        self.cond = self.mixture(m["mu"][t], m["cov"][t], m["log_w_cond"][t].exp())
        self.uncond = self.mixture(m["mu"], m["cov"], m["log_w_uncond"].exp())

    def mixture(self, mu, cov, phi):
        lam, q = self.torch.linalg.eigh(cov)
        return {"mu": mu, "L": lam, "Q": q, "phi": phi / phi.sum()}

    def score_of(self, g, x, sigma):
        torch = self.torch
        lp = g["L"] + sigma * sigma  # [K, d]
        d = lp.prod(-1)
        y = g["mu"] - x.unsqueeze(1)  # [n, K, d]
        z = torch.einsum("kij,kj,klj,nkl->nki", g["Q"], 1 / lp, g["Q"], y)
        c = g["phi"] / ((2 * math.pi) ** x.shape[-1] * d).sqrt()
        w = (c * (-0.5 * (y * z).sum(-1)).exp()).unsqueeze(-1)  # [n, K, 1]
        return (w * z).sum(1) / w.sum(1)

    def __call__(self, x, sigma):
        s_t = self.score_of(self.cond, x, sigma)
        s_u = self.score_of(self.uncond, x, sigma)
        return (1 + self.w) * s_t - self.w * s_u


def sample(score, x0, sigmas, chunk):
    """Heun on dx/dsigma = -sigma s(x, sigma) over every interval (two evaluations per step)."""
    out = []
    for x in x0.split(chunk):
        for s0, s1 in zip(sigmas[:-1], sigmas[1:]):
            h = s1 - s0
            d0 = -s0 * score(x, s0)
            xe = x + h * d0
            d1 = -s1 * score(xe, s1)
            x = x + (0.5 * h) * (d0 + d1)
        out.append(x)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--particles", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=None, help="default: the spec's")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--warmup-particles", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--variant", choices=["precision", "edm2"], default="precision")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"skipped": f"torch is not importable by {sys.executable}: {e}"}))
        return
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    m = load_mixture(a.spec, torch)
    spec = m["spec"]
    solver = spec["solver"]
    if solver["kind"] != "heun":
        raise SystemExit("torch baseline: heun only")
    steps = a.steps or solver["steps"]
    rho = (solver.get("grid") or {"rho": 7}).get("rho", 7)
    sigma_max = spec["process"].get("sigmaMax", 80.0)
    sigmas = edm_sigmas(sigma_max, solver.get("tMin", 0.002), steps, rho)
    score = (PrecisionScore if a.variant == "precision" else Edm2Score)(m, torch)
    gen = torch.Generator().manual_seed(a.seed)
    x0 = sigma_max * torch.randn(a.particles, m["dim"], generator=gen, dtype=torch.float32)
    sample(score, x0[: a.warmup_particles], sigmas, a.chunk)  # warm-up (allocator, kernels)
    seconds, cpu, last = [], [], None
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        last = torch.cat(sample(score, x0, sigmas, a.chunk))
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(seconds)
    print(
        json.dumps(
            allow_nan=False,
            obj={
                "variant": a.variant,
                "particles": a.particles,
                "steps": steps,
                "components": int(m["mu"].shape[0]),
                "chunk": a.chunk,
                "dtype": "float32",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "python": platform.python_version(),
                "executable": sys.executable,
                "cpuCount": os.cpu_count(),
                "secondsPerRun": seconds,
                "cpuSecondsPerRun": cpu,
                "medianSeconds": med,
                "particleStepsPerSecond": a.particles * steps / med,
                # Over the finite particles (edm2's linear-space weights can underflow to 0 / 0).
                "mean": last[torch.isfinite(last).all(1)].mean(0).tolist(),
                "nonFinite": int((~torch.isfinite(last)).any(1).sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
