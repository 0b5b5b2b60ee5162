// Every .aarm file of examples/ and stdlib/ tokenized against its snapshot in test/snapshots/.
// `npm run snapshot` (this file with --update) rewrites the snapshots after a grammar change:
// review their diff as the change's effect.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { loadGrammar, snapshot } = require("./tokenize");

const REPO = path.join(__dirname, "..", "..", "..");
const SNAPSHOTS = path.join(__dirname, "snapshots");

function policyFiles() {
  const found = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".aarm")) found.push(p);
    }
  };
  walk(path.join(REPO, "examples"));
  walk(path.join(REPO, "stdlib"));
  return found;
}

function snapshotPath(file) {
  return path.join(SNAPSHOTS, path.relative(REPO, file).replaceAll(path.sep, "__") + ".snap");
}

module.exports = { policyFiles, snapshotPath, REPO };

if (require.main === module && process.argv.includes("--update")) {
  loadGrammar().then((grammar) => {
    fs.mkdirSync(SNAPSHOTS, { recursive: true });
    for (const f of policyFiles()) {
      fs.writeFileSync(snapshotPath(f), snapshot(grammar, fs.readFileSync(f, "utf8")));
    }
  });
}
