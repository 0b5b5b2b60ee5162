"use strict";

const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const { loadGrammar, snapshot } = require("./tokenize");
const { policyFiles, snapshotPath, REPO } = require("./snapshot");

const grammar = loadGrammar();

test("every example and stdlib file tokenizes as its snapshot says", async () => {
  const g = await grammar;
  const files = policyFiles();
  assert.ok(files.length >= 10, `only ${files.length} .aarm files found`);
  for (const f of files) {
    const snap = snapshotPath(f);
    const name = path.relative(REPO, f);
    assert.ok(fs.existsSync(snap), `${name} has no snapshot: run \`npm run snapshot\` and review it`);
    assert.strictEqual(snapshot(g, fs.readFileSync(f, "utf8")), fs.readFileSync(snap, "utf8"), `${name} tokenizes differently from ${path.relative(REPO, snap)}`);
  }
});

test("no example or stdlib file has a token the grammar calls invalid", async () => {
  const g = await grammar;
  for (const f of policyFiles()) {
    const s = snapshot(g, fs.readFileSync(f, "utf8"));
    assert.ok(!s.includes("invalid."), `${path.relative(REPO, f)}: ${s.split("\n").find((l) => l.includes("invalid."))}`);
  }
});

function scopesOf(g, line, piece) {
  const t = g.tokenizeLine(line, null).tokens.find((t) => line.slice(t.startIndex, t.endIndex) === piece);
  assert.ok(t, `no token ${JSON.stringify(piece)} in ${JSON.stringify(line)}`);
  return t.scopes;
}

test("the parts of a rule get the scopes themes colour", async () => {
  const g = await grammar;
  const line = 'rule big on transfer priority 9 { when params.amount >= 1_000.50 and evidence.ok is set deny }';
  assert.ok(scopesOf(g, line, "big").includes("entity.name.type.aarm"));
  assert.ok(scopesOf(g, line, "params").includes("variable.language.aarm"));
  assert.ok(scopesOf(g, line, "1_000.50").includes("constant.numeric.decimal.aarm"));
  assert.ok(scopesOf(g, line, "deny").includes("keyword.other.decision.aarm"));
  assert.ok(scopesOf(g, "/// Docs.", "/// Docs.").includes("comment.line.documentation.aarm"));
  assert.ok(scopesOf(g, "timeout 15m -> deny", "15m").includes("constant.numeric.duration.aarm"));
  const msg = 'reason "x" "Sent {params.amount} to \\"{params.to}\\""';
  assert.ok(scopesOf(g, msg, "params").includes("meta.interpolation.aarm"));
  assert.ok(scopesOf(g, msg, '\\"').includes("constant.character.escape.aarm"));
});
