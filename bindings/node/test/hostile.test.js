'use strict';
// Hostile input never crashes the process and never allows: bad bundles and signatures throw
// BundleError; bad requests decide deny with input.invalid.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const aarm = require('..');
const { NOW, request, tempDir, policyDir, engine } = require('./fixture.js');

function assertInvalid(d, pathPart = '') {
  assert.equal(d.decision, 'deny', JSON.stringify(d));
  assert.equal(d.reason.code, 'input.invalid', JSON.stringify(d));
  assert.ok(d.reason.message.includes(pathPart), d.reason.message);
}

test('bad JSON text is deny', () => {
  const e = engine();
  for (const bad of [
    '{not json',
    '{"action": {"tool": "transfer_funds", "params": {"amount": 5, "amount": 50000}}}',
    '[]',
    'null',
    '',
    '\ud800',
  ]) {
    assertInvalid(e.decide(bad, NOW));
  }
});

test('requests that are not objects are deny', () => {
  const e = engine();
  for (const bad of [null, undefined, 42, 3.5, true, [], ['a'], () => 1, Symbol('s'), Buffer.from('{}')]) {
    assertInvalid(e.decide(bad, NOW));
  }
});

test('huge and non-finite numbers are deny', () => {
  const e = engine();
  assertInvalid(e.decide(request(10n ** 400n), NOW)); // a BigInt
  assertInvalid(e.decide(JSON.stringify(request(1)).replace('"amount":1', `"amount":1${'0'.repeat(400)}`), NOW));
  for (const n of [NaN, Infinity, -Infinity]) assertInvalid(e.decide(request(n), NOW));
});

test('deep nesting and cycles are deny, not a crash', () => {
  const e = engine();
  let deep = [];
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  assertInvalid(e.decide(request(1, 'acme', { memo: deep }), NOW));
  const text = JSON.stringify(request()).replace('"acme"', '['.repeat(100_000) + ']'.repeat(100_000));
  assertInvalid(e.decide(text, NOW));
  const cyclic = request();
  cyclic.action.params.memo = cyclic;
  assertInvalid(e.decide(cyclic, NOW));
});

test('wrong types and unknown names are deny at their path', () => {
  const e = engine();
  assertInvalid(e.decide(request([25000]), NOW), '$.action.params.amount');
  assertInvalid(e.decide(request(true), NOW), '$.action.params.amount');
  // A tool the bundle does not declare: no rule is on it, so the default decides (deny here).
  assert.equal(e.decide({ action: { tool: 'transfer_fund', params: {} } }, NOW).decision, 'deny');
});

test('a bad bundle throws BundleError', () => {
  const bytes = aarm.build(policyDir());
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1] ^= 0xff;
  for (const bad of [Buffer.alloc(0), Buffer.from('not a bundle'), bytes.subarray(0, -1), Buffer.concat([bytes, Buffer.from([0])]), flipped]) {
    assert.throws(() => aarm.Engine.load(bad), (err) => err instanceof aarm.BundleError && err.code === 'AARM_BUNDLE');
  }
  assert.throws(() => aarm.Engine.load(path.join(tempDir(), 'missing.aarmb')), (err) => err.code === 'AARM_USAGE');
  assert.throws(() => aarm.Engine.load(12));
});

test('signatures: required, trusted, tampered', () => {
  const dir = policyDir();
  const keys = tempDir();
  fs.writeFileSync(path.join(keys, 'a.hex'), 'ab'.repeat(32));
  fs.writeFileSync(path.join(keys, 'b.hex'), 'cd'.repeat(32));
  const signed = aarm.build(dir, { signKey: path.join(keys, 'a.hex') });
  assert.throws(() => aarm.Engine.load(aarm.build(dir), { requireSignature: true }), /not signed/);
  assert.equal(aarm.Engine.load(signed, { requireSignature: true }).decide(request(500), NOW).decision, 'allow');
  // The signer's public key, read from the header as docs/bundle.md lays it out.
  const n = signed.readUInt16LE(10);
  const signer = signed.subarray(13 + n, 13 + n + 32);
  const other = aarm.build(dir, { signKey: path.join(keys, 'b.hex') }).subarray(13 + n, 13 + n + 32);
  assert.ok(aarm.Engine.load(signed, { trustedKeys: [other, signer], requireSignature: true }));
  assert.throws(() => aarm.Engine.load(signed, { trustedKeys: [other] }), /not among this host's trusted keys/);
  const tampered = Buffer.from(signed);
  tampered[13 + n + 32 + 8 + 32 + 63] ^= 0x01;
  assert.throws(() => aarm.Engine.load(tampered), (err) => err instanceof aarm.BundleError && /signature/.test(err.message));
  assert.throws(() => aarm.Engine.load(signed, { trustedKeys: [Buffer.from('short')] }), /trusted key 0/);
  assert.throws(() => aarm.build(dir, { signKey: Buffer.from('short') }), /signing key/);
});

test('the process survives all of the above', () => {
  assert.equal(engine().decide(request(500), NOW).decision, 'allow');
});
