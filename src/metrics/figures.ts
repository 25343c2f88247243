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
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true } }).render().asPng();
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
          x: { field: 'coverage', type: 'quantitative', title: 'coverage: recall F8 against p(x|c)', scale: { zero: false } },
          y: { field: 'fidelity', type: 'quantitative', title: 'fidelity: precision F1/8 against p(x|c)', scale: { zero: false } },
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
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['particles', 'p(x|c)', 'tilted'], range: ['#222222', '#4c78a8', '#e45756'] } },
        strokeDash: { field: 'series', type: 'nominal', scale: { domain: ['particles', 'p(x|c)', 'tilted'], range: [[1, 0], [6, 3], [2, 2]] } },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}
