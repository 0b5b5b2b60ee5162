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

// Bounded approvals: the fixture's step-up lists `limits amount` and is `valid 1h`.

test('a capped approval is carried in the release limits', () => {
  const c = cases();
  const id = c.open(request(25000), NOW).case;
  const others = [['25000.50', '25000.5'], [25000n, '25000'], [26000.25, '26000.25']].map(([cap, shown]) => [
    c.open(request(25000), NOW).case,
    cap,
    shown,
  ]);
  const approved = c.approve(id, 'cfo@corp.com', { now: NOW + 60, max: { amount: 30000 } });
  assert.equal(approved.state, 'allowed');
  assert.deepEqual(approved.outcome.limits, { 'params.amount': { max: '30000' } });
  assert.deepEqual(approved.approvals[0].max, { amount: '30000' });
  const release = c.receipts(id).filter((r) => r.event === 'approve').pop();
  assert.deepEqual(release.detail.limits, { 'params.amount': { max: '30000' } });
  for (const [other, cap, shown] of others) {
    const out = c.approve(other, 'cfo@corp.com', { now: NOW + 60, max: { amount: cap } });
    assert.deepEqual(out.outcome.limits, { 'params.amount': { max: shown } }, String(cap));
  }
});

test('a cap below the action or off the list is refused with its code', () => {
  const c = cases();
  const id = c.open(request(25000), NOW).case;
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, max: { amount: 5000 } }), {
    name: 'CaseError',
    code: 'limit_below_action',
  });
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, max: { fee: 10 } }), {
    name: 'CaseError',
    code: 'limit_not_allowed',
  });
  for (const max of [{ amount: 'lots' }, { amount: true }, { amount: NaN }, [30000], 'amount=30000']) {
    assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, max }), { code: 'AARM_USAGE' }, String(max));
  }
  assert.equal(c.get(id).state, 'pending_approval');
  assert.deepEqual(c.get(id).approvals, []);
});

test('until in the past is refused; until narrows the released allow', () => {
  const c = cases();
  const id = c.open(request(), NOW).case;
  const unbounded = c.open(request(), NOW).case;
  for (const until of [NOW + 60, '2026-11-24T10:00:30Z', new Date((NOW - 3600) * 1000)]) {
    assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, until }), {
      name: 'CaseError',
      code: 'until_in_past',
    });
  }
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, until: 'tomorrow' }), { code: 'AARM_USAGE' });
  assert.throws(() => c.approve(id, 'cfo@corp.com', { now: NOW + 60, until: {} }), { code: 'AARM_USAGE' });
  assert.equal(c.get(id).state, 'pending_approval');

  assert.equal(c.approve(unbounded, 'cfo@corp.com', { now: NOW + 60 }).outcome.expires_at, '2026-11-24T11:01:00Z');
  const until = new Date('2026-11-24T10:20:00Z');
  const approved = c.approve(id, 'cfo@corp.com', { now: NOW + 60, until });
  assert.equal(approved.state, 'allowed');
  assert.equal(approved.outcome.expires_at, '2026-11-24T10:20:00Z');
  assert.equal(aarm.isCurrent(approved.outcome, '2026-11-24T10:19:59Z'), true);
  assert.equal(aarm.isCurrent(approved.outcome, '2026-11-24T10:20:00Z'), false);
});
