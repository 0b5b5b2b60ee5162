//! `aarm lsp`: a language server on standard input and output, for editors.
//!
//! It checks with the compiler `aarm check` uses (diagnostics and analysis warnings), answers
//! from the checker's side table (hover, definition, references, rename, symbols, completion)
//! and formats with `aarm fmt`'s formatter. Every request gets an answer or a JSON-RPC error;
//! nothing a client sends (any text, any position, an unknown method, a malformed message) stops
//! the server.
//!
//! - `position`: UTF-16 positions ↔ byte offsets
//! - `transport`: the base protocol's framing, bounded
//! - `workspace`: open buffers, bundles and their checks
//! - `features`: the requests' answers

mod features;
mod position;
mod transport;
mod workspace;

use super::exit;
use clap::Args;
use features::Failure;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use transport::Incoming;
use workspace::{path_uri, uri_path, Document, Workspace};

#[derive(Debug, Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it (VS Code's client does); standard input and output
    /// are the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: &LspArgs) -> ExitCode {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut server =
        Server { out: io::stdout(), ws: Workspace::default(), state: State::Uninitialized, published: BTreeSet::new() };
    loop {
        let incoming = match transport::read(&mut input) {
            Ok(i) => i,
            Err(e) => {
                crate::errln!("error: aarm lsp: cannot read from the client: {e}");
                return ExitCode::from(exit::FAILED);
            }
        };
        let message = match incoming {
            Incoming::Closed => return ExitCode::from(exit::FAILED),
            Incoming::Malformed(why) => {
                // JSON-RPC's answer to a message that cannot be parsed: an error with a null id.
                let error = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "error": { "code": ErrorCode::ParseError as i32, "message": why },
                });
                let _ = transport::write_value(&mut server.out.lock(), &error);
                continue;
            }
            Incoming::Message(m) => m,
        };
        if let Some(code) = server.handle(message) {
            return ExitCode::from(code);
        }
    }
}

#[derive(PartialEq)]
enum State {
    Uninitialized,
    Running,
    ShutDown,
}

struct Server {
    out: io::Stdout,
    ws: Workspace,
    state: State,
    /// Files that have diagnostics published, so that a fixed file is cleared.
    published: BTreeSet<PathBuf>,
}

impl Server {
    fn send(&mut self, m: Message) {
        let mut out = self.out.lock();
        // A client that stopped reading will close our input too; the loop ends there.
        let _ = m.write(&mut out);
        let _ = out.flush();
    }

    /// Handles one message; `Some(exit code)` when the client said `exit`.
    fn handle(&mut self, m: Message) -> Option<u8> {
        match m {
            Message::Request(r) => {
                let id = r.id.clone();
                let answer = self.request(r);
                let response = match answer {
                    Ok(v) => Response::new_ok(id, v),
                    Err((code, msg)) => Response::new_err(id, code as i32, msg),
                };
                self.send(Message::Response(response));
                None
            }
            Message::Notification(n) => self.notification(n),
            Message::Response(_) => None,
        }
    }

    fn request(&mut self, r: Request) -> Result<Value, Failure> {
        use lsp_types::request as req;
        match (&self.state, r.method.as_str()) {
            (State::Uninitialized, req::Initialize::METHOD) => {
                self.state = State::Running;
                to_json(initialize_result())
            }
            (State::Uninitialized, _) => {
                Err((ErrorCode::ServerNotInitialized, "the client has not sent `initialize`".into()))
            }
            (State::ShutDown, _) => Err((ErrorCode::InvalidRequest, "the server is shut down; send `exit`".into())),
            (State::Running, req::Initialize::METHOD) => {
                Err((ErrorCode::InvalidRequest, "`initialize` was already sent".into()))
            }
            (State::Running, req::Shutdown::METHOD) => {
                self.state = State::ShutDown;
                Ok(Value::Null)
            }
            (State::Running, req::HoverRequest::METHOD) => features::hover(&self.ws, params(r)?),
            (State::Running, req::GotoDefinition::METHOD) => features::definition(&self.ws, params(r)?),
            (State::Running, req::References::METHOD) => features::references(&self.ws, params(r)?),
            (State::Running, req::Rename::METHOD) => features::rename(&self.ws, params(r)?),
            (State::Running, req::DocumentSymbolRequest::METHOD) => features::document_symbols(&self.ws, params(r)?),
            (State::Running, req::Completion::METHOD) => features::completion(&self.ws, params(r)?),
            (State::Running, req::Formatting::METHOD) => features::formatting(&self.ws, params(r)?),
            (State::Running, req::CodeActionRequest::METHOD) => features::code_actions(&self.ws, params(r)?),
            (State::Running, method) => {
                Err((ErrorCode::MethodNotFound, format!("`{method}` is not a method aarm lsp knows")))
            }
        }
    }

    fn notification(&mut self, n: Notification) -> Option<u8> {
        use lsp_types::notification as note;
        match n.method.as_str() {
            note::Exit::METHOD => return Some(if self.state == State::ShutDown { exit::OK } else { exit::FAILED }),
            _ if self.state != State::Running => {}
            note::DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params) {
                    if let Some(path) = uri_path(&p.text_document.uri) {
                        self.ws.documents.insert(path, Document { text: p.text_document.text });
                        self.publish();
                    }
                }
            }
            note::DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params) {
                    // Full-text sync (the capability announced): the last change is the text.
                    if let (Some(path), Some(change)) =
                        (uri_path(&p.text_document.uri), p.content_changes.into_iter().last())
                    {
                        self.ws.documents.insert(path, Document { text: change.text });
                        self.publish();
                    }
                }
            }
            note::DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params) {
                    if let Some(path) = uri_path(&p.text_document.uri) {
                        self.ws.documents.remove(&path);
                        self.publish();
                    }
                }
            }
            note::DidSaveTextDocument::METHOD => self.publish(),
            // Other notifications ($/cancelRequest, workspace changes, …) need no answer.
            _ => {}
        }
        None
    }

    /// Re-checks the open bundles and publishes every file's diagnostics (empty for a file
    /// that has none now, or is no longer in a checked bundle).
    fn publish(&mut self) {
        let by_file = self.ws.recheck();
        let mut now = BTreeSet::new();
        for (path, diags) in &by_file {
            let Some(uri) = path_uri(path) else { continue };
            let diagnostics = diags.iter().map(|(text, d)| to_lsp_diagnostic(text, d, &uri, self)).collect();
            self.notify(uri, diagnostics);
            now.insert(path.clone());
        }
        for gone in self.published.difference(&now).cloned().collect::<Vec<_>>() {
            if let Some(uri) = path_uri(&gone) {
                self.notify(uri, Vec::new());
            }
        }
        self.published = now;
    }

    fn notify(&mut self, uri: lsp::Uri, diagnostics: Vec<lsp::Diagnostic>) {
        let params = lsp::PublishDiagnosticsParams { uri, diagnostics, version: None };
        if let Ok(v) = serde_json::to_value(params) {
            let method = lsp_types::notification::PublishDiagnostics::METHOD.to_string();
            self.send(Message::Notification(Notification { method, params: v }));
        }
    }
}

/// A compiler diagnostic as the protocol's: code, severity, message (with the help line), and
/// its secondary labels as related information.
fn to_lsp_diagnostic(text: &str, d: &aarm_lang::Diagnostic, uri: &lsp::Uri, server: &Server) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|l| {
            let path = uri_path(uri)?;
            let (a, _) = server.ws.analysis_for(&path)?;
            let other = a.path_of(l.file)?;
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location { uri: path_uri(&other)?, range: position::range(a.text(l.file), l.span) },
                message: l.message.clone(),
            })
        })
        .collect();
    lsp::Diagnostic {
        range: position::range(text, d.span),
        severity: Some(if d.is_error() { lsp::DiagnosticSeverity::ERROR } else { lsp::DiagnosticSeverity::WARNING }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        source: Some("aarm".into()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        ..Default::default()
    }
}

fn params<P: serde::de::DeserializeOwned>(r: Request) -> Result<P, Failure> {
    serde_json::from_value(r.params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters for `{}`: {e}", r.method)))
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn initialize_result() -> lsp::InitializeResult {
    lsp::InitializeResult {
        capabilities: lsp::ServerCapabilities {
            text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::FULL),
                save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            })),
            hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lsp::OneOf::Left(true)),
            references_provider: Some(lsp::OneOf::Left(true)),
            rename_provider: Some(lsp::OneOf::Left(true)),
            document_symbol_provider: Some(lsp::OneOf::Left(true)),
            document_formatting_provider: Some(lsp::OneOf::Left(true)),
            code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
            completion_provider: Some(lsp::CompletionOptions {
                trigger_characters: Some(vec![".".into()]),
                ..Default::default()
            }),
            ..Default::default()
        },
        server_info: Some(lsp::ServerInfo { name: "aarm lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    }
}
