'use strict';
// `npm install`: builds the addon with cargo and puts it beside this file as `aarm.node`.
//
// It builds in the repository's one target directory (or CARGO_TARGET_DIR) in the release
// profile, so the dependencies the CLI's release build compiled are reused. (`napi build` passes
// `--target`, which moves the build to target/<triple>/ and compiles every dependency again.)
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR || path.join(root, 'target') };
const out = execFileSync(
  'cargo',
  ['build', '--release', '--locked', '-p', 'aarm-node', '--message-format=json-render-diagnostics'],
  { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 },
).toString('utf8');

let library = null;
for (const line of out.split('\n')) {
  if (!line.startsWith('{')) continue;
  const msg = JSON.parse(line);
  if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'aarm_node') {
    library = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) || library;
  }
}
if (!library) {
  console.error('build.js: cargo built no aarm_node library');
  process.exit(1);
}
fs.copyFileSync(library, path.join(__dirname, 'aarm.node'));
