#!/usr/bin/env python3
"""Independent reference for the two-Gaussian CFG sweep (numpy + scipy, no project code).

Classes N(+mu, v) and N(-mu, v) with equal weights, target +mu, OU process
(x_t = e^-t x_0 + sqrt(1 - e^-2t) eps), CFG against the unconditional law:
s = (1 + w) s_+ - w s_u, probability-flow ODE dx/dt = -x - s, from x_T ~ N(0, 1) at t = T
down to tMin. The 1-D flow map is increasing, so P(X > a) = P(Z > z*) with Phi_flow(z*) = a:
each threshold is one root of the map, found by brentq on solve_ivp (rtol = atol = 1e-12).

Prints JSON: for every w, the fraction beyond sqrt(w) and the fraction on the wrong side of 0.
"""
import argparse
import json
import math

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import ndtr


def velocity(t, x, w, mu, v):
    a = math.exp(-t)
    s2 = -math.expm1(-2 * t)
    var = a * a * v + s2
    sp = -(x - a * mu) / var
    sn = -(x + a * mu) / var
    # responsibilities of p(x) = (N(+) + N(-)) / 2, in log space
    lp = -0.5 * (x - a * mu) ** 2 / var
    ln = -0.5 * (x + a * mu) ** 2 / var
    m = np.maximum(lp, ln)
    rp = np.exp(lp - m) / (np.exp(lp - m) + np.exp(ln - m))
    su = rp * sp + (1 - rp) * sn
    s = (1 + w) * sp - w * su
    return -x - s


def flow(z, w, mu, v, T, tmin):
    sol = solve_ivp(velocity, (T, tmin), [z], args=(w, mu, v), rtol=1e-12, atol=1e-12, method="DOP853")
    return sol.y[0, -1]


def start_of(a, w, mu, v, T, tmin):
    """z with flow(z) = a."""
    lo, hi = -12.0, 12.0
    # Beyond +-12 prior sd the fraction is below 1e-32: report the end.
    if flow(lo, w, mu, v, T, tmin) > a:
        return -math.inf
    if flow(hi, w, mu, v, T, tmin) < a:
        return math.inf
    return brentq(lambda z: flow(z, w, mu, v, T, tmin) - a, lo, hi, xtol=1e-13, rtol=1e-13)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--w", default="0,1,3,7,15")
    p.add_argument("--mu", type=float, default=1.0)
    p.add_argument("--var", type=float, default=1.0)
    p.add_argument("--T", type=float, default=10.0)
    p.add_argument("--tmin", type=float, default=1e-3)
    a = p.parse_args()
    rows = []
    for w in [float(s) for s in a.w.split(",")]:
        z_sqrt = start_of(math.sqrt(w), w, a.mu, a.var, a.T, a.tmin)
        z_zero = start_of(0.0, w, a.mu, a.var, a.T, a.tmin)
        rows.append({
            "w": w,
            "fracBeyondSqrtW": float(ndtr(-z_sqrt)),
            "fracWrongSide": float(ndtr(z_zero)),
            "flowAtZero": float(flow(0.0, w, a.mu, a.var, a.T, a.tmin)),
        })
    print(json.dumps({"mu": a.mu, "var": a.var, "T": a.T, "tMin": a.tmin, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
