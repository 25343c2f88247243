// The example Kubernetes Indexed Job (examples/k8s/indexed-job.json): valid against the batch/v1
// Job schema (kubernetes-models' validator: the OpenAPI schema of the Kubernetes API), the fields
// the sharding relies on, and the command, with the completion index substituted, a valid
// `run --shard i/k` for every index.
// @vitest-environment node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { expect, it } from 'vitest';
import { parseShard, shardRange } from '../../src/cli/state.ts';

const job = JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/k8s/indexed-job.json'), 'utf8'));

it('is a valid batch/v1 Job by the Kubernetes schema, and the validator rejects a broken one', () => {
  expect(() => new Job(job).validate()).not.toThrow();
  const broken = structuredClone(job);
  broken.spec.completions = String(broken.spec.completions);
  broken.spec.template.spec.restartPolicy = 'Sometimes';
  expect(() => new Job(broken).validate()).toThrow(/completions must be integer/);
});

it('an Indexed batch/v1 Job whose completions are the shards, each reading its index', () => {
  expect(job).toMatchObject({
    apiVersion: 'batch/v1',
    kind: 'Job',
    spec: { completionMode: 'Indexed', template: { spec: { restartPolicy: 'Never' } } },
  });
  const k = job.spec.completions;
  expect(Number.isInteger(k) && k >= 1).toBe(true);
  expect(job.spec.parallelism).toBeLessThanOrEqual(k);
  const [container] = job.spec.template.spec.containers;
  const command = [...container.command, ...container.args].join(' ');
  // Every volume mounted is declared.
  const volumes = new Set(job.spec.template.spec.volumes.map((v: { name: string }) => v.name));
  for (const m of container.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
  // Each completion index gives shard i/k, with its own state file; together they cover [0, N).
  let covered = 0;
  const files = new Set<string>();
  for (let i = 0; i < k; i++) {
    const text = command.replaceAll('${JOB_COMPLETION_INDEX}', String(i));
    const shard = parseShard(/--shard (\S+)/.exec(text)![1]);
    expect(shard).toEqual({ index: i, count: k });
    const { first, end } = shardRange(shard, 10 ** 6);
    expect(first).toBe(covered);
    covered = end;
    files.add(/--state (\S+)/.exec(text)![1]);
  }
  expect(covered).toBe(10 ** 6);
  expect(files.size).toBe(k);
});
