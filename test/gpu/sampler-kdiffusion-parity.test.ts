// Per-particle GPU/CPU parity of dpmpp-2m, euler-ancestral, heun-churn and lms (test/support/kdiffusion-parity.ts).
import { describeSamplerParity } from '../support/kdiffusion-parity.ts';

await describeSamplerParity(['dpmpp-2m', 'euler-ancestral', 'heun-churn', 'lms']);
