//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! every module that exposes figures on `GET /metrics` adds its metric
//! families to one [`Exposition`], which renders them in one valid text.
//!
//! Families are collected first and rendered at the end, so two modules may
//! add samples to the same family in any order and the output still keeps
//! each family's `# HELP`, `# TYPE` and samples together, as the format
//! requires.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (resets on restart); by convention named `…_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// A family was declared twice with different types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metric `{name}` is already declared as a {existing}, not a {requested}")]
pub struct KindConflict {
    /// The (sanitized) family name.
    pub name: String,
    /// The type it has.
    pub existing: &'static str,
    /// The type asked for.
    pub requested: &'static str,
}

/// One metric family: its help text, type and samples.
#[derive(Debug)]
pub struct Family {
    name: String,
    help: String,
    kind: MetricKind,
    samples: Vec<String>,
}

impl Family {
    /// Adds one sample with these labels. Label names are sanitized to
    /// `[a-zA-Z_][a-zA-Z0-9_]*`; values are escaped, so any text is safe.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let mut line = self.name.clone();
        if !labels.is_empty() {
            line.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&sanitize(k, false));
                line.push_str("=\"");
                escape_into(&mut line, v, true);
                line.push('"');
            }
            line.push('}');
        }
        line.push(' ');
        push_value(&mut line, value);
        self.samples.push(line);
        self
    }
}

/// A set of metric families being built, rendered by [`Exposition::render`].
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// The family `name` as a counter, declared now or earlier.
    pub fn counter(&mut self, name: &str, help: &str) -> Result<&mut Family, KindConflict> {
        self.family(name, MetricKind::Counter, help)
    }

    /// The family `name` as a gauge, declared now or earlier.
    pub fn gauge(&mut self, name: &str, help: &str) -> Result<&mut Family, KindConflict> {
        self.family(name, MetricKind::Gauge, help)
    }

    /// The family `name` (sanitized to `[a-zA-Z_:][a-zA-Z0-9_:]*`),
    /// declared with this type and help text if it is new. A family that
    /// exists keeps its first help text.
    pub fn family(&mut self, name: &str, kind: MetricKind, help: &str) -> Result<&mut Family, KindConflict> {
        let name = sanitize(name, true);
        let i = match self.index.get(&name) {
            Some(&i) => i,
            None => {
                self.families.push(Family { name: name.clone(), help: help.to_string(), kind, samples: Vec::new() });
                let i = self.families.len() - 1;
                self.index.insert(name.clone(), i);
                i
            }
        };
        let fam = &mut self.families[i];
        if fam.kind != kind {
            return Err(KindConflict { name, existing: fam.kind.as_str(), requested: kind.as_str() });
        }
        Ok(fam)
    }

    /// The text: for each family `# HELP`, `# TYPE` and its samples, in
    /// the order the families were first declared.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            out.push_str("# HELP ");
            out.push_str(&f.name);
            out.push(' ');
            escape_into(&mut out, &f.help, false);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for s in &f.samples {
                out.push_str(s);
                out.push('\n');
            }
        }
        out
    }
}

/// Replaces characters a metric (or label) name may not contain with `_`,
/// and prefixes `_` when the name would start with a digit or be empty.
fn sanitize(name: &str, allow_colon: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':') { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Help text escapes `\` and line feeds; label values also escape `"`.
fn escape_into(out: &mut String, s: &str, quote: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Go's `ParseFloat` spelling of the special values; finite values in
/// Rust's shortest round-trip form.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_help_type_and_escaped_labels() {
        let mut e = Exposition::new();
        e.counter("winback_sent_total", "Messages sent.\nPer domain \\ provider.")
            .unwrap()
            .sample(&[("domain", "a\"b\\c\nd")], 3.0)
            .sample(&[], 1.5);
        e.gauge("winback_paused", "1 while paused.").unwrap().sample(&[], 0.0);
        // A later addition to the first family lands next to its samples.
        e.counter("winback_sent_total", "ignored").unwrap().sample(&[("domain", "x"), ("kind", "y")], 2.0);
        let text = e.render();
        assert_eq!(
            text,
            "# HELP winback_sent_total Messages sent.\\nPer domain \\\\ provider.\n\
             # TYPE winback_sent_total counter\n\
             winback_sent_total{domain=\"a\\\"b\\\\c\\nd\"} 3\n\
             winback_sent_total 1.5\n\
             winback_sent_total{domain=\"x\",kind=\"y\"} 2\n\
             # HELP winback_paused 1 while paused.\n\
             # TYPE winback_paused gauge\n\
             winback_paused 0\n"
        );
    }

    #[test]
    fn special_values_and_names_are_valid() {
        let mut e = Exposition::new();
        e.gauge("9bad-name.x", "h")
            .unwrap()
            .sample(&[("bad-label", "v"), ("", "w")], f64::INFINITY)
            .sample(&[], f64::NEG_INFINITY);
        e.gauge("ns:ok_1", "h").unwrap().sample(&[], f64::NAN).sample(&[], 0.003).sample(&[], 1e21);
        let text = e.render();
        assert!(text.contains("_9bad_name_x{bad_label=\"v\",_=\"w\"} +Inf\n"), "{text}");
        assert!(text.contains("_9bad_name_x -Inf\n"));
        assert!(text.contains("ns:ok_1 NaN\nns:ok_1 0.003\nns:ok_1 1000000000000000000000\n"), "{text}");
    }

    #[test]
    fn a_type_conflict_is_an_error() {
        let mut e = Exposition::new();
        e.counter("x_total", "h").unwrap();
        let err = e.gauge("x_total", "h").unwrap_err();
        assert_eq!(err.existing, "counter");
        assert!(err.to_string().contains("already declared as a counter"));
    }
}
