/** One broken rule: where (a JS-like path such as `classes[0].components[1].cov`) and what. */
export interface SpecIssue {
  path: string;
  message: string;
}

/**
 * A spec that breaks one or more rules. Carries every issue found, so a user can fix
 * them all in one pass; `message` is one `path: message` line per issue.
 */
export class SpecError extends Error {
  readonly issues: SpecIssue[];

  constructor(issues: SpecIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    this.name = 'SpecError';
    this.issues = issues;
  }
}

/**
 * Bad input that is not a spec (a foreign or inconsistent shard state file, a bad flag value
 * found late): the command prints the message and exits 2, like a SpecError.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
