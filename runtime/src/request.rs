//! A request converted once into slot-indexed values, ready to be evaluated any number of times.
//!
//! Conversion from the JSON of docs/json.md validates against the bundle's schema; see
//! [`crate::convert`].

use crate::schema::FieldSchema;
use crate::value::Value;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Who is asking (`identity`): the strings are `""` when the request omits them.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `identity.human`: the person the agent acts for.
    pub human: Arc<str>,
    /// `identity.service`: the service account.
    pub service: Arc<str>,
    /// `identity.agent`: the agent making the call.
    pub agent: Arc<str>,
    /// `identity.session`: the agent session.
    pub session: Arc<str>,
    /// A list of distinct strings.
    pub roles: Value,
}

/// The request's `context`: the built-in fields and the declared ones.
#[derive(Clone, Debug)]
pub struct Context {
    /// `context.original_request`: a `String`.
    pub original_request: Value,
    /// List of `{ tool, decision }` records.
    pub prior_actions: Value,
    /// A list of distinct strings.
    pub data_classes: Value,
    /// `Decimal` or `Absent`.
    pub semantic_distance: Value,
    /// `Time`.
    pub now: Value,
    /// Declared context fields in schema order (`Absent` when optional and not given).
    pub declared: Vec<Value>,
}

/// A request as the evaluator reads it: every value already checked against the schema and
/// in its slot, so that evaluation never parses or looks up a name.
#[derive(Clone, Debug)]
pub struct Request {
    /// The caller's own id of the request (`request_id`), echoed in the decision.
    pub request_id: Option<Arc<str>>,
    /// `action.tool`, as given (declared or not).
    pub tool: Arc<str>,
    /// Index of the tool in the bundle's schema; `None` for an undeclared tool.
    pub tool_index: Option<usize>,
    /// `action.operation` (`""` when the host sends none).
    pub operation: Arc<str>,
    /// Parameter values in the tool's slot order (empty for an undeclared tool).
    pub params: Vec<Value>,
    /// The parameters as given, for the decision's `scope` and `modified_action`.
    pub params_json: Params,
    /// Who is asking.
    pub identity: Identity,
    /// The request's context.
    pub context: Context,
    /// Known evidence by index; `None` is unknown.
    pub evidence: Vec<Option<Value>>,
}

/// A request's parameters as given: each key with its JSON value, in the order given. The keys
/// are distinct (both readers refuse a repeated key).
///
/// A list rather than a `serde_json::Map`: every decision reads the keys, few need a map (a
/// `modify` writes into one), and hashing each key into an index map was a tenth of reading a
/// request's JSON text (issue 20). The one-pass reader (`decode.rs`) converts each value straight
/// into its slot and keeps either that value, when it is its own JSON (a string, an integer, a
/// boolean, an optional's `null`: `Given::Value`), or else where it was written
/// (`Given::Span` of the params object's text, copied once, only then); a value is built as
/// JSON again only when asked for ([`Params::get`], [`Params::to_map`]), which a decision does
/// only for a `modify`.
///
/// Two `Params` are equal when they have the same keys in the same order with equal values,
/// however each was kept; `Debug` shows the values, so it does not tell the two apart either.
#[derive(Clone, Default)]
pub struct Params {
    /// The params object's text, which the spans index; `None` when no value is a span.
    text: Option<Arc<str>>,
    entries: Vec<(Arc<str>, Given)>,
}

/// How one parameter's value is kept.
#[derive(Clone, Debug)]
pub(crate) enum Given {
    /// As a JSON value (a request built from a JSON tree, or by hand).
    Json(serde_json::Value),
    /// As the text `start..end` of [`Params::text`]: valid JSON, read once already.
    Span(u32, u32),
    /// As the value converted into its slot, when that value is its own JSON: a `Str`, `Int` or
    /// `Bool` read from a JSON string, integer or boolean, or `Absent` read from `null` (a
    /// string's escapes are how it was written, not what it is).
    Value(Value),
}

impl Params {
    /// Parameters read from `text` (a params object as given): each key with its value or the
    /// span of its value in `text` ([`Given::Span`], [`Given::Value`]); `text` is kept only when
    /// some value is a span. The caller has checked that the keys are distinct and each span is
    /// one JSON value.
    pub(crate) fn from_text(text: &str, entries: Vec<(Arc<str>, Given)>) -> Params {
        let spans = entries.iter().any(|(_, g)| matches!(g, Given::Span(..)));
        Params { text: spans.then(|| Arc::from(text)), entries }
    }

    /// The parameters of a JSON object read against a declaration: a key that is one of
    /// `fields` is the declaration's own name (shared, and found by address by the decision's
    /// scope), any other a copy.
    pub(crate) fn declared(map: serde_json::Map<String, serde_json::Value>, fields: &[FieldSchema]) -> Params {
        let key =
            |k: String| fields.iter().find(|f| *f.name == *k).map_or_else(|| Arc::from(k), |f| Arc::clone(&f.name));
        Params { text: None, entries: map.into_iter().map(|(k, v)| (key(k), Given::Json(v))).collect() }
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// The keys as shared strings, in the order given: a key read against a declaration is the
    /// declaration's own name (the same allocation), which lets the decision's scope find it by
    /// address (`assemble::scope_params`).
    pub(crate) fn shared_keys(&self) -> impl ExactSizeIterator<Item = &Arc<str>> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The value given for `key` (`None` when it is not given, or, which the readers rule out,
    /// when its text no longer reads as JSON).
    pub fn get(&self, key: &str) -> Option<Cow<'_, serde_json::Value>> {
        self.entries.iter().find(|(k, _)| &**k == key).and_then(|(_, v)| self.value(v))
    }

    /// How many parameters were given.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The parameters as a JSON object, in the order given; `None` only if a kept value no
    /// longer reads as JSON, which the readers rule out (a caller fails closed on it).
    pub fn to_map(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.entries.iter().map(|(k, v)| Some((k.to_string(), self.value(v)?.into_owned()))).collect()
    }

    fn value<'a>(&'a self, given: &'a Given) -> Option<Cow<'a, serde_json::Value>> {
        match given {
            Given::Json(v) => Some(Cow::Borrowed(v)),
            Given::Value(Value::Str(s)) => Some(Cow::Owned(serde_json::Value::String(s.to_string()))),
            Given::Value(Value::Int(i)) => Some(Cow::Owned(serde_json::Value::from(*i))),
            Given::Value(Value::Bool(b)) => Some(Cow::Owned(serde_json::Value::Bool(*b))),
            Given::Value(Value::Absent) => Some(Cow::Owned(serde_json::Value::Null)),
            // Never kept: the reader keeps a span for any other value.
            Given::Value(_) => None,
            Given::Span(start, end) => {
                let text = self.text.as_deref()?.get(*start as usize..*end as usize)?;
                serde_json::from_str(text).ok().map(Cow::Owned)
            }
        }
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.len() == other.len()
            && self.entries.iter().zip(&other.entries).all(|((k, v), (ok, ov))| {
                k == ok && matches!((self.value(v), other.value(ov)), (Some(a), Some(b)) if a == b)
            })
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, v)| (k, self.value(v)))).finish()
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Params {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Params {
        Params::declared(map, &[])
    }
}

#[cfg(test)]
impl Request {
    /// A request for tool `t` (index 0) by agent `a` for human `h`, with these parameters and
    /// nothing else: the one the unit tests build on.
    pub(crate) fn for_tests(params: Vec<Value>, params_json: Params) -> Request {
        Request {
            tool: Arc::from("t"),
            tool_index: Some(0),
            operation: Arc::from("execute"),
            params,
            params_json,
            request_id: None,
            identity: Identity {
                human: Arc::from("h"),
                service: Arc::from(""),
                agent: Arc::from("a"),
                session: Arc::from(""),
                roles: Value::empty_list(),
            },
            context: Context {
                original_request: Value::Absent,
                prior_actions: Value::empty_list(),
                data_classes: Value::empty_list(),
                semantic_distance: Value::Absent,
                now: Value::Time(0),
                declared: Vec::new(),
            },
            evidence: Vec::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Params kept as spans of their text equal the same params kept as JSON values, print
    /// alike, and give back each value as written; a different value or order is not equal.
    #[test]
    fn params_kept_as_spans_read_back_as_the_json_given() {
        let text =
            r#"{ "amount" : "10000.50", "n": 1.50, "tags": ["a", "b\u0041"], "rec": {"z": 1, "a": null}, "neg": -0 }"#;
        let key = |k: &str| -> Arc<str> { Arc::from(k) };
        let span = |k: &str, v: &str| {
            let start = text.find(v).unwrap();
            (key(k), Given::Span(start as u32, (start + v.len()) as u32))
        };
        let spans = Params::from_text(
            text,
            vec![
                span("amount", r#""10000.50""#),
                span("n", "1.50"),
                span("tags", r#"["a", "b\u0041"]"#),
                span("rec", r#"{"z": 1, "a": null}"#),
                span("neg", "-0"),
                (key("s"), Given::Value(Value::str("caf\u{e9}"))),
                (key("i"), Given::Value(Value::Int(-7))),
                (key("b"), Given::Value(Value::Bool(false))),
                (key("none"), Given::Value(Value::Absent)),
            ],
        );
        let given = json!({ "amount": "10000.50", "n": 1.5, "tags": ["a", "bA"], "rec": {"z": 1, "a": null}, "neg": -0.0,
                            "s": "caf\u{e9}", "i": -7, "b": false, "none": null });
        let tree = Params::from(given.as_object().unwrap().clone());
        assert_eq!(spans, tree);
        assert_eq!(format!("{spans:?}"), format!("{tree:?}"));
        assert_eq!(spans.to_map().unwrap(), *given.as_object().unwrap());
        assert_eq!(spans.get("amount").as_deref(), Some(&json!("10000.50")));
        assert_eq!(spans.get("rec").unwrap().as_object().unwrap().keys().collect::<Vec<_>>(), ["z", "a"]);
        assert!(spans.keys().eq(["amount", "n", "tags", "rec", "neg", "s", "i", "b", "none"]));
        assert!(spans.text.is_some(), "spans need the text");
        let values = Params::from_text("{}", vec![(key("i"), Given::Value(Value::Int(1)))]);
        assert!(values.text.is_none(), "values alone need no text");
        assert_eq!(values, Params::from(json!({ "i": 1 }).as_object().unwrap().clone()));
        assert_eq!(spans.get("missing"), None);

        let mut other = given.as_object().unwrap().clone();
        other.insert("n".into(), json!(1.51));
        assert_ne!(spans, Params::from(other));
        let reordered: serde_json::Map<_, _> = given.as_object().unwrap().clone().into_iter().rev().collect();
        assert_ne!(spans, Params::from(reordered));
    }

    /// A span that no longer reads as JSON (which the readers rule out) gives no value and no
    /// map, so that a `modify` built on it fails closed instead of releasing a made-up value.
    #[test]
    fn a_span_that_does_not_read_gives_nothing() {
        let p = Params::from_text("{\"a\": tru}", vec![(Arc::from("a"), Given::Span(6, 9))]);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.to_map(), None);
        let out_of_range = Params::from_text("{}", vec![(Arc::from("a"), Given::Span(1, 99))]);
        assert_eq!(out_of_range.to_map(), None);
    }
}
