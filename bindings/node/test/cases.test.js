'use strict';
// Cases on the embedded SQLite store: open, approve, deny, provide, tick, receipts.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const aarm = require('..');
const { NOW, request, tempDir, engine } = require('./fixture.js');

function cases() {
  return new aarm.Cases(path.join(tempDir(), 'cases.db'), engine());
}

test('open a case and approve it', () => {
  const c = cases();
  const opened = c.open(request(), NOW);
  assert.equal(opened.decision, 'step_up');
  assert.match(opened.case, /^case-/);
  assert.ok(opened.receipt);
  assert.equal(c.get(opened.case).state, 'pending_approval');
  const approved = c.approve(opened.case, 'cfo@corp.com', { now: NOW + 60 });
  assert.equal(approved.state, 'allowed');
  assert.equal(approved.released_action.tool, 'transfer_funds');
  const events = c.receipts(opened.case).map((r) => r.event);
  assert.equal(events[0], 'open');
  assert.ok(events.includes('approve'));
});

test('an allow opens no case but is recorded', () => {
  const c = cases();
  const opened = c.open(request(500), NOW);
  assert.equal(opened.decision, 'allow');
  assert.equal(opened.case, undefined);
  assert.deepEqual(c.receipts().map((r) => r.event), ['decide']);
});

test('refused events throw CaseError with the lifecycle code', () => {
  const c = cases();
  const id = c.open(request(), NOW).case;
  const refused = (code) => (err) => err instanceof aarm.CaseError && err.code === code;
  assert.throws(() => c.approve(id, 'mallory@corp.com', { now: NOW + 1 }), refused('not_an_approver'));
  assert.throws(() => c.approve('case-999999', 'cfo@corp.com', { now: NOW + 1 }), refused('unknown_case'));
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW - 3600 }), refused('clock_went_back'));
  assert.equal(c.get(id).state, 'pending_approval');
});

test('deny, then nothing releases the case', () => {
  const c = cases();
  const id = c.open(request(), NOW).case;
  const denied = c.deny(id, 'controller@corp.com', 'not this vendor', { now: NOW + 5 });
  assert.equal(denied.state, 'denied');
  assert.equal(denied.denials[0].why, 'not this vendor');
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 6 }), (err) => err.code === 'case_resolved');
});

test('evidence releases or denies a deferral', () => {
  const c = cases();
  const a = c.open(request(500, 'new-vendor'), NOW);
  assert.equal(a.decision, 'defer');
  assert.equal(c.provide(a.case, { recipient_verified: true }, { by: 'kyc', now: NOW + 10 }).state, 'allowed');
  const b = c.open(request(500, 'new-vendor'), NOW + 20).case;
  assert.equal(c.provide(b, { recipient_verified: false }, { now: NOW + 30 }).state, 'denied');
  const d = c.open(request(500, 'new-vendor'), NOW + 40).case;
  assert.throws(() => c.provide(d, ['recipient_verified'], { now: NOW + 41 }), /object/);
  assert.throws(() => c.provide(d, {}, { now: NOW + 41 }), /empty/);
});

test('tick times a case out to deny', () => {
  const c = cases();
  const id = c.open(request(), NOW).case;
  assert.deepEqual(c.tick(NOW + 60), []);
  assert.deepEqual(c.tick(NOW + 31 * 60).map((x) => x.id), [id]);
  assert.equal(c.get(id).state, 'denied');
  assert.equal(c.get('case-424242'), null);
});

test('an invalid request is recorded as a deny', () => {
  const c = cases();
  const opened = c.open({ action: { tool: 'transfer_funds', params: { amount: 10n } } }, NOW);
  assert.equal(opened.decision, 'deny');
  assert.equal(opened.reason.code, 'input.invalid');
  assert.equal(opened.case, undefined);
  assert.equal(c.open('{broken', NOW).decision, 'deny');
});

test('the store survives reopening; receipts are signed and chained', () => {
  const dir = tempDir();
  const key = path.join(dir, 'key.hex');
  fs.writeFileSync(key, 'ab'.repeat(32));
  const e = engine();
  const id = new aarm.Cases(path.join(dir, 'c.db'), e, { signKey: key }).open(request(), NOW).case;
  const again = new aarm.Cases(path.join(dir, 'c.db'), e, { signKey: key });
  assert.equal(again.approve(id, 'controller@corp.com', { now: NOW + 1 }).state, 'allowed');
  const receipts = again.receipts();
  assert.ok(receipts.every((r) => r.signature));
  for (let i = 1; i < receipts.length; i++) assert.equal(receipts[i].prev, receipts[i - 1].hash);
});

test('a store that cannot be opened throws StoreError', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'dir.db'));
  assert.throws(() => new aarm.Cases(path.join(dir, 'dir.db'), engine()), aarm.StoreError);
  fs.writeFileSync(path.join(dir, 'junk.db'), 'this is not a sqlite database'.repeat(100));
  assert.throws(() => new aarm.Cases(path.join(dir, 'junk.db'), engine()), aarm.StoreError);
  assert.throws(() => new aarm.Cases(path.join(dir, 'x.db'), {}), aarm.AarmError);
});
