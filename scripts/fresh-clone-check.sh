#!/usr/bin/env bash
# Acceptance check for first contact (issue 12): clone a repository's HEAD into an empty
# folder, run the README's set-up command, then `npm start` and `npm test` exactly as the
# README writes them. Passes when both succeed and `npm start` printed a JSON summary with
# nothing on stderr. Usage: scripts/fresh-clone-check.sh [REPO_PATH] (default: this repo).
# SKIP_NPM_TEST=1 skips `npm test` (long; for trying the script itself).
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
git clone -q "$repo" "$dir/clone"
cd "$dir/clone"
bash scripts/setup.sh
npm start --silent >"$dir/start.json" 2>"$dir/start.err"
node_modules/.bin/node -e '
  const fs = require("node:fs");
  const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  if (typeof s.particles !== "number" || !Array.isArray(s.mean)) throw new Error("npm start: no JSON summary");
  const err = fs.readFileSync(process.argv[2], "utf8");
  if (err.trim()) throw new Error("npm start wrote to stderr:\n" + err);
  console.log("fresh-clone-check: npm start ok (" + s.particles + " particles, backend " + s.backend + ")");
' "$dir/start.json" "$dir/start.err"
if [ "${SKIP_NPM_TEST:-}" = "1" ]; then
  echo "fresh-clone-check: npm test skipped (SKIP_NPM_TEST=1)"
else
  npm test
fi
echo "fresh-clone-check: PASS"
