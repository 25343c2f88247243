// The f32 rounding-error model of test/support/parity.ts extended to trained-classifier
// guidance on the GPU (shaders/classifier.wgsl): s = s_u + w grad_x log p_hat(target | x).
//
// The trajectory part is parity.ts's unchanged (referenceWithBoundFor): the f64 reference is
// ClassifierStepper's own steps (= sampleWithClassifier), its one-step Jacobian is taken by
// finite differences of that stepper (so the classifier's Jacobian is in it), and the tolerance
// is K u S_N with the same K = PARITY_ULPS. What is new is the local magnitude of one velocity
// evaluation: parity.ts's RoundoffModel for the unconditional score (target group = the
// unconditional law, weight 1) plus |cs| times the magnitude of the classifier term, derived
// here the same way, operation by operation of the kernel, as the sum of the absolute values
// of the quantities rounded on the way (units of u = 2^-24), first order:
//   - every f32 product, sum and stored parameter contributes its own |value| (one rounding);
//     a dot product also each partial sum |S_i| (sequential accumulation, as the kernel does);
//   - an input's error propagates with |coefficient| (|W| forward, |W|^T backward, |act'|);
//   - exp is 3 + 2|x| ulp (WGSL), log an absolute 2^-21 = 8 u, tanh an absolute 8 u (a
//     driver's (e^2x - 1)/(e^2x + 1): cancellation near 0), division 2.5 ulp;
//   - the softmax's p_k inherits its logits' errors and lse's: p_k (e_k + e_lse + exp ulps);
//   - the silu derivative s (1 + z (1 - s)) carries s's relative error through each operation.
// Forward values are the f64 network's (Network.forward), so the model evaluates the same
// classifier the reference does.
import type { PerLevelClassifier } from '../../src/model/classifier/classifier.ts';
import type { Network } from '../../src/model/classifier/network.ts';
import { ClassifierStepper } from '../../src/studies/classifiers/sample.ts';
import type { StepRow } from '../../src/solvers/table.ts';
import type { ExperimentSpec, WSchedule } from '../../src/experiment/types.ts';
import { referenceWithBoundFor, RoundoffModel, type ParityReference, type VelocityMagnitude } from './parity.ts';

const TANH_ABS = 8;
const LOG_ABS = 8;
const expUlps = (x: number) => 3 + 2 * Math.abs(x);
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** One level's forward pass with the error magnitude of every value. */
class LevelPass {
  readonly net: Network;
  readonly act: Float64Array[];
  readonly pre: Float64Array[];
  readonly eAct: Float64Array[];
  readonly ePre: Float64Array[];
  readonly delta: Float64Array[];
  readonly eDelta: Float64Array[];

  constructor(net: Network) {
    this.net = net;
    const arrays = () => net.sizes.map((s) => new Float64Array(s));
    this.act = arrays();
    this.pre = arrays();
    this.eAct = arrays();
    this.ePre = arrays();
    this.delta = arrays();
    this.eDelta = arrays();
  }

  forward(x: ArrayLike<number>): void {
    const { net, act, pre, eAct, ePre } = this;
    const d = net.config.dim;
    const F = net.sizes[0];
    const phi = new Float64Array(F);
    const ePhi = new Float64Array(F);
    const kind = net.config.features;
    if (kind === 'sum') {
      let s = 0;
      for (let i = 0; i < d; i++) {
        s += x[i];
        if (i > 0) ePhi[0] += Math.abs(s);
      }
      phi[0] = s;
    } else {
      for (let i = 0; i < d; i++) phi[i] = x[i];
      if (kind === 'quadratic') {
        let k = d;
        for (let i = 0; i < d; i++, k++) phi[k] = x[i] * x[i];
        for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++, k++) phi[k] = x[i] * x[j];
        for (let k2 = d; k2 < F; k2++) ePhi[k2] = Math.abs(phi[k2]);
      }
    }
    for (let k = 0; k < F; k++) {
      const mu = net.featMean[k];
      const is = net.featInvStd[k];
      act[0][k] = (phi[k] - mu) * is;
      // phi's error, the subtraction, mu's f32 value; the product and is's f32 value.
      eAct[0][k] = (ePhi[k] + Math.abs(phi[k] - mu) + Math.abs(mu)) * is + 2 * Math.abs(act[0][k]);
    }
    const P = net.params;
    const L = net.layers;
    for (let l = 1; l <= L; l++) {
      const nIn = net.sizes[l - 1];
      const W = net.wOffset[l - 1];
      const B = net.bOffset[l - 1];
      for (let o = 0; o < net.sizes[l]; o++) {
        let acc = P[B + o];
        let e = Math.abs(acc);
        for (let i = 0; i < nIn; i++) {
          const w = P[W + o * nIn + i];
          const t = w * act[l - 1][i];
          acc += t;
          e += Math.abs(w) * eAct[l - 1][i] + 2 * Math.abs(t) + Math.abs(acc);
        }
        pre[l][o] = acc;
        ePre[l][o] = e;
        if (l === L) {
          act[l][o] = acc;
          eAct[l][o] = e;
        } else if (net.config.activation === 'tanh') {
          const a = Math.tanh(acc);
          act[l][o] = a;
          eAct[l][o] = (1 - a * a) * e + Math.abs(a) + TANH_ABS;
        } else {
          const s = sigmoid(acc);
          const a = acc * s;
          act[l][o] = a;
          eAct[l][o] = Math.abs(s * (1 + acc * (1 - s))) * e + Math.abs(a) * (expUlps(acc) + 4.5);
        }
      }
    }
  }

  /** Adds scale J^T dl to grad and its error magnitude to eGrad (the forward pass must be this x's). */
  backward(
    x: ArrayLike<number>,
    dl: Float64Array,
    eDl: Float64Array,
    scale: number,
    grad: Float64Array,
    eGrad: Float64Array,
  ): void {
    const { net, act, pre, eAct, ePre, delta, eDelta } = this;
    const P = net.params;
    const L = net.layers;
    const d = net.config.dim;
    for (let k = 0; k < net.classes; k++) {
      delta[L][k] = scale * dl[k];
      eDelta[L][k] = Math.abs(scale) * eDl[k] + 2 * Math.abs(delta[L][k]);
    }
    for (let l = L; l >= 1; l--) {
      const nIn = net.sizes[l - 1];
      const nOut = net.sizes[l];
      const W = net.wOffset[l - 1];
      for (let i = 0; i < nIn; i++) {
        let acc = 0;
        let e = 0;
        for (let o = 0; o < nOut; o++) {
          const w = P[W + o * nIn + i];
          const t = w * delta[l][o];
          acc += t;
          e += Math.abs(w) * eDelta[l][o] + 2 * Math.abs(t) + Math.abs(acc);
        }
        if (l > 1) {
          const z = pre[l - 1][i];
          let fac: number;
          let eFac: number;
          if (net.config.activation === 'tanh') {
            const a = act[l - 1][i];
            fac = 1 - a * a;
            eFac = 2 * Math.abs(a) * eAct[l - 1][i] + a * a + Math.abs(fac);
          } else {
            const s = sigmoid(z);
            const inner = 1 + z * (1 - s);
            fac = s * inner;
            const rs = expUlps(z) + 3.5; // s's relative error: exp, 1 + e, the division
            const eOneMinusS = s * rs + Math.abs(1 - s);
            const eInner = Math.abs(z) * eOneMinusS + Math.abs(z * (1 - s)) + Math.abs(inner);
            // through z's own error: |d fac / dz| = s (1 - s) |2 + z (1 - 2 s)|
            eFac =
              s * eInner +
              Math.abs(inner) * s * rs +
              Math.abs(fac) +
              s * (1 - s) * Math.abs(2 + z * (1 - 2 * s)) * ePre[l - 1][i];
          }
          delta[l - 1][i] = acc * fac;
          eDelta[l - 1][i] = Math.abs(fac) * e + Math.abs(acc) * eFac + Math.abs(acc * fac);
        } else {
          delta[0][i] = acc;
          eDelta[0][i] = e;
        }
      }
    }
    const F = net.sizes[0];
    const g = new Float64Array(F);
    const eG = new Float64Array(F);
    for (let k = 0; k < F; k++) {
      g[k] = delta[0][k] * net.featInvStd[k];
      eG[k] = net.featInvStd[k] * eDelta[0][k] + 2 * Math.abs(g[k]);
    }
    const add = (i: number, v: number, e: number) => {
      grad[i] += v;
      eGrad[i] += e + Math.abs(grad[i]);
    };
    const kind = net.config.features;
    if (kind === 'sum') {
      for (let i = 0; i < d; i++) add(i, g[0], eG[0]);
      return;
    }
    for (let i = 0; i < d; i++) add(i, g[i], eG[i]);
    if (kind === 'quadratic') {
      let k = d;
      for (let i = 0; i < d; i++, k++)
        add(i, 2 * x[i] * g[k], 2 * Math.abs(x[i]) * eG[k] + 2 * Math.abs(2 * x[i] * g[k]));
      for (let i = 0; i < d; i++) {
        for (let j = i + 1; j < d; j++, k++) {
          add(i, x[j] * g[k], Math.abs(x[j]) * eG[k] + Math.abs(x[j] * g[k]));
          add(j, x[i] * g[k], Math.abs(x[i]) * eG[k] + Math.abs(x[i] * g[k]));
        }
      }
    }
  }
}

/** Magnitude of the f32 error of w grad_x log p_hat(target | x) as the kernel computes it (units of u). */
export class ClassifierRoundoff {
  private readonly clf: PerLevelClassifier;
  private readonly target: number;
  private readonly passes: LevelPass[];
  readonly grad: Float64Array;
  readonly eGrad: Float64Array;

  constructor(clf: PerLevelClassifier, target: number, dim: number) {
    this.clf = clf;
    this.target = target;
    this.passes = clf.nets.map((n) => new LevelPass(n));
    this.grad = new Float64Array(dim);
    this.eGrad = new Float64Array(dim);
  }

  /** out[j] = the error magnitude of w grad_j at x, time t. */
  magnitude(x: ArrayLike<number>, t: number, w: number, out: Float64Array): void {
    const { lo, hi, lam } = this.clf.bracket(t);
    const a = this.passes[lo];
    a.forward(x);
    const K = this.clf.classes.length;
    const top = a.net.layers;
    const l = Float64Array.from(a.act[top]);
    const eL = Float64Array.from(a.eAct[top]);
    if (lam > 0) {
      const b = this.passes[hi];
      b.forward(x);
      for (let k = 0; k < K; k++) {
        const la = l[k];
        const lb = b.act[top][k];
        l[k] = (1 - lam) * la + lam * lb;
        eL[k] =
          (1 - lam) * eL[k] +
          lam * b.eAct[top][k] +
          Math.abs((1 - lam) * la) +
          Math.abs(lam * lb) +
          Math.abs(l[k]) +
          (Math.abs(lam) + Math.abs(1 - lam)) * Math.abs(lb - la);
      }
    }
    let m = -Infinity;
    let im = 0;
    for (let k = 0; k < K; k++) if (l[k] > m) (m = l[k]), (im = k);
    let sum = 0;
    let eSum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(l[k] - m);
      sum += e;
      eSum += e * (expUlps(l[k] - m) + Math.abs(l[k] - m) + eL[k] + eL[im]) + (k > 0 ? sum : 0);
    }
    const lse = m + Math.log(sum);
    const eLse = eL[im] + eSum / sum + LOG_ABS + Math.abs(lse);
    const dl = new Float64Array(K);
    const eDl = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      const p = Math.exp(l[k] - lse);
      dl[k] = (k === this.target ? 1 : 0) - p;
      eDl[k] = p * (eL[k] + eLse + Math.abs(l[k] - lse) + expUlps(l[k] - lse)) + Math.abs(dl[k]);
    }
    this.grad.fill(0);
    this.eGrad.fill(0);
    a.backward(x, dl, eDl, 1 - lam, this.grad, this.eGrad);
    if (lam > 0) this.passes[hi].backward(x, dl, eDl, lam, this.grad, this.eGrad);
    for (let j = 0; j < out.length; j++) {
      const v = w * this.grad[j];
      // w's f32 value and the product; the sum s_u + w grad is counted by the caller's |cs| S.
      out[j] = Math.abs(w) * this.eGrad[j] + 2 * Math.abs(v);
    }
  }
}

/** The velocity magnitude of the trained-classifier-guided kernel: unconditional score + classifier term. */
class GuidedMagnitude implements VelocityMagnitude {
  private readonly base: RoundoffModel;
  private readonly stepper: ClassifierStepper;
  private readonly clf: ClassifierRoundoff;
  private readonly e: Float64Array;

  constructor(stepper: ClassifierStepper, clf: PerLevelClassifier, dim: number) {
    this.stepper = stepper;
    const model = stepper.model;
    this.base = new RoundoffModel({ model, target: model.unconditional, negative: null });
    this.clf = new ClassifierRoundoff(clf, stepper.target, dim);
    this.e = new Float64Array(dim);
  }

  setTime(row: StepRow): void {
    this.base.setTime(row);
  }

  velocityMagnitude(xs: ArrayLike<number>, row: StepRow, out: Float64Array): void {
    this.base.velocityMagnitude(xs, row, out);
    const w = this.stepper.weightAt(row);
    if (w === 0) return;
    this.clf.magnitude(xs, row.t, w, this.e);
    const g = this.clf.grad;
    // The guided score's sum s_u + w grad rounds |w grad| more.
    for (let j = 0; j < out.length; j++) out[j] += Math.abs(row.cs) * (this.e[j] + Math.abs(w * g[j]));
  }
}

/** The f64 trained-classifier-guided particles (= sampleWithClassifier) and their f32 error bounds. */
export function classifierReferenceWithBound(
  spec: ExperimentSpec,
  clf: PerLevelClassifier,
  w: number | WSchedule,
): ParityReference {
  const stepper = new ClassifierStepper(spec, clf, w);
  return referenceWithBoundFor(spec, stepper, new GuidedMagnitude(stepper, clf, spec.dim));
}
