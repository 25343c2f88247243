// Types for svgcanvas (zenozeng/svgcanvas ships JavaScript only): the part the figure export uses.
declare module 'svgcanvas' {
  export class Context {
    constructor(options: { width: number; height: number; document?: Document });
    getSvg(): SVGSVGElement;
    getSerializedSvg(fixNamedEntities?: boolean): string;
  }
}
