//! The answers to the editor's requests, from the checker's side table ([`aarm_compiler::index`])
//! and the formatter. Each takes the workspace and the request's parameters and gives the result
//! as JSON, or an error the client is told.

use super::position::{offset, position, range};
use super::workspace::{path_uri, uri_path, Analysis, Workspace};
use aarm_compiler::check::{method_signatures, root_fields};
use aarm_compiler::index::{SymbolKind, Target};
use aarm_compiler::stdlib::STD_MODULES;
use aarm_lang::ast::{ItemKind, Targets};
use aarm_lang::token::RESERVED_WORDS;
use aarm_lang::{Code, FileId, Span};
use lsp_server::ErrorCode;
use lsp_types as lsp;
use serde_json::Value;
use std::collections::HashMap;

/// A request that cannot be answered: the code and message the client gets.
pub type Failure = (ErrorCode, String);

fn invalid(msg: impl Into<String>) -> Failure {
    (ErrorCode::InvalidParams, msg.into())
}

fn json<T: serde::Serialize>(v: T) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

/// The analysis of the document at `uri` and the byte offset of `pos` in it.
fn locate<'w>(ws: &'w Workspace, uri: &lsp::Uri, pos: lsp::Position) -> Result<(&'w Analysis, FileId, u32), Failure> {
    let (a, file) = analysis(ws, uri)?;
    let at = offset(a.text(file), pos).ok_or_else(|| {
        invalid(format!("line {} is past the end of the document ({} lines)", pos.line, a.text(file).lines().count()))
    })?;
    Ok((a, file, at))
}

fn analysis<'w>(ws: &'w Workspace, uri: &lsp::Uri) -> Result<(&'w Analysis, FileId), Failure> {
    let path = uri_path(uri).ok_or_else(|| invalid(format!("`{}` is not a file: URI", uri.as_str())))?;
    ws.analysis_for(&path).ok_or_else(|| invalid(format!("`{}` is not open", uri.as_str())))
}

/// A location in a file of the bundle (`None` for the embedded std modules, which have no file).
fn location(a: &Analysis, file: FileId, span: Span) -> Option<lsp::Location> {
    let uri = path_uri(&a.path_of(file)?)?;
    Some(lsp::Location { uri, range: range(a.text(file), span) })
}

pub fn hover(ws: &Workspace, p: lsp::HoverParams) -> Result<Value, Failure> {
    let pp = p.text_document_position_params;
    let (a, file, at) = locate(ws, &pp.text_document.uri, pp.position)?;
    let text = a.text(file);
    let named = a.index.occurrence_at(file, at).and_then(|o| Some((o.loc.span, a.index.symbol(o.target)?)));
    let contents = if let Some((span, sym)) = named {
        let mut md = format!("```aarm\n{}\n```", sym.signature);
        if let Some(doc) = &sym.doc {
            md.push_str("\n\n");
            md.push_str(doc.trim());
        }
        Some((md, Some(span)))
    } else if let Some((loc, ty)) = a.index.type_at(file, at) {
        let written = text.get(loc.span.range()).unwrap_or("");
        Some((format!("```aarm\n{written}: {ty}\n```"), Some(loc.span)))
    } else {
        None
    };
    match contents {
        None => Ok(Value::Null),
        Some((md, span)) => json(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: md }),
            range: span.map(|s| range(text, s)),
        }),
    }
}

pub fn definition(ws: &Workspace, p: lsp::GotoDefinitionParams) -> Result<Value, Failure> {
    let pp = p.text_document_position_params;
    let (a, file, at) = locate(ws, &pp.text_document.uri, pp.position)?;
    let found =
        a.index.target_at(file, at).and_then(|t| a.index.symbol(t)).and_then(|s| location(a, s.loc.file, s.loc.span));
    match found {
        Some(l) => json(lsp::GotoDefinitionResponse::Scalar(l)),
        None => Ok(Value::Null),
    }
}

pub fn references(ws: &Workspace, p: lsp::ReferenceParams) -> Result<Value, Failure> {
    let pp = p.text_document_position;
    let (a, file, at) = locate(ws, &pp.text_document.uri, pp.position)?;
    let Some(target) = a.index.target_at(file, at) else { return Ok(Value::Null) };
    let decl = a.index.symbol(target).map(|s| s.loc);
    let locs: Vec<lsp::Location> = a
        .index
        .references(target)
        .into_iter()
        .filter(|l| p.context.include_declaration || Some(*l) != decl)
        .filter_map(|l| location(a, l.file, l.span))
        .collect();
    json(locs)
}

// lsp-types keys a workspace edit by `Uri`, whose parsed form clippy takes for interior
// mutability; nothing mutates a key while it is in the map.
#[allow(clippy::mutable_key_type)]
pub fn rename(ws: &Workspace, p: lsp::RenameParams) -> Result<Value, Failure> {
    let pp = p.text_document_position;
    let (a, file, at) = locate(ws, &pp.text_document.uri, pp.position)?;
    let target = a.index.target_at(file, at).ok_or_else(|| invalid("there is no name to rename here"))?;
    let sym = a.index.symbol(target).ok_or_else(|| invalid("there is no declaration to rename here"))?;
    if !matches!(sym.kind, SymbolKind::Rule | SymbolKind::Fn | SymbolKind::Group | SymbolKind::Evidence) {
        return Err(invalid(format!(
            "a {} cannot be renamed here: rename a rule, fn, group or evidence (a tool's and its fields' names are the agent's)",
            sym.kind.as_str()
        )));
    }
    if !is_identifier(&p.new_name) {
        return Err(invalid(format!(
            "`{}` is not a name: use letters, digits and `_`, not starting with a digit, and no keyword",
            p.new_name
        )));
    }
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for l in a.index.references(target) {
        let loc = location(a, l.file, l.span).ok_or_else(|| {
            invalid(format!("`{}` is declared in the standard library, which cannot be edited", sym.name))
        })?;
        changes.entry(loc.uri).or_default().push(lsp::TextEdit { range: loc.range, new_text: p.new_name.clone() });
    }
    json(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() })
}

/// Whether `name` can be written as a declaration's name.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED_WORDS.contains(&name)
        && name.len() <= aarm_lang::limits::MAX_NAME_BYTES
}

const STEP_UP_CLAUSES: &[(&str, &str)] = &[
    ("approvers", "approvers N of GROUP"),
    ("timeout", "timeout D -> OUTCOME"),
    ("escalate", "escalate after D to GROUP"),
    ("veto", "veto"),
    ("self_approval", "self_approval"),
    ("risk", "risk LEVEL"),
    ("notify", "notify \"channel\""),
    ("valid", "valid D"),
    ("limits", "limits PARAM, PARAM"),
];

const DEFER_CLAUSES: &[(&str, &str)] = &[
    ("need", "need evidence_a, evidence_b"),
    ("timeout", "timeout D -> OUTCOME"),
    ("attempts", "attempts N -> OUTCOME"),
];

const TEST_STEPS: &[(&str, &str)] = &[
    ("action", "action TOOL [operation \"OP\"] { field: value }"),
    ("identity", "identity { human: \"…\", roles: [\"…\"] }"),
    ("context", "context { now: \"2026-11-24T10:00:00Z\" }"),
    ("evidence", "evidence { fact: value }"),
    ("approve", "approve by \"ID\" [roles [\"R\"]]"),
    ("deny", "deny by \"ID\" [\"why\"] [roles [\"R\"]]"),
    ("provide", "provide FACT = value"),
    ("wait", "wait DURATION"),
    ("cancel", "cancel"),
    ("expect", "expect DECISION | pending | rejected | cancel | receipts"),
];

/// What may follow `expect` in a test.
const EXPECTATIONS: &[(&str, &str)] = &[
    ("allow", "expect allow [rule R] [reason \"C\"]"),
    ("deny", "expect deny [rule R] [reason \"C\"]"),
    ("modify", "expect modify [{ field: value }] [rule R] [reason \"C\"]"),
    ("step_up", "expect step_up [rule R] [reason \"C\"]"),
    ("defer", "expect defer [rule R] [reason \"C\"]"),
    ("pending", "expect pending"),
    ("rejected", "expect rejected \"REASON\""),
    ("cancel", "expect cancel"),
    ("receipts", "expect receipts [\"open\", \"approve\"]"),
];

pub fn document_symbols(ws: &Workspace, p: lsp::DocumentSymbolParams) -> Result<Value, Failure> {
    let (a, file) = analysis(ws, &p.text_document.uri)?;
    let text = a.text(file);
    #[allow(deprecated)] // `deprecated` is a field every literal must name.
    let symbols: Vec<lsp::DocumentSymbol> = a
        .index
        .symbols
        .iter()
        .filter(|s| s.loc.file == file)
        .map(|s| lsp::DocumentSymbol {
            name: s.name.clone(),
            detail: Some(s.signature.clone()),
            kind: match s.kind {
                SymbolKind::Tool => lsp::SymbolKind::INTERFACE,
                SymbolKind::Field | SymbolKind::Context => lsp::SymbolKind::FIELD,
                SymbolKind::Evidence => lsp::SymbolKind::VARIABLE,
                SymbolKind::Group => lsp::SymbolKind::ARRAY,
                SymbolKind::Fn => lsp::SymbolKind::FUNCTION,
                SymbolKind::Rule => lsp::SymbolKind::EVENT,
            },
            tags: None,
            deprecated: None,
            range: range(text, s.loc.span),
            selection_range: range(text, s.loc.span),
            children: None,
        })
        .collect();
    json(lsp::DocumentSymbolResponse::Nested(symbols))
}

pub fn formatting(ws: &Workspace, p: lsp::DocumentFormattingParams) -> Result<Value, Failure> {
    let path = uri_path(&p.text_document.uri).ok_or_else(|| invalid("not a file: URI"))?;
    let doc =
        ws.documents.get(&path).ok_or_else(|| invalid(format!("`{}` is not open", p.text_document.uri.as_str())))?;
    // Text with syntax errors is left as it is (its diagnostics say why), as `aarm fmt -` does.
    let Ok(formatted) = aarm_lang::format::format(&doc.text) else { return json(Vec::<lsp::TextEdit>::new()) };
    if formatted == doc.text {
        return json(Vec::<lsp::TextEdit>::new());
    }
    let end = position(&doc.text, u32::try_from(doc.text.len()).unwrap_or(u32::MAX));
    json(vec![lsp::TextEdit { range: lsp::Range { start: lsp::Position::default(), end }, new_text: formatted }])
}

// lsp-types keys a workspace edit by `Uri`, whose parsed form clippy takes for interior
// mutability; nothing mutates a key while it is in the map.
#[allow(clippy::mutable_key_type)]
pub fn code_actions(ws: &Workspace, p: lsp::CodeActionParams) -> Result<Value, Failure> {
    let (a, file) = analysis(ws, &p.text_document.uri)?;
    let text = a.text(file);
    let (Some(from), Some(to)) = (offset(text, p.range.start), offset(text, p.range.end)) else {
        return Err(invalid("the range is past the end of the document"));
    };
    let mut actions = Vec::new();
    for d in a.diagnostics.iter().filter(|d| d.file == file && d.span.start <= to && from <= d.span.end) {
        let Some(help) = &d.help else { continue };
        let edit = if let Some(name) = suggested_name(help) {
            Some((format!("replace with `{name}`"), d.span, name.to_string()))
        } else if d.code == Code::UnguardedOptional {
            guard_line(text, d.span).map(|(at, line)| ("add an `is set` guard".to_string(), at, line))
        } else {
            None
        };
        let Some((title, span, new_text)) = edit else { continue };
        let mut changes = HashMap::new();
        changes.insert(p.text_document.uri.clone(), vec![lsp::TextEdit { range: range(text, span), new_text }]);
        actions.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title,
            kind: Some(lsp::CodeActionKind::QUICKFIX),
            edit: Some(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
            is_preferred: Some(true),
            ..Default::default()
        }));
    }
    json(actions)
}

/// `X` of a help that says "did you mean `X`?".
fn suggested_name(help: &str) -> Option<&str> {
    help.strip_prefix("did you mean `")?.strip_suffix("`?")
}

/// For an optional read on a rule's `when` line: the empty span at that line's start and the
/// line `when EXPR is set` to insert there (later lines are checked knowing earlier ones hold).
fn guard_line(text: &str, span: Span) -> Option<(Span, String)> {
    let start = text.get(..span.start as usize)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    if !line.trim_start().starts_with("when ") {
        return None;
    }
    let expr = text.get(span.range())?;
    let at = u32::try_from(start).ok()?;
    Some((Span::new(at, at), format!("{indent}when {expr} is set\n")))
}

pub fn completion(ws: &Workspace, p: lsp::CompletionParams) -> Result<Value, Failure> {
    let pp = p.text_document_position;
    let path = uri_path(&pp.text_document.uri).ok_or_else(|| invalid("not a file: URI"))?;
    let (a, file, at) = locate(ws, &pp.text_document.uri, pp.position)?;
    let text = a.text(file).to_string();
    let before = text.get(..at as usize).unwrap_or("");
    let word_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let items = match before.get(..word_start).and_then(|s| s.strip_suffix('.')) {
        Some(receiver_text) => {
            // The buffer is `x.` or `x.par` while typing: check it without the member so that
            // the rule around it parses, then ask about `x`.
            let mut trimmed = text.clone();
            trimmed.replace_range(word_start.saturating_sub(1)..at as usize, "");
            let variant = ws.analyse_variant(&path, trimmed);
            // The last name before the dot: `params` of `params.`, `x` of `f(a).x.`.
            let root = receiver_text.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
            let recv_end = u32::try_from(word_start.saturating_sub(1)).unwrap_or(0);
            match &variant {
                Some((va, vf)) => member_items(va, *vf, root, recv_end),
                None => member_items(a, file, root, recv_end),
            }
        }
        None => match enclosing_block(before) {
            Some("step_up") => keyword_items(STEP_UP_CLAUSES),
            Some("defer") => keyword_items(DEFER_CLAUSES),
            Some("test") if before.get(..word_start).unwrap_or("").trim_end().ends_with("expect") => {
                keyword_items(EXPECTATIONS)
            }
            Some("test") => keyword_items(TEST_STEPS),
            _ => general_items(a),
        },
    };
    json(lsp::CompletionResponse::Array(items))
}

fn item(label: &str, kind: lsp::CompletionItemKind, detail: String) -> lsp::CompletionItem {
    lsp::CompletionItem { label: label.to_string(), kind: Some(kind), detail: Some(detail), ..Default::default() }
}

fn keyword_items(list: &[(&str, &str)]) -> Vec<lsp::CompletionItem> {
    list.iter().map(|(k, d)| item(k, lsp::CompletionItemKind::KEYWORD, (*d).to_string())).collect()
}

/// Completions after `root.`: a root's fields, `std.` modules, or the methods of the receiver's type.
fn member_items(a: &Analysis, file: FileId, root: &str, recv_end: u32) -> Vec<lsp::CompletionItem> {
    let field = lsp::CompletionItemKind::FIELD;
    let (identity, context) = root_fields();
    let symbols = |kind: SymbolKind| {
        a.index.symbols.iter().filter(move |s| s.kind == kind).map(|s| item(&s.name, field, s.signature.clone()))
    };
    match root {
        "params" => params_items(a, file, recv_end),
        "evidence" => symbols(SymbolKind::Evidence).collect(),
        "context" => context
            .iter()
            .map(|(n, t)| item(n, field, format!("context.{n}: {t}")))
            .chain(symbols(SymbolKind::Context))
            .collect(),
        "identity" => identity.iter().map(|(n, t)| item(n, field, format!("identity.{n}: {t}"))).collect(),
        "action" => ["tool", "operation"].iter().map(|n| item(n, field, format!("action.{n}: String"))).collect(),
        "std" => STD_MODULES.iter().map(|m| item(m, lsp::CompletionItemKind::MODULE, format!("use std.{m}"))).collect(),
        _ => match a.index.type_at(file, recv_end.saturating_sub(1)) {
            Some((_, ty)) => method_signatures(ty)
                .into_iter()
                .map(|(n, sig)| item(n, lsp::CompletionItemKind::METHOD, sig))
                .collect(),
            None => Vec::new(),
        },
    }
}

/// The fields of the tools named by the rule around `at`.
fn params_items(a: &Analysis, file: FileId, at: u32) -> Vec<lsp::CompletionItem> {
    let Some(module) = a.loaded.module(file) else { return Vec::new() };
    let tools: Vec<&str> = module
        .ast
        .items
        .iter()
        .filter(|i| i.span.start <= at && at <= i.span.end)
        .filter_map(|i| match &i.kind {
            ItemKind::Rule(r) => match &r.targets {
                Targets::Tools(ts) => Some(ts.iter().map(|t| t.name.as_str()).collect::<Vec<_>>()),
                Targets::All(_) => None,
            },
            _ => None,
        })
        .flatten()
        .collect();
    let tool_ids: Vec<Target> = a
        .index
        .symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::Tool && tools.contains(&s.name.as_str()))
        .map(|s| s.target)
        .collect();
    let mut items: Vec<lsp::CompletionItem> = Vec::new();
    for s in &a.index.symbols {
        if let Target::Field(tool, _) = s.target {
            if tool_ids.contains(&Target::Tool(tool)) && !items.iter().any(|i| i.label == s.name) {
                items.push(item(&s.name, lsp::CompletionItemKind::FIELD, s.signature.clone()));
            }
        }
    }
    items
}

/// Keywords, roots, declared groups and fns.
fn general_items(a: &Analysis) -> Vec<lsp::CompletionItem> {
    let mut items: Vec<lsp::CompletionItem> =
        RESERVED_WORDS.iter().map(|k| item(k, lsp::CompletionItemKind::KEYWORD, "keyword".into())).collect();
    for s in &a.index.symbols {
        let kind = match s.kind {
            SymbolKind::Group => lsp::CompletionItemKind::CONSTANT,
            SymbolKind::Fn => lsp::CompletionItemKind::FUNCTION,
            _ => continue,
        };
        items.push(item(&s.name, kind, s.signature.clone()));
    }
    items
}

/// The keyword before the innermost `{` still open at the end of `before`, if it is
/// `step_up` or `defer`, or `test` for a test's body (`test "name" {`).
fn enclosing_block(before: &str) -> Option<&'static str> {
    let mut depth = 0usize;
    for (i, c) in before.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth > 0 => depth -= 1,
            '{' => {
                let head = before.get(..i)?.trim_end();
                if let Some(name_start) = head.strip_suffix('"').and_then(|h| h.rfind('"')) {
                    let keyword = head.get(..name_start).unwrap_or("").trim_end();
                    return keyword.ends_with("test").then_some("test");
                }
                return ["step_up", "defer"].into_iter().find(|k| head.ends_with(k));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_around_the_cursor_is_found_by_its_braces() {
        let before = "rule r on t {\n  when x\n  step_up {\n    approvers 1 of g\n    ";
        assert_eq!(enclosing_block(before), Some("step_up"));
        assert_eq!(enclosing_block("rule r on t {\n  defer { need a }\n  "), None);
        assert_eq!(enclosing_block("rule r on t {\n  defer {\n  "), Some("defer"));
        assert_eq!(enclosing_block("test \"a name\" {\n  action t { x: 1 }\n  "), Some("test"));
        assert_eq!(enclosing_block("test \"t\" {\n  action t { x: "), None);
        assert_eq!(enclosing_block("rule r on t { reason \"c\" \"m\" {"), None);
    }
}
