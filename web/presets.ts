// The preset experiments of the page: the spec files in examples/, as users would load them.
import twoGaussians from '../examples/two-gaussians.json' with { type: 'json' };
import twoUniforms from '../examples/two-uniforms.json' with { type: 'json' };
import boxes2d from '../examples/boxes-2d.json' with { type: 'json' };
import ring8 from '../examples/ring-8.json' with { type: 'json' };
import grid5x5 from '../examples/grid-5x5.json' with { type: 'json' };
import threeModes1d from '../examples/three-modes-1d.json' with { type: 'json' };
import fkTwoGaussians from '../examples/fk-two-gaussians.json' with { type: 'json' };

export interface Preset {
  id: string;
  label: string;
  spec: unknown;
}

export const PRESETS: readonly Preset[] = [
  { id: 'two-gaussians', label: 'Two Gaussians (1-D)', spec: twoGaussians },
  { id: 'two-uniforms', label: 'Two uniforms (1-D)', spec: twoUniforms },
  { id: 'boxes-2d', label: '2-D boxes', spec: boxes2d },
  { id: 'ring-8', label: 'Ring of 8 (2-D)', spec: ring8 },
  { id: 'grid-5x5', label: '5x5 grid (2-D)', spec: grid5x5 },
  { id: 'three-modes-1d', label: 'Three modes (1-D)', spec: threeModes1d },
  { id: 'fk-two-gaussians', label: 'Two Gaussians, cfg + Feynman-Kac corrector (1-D)', spec: fkTwoGaussians },
];

/** A fresh copy of a preset's spec (the page edits it in place). */
export function presetSpec(id: string): Record<string, unknown> | undefined {
  const p = PRESETS.find((x) => x.id === id);
  return p ? (structuredClone(p.spec) as Record<string, unknown>) : undefined;
}
