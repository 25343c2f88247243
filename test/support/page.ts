// Browser side of test/support/browser.ts: a test page calls publishResult(fn) once; the
// JSON-serialisable value fn returns (or { error } if it throws) is set on window for the
// Node side's waitForResult.

const RESULT_KEY = '__testResult'; // same as RESULT_KEY in test/support/browser.ts (a Node module)

export function publishResult(fn: () => Promise<unknown>): void {
  const w = window as unknown as Record<string, unknown>;
  fn().then(
    (value) => {
      w[RESULT_KEY] = JSON.parse(JSON.stringify(value ?? null));
    },
    (e: unknown) => {
      const error = e instanceof Error ? `${e.message}${e.stack ? `\n${e.stack}` : ''}` : String(e);
      w[RESULT_KEY] = { error };
    },
  );
}
