'use strict';
// Shared by the tests: a policy written to a temporary directory and built with aarm.build, as a
// host would. The same policy as bindings/python/tests/conftest.py.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const aarm = require('..');

const POLICY = `
policy treasury version "1.2.0"

settings { allow_valid 5m }

tool transfer_funds { amount: Decimal, currency: String, recipient: String, memo: String? }

evidence recipient_verified: Bool from "kyc"

rule large on transfer_funds priority 90 {
  when params.amount >= 10_000
  step_up {
    approvers 1 of ["cfo@corp.com", "controller@corp.com"]
    timeout 30m -> deny
  }
  reason "transfer.large" "Transfer of {params.amount} {params.currency} needs an approver"
}

rule new_recipient on transfer_funds priority 50 {
  when params.recipient == "new-vendor" and evidence.recipient_verified is not set
  defer {
    need recipient_verified
    timeout 1h -> deny
  }
}

rule unverified on transfer_funds priority 60 {
  when params.recipient == "new-vendor" and evidence.recipient_verified == false
  deny
}

rule ordinary on transfer_funds priority 10 {
  allow
}
`;

const NOW = 1795514400; // 2026-11-24T10:00:00Z

function request(amount = 25000, recipient = 'acme', extra = {}) {
  return {
    action: { tool: 'transfer_funds', params: { amount, currency: 'EUR', recipient, ...extra } },
    identity: { human: 'alice@corp.com', agent: 'treasury-agent' },
  };
}

/** A fresh temporary directory, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aarm-node-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
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
