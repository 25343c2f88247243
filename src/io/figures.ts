// Figures of a sweep, as SVG (vega-lite compiled to vega, rendered headless) and PNG (resvg).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function svgToPng(svg: string, scale = 2): Uint8Array {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true } })
    .render()
    .asPng();
}

export interface FidelityPoint {
  setting: string;
  coverage: number;
  fidelity: number;
  modeCoverage: number;
  hdr90: number;
}

/** Fidelity (PRD precision F_1/8) against coverage (PRD recall F_8), one point per setting. */
export function fidelityCoverageSpec(points: FidelityPoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 320,
    data: { values: points },
    layer: [
      {
        mark: { type: 'line', point: true, color: '#4c78a8' },
        encoding: {
          x: {
            field: 'coverage',
            type: 'quantitative',
            title: 'coverage: recall F8 against p(x|c)',
            scale: { zero: false },
          },
          y: {
            field: 'fidelity',
            type: 'quantitative',
            title: 'fidelity: precision F1/8 against p(x|c)',
            scale: { zero: false },
          },
          order: { field: 'order', type: 'quantitative' },
        },
      },
      {
        mark: { type: 'text', dx: 8, dy: -8, align: 'left', fontSize: 11 },
        encoding: {
          x: { field: 'coverage', type: 'quantitative' },
          y: { field: 'fidelity', type: 'quantitative' },
          text: { field: 'setting', type: 'nominal' },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface DensityRow {
  setting: string;
  x: number;
  density: number;
  series: string;
}

/** Histogram densities of the particles against the exact conditional and tilted densities, one panel per setting. */
export function histogramSpec(rows: DensityRow[], xTitle: string, order?: string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    facet: { field: 'setting', type: 'nominal', title: null, sort: order ?? null },
    columns: 3,
    spec: {
      width: 260,
      height: 170,
      mark: { type: 'line', strokeWidth: 1.5, interpolate: 'linear' },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle },
        y: { field: 'density', type: 'quantitative', title: 'density' },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: ['particles', 'p(x|c)', 'tilted'], range: ['#222222', '#4c78a8', '#e45756'] },
        },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          scale: {
            domain: ['particles', 'p(x|c)', 'tilted'],
            range: [
              [1, 0],
              [6, 3],
              [2, 2],
            ],
          },
        },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

/** Fidelity KL(Q||P) against coverage KL(P||Q), exact estimates with +-1 SE bars, one point per setting. */
export function klFigureSpec(
  points: { setting: string; klQP: number; klQPSe: number; klPQ: number; klPQSe: number; order: number }[],
): TopLevelSpec {
  const values = points.map((p) => ({
    ...p,
    qpLo: p.klQP - p.klQPSe,
    qpHi: p.klQP + p.klQPSe,
    pqLo: p.klPQ - p.klPQSe,
    pqHi: p.klPQ + p.klPQSe,
  }));
  const x = { field: 'klPQ', type: 'quantitative', title: 'coverage loss: KL(P||Q)' } as const;
  const y = { field: 'klQP', type: 'quantitative', title: 'fidelity loss: KL(Q||P)' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'exact fidelity against coverage (+-1 SE)',
    width: 420,
    height: 320,
    data: { values },
    layer: [
      {
        mark: { type: 'line', point: true, color: '#4c78a8' },
        encoding: { x, y, order: { field: 'order', type: 'quantitative' } },
      },
      {
        mark: { type: 'rule', color: '#4c78a8' },
        encoding: { x, y: { field: 'qpLo', type: 'quantitative' }, y2: { field: 'qpHi' } },
      },
      {
        mark: { type: 'rule', color: '#4c78a8' },
        encoding: { y, x: { field: 'pqLo', type: 'quantitative' }, x2: { field: 'pqHi' } },
      },
      {
        mark: { type: 'text', dx: 8, dy: -8, align: 'left', fontSize: 11 },
        encoding: { x, y, text: { field: 'setting', type: 'nominal' } },
      },
    ],
  } as TopLevelSpec;
}

/** PRD curves (precision against recall) from exact density ratios, one line per setting. */
export function prCurvesSpec(
  points: { setting: string; recall: number; precision: number; order: number }[],
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'PRD curves from exact density ratios',
    width: 420,
    height: 320,
    data: { values: points },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
      y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] } },
      color: { field: 'setting', type: 'nominal' },
      order: { field: 'order', type: 'quantitative' },
    },
  } as TopLevelSpec;
}
