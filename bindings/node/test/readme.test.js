'use strict';
// The README's Node example runs as written, from a directory laid out like the repository.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { tempDir } = require('./fixture.js');

const ROOT = path.resolve(__dirname, '..', '..', '..');

test('the README example runs and prints what its comments say', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 1);
  const dir = tempDir();
  fs.symlinkSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'));
  fs.symlinkSync(path.join(ROOT, 'bindings'), path.join(dir, 'bindings'));
  fs.writeFileSync(path.join(dir, 'example.js'), blocks[0]);
  const printed = execFileSync(process.execPath, ['example.js'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
  const expected = [...blocks[0].matchAll(/console\.log\(.*\);\s+\/\/ (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(printed, expected);
});
