// Tokenizes .aarm text with the extension's grammar, as VS Code does: vscode-textmate driving
// the Oniguruma regular expressions of vscode-oniguruma (WebAssembly, no VS Code needed).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "syntaxes", "aarm.tmLanguage.json");

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.aarm"
        ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR)
        : null,
  });
  return registry.loadGrammar("source.aarm");
}

// One line per token that has a scope beyond the file's own: `line:col "text" scopes`.
function snapshot(grammar, text) {
  const out = [];
  let stack = vsctm.INITIAL;
  text.split("\n").forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      const scopes = t.scopes.filter((s) => s !== "source.aarm");
      const piece = line.slice(t.startIndex, t.endIndex);
      if (scopes.length === 0) continue;
      out.push(`${i + 1}:${t.startIndex + 1} ${JSON.stringify(piece)} ${scopes.join(" ")}`);
    }
    stack = r.ruleStack;
  });
  return out.join("\n") + "\n";
}

module.exports = { loadGrammar, snapshot };
