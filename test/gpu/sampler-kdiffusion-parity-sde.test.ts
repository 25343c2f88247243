// Per-particle GPU/CPU parity of dpm2, dpmpp-2m-sde and dpmpp-3m-sde (test/support/kdiffusion-parity.ts).
import { describeSamplerParity } from '../support/kdiffusion-parity.ts';

await describeSamplerParity(['dpm2', 'dpmpp-2m-sde', 'dpmpp-3m-sde']);
