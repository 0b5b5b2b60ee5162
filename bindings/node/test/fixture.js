'use strict';
// Shared by the tests: a policy written to a temporary directory and built with aarm.build, as a
// host would. The policy is bindings/fixtures/treasury.aarm, which the Python tests use too.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const aarm = require('..');

const POLICY = fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'treasury.aarm'), 'utf8');

const NOW = 1795514400; // 2026-11-24T10:00:00Z

function request(amount = 25000, recipient = 'acme', extra = {}) {
  return {
    action: { tool: 'transfer_funds', params: { amount, currency: 'EUR', recipient, ...extra } },
    identity: { human: 'alice@corp.com', agent: 'treasury-agent' },
  };
}

// One exit listener removes them all (one per directory would pass Node's listener limit).
const tempDirs = [];
process.on('exit', () => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A fresh temporary directory, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aarm-node-'));
  tempDirs.push(dir);
  return dir;
}

function policyDir(text = POLICY) {
  const dir = path.join(tempDir(), 'treasury');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'treasury.aarm'), text);
  return dir;
}

function engine() {
  return aarm.Engine.load(aarm.build(policyDir()));
}

module.exports = { POLICY, NOW, request, tempDir, policyDir, engine };
