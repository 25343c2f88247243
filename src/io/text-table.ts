// Plain-text tables for the terminal (check and population verdicts): columns padded to their
// widest cell, and numbers in a short fixed-or-exponent form.

/** The header line and one line per row, each column padded to its widest cell. */
export function alignedLines(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** `digits` significant digits, in exponent form outside [1e-3, 1e4). */
export function shortNumber(v: number, digits: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(digits);
}
