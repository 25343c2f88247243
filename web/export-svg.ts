// The main figure as SVG: the overlay (axes, exact densities, legend, colour bar, paths) is
// replayed through the same drawing code on svgcanvas's recording 2-D context, so it stays
// vector; the particle density layer (millions of particles binned on the GPU) is inherently
// a raster and goes in underneath as one embedded PNG, cropped to the plot area.
import { Context } from 'svgcanvas';
import type { PlotRect } from './gpu-plot.ts';
import { drawMainOverlayOn, type MainView, type Size } from './plots.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** `densityLayer` is the canvas holding the drawn density (backing store at `dpr` x CSS size). */
export function figureSvg(size: Size, view: MainView, densityLayer: HTMLCanvasElement | null): string {
  const ctx = new Context({ width: size.width, height: size.height });
  const rect: PlotRect = drawMainOverlayOn(ctx as unknown as CanvasRenderingContext2D, size, view);
  const svg = ctx.getSvg();
  svg.setAttribute('viewBox', `0 0 ${size.width} ${size.height}`);
  if (densityLayer && densityLayer.width > 0) {
    const dpr = densityLayer.width / Math.max(1, size.width);
    const crop = document.createElement('canvas');
    crop.width = Math.max(1, Math.round(rect.width * dpr));
    crop.height = Math.max(1, Math.round(rect.height * dpr));
    crop
      .getContext('2d')!
      .drawImage(densityLayer, rect.x * dpr, rect.y * dpr, crop.width, crop.height, 0, 0, crop.width, crop.height);
    const image = document.createElementNS(SVG_NS, 'image');
    for (const [k, v] of Object.entries({ x: rect.x, y: rect.y, width: rect.width, height: rect.height }))
      image.setAttribute(k, String(v));
    image.setAttribute('preserveAspectRatio', 'none');
    image.setAttribute('href', crop.toDataURL('image/png'));
    image.setAttribute('class', 'density-layer');
    svg.insertBefore(image, svg.firstChild); // under the overlay, whose plot area is transparent
  }
  return new XMLSerializer().serializeToString(svg);
}
