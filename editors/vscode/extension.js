// The AARM extension: highlighting comes from the grammar (package.json); everything else from
// `aarm lsp`, started as a child process speaking LSP on stdio.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  // `aarm.path` names the binary when it is not on PATH (e.g. target/release/aarm).
  const command = vscode.workspace.getConfiguration("aarm").get("path") || "aarm";
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "aarm",
    "AARM",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "aarm" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
