// The heavy kernel's host layout (src/gpu/heavy.ts), without a device: where the entries are read
// from (a uniform binding per stage where a row fits one, else workgroup-memory tiles), the
// stage-major uniform windows of the factor table, the header's stage bindings, and the planner's
// steps per dispatch for per-stage windows (src/gpu/planner.ts).
import { describe, expect, it } from 'vitest';
import { GROUP_MASK } from '../../src/gpu/codes.ts';
import type { PreparedComponent } from '../../src/model/components.ts';
import {
  HEAVY_STAGE_BINDING,
  type HeavyMixture,
  heavyFactors,
  heavyHeader,
  heavyLayout,
  heavyRowBytes,
  heavyUniformBlocks,
} from '../../src/gpu/heavy.ts';
import { planDispatch } from '../../src/gpu/planner.ts';
import type { StepRow } from '../../src/solvers/table.ts';

const LIMITS = {
  maxComputeWorkgroupStorageSize: 16384,
  maxUniformBufferBindingSize: 65536,
  minUniformBufferOffsetAlignment: 256,
};

/** n 2-D full-covariance Gaussians, the first `target` of them the target group's. */
function mixture(n: number, target: number): HeavyMixture {
  const comps: PreparedComponent[] = Array.from({ length: n }, (_, k) => {
    const t = 0.3 * k;
    return {
      kind: 'gaussian',
      dim: 2,
      mean: Float64Array.from([Math.cos(t), Math.sin(t)]),
      lambda: Float64Array.from([0.5 + 0.01 * k, 0.02]),
      basis: Float64Array.from([Math.cos(t), -Math.sin(t), Math.sin(t), Math.cos(t)]),
      dataMean: Float64Array.from([Math.cos(t), Math.sin(t)]),
    };
  });
  const entries = comps.map((_, k) => ({
    mask: k < target ? GROUP_MASK.target : GROUP_MASK.negative,
    blurred: false,
    logWeightTarget: -Math.log(target),
    logWeightNegative: -Math.log(n),
  }));
  return { entries, targetCount: target, comps, fullCovariance: true };
}

const row = (t: number): StepRow => ({ t, alpha: 1 - 0.1 * t, sigma2: 0.05 + t, h: -0.1 }) as unknown as StepRow;

describe('heavy layout', () => {
  it("reads from a uniform binding per stage where a row fits one (edm2's 2032 entries: 65 024 bytes), else tiles", () => {
    const tree = heavyLayout(mixture(2032, 1016), 2, LIMITS, 2, 4, 'uniform');
    expect(heavyRowBytes(tree)).toBe(65024);
    expect(tree.rows).toBe('uniform');
    expect(heavyLayout(mixture(2050, 1016), 2, LIMITS, 2, 4, 'uniform').rows).toBe('tiles');
    expect(heavyLayout(mixture(100, 60), 2, LIMITS, 9, 4, 'uniform').rows).toBe('tiles');
    expect(heavyLayout(mixture(100, 60), 2, LIMITS, 2, 4, 'tiles').rows).toBe('tiles');
  });

  it('puts stage i of a window at i * blockStride, step-major, with the same entries as the tiles layout', () => {
    const m = mixture(70, 40);
    const stages = 2;
    const steps = 3;
    const rows = Array.from({ length: steps * stages }, (_, r) => row(r / 10));
    const tiles = heavyLayout(m, 2, LIMITS, stages, 1, 'tiles');
    const uniform = { ...heavyLayout(m, 2, LIMITS, stages, 1, 'uniform'), windowSteps: steps };
    const flat = heavyFactors(rows, m, 0, { ...tiles, windowSteps: steps });
    const staged = heavyFactors(rows, m, 0, uniform);
    const { blockBytes, blockStride } = heavyUniformBlocks(uniform);
    const rowFloats = heavyRowBytes(uniform) / 4;
    expect(blockBytes).toBe(steps * rowFloats * 4);
    expect(blockStride % 256).toBe(0);
    expect(staged.length).toBe((stages * blockStride) / 4);
    for (let s = 0; s < steps; s++)
      for (let i = 0; i < stages; i++) {
        const want = flat.subarray((s * stages + i) * rowFloats, (s * stages + i + 1) * rowFloats);
        const at = (i * blockStride) / 4 + s * rowFloats;
        expect(staged.subarray(at, at + rowFloats)).toEqual(want);
      }
  });

  it('declares one uniform binding and walk per stage, and none with tiles', () => {
    const m = mixture(70, 40);
    const uniform = heavyHeader({ ...heavyLayout(m, 2, LIMITS, 4, 1, 'uniform'), windowSteps: 5 });
    for (let i = 0; i < 4; i++) {
      expect(uniform).toContain(
        `@group(0) @binding(${HEAVY_STAGE_BINDING + i}) var<uniform> stage_rows_${i}: array<HeavyEntry, ${5 * 70}>;`,
      );
      expect(uniform).toContain(`case ${i}u: { walk_stage_${i}(c0, c1); }`);
    }
    expect(uniform).toContain('const HEAVY_UNIFORM_ROWS: bool = true;');
    const tiles = heavyHeader(heavyLayout(m, 2, LIMITS, 4, 1, 'tiles'));
    expect(tiles).toContain('const HEAVY_UNIFORM_ROWS: bool = false;');
    expect(tiles).not.toContain('var<uniform>');
  });

  it('plans as many steps per dispatch as one stage binding holds', () => {
    const base = {
      particles: 4096,
      dim: 2,
      components: 300,
      stages: 2,
      steps: 100,
      fullCovariance: true,
      factorStride: 8,
      particlesPerInvocation: 16,
      limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30, maxComputeWorkgroupsPerDimension: 65535 },
    } as const;
    const rowBytes = 300 * 8 * 4;
    const perStage = planDispatch({
      ...base,
      limits: base.limits as GPUSupportedLimits,
      tableWindows: { bindingBytes: 65536, rowBytes: 0, factorsPerStage: true },
    });
    expect(perStage.stepsPerDispatch).toBe(Math.floor(65536 / rowBytes));
    const whole = planDispatch({
      ...base,
      limits: base.limits as GPUSupportedLimits,
      tableWindows: { bindingBytes: 65536, rowBytes: 0 },
    });
    expect(whole.stepsPerDispatch).toBe(Math.floor(65536 / (2 * rowBytes)));
  });
});
