// Time grids t_0 = start > t_1 > ... > t_N = tMin.
import type { GridSpec } from '../experiment/types.ts';

export function timeGrid(grid: GridSpec, start: number, tMin: number, steps: number): Float64Array {
  const t = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) {
    const f = i / steps;
    if (grid.kind === 'uniform') {
      t[i] = start + (tMin - start) * f;
    } else {
      // Karras et al. (2022), eq. 5: uniform in t^(1/rho).
      const a = Math.pow(start, 1 / grid.rho);
      const b = Math.pow(tMin, 1 / grid.rho);
      t[i] = Math.pow(a + (b - a) * f, grid.rho);
    }
  }
  // Pin the ends exactly: the pow round trip can be off by an ulp.
  t[0] = start;
  t[steps] = tMin;
  return t;
}
