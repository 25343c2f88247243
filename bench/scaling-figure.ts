// The scaling benchmark's figure: particle-steps/s against each swept parameter (one panel per
// sweep, log-log), one line per backend, so that a reader sees where each saturates.
import type { TopLevelSpec } from 'vega-lite';

export interface ScalingFigurePoint {
  sweep: string;
  backend: string;
  /** The swept parameter's value at this point. */
  value: number;
  particleStepsPerSecond: number;
}

export function scalingFigureSpec(points: ScalingFigurePoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    facet: { field: 'sweep', type: 'nominal', title: null, header: { labelFontSize: 13 } },
    columns: 3,
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 240,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'swept value' },
        y: {
          field: 'particleStepsPerSecond',
          type: 'quantitative',
          scale: { type: 'log' },
          title: 'particle-steps / s',
        },
        color: { field: 'backend', type: 'nominal', title: 'backend' },
      },
    },
  };
}
