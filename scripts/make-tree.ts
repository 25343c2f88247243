// node scripts/make-tree.ts [OUT]: writes examples/tree-2d.json (or OUT), NVlabs/edm2's 2-D toy
// "tree" distribution (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of
// Itself", Sec. 3 and Appendix: the toy example), as a spec in this project's format. Written
// from the published construction (the paper's description and the public code's parameters),
// not copied. Deterministic: the same bytes on every run.
//
// The construction. Each class is a fractal tree grown from one origin: a branch at depth
// k = 0..6 has a length dist_k = 0.292 * 0.8^k * (1 + 0.2 n) (n a standard normal draw), a
// relative thickness thick_k = 0.2 * 0.8^k / dist_k, and is represented by 8 Gaussian components
// at the fractions t = 0.07, 0.07 + 0.86/7, ..., 0.93 along it, each of weight
// dist_k * 0.5^k (so the deeper, shorter branches carry less mass), mean (pos + dir dist t) * scale
// and covariance (dir dir^T + (I - dir dir^T) thick^2) (elementwise) size size^T, with
// size = scale * dist * 0.06: a needle along the branch, anisotropically scaled. Each branch ends
// in two children at angles angle +- 0.7^k (1 + 0.2 n). Class A starts at angle pi/4, class B at
// 5 pi/4, both at origin (0.0030, 0.0325) with scale (1.3136, 1.3844); depth stops at 7, so each
// class has 2^7 - 1 = 127 branches, 1016 components, 2032 in all, every one full-covariance.
//
// The normal draws are numpy's legacy RandomState(2).randn() stream, in the code's order (one
// draw for a branch's length, then for each child, sign +1 first, one draw for its angle before
// the child's subtree; class A's tree, then B's, from one stream): MT19937 seeded with
// init_genrand(2), 53-bit doubles from two 32-bit words, and the polar Box-Muller method that
// returns the second value of each pair first and keeps the first for the next call. So the
// components are those of edm2's gt('AB'), to double rounding.
//
// Class weights are the classes' summed component weights (edm2 normalises phi over the selected
// components, so the unconditional law here is gt('AB') and p(x | A) is gt('A')). The sampling
// set-up is edm2's toy sampler: VE (EDM) process, sigma from 5 down to 0.002 on the EDM grid
// (rho 7), Heun, 32 steps; guidance is cfg against the unconditional law with w = 1 (edm2's
// guidance = 2, since its lerp is s_neg + g (s_pos - s_neg) = s_pos + (g - 1)(s_pos - s_neg)).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** MT19937 (Matsumoto and Nishimura 1998), seeded by init_genrand, as numpy's legacy RandomState(int). */
export class Mt19937 {
  private readonly mt = new Uint32Array(624);
  private index = 624;
  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      // 1812433253 * prev + i mod 2^32, in two 16-bit halves (no precision loss).
      this.mt[i] = (((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) from 53 random bits: (a >> 5) 2^26 + (b >> 6), over 2^53. */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

/** numpy's legacy standard normal (RandomState.randn): polar Box-Muller, the pair's second value first. */
export class LegacyNormal {
  private cached: number | null = null;
  private readonly rng: Mt19937;
  constructor(rng: Mt19937) {
    this.rng = rng;
  }

  next(): number {
    if (this.cached !== null) {
      const v = this.cached;
      this.cached = null;
      return v;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.rng.nextDouble() - 1;
      x2 = 2 * this.rng.nextDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.cached = f * x1;
    return f * x2;
  }
}

export interface TreeComponent {
  cls: 'A' | 'B';
  weight: number;
  mean: [number, number];
  cov: [[number, number], [number, number]];
}

export const TREE = {
  seed: 2,
  origin: [0.003, 0.0325] as const,
  scale: [1.3136, 1.3844] as const,
  depths: 7,
  perBranch: 8,
} as const;

/**
 * The tree's components, class A's then class B's, in the construction's order. `depths` below
 * 7 grows a smaller tree of the same construction (2 (2^depths - 1) 8 components; tests).
 */
export function treeComponents(depths: number = TREE.depths): TreeComponent[] {
  const normal = new LegacyNormal(new Mt19937(TREE.seed));
  const [sx, sy] = TREE.scale;
  const out: TreeComponent[] = [];
  const grow = (cls: 'A' | 'B', depth: number, px: number, py: number, angle: number): void => {
    if (depth >= depths) return;
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    const dist = 0.292 * 0.8 ** depth * (normal.next() * 0.2 + 1);
    const thick = (0.2 * 0.8 ** depth) / dist;
    const size = [sx * dist * 0.06, sy * dist * 0.06];
    const t2 = thick * thick;
    // dir dir^T + (I - dir dir^T) thick^2, then elementwise times size size^T.
    const c00 = (dx * dx + (1 - dx * dx) * t2) * size[0] * size[0];
    const c01 = (dx * dy - dx * dy * t2) * size[0] * size[1];
    const c11 = (dy * dy + (1 - dy * dy) * t2) * size[1] * size[1];
    const step = (0.93 - 0.07) / (TREE.perBranch - 1);
    for (let i = 0; i < TREE.perBranch; i++) {
      // numpy's linspace(0.07, 0.93, 8): start + i step, the last one exactly the end.
      const t = i === TREE.perBranch - 1 ? 0.93 : 0.07 + i * step;
      out.push({
        cls,
        weight: dist * 0.5 ** depth,
        mean: [(px + dx * dist * t) * sx, (py + dy * dist * t) * sy],
        cov: [
          [c00, c01],
          [c01, c11],
        ],
      });
    }
    for (const sign of [1, -1]) {
      // The child's angle draw comes before its subtree's draws.
      const childAngle = angle + sign * 0.7 ** depth * (normal.next() * 0.2 + 1);
      grow(cls, depth + 1, px + dx * dist, py + dy * dist, childAngle);
    }
  };
  grow('A', 0, TREE.origin[0], TREE.origin[1], Math.PI * 0.25);
  grow('B', 0, TREE.origin[0], TREE.origin[1], Math.PI * 1.25);
  return out;
}

/** 12 significant digits: the file stays small, and a symmetric matrix stays exactly symmetric. */
const round = (v: number): number => Number(v.toPrecision(12));

/** The spec (a plain object in the format of docs/spec.md). */
export function treeSpec(depths: number = TREE.depths): Record<string, unknown> {
  const comps = treeComponents(depths);
  const classes = (['A', 'B'] as const).map((name) => {
    const own = comps.filter((c) => c.cls === name);
    return {
      name,
      weight: round(own.reduce((s, c) => s + c.weight, 0)),
      components: own.map((c) => ({
        kind: 'gaussian',
        weight: round(c.weight),
        mean: c.mean.map(round),
        cov: c.cov.map((row) => row.map(round)),
      })),
    };
  });
  return {
    dim: 2,
    classes,
    target: 'A',
    process: { kind: 've', sigmaMax: 5 },
    guidance: { kind: 'cfg', w: 1 },
    solver: { kind: 'heun', steps: 32, tMin: 0.002, grid: { kind: 'edm', rho: 7 } },
    particles: 16384,
    seed: 1,
  };
}

/** A JSON value on one line with ", " between items (as the formatter, Biome, lays out short arrays). */
const inline = (v: unknown): string => (Array.isArray(v) ? `[${v.map(inline).join(', ')}]` : JSON.stringify(v));

/** The spec's text, laid out as `biome format` leaves it (so that lint passes on the generated file). */
export function treeJson(): string {
  const spec = treeSpec();
  const classes = spec.classes as { name: string; weight: number; components: Record<string, unknown>[] }[];
  const component = (k: Record<string, unknown>): string =>
    [
      '        {',
      ...Object.entries(k)
        .map(([key, v]) => `          ${JSON.stringify(key)}: ${inline(v)}`)
        .join(',\n')
        .split('\n'),
      '        }',
    ].join('\n');
  const classText = (c: (typeof classes)[number]): string =>
    [
      '    {',
      `      "name": ${JSON.stringify(c.name)},`,
      `      "weight": ${c.weight},`,
      '      "components": [',
      c.components.map(component).join(',\n'),
      '      ]',
      '    }',
    ].join('\n');
  const { dim, classes: _, ...rest } = spec;
  const restText = JSON.stringify(rest, null, 2).split('\n').slice(1, -1);
  return [
    '{',
    `  "dim": ${dim},`,
    '  "classes": [',
    classes.map(classText).join(',\n'),
    '  ],',
    ...restText,
    '}',
    '',
  ].join('\n');
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const out = process.argv[2] ?? join(root, 'examples', 'tree-2d.json');
  const text = treeJson();
  JSON.parse(text); // well-formed
  writeFileSync(out, text);
  const n = (JSON.parse(text) as { classes: { components: unknown[] }[] }).classes.map((c) => c.components.length);
  process.stdout.write(`${out}: ${n.join(' + ')} = ${n[0] + n[1]} full-covariance components\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
