#!/usr/bin/env node
// Entry point. The sources are TypeScript run directly by Node >= 22.18 (type
// stripping); npm scripts and npx use the Node 24 that set-up installs locally.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `guidance-sampler: needs Node >= 22.18 (this is ${process.version}); run it as \`npx guidance-sampler\` after \`bash scripts/setup.sh\`\n`,
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
