// The claims `guidance-sampler reproduce <name>` knows, one file each (docs/reproductions.md).
import type { ClaimResult, ReproContext } from './runner.ts';
import { runTilted } from './tilted.ts';
import { runLeavesSupport } from './leaves-support.ts';
import { runCfgVariance } from './cfg-variance.ts';
import { runDistortionModes } from './distortion-modes.ts';
import { runPrototypes } from './prototypes.ts';
import { runCrossEntropy } from './cross-entropy.ts';
import { runAutoguidance, runAutoguidanceTree } from './autoguidance.ts';

export const CLAIMS: Record<string, (ctx: ReproContext) => Promise<ClaimResult>> = {
  tilted: runTilted,
  'leaves-support': runLeavesSupport,
  'cfg-variance': runCfgVariance,
  'distortion-modes': runDistortionModes,
  prototypes: runPrototypes,
  'cross-entropy': runCrossEntropy,
  autoguidance: runAutoguidance,
  'autoguidance-tree': runAutoguidanceTree,
};
