// Held-out evaluation of a classifier p_hat against the exact noised classifier p_t(c|x) at
// one time t, on a test set (x_i, c_i) drawn from the noised mixture (src/studies/classifiers/data.ts):
//
//   crossEntropy        CE_hat   = mean_i -log p_hat(c_i | x_i)
//   exactCrossEntropy   CE_exact = mean_i -log p_t(c_i | x_i)   (the Bayes floor)
//   klDifference        CE_hat - CE_exact, paired over the same points: an unbiased estimate of
//                       E_x KL(p_t(.|x) || p_hat(.|x)); it can be slightly negative by chance
//   klDirect            mean_i sum_c p_t(c|x_i) log(p_t(c|x_i) / p_hat(c|x_i)): the same
//                       quantity with the label averaged out exactly (>= 0 point by point)
//   mutualInformation   I(c; x_t) = H(c) - E CE_exact, estimated as H(c) - CE_exact; the KL of
//                       the constant classifier p(c) is exactly this
//   guidanceError       mean_i |grad_x log p_hat(target|x_i) - grad_x log p_t(target|x_i)|^2,
//                       over x_i ~ p_t(x) (all test points); guidanceErrorTarget over the test
//                       points of the target class (x ~ p_t(x | target)); exactGradientSquare
//                       (and ...Target) is mean_i |grad_x log p_t(target|x_i)|^2 over the same
//                       points, the scale to compare with. Where p_t(target|x) ~ 0 the exact
//                       gradient is large and barely constrained by the cross-entropy (-log p of
//                       the other class is ~0 either way), so the two averages can differ a lot.
// Every mean carries its standard error (sample sd / sqrt(n)).
import type { Dataset } from './data.ts';
import type { ExactClassifier, TrainedClassifier } from '../../model/classifier/classifier.ts';

export interface Estimate {
  value: number;
  se: number;
}

export interface LevelMetrics {
  t: number;
  n: number;
  crossEntropy: Estimate;
  exactCrossEntropy: Estimate;
  klDifference: Estimate;
  klDirect: Estimate;
  priorEntropy: number;
  mutualInformation: Estimate;
  guidanceError: Estimate;
  guidanceErrorTarget: Estimate;
  exactGradientSquare: Estimate;
  exactGradientSquareTarget: Estimate;
  /** guidanceError / exactGradientSquare (NaN when the exact gradient is 0 throughout). */
  relativeGuidanceError: number;
  /** guidanceErrorTarget / exactGradientSquareTarget. */
  relativeGuidanceErrorTarget: number;
}

class Mean {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  add(v: number): void {
    this.n++;
    const d = v - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (v - this.mean);
  }
  get(): Estimate {
    const se = this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1) / this.n) : NaN;
    return { value: this.n > 0 ? this.mean : NaN, se };
  }
}

/** H(c) of the class prior, in nats. */
export function priorEntropy(logPrior: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < logPrior.length; k++) h -= Math.exp(logPrior[k]) * logPrior[k];
  return h;
}

export function evaluateClassifier(
  clf: TrainedClassifier,
  exact: ExactClassifier,
  logPrior: ArrayLike<number>,
  data: Dataset,
  target: number,
): LevelMetrics {
  const d = data.dim;
  const K = logPrior.length;
  const t = data.t;
  const ce = new Mean();
  const ceExact = new Mean();
  const klDiff = new Mean();
  const klDirect = new Mean();
  const gErr = new Mean();
  const gErrTarget = new Mean();
  const gExact2 = new Mean();
  const gExact2Target = new Mean();
  const lpExact = new Float64Array(K);
  const gHat = new Float64Array(d);
  const g = new Float64Array(d);
  for (let i = 0; i < data.n; i++) {
    const x = data.x.subarray(i * d, (i + 1) * d);
    const c = data.c[i];
    lpExact.set(exact.logProb(x, t));
    const lpHat = clf.logProb(x, t);
    ce.add(-lpHat[c]);
    ceExact.add(-lpExact[c]);
    klDiff.add(lpExact[c] - lpHat[c]);
    let kl = 0;
    for (let k = 0; k < K; k++) {
      const p = Math.exp(lpExact[k]);
      if (p > 0) kl += p * (lpExact[k] - lpHat[k]);
    }
    klDirect.add(Math.max(0, kl)); // >= 0 exactly; max() only clips rounding
    clf.gradLogProb(x, t, target, gHat);
    exact.gradLogProb(x, t, target, g);
    let e2 = 0;
    let g2 = 0;
    for (let j = 0; j < d; j++) {
      e2 += (gHat[j] - g[j]) ** 2;
      g2 += g[j] * g[j];
    }
    gErr.add(e2);
    gExact2.add(g2);
    if (c === target) {
      gErrTarget.add(e2);
      gExact2Target.add(g2);
    }
  }
  const h = priorEntropy(logPrior);
  const ceE = ceExact.get();
  const gE = gErr.get();
  const g2E = gExact2.get();
  const gT = gErrTarget.get();
  const g2T = gExact2Target.get();
  return {
    t,
    n: data.n,
    crossEntropy: ce.get(),
    exactCrossEntropy: ceE,
    klDifference: klDiff.get(),
    klDirect: klDirect.get(),
    priorEntropy: h,
    mutualInformation: { value: h - ceE.value, se: ceE.se },
    guidanceError: gE,
    guidanceErrorTarget: gT,
    exactGradientSquare: g2E,
    exactGradientSquareTarget: g2T,
    relativeGuidanceError: g2E.value > 0 ? gE.value / g2E.value : NaN,
    relativeGuidanceErrorTarget: g2T.value > 0 ? gT.value / g2T.value : NaN,
  };
}
