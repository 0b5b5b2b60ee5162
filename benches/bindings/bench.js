'use strict';
// aarm's Node package against @cedar-policy/cedar-wasm on the comparison workload: nanoseconds
// per call. Run by benches/bindings/run.sh: `node bench.js WORKLOAD_DIR RUST_DECIDE_JSON_NS`.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const aarm = require('../../bindings/node');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

const NOW = 1_790_000_000; // the workload reads no time; the same clock as the Rust side

/** Median over rounds of ns per call; each round runs whole passes over items for a slice. */
function perCallNs(fn, items, rounds = 11, sliceMs = 100) {
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed;
    do {
      for (const item of items) fn(item);
      n += items.length;
      elapsed = Number(process.hrtime.bigint() - start);
    } while (elapsed < sliceMs * 1e6);
    samples.push(elapsed / n);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function uid(text) {
  const m = /^(\w+)::"(.*)"$/.exec(text);
  return { type: m[1], id: m[2] };
}

function main() {
  const [work, rustArg] = process.argv.slice(2);
  const rustNs = Number(rustArg);
  const calls = JSON.parse(fs.readFileSync(path.join(work, 'calls.json'), 'utf8'));
  const policies = fs.readFileSync(path.join(work, 'policy.cedar'), 'utf8');
  const engine = aarm.Engine.load(aarm.build(path.join(work, 'policy.aarm')));
  const requests = calls.map((c) => c.request);
  const cedarCalls = calls.map((c) => ({
    principal: uid(c.cedar.principal),
    action: uid(c.cedar.action),
    resource: uid(c.cedar.resource),
    context: c.cedar.context,
  }));
  const parsed = cedar.preparsePolicySet('bench', { staticPolicies: policies });
  assert.equal(parsed.type, 'success', JSON.stringify(parsed));
  const once = (call) => cedar.isAuthorized({ ...call, policies: { staticPolicies: policies }, entities: [] });
  const stateful = (call) => cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: 'bench', entities: [] });

  // Both engines decide as the rule model does, on every call, before anything is timed.
  calls.forEach((c, i) => {
    assert.equal(engine.decide(c.request, NOW).decision === 'allow', c.allow, JSON.stringify(c));
    const answer = stateful(cedarCalls[i]);
    assert.equal(answer.type, 'success', JSON.stringify(answer));
    assert.equal(answer.response.decision === 'allow', c.allow, JSON.stringify(c));
  });

  const aarmNs = perCallNs((r) => engine.decide(r, NOW), requests);
  const textNs = perCallNs((t) => engine.decide(t, NOW), requests.map((r) => JSON.stringify(r)));
  const cedarNs = perCallNs(once, cedarCalls.slice(0, 50), 5);
  const statefulNs = perCallNs(stateful, cedarCalls, 5);
  const line = (name, ns, note = '') => console.log(`node   ${name.padEnd(42)} ${ns.toFixed(0).padStart(10)} ns${note}`);
  line('aarm engine.decide(object)', aarmNs);
  line('aarm engine.decide(json string)', textNs);
  line('cedar-wasm isAuthorized', cedarNs, `   (${(cedarNs / aarmNs).toFixed(1)}x aarm)`);
  line('cedar-wasm statefulIsAuthorized (preparsed)', statefulNs, `   (${(statefulNs / aarmNs).toFixed(1)}x aarm)`);
  console.log(`rust   ${'Engine::decide_json'.padEnd(42)} ${rustNs.toFixed(0).padStart(10)} ns   (aarm from Node: ${(aarmNs / rustNs).toFixed(2)}x)`);
}

main();
