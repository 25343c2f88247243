#!/usr/bin/env node
// Entry point. The sources are TypeScript run directly by Node >= 22.18 (type
// stripping); npm scripts and npx use the Node 24 that set-up installs locally.
// This file is plain JavaScript so that an older Node reaches the version check.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `guidance-sampler: needs Node >= 22.18 (this is ${process.version}); run it as \`npx guidance-sampler\` or \`npm start\` after \`bash scripts/setup.sh\`\n`,
  );
  process.exit(1);
}

// Dawn prints two warnings from native code straight to fd 2 whenever it builds an adapter
// (src/dawn/native/Limits.cpp clamps lavapipe's dynamic-buffer limits with an unconditional
// WarningLog; no toggle turns it off). A user reads them as errors, so the CLI runs itself
// as a child with stderr piped and drops exactly those two lines; everything else on stderr
// (progress, real problems) passes through unchanged. GUIDANCE_SAMPLER_RAW_STDERR=1 skips it.
const DAWN_LIMIT_WARNING =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/gm;

if (process.env.GUIDANCE_SAMPLER_RAW_STDERR !== '1') {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const env = { ...process.env, GUIDANCE_SAMPLER_RAW_STDERR: '1' };
  // The child's stderr is a pipe; tell it that ours is a terminal, so the progress bar stays.
  if (process.stderr.isTTY) env.GUIDANCE_SAMPLER_STDERR_COLUMNS = String(process.stderr.columns ?? 80);
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      env,
      stdio: ['inherit', 'inherit', 'pipe'],
    },
  );
  child.stderr.setEncoding('utf8');
  // Dawn writes each warning as one complete line; pass partial lines (progress bars use \r)
  // through at once, holding back only an unfinished line that could still become a warning.
  let pending = '';
  child.stderr.on('data', (chunk) => {
    let text = (pending + chunk).replace(DAWN_LIMIT_WARNING, '');
    const lastNl = text.lastIndexOf('\n');
    const tail = text.slice(lastNl + 1);
    pending =
      tail.startsWith('Warning: maxDynamic') || ('Warning: maxDynamic'.startsWith(tail) && tail !== '') ? tail : '';
    text = text.slice(0, text.length - pending.length);
    if (text) process.stderr.write(text);
  });
  // Forward interrupts: the child owns the output file and cleans up its temporary itself.
  const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => {
    if (pending) process.stderr.write(pending);
    if (signal) {
      // Die of the same signal, so the caller sees how the child ended; our own forwarding
      // handler must go first, or it would swallow the re-raised signal.
      for (const sig of FORWARDED) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
    } else process.exitCode = code ?? 1;
  });
} else {
  if (process.env.GUIDANCE_SAMPLER_STDERR_COLUMNS) {
    // cli-progress draws only on a terminal; the parent forwards to one (see above).
    Object.defineProperty(process.stderr, 'isTTY', { value: true });
    Object.defineProperty(process.stderr, 'columns', { value: Number(process.env.GUIDANCE_SAMPLER_STDERR_COLUMNS) });
  }
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
