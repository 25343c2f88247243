// npm run fuzz:specs [-- --runs N --seed S]: the spec fuzzer (test/support/spec-fuzz.ts) at
// 10,000 cases by default. Reports crashes (parseSpec throwing anything but a SpecError) and
// silent acceptances (a key outside its object's closed set not reported at its path), with the
// first few of each; exit 1 if there is any.
import fc from 'fast-check';
import { baseSpecs, fuzzCase, judge, mutate } from '../test/support/spec-fuzz.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = arg('--runs', 10000);
const seed = arg('--seed', Date.now() % 2 ** 31);
const bases = baseSpecs();
const counts = { accepted: 0, rejected: 0, crash: 0, silent: 0 };
const examples: { kind: string; case: unknown; detail: unknown }[] = [];
const t0 = performance.now();
for (const c of fc.sample(fuzzCase(bases.length), { numRuns: runs, seed })) {
  const spec = mutate(bases[c.base], c.mutations);
  const outcome = judge(spec);
  counts[outcome.kind]++;
  if ((outcome.kind === 'crash' || outcome.kind === 'silent') && examples.length < 10) {
    examples.push({ kind: outcome.kind, case: c, detail: outcome.kind === 'crash' ? outcome.error : outcome.keys });
  }
}
const report = { runs, seed, bases: bases.length, seconds: (performance.now() - t0) / 1000, ...counts, examples };
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
process.exitCode = counts.crash + counts.silent > 0 ? 1 : 0;
