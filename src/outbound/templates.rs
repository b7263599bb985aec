//! Message templates: every step's (and every step variant's) subject
//! line and its `NAME.txt` / `NAME.html` bodies, compiled once at start-up
//! with minijinja.
//!
//! The context of every template is the contact: `{{ name }}` (empty when
//! unknown, so `{% if name %}` and `{{ name or "friend" }}` work),
//! `{{ email }}`, every custom import column by its name,
//! `{{ unsubscribe_url }}`, `{{ survey_url }}` (the reasons-for-leaving
//! page), and the customer figures: `segment` (the one it entered its
//! sequence under), `rfm_segment`, `r`, `f`, `m`, `p_alive`, `clv`,
//! `expected_purchases`, `orders`, `total_spent`, `last_order_date`
//! (YYYY-MM-DD) and `days_since_order` (each empty when unknown). The
//! built-in names win over a column that happens to have the same name.
//!
//! Undefined variables are errors (minijinja's strict mode): a typo in a
//! template must not send thousands of mails with a hole in them. A column
//! that only some contacts have can be written `{{ city | default("") }}`.
//! [`Templates::check`] renders every step with a sample contact so such
//! mistakes surface when the configuration is loaded, not at send time.
//! `.html` templates are HTML-escaped automatically; `.txt` and subjects
//! are not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

use crate::config::SequenceConfig;
use crate::config::TemplateDirs;
use crate::domain::Contact;

/// Variables every template gets, whatever the contact's columns.
pub const BUILTIN_VARIABLES: [&str; 16] = [
    "name",
    "email",
    "unsubscribe_url",
    "survey_url",
    "segment",
    "rfm_segment",
    "r",
    "f",
    "m",
    "p_alive",
    "clv",
    "expected_purchases",
    "orders",
    "total_spent",
    "last_order_date",
    "days_since_order",
];

/// A template problem: which template, where, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template file could not be read.
    #[error("template {path}: cannot read: {source}; each step's template needs NAME.txt and NAME.html")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A template does not parse.
    #[error("template {template}{}: syntax error: {message}", line_suffix(*line))]
    Syntax {
        /// Template name (`miss-you.html`, `sequence winback step 1 subject`).
        template: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// minijinja's description.
        message: String,
    },
    /// A template uses a variable the contact does not have.
    #[error(
        "template {template}{}: unknown variable `{variable}`: known are {BUILTIN_VARIABLES:?} and the contact's import columns; for a column only some contacts have, write {{{{ {variable} | default(\"\") }}}}",
        line_suffix(*line)
    )]
    UnknownVariable {
        /// Template name.
        template: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The expression that was undefined, as written.
        variable: String,
    },
    /// A template parsed but failed while rendering (bad filter argument, …).
    #[error("template {template}{}: cannot render: {message}", line_suffix(*line))]
    Render {
        /// Template name.
        template: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// minijinja's description.
        message: String,
    },
    /// A sequence step that was not loaded.
    #[error("no templates loaded for sequence `{sequence}` step index {step}; is the configuration current?")]
    UnknownStep {
        /// Sequence name.
        sequence: String,
        /// 0-based step index.
        step: usize,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

/// What one step renders to for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line: newlines, control characters and runs of white space are
    /// folded to one space.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
    /// The text/html body.
    pub html: String,
}

/// Template names of one step in the environment.
#[derive(Debug, Clone)]
struct StepNames {
    subject: String,
    text: String,
    html: String,
}

/// All templates of all sequences, compiled.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    steps: HashMap<(String, usize), StepNames>,
    variants: HashMap<(String, usize, String), StepNames>,
}

impl Templates {
    /// Reads and compiles `dir/NAME.txt`, `dir/NAME.html` and the subject
    /// of every step of every sequence.
    pub fn load(dir: &TemplateDirs, sequences: &[SequenceConfig]) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Bodies end with the newline the file has; minijinja would drop it.
        env.set_keep_trailing_newline(true);
        // Keeps template source in errors, so a release build names the
        // undefined variable too (minijinja drops it outside debug builds).
        env.set_debug(true);
        let mut steps = HashMap::new();
        let mut variants = HashMap::new();
        for seq in sequences {
            for (i, step) in seq.steps.iter().enumerate() {
                let subject = subject_name(&seq.name, i);
                steps.insert((seq.name.clone(), i), load_step(&mut env, dir, subject, &step.subject, &step.template)?);
                for v in &step.variants {
                    let subject = format!("sequence {} step {} variant {} subject", seq.name, i + 1, v.name);
                    let names = load_step(&mut env, dir, subject, &v.subject, &v.template)?;
                    variants.insert((seq.name.clone(), i, v.name.clone()), names);
                }
            }
        }
        Ok(Templates { env, steps, variants })
    }

    /// Renders every step for `sample` and reports the first problem.
    pub fn check(&self, sample: &Contact) -> Result<(), TemplateError> {
        let links =
            Links { unsubscribe: "https://example.invalid/u/sample", survey: "https://example.invalid/s/sample" };
        let mut keys: Vec<_> = self.steps.keys().collect();
        keys.sort();
        for (seq, step) in keys {
            self.render(seq, *step, sample, &links, 0)?;
        }
        let mut keys: Vec<_> = self.variants.keys().collect();
        keys.sort();
        for (seq, step, variant) in keys {
            self.render_variant(seq, *step, Some(variant), sample, &links, 0)?;
        }
        Ok(())
    }

    /// A contact with a name, an address and a placeholder value for each
    /// of `columns`, for [`Templates::check`].
    pub fn sample_contact<S: AsRef<str>>(columns: &[S]) -> Contact {
        let mut c = Contact::new("sample.contact@example.com", 0);
        c.name = Some("Sample Name".into());
        c.fields = columns.iter().map(|k| (k.as_ref().to_string(), format!("sample {}", k.as_ref()))).collect();
        c
    }

    /// Every variable the templates use that is not built in: the import
    /// columns contacts must have (unless guarded with `default`).
    pub fn columns_used(&self) -> BTreeSet<String> {
        self.env
            .templates()
            .flat_map(|(_, t)| t.undeclared_variables(false))
            .filter(|v| !BUILTIN_VARIABLES.contains(&v.as_str()))
            .collect()
    }

    /// Renders step `step` (0-based) of `sequence` for `contact` at `now`.
    pub fn render(
        &self,
        sequence: &str,
        step: usize,
        contact: &Contact,
        links: &Links<'_>,
        now: crate::clock::Millis,
    ) -> Result<Rendered, TemplateError> {
        self.render_variant(sequence, step, None, contact, links, now)
    }

    /// Renders `variant` of a step (the step itself when `None`).
    pub fn render_variant(
        &self,
        sequence: &str,
        step: usize,
        variant: Option<&str>,
        contact: &Contact,
        links: &Links<'_>,
        now: crate::clock::Millis,
    ) -> Result<Rendered, TemplateError> {
        let unknown = || TemplateError::UnknownStep { sequence: sequence.to_string(), step };
        let names = match variant {
            None => self.steps.get(&(sequence.to_string(), step)),
            Some(v) => self.variants.get(&(sequence.to_string(), step, v.to_string())),
        }
        .ok_or_else(unknown)?;
        let text_ctx = context(contact, links, now, |u: &str| Value::from(u));
        // Our own URLs go into HTML as written (only `&"<>` escaped), not
        // with every `/` turned into `&#x2f;`, so link tools can find them.
        let html_ctx = context(contact, links, now, |u| Value::from_safe_string(html_attr_escape(u)));
        let subject = self.render_one(&names.subject, &text_ctx)?;
        Ok(Rendered {
            subject: one_line(&subject),
            text: self.render_one(&names.text, &text_ctx)?,
            html: self.render_one(&names.html, &html_ctx)?,
        })
    }

    fn render_one(&self, name: &str, ctx: &Value) -> Result<String, TemplateError> {
        let tmpl = self.env.get_template(name).map_err(|e| classify(name, &e))?;
        tmpl.render(ctx).map_err(|e| classify(name, &e))
    }
}

fn subject_name(sequence: &str, step: usize) -> String {
    format!("sequence {sequence} step {} subject", step + 1)
}

/// Adds a subject and the two bodies of `template` (once per file).
fn load_step(
    env: &mut Environment<'static>,
    dir: &TemplateDirs,
    subject: String,
    subject_source: &str,
    template: &str,
) -> Result<StepNames, TemplateError> {
    let names = StepNames { subject, text: format!("{template}.txt"), html: format!("{template}.html") };
    add(env, &names.subject, subject_source.to_string())?;
    for file in [&names.text, &names.html] {
        if env.get_template(file).is_err() {
            let path = dir.file(file);
            let source =
                std::fs::read_to_string(&path).map_err(|source| TemplateError::Read { path: path.clone(), source })?;
            add(env, file, source)?;
        }
    }
    Ok(names)
}

fn add(env: &mut Environment<'static>, name: &str, source: String) -> Result<(), TemplateError> {
    env.add_template_owned(name.to_string(), source).map_err(|e| classify(name, &e))
}

/// Folds white space and control characters (CR, LF, NUL, …) to single
/// spaces: header values made from contact data stay on one line.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Escapes the characters that matter inside a double-quoted HTML attribute.
pub fn html_attr_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The URLs of one message that templates can show.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// `{{ unsubscribe_url }}`.
    pub unsubscribe: &'a str,
    /// `{{ survey_url }}`.
    pub survey: &'a str,
}

fn context(contact: &Contact, links: &Links<'_>, now: crate::clock::Millis, url: impl Fn(&str) -> Value) -> Value {
    let mut map: BTreeMap<&str, Value> = contact.fields.iter().map(|(k, v)| (k.as_str(), Value::from(v))).collect();
    customer_context(&mut map, contact, now);
    map.insert("name", Value::from(contact.name.as_deref().unwrap_or("")));
    map.insert("email", Value::from(contact.email.as_str()));
    map.insert("unsubscribe_url", url(links.unsubscribe));
    map.insert("survey_url", url(links.survey));
    Value::from_serialize(&map)
}

/// The customer figures of the context; empty strings when unknown.
fn customer_context(map: &mut BTreeMap<&str, Value>, contact: &Contact, now: crate::clock::Millis) {
    let cu = &contact.customer;
    let s = cu.scores.as_ref();
    let round = |v: Option<f64>, places: i32| {
        v.map_or_else(|| Value::from(""), |v| Value::from((v * 10f64.powi(places)).round() / 10f64.powi(places)))
    };
    let text = |v: Option<&str>| Value::from(v.unwrap_or(""));
    let last = cu.purchases.last.or(contact.last_purchase_at);
    map.insert("segment", text(cu.segment.as_deref()));
    map.insert("rfm_segment", text(s.and_then(|s| s.rfm_segment.as_deref())));
    map.insert("r", s.map_or_else(|| Value::from(""), |s| Value::from(s.r)));
    map.insert("f", s.map_or_else(|| Value::from(""), |s| Value::from(s.f)));
    map.insert("m", s.map_or_else(|| Value::from(""), |s| Value::from(s.m)));
    map.insert("p_alive", round(s.and_then(|s| s.p_alive), 3));
    map.insert("clv", round(s.and_then(|s| s.clv), 2));
    map.insert("expected_purchases", round(s.and_then(|s| s.expected_purchases), 2));
    map.insert("orders", Value::from(cu.purchases.orders));
    map.insert("total_spent", round(Some(cu.purchases.total), 2));
    map.insert(
        "last_order_date",
        Value::from(last.map(|t| crate::clock::rfc3339(t)[..10].to_string()).unwrap_or_default()),
    );
    map.insert(
        "days_since_order",
        crate::customers::segments::days_since_order(contact, now)
            .map_or_else(|| Value::from(""), |d| Value::from(d as i64)),
    );
}

/// Turns a minijinja error into ours, naming the undefined expression.
fn classify(name: &str, e: &minijinja::Error) -> TemplateError {
    let template = e.name().unwrap_or(name).to_string();
    let line = e.line();
    let message = e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    match e.kind() {
        ErrorKind::SyntaxError | ErrorKind::BadEscape => TemplateError::Syntax { template, line, message },
        ErrorKind::UndefinedError => {
            let variable = e
                .range()
                .and_then(|r| e.template_source().and_then(|s| s.get(r)))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "?".into());
            TemplateError::UnknownVariable { template, line, variable }
        }
        _ => TemplateError::Render { template, line, message },
    }
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
