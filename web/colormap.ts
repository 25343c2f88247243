// The heatmap's colour map, the same polynomial fit of viridis as shaders/render-heatmap.wgsl:
// the colour bar and the CPU fallback's heatmap use it, so their colours match the GPU layer's.
const C = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680818, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

/** viridis(t) as [r, g, b] in 0..255, t in [0, 1]. */
export function viridis(t: number): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let ch = 0; ch < 3; ch++) {
    let v = C[6][ch];
    for (let k = 5; k >= 0; k--) v = C[k][ch] + t * v;
    out[ch] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return out;
}
