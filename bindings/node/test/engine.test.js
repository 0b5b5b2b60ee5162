'use strict';
// Engine: load, decide, what the bundle declares; build and check.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const aarm = require('..');
const { POLICY, NOW, request, tempDir, policyDir, engine } = require('./fixture.js');

test('decide an object: step_up with its obligation', () => {
  const e = engine();
  const d = e.decide(request(), NOW);
  assert.equal(d.decision, 'step_up');
  assert.equal(d.rule, 'treasury.large');
  assert.equal(d.reason.code, 'transfer.large');
  assert.equal(d.policy.bundle_hash, e.bundleHash);
});

/** A decision without its decision_id, which is new for every decision. */
const same = ({ decision_id: _id, ...rest }) => rest;

test('JSON text and an object decide the same', () => {
  const e = engine();
  assert.deepEqual(same(e.decide(JSON.stringify(request(500)), NOW)), same(e.decide(request(500), NOW)));
  assert.equal(e.decide(request(500), NOW).decision, 'allow');
});

test('decisions are records: schema, id, request id, time, expiry, scope', () => {
  const e = engine();
  const a = e.decide({ ...request(500), request_id: 'req-1' }, NOW);
  const b = e.decide(request(500), NOW);
  assert.equal(a.schema, 'aarm.decision/2');
  assert.equal(a.decision_id.length, 26);
  assert.notEqual(a.decision_id, b.decision_id);
  assert.deepEqual([a.request_id, b.request_id], ['req-1', null]);
  assert.equal(a.evaluated_at, '2026-11-24T10:00:00Z');
  assert.equal(a.expires_at, '2026-11-24T10:05:00Z');
  assert.deepEqual(a.scope, { tool: 'transfer_funds', operation: '', params: ['amount', 'currency', 'recipient'] });
});

test('isCurrent: an allow until it expires, nothing else', () => {
  const e = engine();
  const allow = e.decide(request(500), NOW);
  assert.equal(aarm.isCurrent(allow, NOW), true);
  assert.equal(aarm.isCurrent(allow, NOW + 299), true);
  assert.equal(aarm.isCurrent(allow, NOW + 300), false);
  assert.equal(aarm.isCurrent(allow, new Date((NOW + 300) * 1000)), false);
  assert.equal(aarm.isCurrent(JSON.stringify(allow), '2026-11-24T10:04:59Z'), true);
  assert.equal(aarm.isCurrent(e.decide(request(), NOW), NOW), false, 'a step_up is never current');
  assert.equal(aarm.isCurrent({ decision: 'allow' }, NOW), false, 'not a decision: fail closed');
});

test('now as seconds, Date and RFC 3339 agree; a bad now throws', () => {
  const e = engine();
  const answers = [NOW, new Date(NOW * 1000), '2026-11-24T10:00:00Z'].map((n) => e.decide(request(), n));
  for (const a of answers) assert.deepEqual(same(a), same(answers[0]));
  assert.throws(() => e.decide(request(), 'yesterday'), (err) => err instanceof aarm.AarmError && /RFC 3339/.test(err.message));
  assert.throws(() => e.decide(request(), {}), aarm.AarmError);
});

test('policy and tools', () => {
  const e = engine();
  assert.deepEqual(e.policy, { name: 'treasury', version: '1.2.0' });
  assert.match(e.bundleHash, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(e.tools[0].params, [
    { name: 'amount', type: 'Decimal', required: true },
    { name: 'currency', type: 'String', required: true },
    { name: 'recipient', type: 'String', required: true },
    { name: 'memo', type: 'String?', required: false },
  ]);
});

test('load from a path equals load from a Buffer; build is reproducible', () => {
  const dir = policyDir();
  const bytes = aarm.build(dir);
  assert.ok(Buffer.isBuffer(bytes));
  assert.deepEqual(aarm.build(dir), bytes);
  const file = path.join(tempDir(), 't.aarmb');
  fs.writeFileSync(file, bytes);
  assert.equal(aarm.Engine.load(file).bundleHash, aarm.Engine.load(bytes).bundleHash);
});

test('a build with errors throws BuildError with the diagnostics', () => {
  const dir = policyDir(POLICY.replace('on transfer_funds priority 10', 'on transfer_fund priority 10'));
  assert.throws(
    () => aarm.build(dir),
    (err) => {
      assert.ok(err instanceof aarm.BuildError && err instanceof aarm.AarmError);
      assert.equal(err.code, 'AARM_BUILD');
      assert.match(err.message, /1 error/);
      const errors = err.diagnostics.filter((d) => d.severity === 'error');
      assert.equal(errors.length, 1);
      assert.equal(errors[0].code, 'E0100');
      assert.equal(errors[0].help, 'did you mean `transfer_funds`?');
      return true;
    },
  );
});

test('check lists diagnostics with the CLI fields', () => {
  assert.deepEqual(aarm.check(policyDir()).filter((d) => d.severity === 'error'), []);
  const bad = aarm.check(policyDir(POLICY.replace('params.amount >= 10_000', 'params.amount >= "x"')));
  const errors = bad.filter((d) => d.severity === 'error');
  assert.ok(errors.length > 0);
  assert.deepEqual(Object.keys(errors[0]).sort(), ['code', 'column', 'end_column', 'end_line', 'file', 'help', 'line', 'message', 'severity']);
  assert.throws(() => aarm.check(path.join(tempDir(), 'nowhere')), aarm.AarmError);
});
