#!/usr/bin/env python3
"""The standard workload in vectorised numpy: the baseline that bench/baselines.ts reports
WebGPU against. Prints one JSON object on stdout.

The workload is bench/workloads.ts standardWorkload, written out independently here:
  1-D, 4 Gaussian components in 2 classes
    class a (weight 0.5): N(-2, 0.25) w 0.5, N(1, 0.5) w 0.5      <- the target
    class b (weight 0.5): N(2, 0.3) w 0.3,  N(-0.5, 1) w 0.7
  cfg, w = 3, unconditional negative: s = (1 + w) s_a - w s_uncond
  OU process, T = 10: alpha = exp(-t), sigma^2 = 1 - exp(-2t), prior N(0, 1)
  euler on the uniform grid t_0 = T > ... > t_steps = tMin = 1e-3
  velocity (src/solvers/table.ts): u = (log alpha)' (x + sigma^2 s) - sigma sigma' s
      = cx x + cs s with cx = (log alpha)', cs = (log alpha)' sigma^2 - sigma sigma'
Each group's score is a log-sum-exp over its components (one exp per component), vectorised
over particles; particles are processed in cache-sized chunks, every step of a chunk before
the next chunk (as the CPU reference and the GPU kernel do).

Timing: the sampling only (random initial state to final particles), `--warmup` untimed
runs, then `--repeats` timed ones; the median counts. Both dtypes use the same algorithm; in
float32 every array and every per-step constant is float32 (no silent promotion).

The random numbers are numpy's, not the project's Philox stream, so the result agrees with
the CPU reference only in distribution: the moments printed (mean, variance, fourth central
moment) are compared within Monte Carlo error by bench/baselines.ts.

Usage: python3 bench/numpy_baseline.py [--particles N] [--steps S] [--repeats R] [--warmup W]
                                       [--dtypes f32,f64] [--chunk C] [--seed S]
Without numpy it prints {"skipped": true, "reason": ...} and exits with status 3.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

SKIPPED_STATUS = 3

# The standard workload (bench/workloads.ts standardWorkload).
CLASSES = [
    # (class weight, [(component weight, mean, variance), ...])
    (0.5, [(0.5, -2.0, 0.25), (0.5, 1.0, 0.5)]),
    (0.5, [(0.3, 2.0, 0.3), (0.7, -0.5, 1.0)]),
]
TARGET_CLASS = 0
CFG_W = 3.0
OU_T = 10.0
T_MIN = 1e-3


def build(np):
    """Component table and the two groups' log-weights (the unconditional law uses all)."""
    means, variances, log_w_uncond = [], [], []
    target_idx, log_w_target = [], []
    for ci, (cw, comps) in enumerate(CLASSES):
        ctot = sum(c[0] for c in comps)
        for w, m, v in comps:
            k = len(means)
            means.append(m)
            variances.append(v)
            log_w_uncond.append(math.log(cw) + math.log(w / ctot))
            if ci == TARGET_CLASS:
                target_idx.append(k)
                log_w_target.append(math.log(w / ctot))
    cls_tot = sum(c[0] for c in CLASSES)
    log_w_uncond = [lw - math.log(cls_tot) for lw in log_w_uncond]
    return (np.array(means), np.array(variances), np.array(target_idx),
            np.array(log_w_target), np.array(log_w_uncond))


def time_grid(np, steps):
    f = np.arange(steps + 1) / steps
    t = OU_T + (T_MIN - OU_T) * f
    t[0], t[-1] = OU_T, T_MIN
    return t


def step_constants(np, times, means, variances, dtype):
    """Everything that does not depend on the particle, per step, in float64 then cast."""
    rows = []
    gamma_t, gamma_n = 1.0 + CFG_W, -CFG_W
    for n in range(len(times) - 1):
        t = times[n]
        h = times[n + 1] - t
        alpha = math.exp(-t)
        sigma2 = -math.expm1(-2.0 * t)
        dlog_alpha = -1.0
        sigma_dsigma = alpha * alpha
        cx = dlog_alpha
        cs = dlog_alpha * sigma2 - sigma_dsigma
        v = alpha * alpha * variances + sigma2
        rows.append(dict(
            shift=(alpha * means).astype(dtype),
            inv_var=(1.0 / v).astype(dtype),
            half_inv_var=(0.5 / v).astype(dtype),
            log_norm=(-0.5 * np.log(2.0 * math.pi * v)).astype(dtype),
            gt=dtype(gamma_t), gn=dtype(gamma_n), cx=dtype(cx), cs=dtype(cs), h=dtype(h),
        ))
    return rows


def sample(np, x, rows, target_idx, log_w_target, log_w_uncond, chunk):
    """Steps particles x (1-D array, modified in place) through every row, chunk by chunk."""
    dtype = x.dtype.type
    k = len(log_w_uncond)
    kt = len(target_idx)
    # Per-row log-normalisers with each group's log-weights folded in (per-step constants).
    lt_const = [(r['log_norm'][target_idx] + log_w_target).astype(dtype) for r in rows]
    ln_const = [(r['log_norm'] + log_w_uncond).astype(dtype) for r in rows]
    n_max = min(chunk, len(x))
    r_buf = np.empty((n_max, k), dtype)
    q_buf = np.empty((n_max, k), dtype)
    lp_buf = np.empty((n_max, k), dtype)
    lt_buf = np.empty((n_max, kt), dtype)
    m_buf = np.empty((n_max, 1), dtype)
    s_t = np.empty(n_max, dtype)
    s_n = np.empty(n_max, dtype)
    den = np.empty(n_max, dtype)
    target_contiguous = np.array_equal(target_idx, np.arange(target_idx[0], target_idx[0] + kt))
    t0 = int(target_idx[0])
    for first in range(0, len(x), chunk):
        xc = x[first:first + chunk]
        n = len(xc)
        r, q, lp, lt, m = r_buf[:n], q_buf[:n], lp_buf[:n], lt_buf[:n], m_buf[:n]
        st, sn, dn = s_t[:n], s_n[:n], den[:n]
        for i, row in enumerate(rows):
            # Component log-densities without the constant: -(x - alpha mu)^2 / (2 v); scores -q.
            np.subtract(xc[:, None], row['shift'], out=r)
            np.multiply(r, row['inv_var'], out=q)                 # -score
            np.multiply(r, q, out=lp)
            np.multiply(lp, dtype(-0.5), out=lp)
            # Target group: log-sum-exp over its components, score = sum e (-q) / sum e.
            if target_contiguous:
                np.add(lp[:, t0:t0 + kt], lt_const[i], out=lt)
                qt = q[:, t0:t0 + kt]
            else:
                np.add(lp[:, target_idx], lt_const[i], out=lt)
                qt = q[:, target_idx]
            np.max(lt, axis=1, keepdims=True, out=m)
            np.subtract(lt, m, out=lt)
            np.exp(lt, out=lt)
            np.sum(lt, axis=1, out=dn)
            np.multiply(lt, qt, out=lt)
            np.sum(lt, axis=1, out=st)
            np.divide(st, dn, out=st)                             # -s_target
            # Unconditional group: every component.
            np.add(lp, ln_const[i], out=lp)
            np.max(lp, axis=1, keepdims=True, out=m)
            np.subtract(lp, m, out=lp)
            np.exp(lp, out=lp)
            np.sum(lp, axis=1, out=dn)
            np.multiply(lp, q, out=lp)
            np.sum(lp, axis=1, out=sn)
            np.divide(sn, dn, out=sn)                             # -s_uncond
            # s = gt s_t + gn s_n;  u = cx x + cs s;  x += h u
            np.multiply(st, -row['gt'], out=st)
            np.multiply(sn, -row['gn'], out=sn)
            np.add(st, sn, out=st)                                # s
            np.multiply(st, row['cs'], out=st)
            np.multiply(xc, row['cx'], out=sn)
            np.add(st, sn, out=st)                                # u
            np.multiply(st, row['h'], out=st)
            np.add(xc, st, out=xc)
    return x


def moments(np, x):
    x = x.astype(np.float64)
    finite = np.isfinite(x)
    xf = x[finite]
    mean = float(xf.mean())
    c = xf - mean
    return dict(count=int(xf.size), nonFinite=int((~finite).sum()), mean=mean,
                variance=float((c * c).sum() / (xf.size - 1)), m4=float((c ** 4).mean()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--particles', type=int, default=2 ** 17)
    ap.add_argument('--steps', type=int, default=100)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--dtypes', default='f32,f64')
    ap.add_argument('--chunk', type=int, default=2 ** 13,
                    help='particles per chunk (kept in cache through every step)')
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    for name in ('particles', 'steps', 'repeats', 'chunk'):
        if getattr(args, name) < 1:
            ap.error(f'--{name} must be >= 1')

    env = dict(runtime='python', python=platform.python_version(), os=f'{platform.system()} {platform.release()} {platform.machine()}',
               cpu=platform.processor() or platform.machine(), cpus=os.cpu_count())
    try:
        import numpy as np
    except ImportError as e:
        print(json.dumps(dict(benchmark='numpy', skipped=True, reason=f'numpy is not installed: {e}', environment=env)))
        sys.exit(SKIPPED_STATUS)
    env['numpy'] = np.__version__
    try:
        cfg = np.show_config(mode='dicts')
        env['blas'] = cfg.get('Build Dependencies', {}).get('blas', {}).get('name')
        env['simd'] = cfg.get('SIMD Extensions', {})
    except Exception:  # older numpy: show_config prints instead of returning
        pass

    dtypes = {'f32': np.float32, 'f64': np.float64}
    wanted = [d.strip() for d in args.dtypes.split(',') if d.strip()]
    for d in wanted:
        if d not in dtypes:
            ap.error(f"--dtypes: unknown dtype '{d}' (f32, f64)")

    means, variances, target_idx, log_w_target, log_w_uncond = build(np)
    times = time_grid(np, args.steps)
    results = {}
    for name in wanted:
        dtype = dtypes[name]
        rows = step_constants(np, times, means, variances, dtype)
        lwt, lwu = log_w_target.astype(dtype), log_w_uncond.astype(dtype)

        def run():
            rng = np.random.default_rng(args.seed)
            x = rng.standard_normal(args.particles, dtype=dtype)  # prior N(0, 1)
            return sample(np, x, rows, target_idx, lwt, lwu, args.chunk)

        warm, secs, cpu = [], [], []
        for _ in range(args.warmup):
            t0 = time.perf_counter()
            run()
            warm.append(time.perf_counter() - t0)
        x = None
        for _ in range(args.repeats):
            c0 = time.process_time()
            t0 = time.perf_counter()
            x = run()
            secs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        med = float(np.median(secs))
        results[name] = dict(
            dtype=np.dtype(dtype).name,
            warmupSeconds=warm,
            secondsPerRun=secs,
            medianSeconds=med,
            minSeconds=min(secs),
            maxSeconds=max(secs),
            cpuSecondsPerRun=cpu,
            medianCpuSeconds=float(np.median(cpu)),
            particleStepsPerSecond=args.particles * args.steps / med,
            moments=moments(np, x),
        )

    print(json.dumps(dict(
        benchmark='numpy',
        skipped=False,
        workload=dict(description='1-D, 4 Gaussian components in 2 classes, cfg w=3 (unconditional negative), OU T=10, euler, uniform grid to tMin=1e-3',
                      steps=args.steps),
        configuration=dict(particles=args.particles, steps=args.steps, repeats=args.repeats, warmup=args.warmup,
                           chunk=args.chunk, seed=args.seed, dtypes=wanted, threads='numpy ufuncs: one thread'),
        environment=env,
        results=results,
    ), indent=2))


if __name__ == '__main__':
    main()
