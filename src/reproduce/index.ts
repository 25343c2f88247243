// The claims `guidance-sampler reproduce <name>` knows, one file each (docs/reproductions.md).
import type { ClaimResult, ReproContext } from './runner.ts';
import { runTilted } from './tilted.ts';

export const CLAIMS: Record<string, (ctx: ReproContext) => Promise<ClaimResult>> = {
  tilted: runTilted,
};
