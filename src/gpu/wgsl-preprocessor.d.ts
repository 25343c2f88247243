// wgsl-preprocessor ships no types (nor a main entry: its one file is imported by path): a template tag resolving #if/#elif/#else/#endif, where each
// #if / #elif is followed by a template value (its condition) and other values are inlined.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: readonly string[], ...values: unknown[]): string;
}
