import { CpuStepper } from '../src/cpu/reference.ts';
import { cases } from './cases.ts';
const only = process.argv[2];
for (const [name, make] of Object.entries(cases)) {
  if (only && !name.includes(only)) continue;
  for (const solver of ['euler', 'heun', 'rk4']) {
    const spec = make(solver);
    const st = new CpuStepper(spec);
    const n = spec.particles, d = spec.dim;
    const x = new Float64Array(n * d); st.initParticles(0, n, x);
    const y = x.map((v) => v * (1 + 1e-7) + 1e-7);
    const k = st.tableau.c.map(() => new Float64Array(n * d));
    for (let s = 0; s < st.table.steps; s++) { st.step(s, 0, n, x, k); st.step(s, 0, n, y, k); }
    let amp = 0, at = 0;
    for (let i = 0; i < n * d; i++) { const a = Math.abs(y[i] - x[i]) / 1e-7; if (a > amp) { amp = a; at = x[i]; } }
    console.log(`${name.padEnd(18)} ${solver.padEnd(6)} max amplification of 1e-7 initial perturbation: ${amp.toExponential(2)} at x=${at.toFixed(3)}`);
  }
}
