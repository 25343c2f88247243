// The main plot's WebGPU layer: a histogram (1-D, shaders/render-histogram.wgsl) or a density
// heatmap (2-D, shaders/render-heatmap.wgsl) drawn straight from the GPU histogram's counts
// buffer: particles and counts stay on the GPU. Axes, the exact densities and labels are
// drawn on a 2-D canvas on top (web/plots.ts).
import type { GpuContext } from '../src/gpu/device.ts';
import { shaderText } from '../src/gpu/program.ts';

export interface PlotRect {
  /** CSS pixels, relative to the canvas. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export const PLOT_BACKGROUND_1D = [1, 1, 1, 1] as const;
export const PLOT_BACKGROUND_2D = [0.07, 0.07, 0.12, 1] as const;
export const BAR_COLOR = [0.36, 0.56, 0.85, 1] as const;

export class GpuPlot {
  private readonly gpu: GpuContext;
  private readonly canvas: HTMLCanvasElement;
  private readonly context: GPUCanvasContext;
  private readonly format: GPUTextureFormat;
  private readonly uniforms: GPUBuffer;
  private readonly pipelines = new Map<string, GPURenderPipeline>();
  private source: { counts: GPUBuffer; bins: number[]; bindGroup: GPUBindGroup } | null = null;

  /** Throws if the canvas cannot present WebGPU output (the caller explains it on the page). */
  constructor(gpu: GpuContext, canvas: HTMLCanvasElement) {
    this.gpu = gpu;
    this.canvas = canvas;
    const context = canvas.getContext('webgpu');
    if (!context) throw new Error('this canvas has no WebGPU context');
    this.context = context;
    this.format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device: gpu.device, format: this.format, alphaMode: 'premultiplied' });
    this.uniforms = gpu.device.createBuffer({
      label: 'plot view uniforms',
      size: 64,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  private pipeline(kind: 'histogram' | 'heatmap'): GPURenderPipeline {
    let p = this.pipelines.get(kind);
    if (p) return p;
    const { device, platform } = this.gpu;
    const module = device.createShaderModule({
      label: `render-${kind} shader`,
      code: shaderText(platform, `render-${kind}`),
    });
    p = device.createRenderPipeline({
      label: `render-${kind} pipeline`,
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format: this.format }] },
      primitive: { topology: 'triangle-list' },
    });
    this.pipelines.set(kind, p);
    return p;
  }

  /** The counts buffer to draw from (a GpuHistogram's counts), or null for an empty plot. */
  setSource(counts: GPUBuffer | null, bins: number[]): void {
    if (!counts) {
      this.source = null;
      return;
    }
    const kind = bins.length === 1 ? 'histogram' : 'heatmap';
    const bindGroup = this.gpu.device.createBindGroup({
      label: `render-${kind} bind group`,
      layout: this.pipeline(kind).getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.uniforms } },
        { binding: 1, resource: { buffer: counts } },
      ],
    });
    this.source = { counts, bins: [...bins], bindGroup };
  }

  /**
   * Draws the plot area `rect` (CSS pixels): particles binned so far, densities divided by
   * topDensity (the top of the 1-D axis, or the heatmap's full colour). binSize: width or area.
   */
  draw(rect: PlotRect, particles: number, binSize: number, topDensity: number, dims: number): void {
    const dpr = this.canvas.width / Math.max(1, this.canvas.clientWidth || this.canvas.width);
    const background = dims === 1 ? PLOT_BACKGROUND_1D : PLOT_BACKGROUND_2D;
    const { device } = this.gpu;
    const encoder = device.createCommandEncoder({ label: 'plot frame' });
    const pass = encoder.beginRenderPass({
      label: 'plot pass',
      colorAttachments: [
        {
          view: this.context.getCurrentTexture().createView({ label: 'plot frame view' }),
          loadOp: 'clear',
          storeOp: 'store',
          // The whole canvas: the overlay paints the margins around the plot area.
          clearValue: { r: background[0], g: background[1], b: background[2], a: 1 },
        },
      ],
    });
    const x = Math.round(rect.x * dpr);
    const y = Math.round(rect.y * dpr);
    const w = Math.max(1, Math.min(this.canvas.width - x, Math.round(rect.width * dpr)));
    const h = Math.max(1, Math.min(this.canvas.height - y, Math.round(rect.height * dpr)));
    const scale = particles > 0 && topDensity > 0 ? 1 / (particles * binSize * topDensity) : 0;
    const u = new Uint32Array(16);
    const f = new Float32Array(u.buffer);
    const src = this.source;
    if (dims === 1) {
      u[0] = src?.bins[0] ?? 1;
      f[4] = scale;
      f.set(BAR_COLOR, 8);
    } else {
      u[0] = src?.bins[0] ?? 1;
      u[1] = src?.bins[1] ?? 1;
      f[4] = scale;
      f.set([x, y, w, h], 8);
      f.set(background, 12);
    }
    device.queue.writeBuffer(this.uniforms, 0, u);
    pass.setViewport(x, y, w, h, 0, 1);
    pass.setScissorRect(x, y, w, h);
    if (src && src.bins.length === dims && scale > 0) {
      pass.setPipeline(this.pipeline(dims === 1 ? 'histogram' : 'heatmap'));
      pass.setBindGroup(0, src.bindGroup);
      if (dims === 1) pass.draw(6, src.bins[0]);
      else pass.draw(3);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    this.uniforms.destroy();
    this.context.unconfigure();
  }
}
