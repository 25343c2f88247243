// w(t): the guidance strength as a function of the diffusion time.
import type { WSchedule } from '../experiment/types.ts';

export function scheduleAt(s: WSchedule, t: number): number {
  switch (s.kind) {
    case 'constant':
      return s.w;
    case 'interval':
      return t > s.tLow && t <= s.tHigh ? s.w : s.outside;
    case 'piecewise': {
      const p = s.points;
      if (t <= p[0][0]) return p[0][1];
      const last = p[p.length - 1];
      if (t >= last[0]) return last[1];
      for (let i = 1; i < p.length; i++) {
        const [t1, w1] = p[i];
        if (t < t1) {
          const [t0, w0] = p[i - 1];
          return t1 === t0 ? w1 : w0 + ((w1 - w0) * (t - t0)) / (t1 - t0);
        }
      }
      return last[1];
    }
  }
}
