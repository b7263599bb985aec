//! What a bounce rules file may say (`config/bounce-rules.toml`, see
//! [`super::rules`]): its sections as written, and the checks of each
//! `[[rule]]` that would otherwise turn it off silently or fail late (an
//! unknown reason, a status pattern no report can meet, a misspelt SMTP
//! command or DSN action), and the errors a rules file can have.

use serde::Deserialize;

use super::reason::Reason;

/// A problem with a rules file.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("bounce rules {path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("bounce rules {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A rule names an unknown reason or has a bad pattern.
    #[error("bounce rules {path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Which rule or key, like `rule[3].text[1]`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A rules-file error at `key`.
pub(super) fn invalid(path: &str, key: String, message: String) -> RulesError {
    RulesError::Invalid { path: path.into(), key, message }
}

/// `[commands]` as written: command name → its patterns.
pub(super) type RawCommands = std::collections::BTreeMap<String, Vec<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRules {
    pub(super) detect: RawDetect,
    /// SMTP command name (`CONN`, `HELO`, `MAIL`, `RCPT`, `DATA`) → patterns
    /// saying the failure happened at that command.
    #[serde(default)]
    pub(super) commands: RawCommands,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetect {
    pub(super) bounce_from: Vec<String>,
    pub(super) bounce_subject: Vec<String>,
    pub(super) autoreply_subject: Vec<String>,
    pub(super) autoreply_header: Vec<String>,
    pub(super) original_start: Vec<String>,
    pub(super) not_recipient: Vec<String>,
    pub(super) not_recipient_line: Vec<String>,
    /// Optional, so rules files written before it still load.
    #[serde(default)]
    pub(super) contact_before: Vec<String>,
    /// Optional, as `contact_before`.
    #[serde(default)]
    pub(super) delay_notice: Vec<String>,
    /// Optional, as `contact_before`.
    #[serde(default)]
    pub(super) final_notice: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    /// Written in the `decided_by` output column.
    pub(super) name: String,
    pub(super) reason: String,
    /// Only when the enhanced status matches one of these (`5.7.1`, `5.7.*`;
    /// `none`: the report has no status).
    #[serde(default)]
    pub(super) status: Vec<String>,
    /// Never when the enhanced status matches one of these (same forms).
    #[serde(default)]
    pub(super) not_status: Vec<String>,
    #[serde(default)]
    pub(super) text: Vec<String>,
    /// Never when the text matches one of these: a frame whose content
    /// names a cause of its own (a delivery program's output saying the
    /// quota is exceeded).
    #[serde(default)]
    pub(super) not_text: Vec<String>,
    /// Only when the enhanced status or reply code starts with one of these (`4`, `5`).
    #[serde(default)]
    pub(super) class: Vec<String>,
    /// Also match the text patterns of the rules of these reasons.
    #[serde(default)]
    pub(super) like: Vec<String>,
    /// Only when the failure happened at one of these SMTP commands.
    #[serde(default)]
    pub(super) command: Vec<String>,
    /// Never when the failure happened at one of these SMTP commands.
    #[serde(default)]
    pub(super) not_command: Vec<String>,
    /// Only for these DSN actions (`failed` …; `none`: the report has no
    /// action, like a free-text bounce; an SMTP reply's action is `reply`).
    #[serde(default)]
    pub(super) action: Vec<String>,
    /// Patterns for the report's own summary, written before it names any
    /// recipient: a match there decides before the recipient's diagnostic.
    #[serde(default)]
    pub(super) preamble: Vec<String>,
    /// General wording that gives way to an enhanced status code naming a
    /// reason of its own (see [`super::ladder::is_specific`]).
    #[serde(default)]
    pub(super) yields_to_status: bool,
}

/// Checks rule `i`: its reason, that it has something to match, its name;
/// returns the reason and the reasons it borrows patterns from (`like`).
pub(super) fn rule_reasons(path: &str, i: usize, r: &RawRule) -> Result<(Reason, Vec<Reason>), RulesError> {
    let reason = Reason::parse(&r.reason).ok_or_else(|| {
        invalid(
            path,
            format!("rule[{i}].reason"),
            format!("unknown reason `{}`; use one of the names in docs/bounce-reasons.md", r.reason),
        )
    })?;
    if r.text.is_empty() && r.like.is_empty() && r.preamble.is_empty() {
        return Err(invalid(
            path,
            format!("rule[{i}] ({})", r.name),
            "a phrase rule needs `text`, `like` or `preamble`; status and reply codes are decided by the registry"
                .into(),
        ));
    }
    if r.name.trim().is_empty() || r.name.contains(char::is_whitespace) {
        return Err(invalid(
            path,
            format!("rule[{i}].name"),
            "give the rule a name without spaces, like `mailbox-full`".into(),
        ));
    }
    let mut like = Vec::new();
    for (j, l) in r.like.iter().enumerate() {
        like.push(
            Reason::parse(l)
                .ok_or_else(|| invalid(path, format!("rule[{i}].like[{j}]"), format!("unknown reason `{l}`")))?,
        );
    }
    Ok((reason, like))
}

/// DSN actions a rule may name (`reply`: a bare SMTP reply, no DSN).
const ACTIONS: &[&str] = &["failed", "delayed", "delivered", "relayed", "expanded", "reply", "none"];

/// Checks rule `i`'s conditions: a condition no report can meet (a typo
/// such as `5.1.l` or `RCTP`) would silently turn the rule off.
pub(super) fn check_conditions(path: &str, i: usize, r: &RawRule, commands: &RawCommands) -> Result<(), RulesError> {
    let fail = |key: String, message: String| Err(invalid(path, format!("rule[{i}].{key}"), message));
    for (key, list) in [("status", &r.status), ("not_status", &r.not_status)] {
        if let Some((j, p)) = list.iter().enumerate().find(|(_, p)| !super::status_pattern::is_valid(p)) {
            return fail(
                format!("{key}[{j}]"),
                format!(
                    "`{p}` is not an enhanced status code pattern: write a code (`5.1.1`), a prefix \
                     ending in `*` (`5.7.*`), `?` for one digit (`4.7.5??`) or `none`"
                ),
            );
        }
    }
    for (key, list) in [("command", &r.command), ("not_command", &r.not_command)] {
        if let Some((j, c)) = list.iter().enumerate().find(|(_, c)| !commands.keys().any(|k| k.eq_ignore_ascii_case(c)))
        {
            let known: Vec<&str> = commands.keys().map(String::as_str).collect();
            return fail(
                format!("{key}[{j}]"),
                format!("unknown SMTP command `{c}`; [commands] has {}", known.join(", ")),
            );
        }
    }
    if let Some((j, a)) = r.action.iter().enumerate().find(|(_, a)| !ACTIONS.contains(&a.to_ascii_lowercase().as_str()))
    {
        return fail(format!("action[{j}]"), format!("unknown DSN action `{a}`; use {}", ACTIONS.join(", ")));
    }
    if let Some((j, c)) = r.class.iter().enumerate().find(|(_, c)| !matches!(c.as_str(), "2" | "4" | "5")) {
        return fail(format!("class[{j}]"), format!("unknown class `{c}`; use \"4\" (temporary) or \"5\" (permanent)"));
    }
    Ok(())
}
