//! The events API's request bodies: one event object or an array of them,
//! checked field by field so a 400 names exactly what to fix
//! (`[3].kind: …`). Pure: the handler passes the allowed kinds, the
//! largest value and "now". [`check_value`] is also the CLI's check.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::clock::{Millis, parse_time};

/// How far in the future an `at` may lie (clock skew between hosts).
pub const MAX_FUTURE_MS: Millis = 5 * 60 * 1000;
/// Longest `ref`.
pub const MAX_REF_LEN: usize = 256;
/// Longest address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// One validated event from the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiEvent {
    /// The address as sent, trimmed (normalized by the caller).
    pub email: String,
    /// Lower-case kind.
    pub kind: String,
    /// When, if given.
    pub at: Option<Millis>,
    /// Monetary value.
    pub value: Option<f64>,
    /// Application reference.
    pub reference: Option<String>,
}

/// A field that is wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path like `kind` or `[2].email`; empty for the body as a whole.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

const FIELDS: &str = "email, kind, at, value, ref";

/// What a body may hold besides the kinds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events in one body.
    pub max_batch: usize,
    /// Largest `|value|` (`[http] max_event_value`).
    pub max_value: f64,
}

/// Checks an event's value: a finite number no larger in magnitude than
/// `max` (`[http] max_event_value`), so sums over events stay finite.
pub fn check_value(v: f64, max: f64) -> Result<f64, String> {
    if !v.is_finite() {
        return Err(format!("`{v}` is not a finite number"));
    }
    if v.abs() > max {
        return Err(format!("{v} is larger than {max} in magnitude ([http] max_event_value)"));
    }
    Ok(v)
}

/// Parses and checks a body. `kinds` are the accepted kinds.
pub fn parse_events(
    body: &[u8],
    kinds: &BTreeSet<String>,
    limits: Limits,
    now: Millis,
) -> Result<Vec<ApiEvent>, FieldError> {
    let max_batch = limits.max_batch;
    let top = |message: String| FieldError { field: String::new(), message };
    let value: Value = serde_json::from_slice(body).map_err(|e| top(format!("body is not JSON: {e}")))?;
    match value {
        Value::Object(obj) => Ok(vec![parse_one(&obj, "", kinds, limits, now)?]),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(top("the array is empty; send at least one event".into()));
            }
            if items.len() > max_batch {
                return Err(top(format!("{} events in one request; send at most {max_batch}", items.len())));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(obj) => parse_one(obj, &format!("[{i}]."), kinds, limits, now),
                    _ => Err(FieldError { field: format!("[{i}]"), message: "must be an object".into() }),
                })
                .collect()
        }
        _ => Err(top(format!("send an event object or an array of them, with fields {FIELDS}"))),
    }
}

fn parse_one(
    obj: &Map<String, Value>,
    path: &str,
    kinds: &BTreeSet<String>,
    limits: Limits,
    now: Millis,
) -> Result<ApiEvent, FieldError> {
    let fail = |name: &str, message: String| FieldError { field: format!("{path}{name}"), message };
    if let Some(k) = obj.keys().find(|k| !["email", "kind", "at", "value", "ref"].contains(&k.as_str())) {
        return Err(fail(k, format!("unknown field; the fields are {FIELDS}")));
    }
    let text = |name: &str| -> Result<Option<&str>, FieldError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(fail(name, "must be a string".into())),
        }
    };

    let email = text("email")?.map(str::trim).ok_or_else(|| fail("email", "required".into()))?;
    let well_formed = email.rsplit_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !d.contains('@') && d.contains('.') && !email.contains(char::is_whitespace)
    });
    if !well_formed || email.len() > MAX_EMAIL_LEN {
        return Err(fail("email", format!("`{email}` is not an email address")));
    }

    let kind = text("kind")?.ok_or_else(|| fail("kind", "required".into()))?.trim().to_ascii_lowercase();
    if !kinds.contains(&kind) {
        let list: Vec<&str> = kinds.iter().map(String::as_str).collect();
        return Err(fail("kind", format!("`{kind}` is not an accepted kind; use one of: {}", list.join(", "))));
    }

    let at = match text("at")? {
        None => None,
        Some(s) => {
            let t = parse_time(s)
                .ok_or_else(|| fail("at", format!("`{s}` is not a time; use RFC 3339 like 2024-05-01T12:00:00Z")))?;
            if t > now.saturating_add(MAX_FUTURE_MS) {
                return Err(fail("at", format!("`{s}` is in the future")));
            }
            Some(t)
        }
    };

    let value = match obj.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let v = n.as_f64().ok_or_else(|| fail("value", "out of range".into()))?;
            Some(check_value(v, limits.max_value).map_err(|m| fail("value", m))?)
        }
        Some(_) => return Err(fail("value", "must be a number like 49.90".into())),
    };

    let reference = match text("ref")? {
        Some(r) if r.chars().count() > MAX_REF_LEN => {
            return Err(fail("ref", format!("longer than {MAX_REF_LEN} characters")));
        }
        Some(r) if r.chars().any(char::is_control) => return Err(fail("ref", "contains control characters".into())),
        r => r.map(str::to_string),
    };

    Ok(ApiEvent { email: email.to_string(), kind, at, value, reference })
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_must_be_finite_and_bounded() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308, 1e9 + 1.0] {
            assert!(super::check_value(v, 1e9).is_err(), "{v}");
        }
        assert_eq!(super::check_value(49.9, 1e9), Ok(49.9));
    }

    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn kinds() -> BTreeSet<String> {
        ["purchase", "login"].map(String::from).into()
    }

    fn parse(body: &str) -> Result<Vec<ApiEvent>, FieldError> {
        parse_events(body.as_bytes(), &kinds(), Limits { max_batch: 3, max_value: 1e9 }, NOW)
    }

    fn field(body: &str) -> String {
        parse(body).unwrap_err().field
    }

    #[test]
    fn accepts_an_object_or_an_array() {
        let one = parse(
            r#"{"email":" Jo@Example.com ","kind":"Purchase","at":"2023-11-14T00:00:00Z","value":49.9,"ref":"A-1"}"#,
        )
        .unwrap();
        assert_eq!(
            one,
            vec![ApiEvent {
                email: "Jo@Example.com".into(),
                kind: "purchase".into(),
                at: Some(1_699_920_000_000),
                value: Some(49.9),
                reference: Some("A-1".into()),
            }]
        );
        let many =
            parse(r#"[{"email":"a@x.example","kind":"login"},{"email":"b@x.example","kind":"login","at":null}]"#);
        assert_eq!(many.unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"kind":"login"}"#), "email");
        assert_eq!(field(r#"{"email":"nope","kind":"login"}"#), "email");
        assert_eq!(field(r#"{"email":"a@x.example"}"#), "kind");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"open"}"#), "kind");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","at":"yesterday"}"#), "at");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","at":"2099-01-01"}"#), "at");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","value":"12"}"#), "value");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","ref":"a\u0000b"}"#), "ref");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","colour":"red"}"#), "colour");
        assert_eq!(field(r#"[{"email":"a@x.example","kind":"login"},{"email":"a@x.example","kind":7}]"#), "[1].kind");
        assert_eq!(field(r#"[{"email":"a@x.example","kind":"login"}, 3]"#), "[1]");
        assert_eq!(field("[]"), "");
        assert_eq!(field("[{},{},{},{}]"), "", "over the batch limit");
        assert_eq!(field("\"hi\""), "");
        assert_eq!(field("{"), "");
        assert_eq!(field(r#"{"email":"a@x.example","kind":"login","value":1e308}"#), "value");
        assert_eq!(
            field(r#"[{"email":"a@x.example","kind":"login"},{"email":"a@x.example","kind":"login","value":-2e9}]"#),
            "[1].value"
        );
        let ok = parse(r#"{"email":"a@x.example","kind":"login","value":-1e9}"#).unwrap();
        assert_eq!(ok[0].value, Some(-1e9), "refunds within the bound are values too");
        let long = format!(r#"{{"email":"a@x.example","kind":"login","ref":"{}"}}"#, "r".repeat(MAX_REF_LEN + 1));
        assert_eq!(field(&long), "ref");
    }
}
