//! Classification rules as data: `config/bounce-rules.toml`, embedded in
//! the binary and replaceable by a file, compiled once into regular expressions.
//!
//! The file holds two kinds of knowledge. `[detect]` says what makes a
//! message a bounce or an auto-reply and where a free-text bounce quotes
//! the original. The ordered `[[rule]]` list holds the phrase rules, the
//! first rung of the evidence ladder (see [`super::ladder`]): each maps
//! diagnostic wording to a reason, under optional conditions (code class,
//! status, SMTP command, DSN action); the first rule that matches wins, so
//! specific rules come before general ones, and its name is reported as
//! `decided_by`. `[commands]` says which SMTP command a failure text
//! names. The sections as written, the checks of each rule and the errors
//! of a rules file live in [`super::rules_file`]; this module compiles them
//! and matches.

use std::path::Path;

use regex_automata::meta::Regex;
use regex_syntax::hir::Hir;

use super::prefilter::{Candidates, Prefilter};
use super::reason::Reason;
pub use super::rules_file::RulesError;
use super::rules_file::{RawCommands, RawDetect, RawRule, RawRules, check_conditions, invalid, rule_reasons};

/// The rules shipped with winback.
pub const EMBEDDED_RULES: &str = include_str!("../../config/bounce-rules.toml");

#[derive(Debug)]
struct Rule {
    name: String,
    reason: Reason,
    status: Vec<String>,
    not_status: Vec<String>,
    class: Vec<char>,
    command: Vec<String>,
    not_command: Vec<String>,
    action: Vec<String>,
    /// Own and borrowed text patterns: indices into [`Rules::patterns`].
    patterns: Vec<usize>,
    /// The `not_text` patterns, indices into [`Rules::patterns`].
    not_patterns: Vec<usize>,
    /// The `preamble` patterns as one alternation.
    preamble: Option<Regex>,
    yields_to_status: bool,
}

/// Message-level detection patterns.
#[derive(Debug)]
pub(crate) struct Detect {
    pub bounce_from: Regex,
    pub bounce_subject: Regex,
    pub autoreply_subject: Regex,
    pub autoreply_header: Regex,
    /// All `original_start` patterns as one multi-line regex.
    pub original_start: regex::Regex,
    /// The bytes a line can start with (after quoting and indentation) to
    /// match `original_start`, when the patterns tell: other lines are
    /// skipped without running the regex.
    pub original_first: Option<Box<[bool; 256]>>,
    pub not_recipient: Regex,
    pub not_recipient_line: Regex,
    /// Matched against the words of a line up to an address: a match makes
    /// the address a contact ("write to …", "help desk (…)"), not a recipient.
    pub contact_before: Regex,
    /// Matched against a notice's subject and its own text (lower-cased,
    /// whitespace collapsed): a match makes it a delay notice.
    pub delay_notice: Regex,
    /// Matched against a recipient's own text: a match makes it failed
    /// whatever the report's action says.
    pub final_notice: Regex,
}

/// Compiled rules.
#[derive(Debug)]
pub struct Rules {
    pub(crate) detect: Detect,
    rules: Vec<Rule>,
    commands: Vec<(String, Regex)>,
    /// Every rule text pattern on its own: the prefilter names the few
    /// worth running, and a small regex runs faster than a rule's
    /// alternation of dozens. Each compiles on first use: most texts
    /// name few rules' literals, and a short run never pays for the rest.
    patterns: Vec<LazyRegex>,
    /// Pattern `j` is group `j`, command `k` group `patterns.len() + k`:
    /// one pass over a text tells both which rules and which commands
    /// could match it.
    prefilter: Prefilter,
}

/// What a rule is matched against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals<'a> {
    /// Enhanced status code like `5.1.1`, if any.
    pub status: Option<&'a str>,
    /// SMTP reply code like 550, if any.
    pub code: Option<u16>,
    /// Diagnostic text, lower-cased with whitespace collapsed.
    pub text: &'a str,
    /// The SMTP command the failure happened at (`RCPT` …), if known.
    pub command: Option<&'a str>,
    /// The DSN action (`failed`, `delayed` …), lower-cased, if known.
    pub action: Option<&'a str>,
    /// The prefilter's verdict on `text`, when already computed.
    pub(crate) candidates: Option<&'a Candidates>,
}

impl Rules {
    /// The rules embedded in the binary.
    pub fn embedded() -> &'static Rules {
        static RULES: std::sync::LazyLock<Rules> = std::sync::LazyLock::new(|| {
            // The embedded file is tested in CI; failing here is a build defect, not an input problem.
            Rules::from_toml("<embedded>", EMBEDDED_RULES).unwrap_or_else(|e| panic!("embedded bounce rules: {e}"))
        });
        &RULES
    }

    /// Loads and compiles a rules file.
    pub fn from_path(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RulesError::Io { path: path.display().to_string(), source })?;
        Rules::from_toml(&path.display().to_string(), &text)
    }

    /// Compiles rules from TOML text; `source` names it in errors.
    ///
    /// `[detect]` and `[commands]` compile on a second thread while the
    /// phrase rules are read and parsed and the prefilter is built: loading
    /// is most of a short `bounce classify` run, and the other cores would
    /// wait for it. Errors are reported in file order whichever thread
    /// meets them.
    pub fn from_toml(source: &str, text: &str) -> Result<Rules, RulesError> {
        let raw: RawRules =
            toml::from_str(text).map_err(|e| RulesError::Syntax { path: source.into(), message: e.to_string() })?;
        let RawRules { detect, commands, rules } = raw;
        let (side, own) = std::thread::scope(|s| {
            let side = s.spawn(|| (compile_detect(source, &detect), compile_commands(source, &commands)));
            let own = read_rules(source, rules, &commands).and_then(|own| {
                let command_parsed = parse_commands(source, &commands)?;
                let first_command = own.patterns.len();
                let mut grouped: Vec<(usize, &Hir)> = own.parsed.iter().enumerate().collect();
                grouped.extend(command_parsed.iter().map(|(k, h)| (first_command + k, h)));
                let prefilter = Prefilter::new(first_command + commands.len(), &grouped);
                Ok((own.rules, own.patterns, prefilter))
            });
            (side.join(), own)
        });
        let (detect, commands) = side.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let detect = detect?;
        let (rules, patterns, prefilter) = own?;
        let commands = commands?;
        Ok(Rules { detect, rules, commands, patterns, prefilter })
    }

    /// The SMTP command a failure text (lower-cased) says it happened at:
    /// the one mentioned last, given the text's [`Self::candidates`].
    pub(crate) fn command<'a>(&'a self, text: &str, candidates: &Candidates) -> Option<&'a str> {
        let first = self.patterns.len();
        self.commands
            .iter()
            .enumerate()
            .filter(|(k, _)| candidates.contains(first + *k))
            .filter_map(|(_, (name, re))| re.find_iter(text).last().map(|m| (m.start(), name.as_str())))
            .max_by_key(|(pos, _)| *pos)
            .map(|(_, name)| name)
    }

    /// The rule patterns and commands that could match `text` (lower-cased).
    pub(crate) fn candidates(&self, text: &str) -> Candidates {
        self.prefilter.candidates(text)
    }

    /// The first rule whose `preamble` patterns match the report's summary
    /// text (lower-cased, whitespace collapsed), if any: its reason and name.
    pub fn preamble_match(&self, text: &str) -> Option<(Reason, &str)> {
        if text.is_empty() {
            return None;
        }
        self.rules
            .iter()
            .find(|r| r.preamble.as_ref().is_some_and(|re| re.is_match(text)))
            .map(|r| (r.reason, r.name.as_str()))
    }

    /// The first phrase rule whose conditions hold and whose text patterns
    /// match, if any: its reason and name.
    pub fn first_match(&self, s: &Signals<'_>) -> Option<(Reason, &str)> {
        if s.text.is_empty() {
            return None;
        }
        let class = s.status.and_then(|st| st.chars().next()).or_else(|| {
            s.code.map(|c| {
                if c >= 500 {
                    '5'
                } else if c >= 400 {
                    '4'
                } else {
                    '2'
                }
            })
        });
        let computed = std::cell::OnceCell::new();
        let c = s.candidates.unwrap_or_else(|| computed.get_or_init(|| self.prefilter.candidates(s.text)));
        // A status the reporting MTA derived from a bare reply code (Sendmail
        // writes 5.1.1 for any 550 to RCPT that carries no enhanced code) is
        // not the receiving server's word: it does not outrank the server's
        // own words. The server said it when its text carries it.
        let stated = |st: &str| s.code.is_none() || s.text.contains(st);
        let specific = s.status.is_some_and(|st| super::ladder::is_specific(st) && stated(st));
        // The prefilter's verdict first: it is a table lookup, the
        // conditions parse codes and the patterns run regexes.
        self.rules
            .iter()
            .find(|r| {
                let mut live = r.patterns.iter().filter(|&&j| c.contains(j)).peekable();
                let matches = |j: usize| c.contains(j) && self.patterns.get(j).is_some_and(|re| re.is_match(s.text));
                live.peek().is_some()
                    && r.applies(s, class, specific)
                    && live.any(|&j| matches(j))
                    && !r.not_patterns.iter().any(|&j| matches(j))
            })
            .map(|r| (r.reason, r.name.as_str()))
    }
}

impl Rule {
    /// Whether the rule's conditions (class, status, command, action) hold;
    /// `specific`: the status names a reason of its own.
    fn applies(&self, s: &Signals<'_>, class: Option<char>, specific: bool) -> bool {
        if !self.class.is_empty() && class.is_some_and(|c| !self.class.contains(&c)) {
            return false;
        }
        // `none` in a list matches a report that has no such field.
        let listed = |list: &[String], value: Option<&str>, m: fn(&str, &str) -> bool| {
            list.is_empty()
                || match value {
                    Some(v) => list.iter().any(|p| m(p, v)),
                    None => list.iter().any(|p| p == "none"),
                }
        };
        if !listed(&self.status, s.status, super::status_pattern::matches) {
            return false;
        }
        if s.status.is_some_and(|st| self.not_status.iter().any(|p| super::status_pattern::matches(p, st))) {
            return false;
        }
        if self.yields_to_status && specific {
            return false;
        }
        if !self.command.is_empty() && !s.command.is_some_and(|c| self.command.iter().any(|x| x == c)) {
            return false;
        }
        if s.command.is_some_and(|c| self.not_command.iter().any(|x| x == c)) {
            return false;
        }
        listed(&self.action, s.action, |p, a| a.starts_with(p))
    }
}

/// A pattern (already checked by [`check`]) compiled on first use and
/// shared by every thread after that.
#[derive(Debug)]
struct LazyRegex {
    source: String,
    compiled: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn new(source: String) -> LazyRegex {
        LazyRegex { source, compiled: std::sync::OnceLock::new() }
    }

    /// Whether the pattern matches; a pattern whose automaton would exceed
    /// the size limits (its syntax was checked at load) never does.
    fn is_match(&self, text: &str) -> bool {
        self.compiled.get_or_init(|| build(&self.source).ok()).as_ref().is_some_and(|re| re.is_match(text))
    }
}

/// Word boundaries are ASCII ones: a Unicode `\b` keeps the regex engine
/// off its fast DFA for any non-ASCII text.
fn ascii_boundaries(p: &str) -> String {
    p.replace("\\b", "(?-u:\\b)")
}

/// Patterns as one alternation, for lower-cased text.
///
/// The texts these run on are lower-cased, so a pattern written in lower
/// case needs no case folding, which would multiply the automaton's states
/// (Unicode folds `k` to the Kelvin sign, `s` to the long s …). A pattern
/// with a capital letter keeps `(?i)`.
fn alternation(pats: &[String]) -> Result<Regex, String> {
    alternatives(pats, fold_where_needed)
}

/// Patterns as one alternation, each wrapped in a group by `group`.
fn alternatives(pats: &[String], group: impl Fn(&str) -> String) -> Result<Regex, String> {
    build(&pats.iter().map(|p| group(p)).collect::<Vec<_>>().join("|"))
}

/// Compiles `[detect]`: each list as one alternation, since only whether
/// any of its patterns matches is asked (a set would track which, and
/// costs twice as long to build in a run that is mostly start-up).
fn compile_detect(path: &str, d: &RawDetect) -> Result<Detect, RulesError> {
    let list = |key: &str, pats: &[String], as_written: bool| -> Result<Regex, RulesError> {
        compile_list(pats, as_written).map_err(|(i, e)| invalid(path, format!("[detect] {key}[{i}]"), e))
    };
    // Lists matched against lower-cased text (see `alternation`).
    let lowered = |key: &str, pats: &[String]| list(key, pats, false);
    Ok(Detect {
        bounce_from: lowered("bounce_from", &d.bounce_from)?,
        bounce_subject: lowered("bounce_subject", &d.bounce_subject)?,
        autoreply_subject: lowered("autoreply_subject", &d.autoreply_subject)?,
        autoreply_header: list("autoreply_header", &d.autoreply_header, true)?,
        original_start: original_start(path, &d.original_start)?,
        original_first: super::prefilter::first_bytes(
            d.original_start.iter().map(|p| p.strip_prefix('^').unwrap_or(p)),
        )
        .map(Box::new),
        not_recipient: lowered("not_recipient", &d.not_recipient)?,
        not_recipient_line: lowered("not_recipient_line", &d.not_recipient_line)?,
        contact_before: lowered("contact_before", &d.contact_before)?,
        delay_notice: lowered("delay_notice", &d.delay_notice)?,
        final_notice: lowered("final_notice", &d.final_notice)?,
    })
}

/// All `original_start` patterns as one multi-line regex.
fn original_start(path: &str, pats: &[String]) -> Result<regex::Regex, RulesError> {
    for (i, p) in pats.iter().enumerate() {
        check(p).map_err(|e| invalid(path, format!("[detect] original_start[{i}]"), e))?;
    }
    let alts: Vec<String> =
        pats.iter().map(|p| format!("(?:{})", ascii_boundaries(p.strip_prefix('^').unwrap_or(p)))).collect();
    // Lines are matched as written, after `> ` quoting and indentation.
    let joined = format!("(?m)^(?:> ?)*[ \\t]*(?:{})", alts.join("|"));
    regex::RegexBuilder::new(&joined)
        .case_insensitive(true)
        .build()
        .map_err(|e| invalid(path, "[detect] original_start".into(), format!("bad regular expression: {e}")))
}

/// Compiles `[commands]`: each command's name and alternation.
fn compile_commands(path: &str, raw: &RawCommands) -> Result<Vec<(String, Regex)>, RulesError> {
    raw.iter()
        .map(|(name, pats)| {
            let re = alternation(pats).map_err(|e| invalid(path, format!("[commands] {name}"), e))?;
            Ok((name.to_ascii_uppercase(), re))
        })
        .collect()
}

/// Parses `[commands]` for the prefilter: every pattern with the index of
/// its command.
fn parse_commands(path: &str, raw: &RawCommands) -> Result<Vec<(usize, Hir)>, RulesError> {
    let mut parsed = Vec::new();
    for (k, (name, pats)) in raw.iter().enumerate() {
        for p in pats {
            parsed.push((k, check(p).map_err(|e| invalid(path, format!("[commands] {name}"), e))?));
        }
    }
    Ok(parsed)
}

/// The `[[rule]]` list read: the rules, every rule text pattern on its own
/// (compiled on first use), and each parsed for the prefilter.
struct PhraseRules {
    rules: Vec<Rule>,
    patterns: Vec<LazyRegex>,
    parsed: Vec<Hir>,
}

/// Reads the `[[rule]]` list.
fn read_rules(path: &str, raw: Vec<RawRule>, commands: &RawCommands) -> Result<PhraseRules, RulesError> {
    let mut rules = Vec::with_capacity(raw.len());
    let mut parsed = Vec::new();
    let mut patterns = Vec::new();
    let mut likes = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let (reason, like) = rule_reasons(path, i, &r)?;
        check_conditions(path, i, &r, commands)?;
        likes.push(like);
        // Adds a list of text patterns to the pool; returns their indices.
        let mut pool = |key: &str, pats: &[String]| -> Result<std::ops::Range<usize>, RulesError> {
            let start = patterns.len();
            for (j, p) in pats.iter().enumerate() {
                parsed.push(check(p).map_err(|e| invalid(path, format!("rule[{i}].{key}[{j}]"), e))?);
                patterns.push(LazyRegex::new(fold_where_needed(p)));
            }
            Ok(start..patterns.len())
        };
        let own = pool("text", &r.text)?;
        let not_patterns = pool("not_text", &r.not_text)?.collect();
        let preamble = if r.preamble.is_empty() {
            None
        } else {
            for (j, p) in r.preamble.iter().enumerate() {
                check(p).map_err(|e| invalid(path, format!("rule[{i}].preamble[{j}]"), e))?;
            }
            Some(alternation(&r.preamble).map_err(|e| invalid(path, format!("rule[{i}].preamble"), e))?)
        };
        let class = r.class.iter().filter_map(|c| c.chars().next()).collect();
        let upper = |v: Vec<String>| v.into_iter().map(|c| c.to_ascii_uppercase()).collect();
        rules.push(Rule {
            name: r.name,
            reason,
            status: r.status,
            not_status: r.not_status,
            class,
            command: upper(r.command),
            not_command: upper(r.not_command),
            action: r.action.iter().map(|a| a.to_ascii_lowercase()).collect(),
            patterns: own.collect(),
            not_patterns,
            preamble,
            yields_to_status: r.yields_to_status,
        });
    }
    // `like` borrows the own text patterns of every rule of the named reasons.
    let own: Vec<(Reason, Vec<usize>)> = rules.iter().map(|r| (r.reason, r.patterns.clone())).collect();
    for (rule, like) in rules.iter_mut().zip(likes) {
        for reason in like {
            for (r, pats) in &own {
                if *r == reason {
                    rule.patterns.extend(pats.iter().copied());
                }
            }
        }
    }
    Ok(PhraseRules { rules, patterns, parsed })
}

/// Compiles a pattern for lower-cased text.
///
/// Only whether and where a pattern matches is asked, never its groups,
/// and most patterns run on a few short texts: the lazy DFA alone serves
/// them, and building a full DFA and a one-pass DFA up front (what
/// `regex::Regex` does for small patterns) would cost more than it saves
/// in a run that compiles hundreds of them.
fn build(pattern: &str) -> Result<Regex, String> {
    let config = regex_automata::meta::Config::new()
        .dfa(false)
        .onepass(false)
        .nfa_size_limit(Some(64 << 20))
        .hybrid_cache_capacity(16 << 20);
    Regex::builder().configure(config).build(pattern).map_err(|e| match (e.syntax_error(), e.size_limit()) {
        (Some(syntax), _) => format!("bad regular expression: {syntax}"),
        (None, Some(limit)) => {
            format!("the regular expression's automaton would exceed {limit} bytes; write it with fewer repetitions")
        }
        (None, None) => format!("bad regular expression: {e}"),
    })
}

/// A pattern for lower-cased text: case folding only if it has a capital.
fn fold_where_needed(p: &str) -> String {
    let flags = if has_capital(p) { "?i" } else { "?" };
    format!("({flags}:{})", ascii_boundaries(p))
}

/// Whether a pattern has a capital letter outside escapes (`\S`, `\D` …).
fn has_capital(p: &str) -> bool {
    let mut escaped = false;
    for c in p.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c.is_uppercase() {
            return true;
        }
    }
    false
}

/// A `[detect]` list as one alternation, each pattern checked on its own:
/// for lower-cased text (see [`alternation`]), or `as_written` (header
/// lines) case-insensitively.
fn compile_list(pats: &[String], as_written: bool) -> Result<Regex, (usize, String)> {
    for (i, p) in pats.iter().enumerate() {
        check(p).map_err(|e| (i, e))?;
    }
    if pats.is_empty() {
        return never();
    }
    let re =
        if as_written { alternatives(pats, |p| format!("(?i:{})", ascii_boundaries(p))) } else { alternation(pats) };
    re.map_err(|e| (0, e))
}

/// A regex that matches nothing, for an empty list (an empty alternation
/// would match everything): an empty class.
fn never() -> Result<Regex, (usize, String)> {
    build("[^\\s\\S]").map_err(|e| (0, e))
}

/// Checks one pattern's syntax on its own, before it is wrapped into a
/// group (where `a)|(b` would pass), and returns it parsed for the
/// prefilter; parsing costs little next to compiling.
fn check(p: &str) -> Result<Hir, String> {
    // Text is matched with its whitespace collapsed to spaces, so a control
    // character can never match: it is an escape TOML read inside double
    // quotes ("\b" is a backspace there, "\t" a tab).
    if let Some(c) = p.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the pattern holds the control character U+{:04X}, which no text can contain; \
             write patterns in single quotes ('\\bword') so that `\\b` and `\\s` reach the regular expression",
            u32::from(c)
        ));
    }
    super::prefilter::parse(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_conditions_are_refused_with_the_fix() {
        let rule = |cond: &str| {
            format!(
                "{DETECT}[commands]\nRCPT = ['rcpt to']\n[[rule]]\nname = \"x\"\nreason = \"blocked\"\n{cond}\ntext = ['y']\n"
            )
        };
        for (cond, key, says) in [
            ("status = ['5.1.l']", "rule[0].status[0]", "`5.1.l` is not an enhanced status code pattern"),
            ("not_status = ['5.7']", "rule[0].not_status[0]", "write a code (`5.1.1`), a prefix ending in `*`"),
            ("command = ['RCTP']", "rule[0].command[0]", "unknown SMTP command `RCTP`; [commands] has RCPT"),
            ("not_command = ['rcpt']", "", ""),
            ("action = ['fialed']", "rule[0].action[0]", "unknown DSN action `fialed`"),
            ("class = ['55']", "rule[0].class[0]", "unknown class `55`"),
        ] {
            match Rules::from_toml("t.toml", &rule(cond)) {
                Ok(_) => assert!(key.is_empty(), "{cond} should be refused"),
                Err(e) => {
                    let text = e.to_string();
                    assert!(!key.is_empty() && text.contains(key) && text.contains(says), "{cond}: {text}");
                }
            }
        }
    }

    #[test]
    fn embedded_rules_compile() {
        let r = Rules::embedded();
        assert!(!r.rules.is_empty());
    }

    /// A `[detect]` section with every list empty, for rules files in tests.
    const DETECT: &str = "[detect]\nbounce_from=[]\nbounce_subject=[]\nautoreply_subject=[]\nautoreply_header=[]\noriginal_start=[]\nnot_recipient=[]\nnot_recipient_line=[]\n";

    #[test]
    fn an_escape_toml_ate_is_explained() {
        let base = DETECT;
        // In double quotes TOML reads `\b` as a backspace.
        let e = Rules::from_toml("t", &format!("{base}[[rule]]\nname='n'\nreason='blocked'\ntext=[\"\\bspam\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rule[0].text[0]") && e.contains("U+0008") && e.contains("single quotes"), "{e}");
        let ok = Rules::from_toml("t", &format!("{base}[[rule]]\nname='n'\nreason='blocked'\ntext=['\\bspam']\n"));
        assert!(ok.is_ok(), "{:?}", ok.err());
    }

    #[test]
    fn bad_rules_are_explained() {
        let base = DETECT;
        let e = Rules::from_toml("t", &format!("{base}[[rule]]\nname='n'\nreason='nope'\ntext=['x']\n")).unwrap_err();
        assert!(e.to_string().contains("rule[0].reason"), "{e}");
        let e =
            Rules::from_toml("t", &format!("{base}[[rule]]\nname='n'\nreason='blocked'\ntext=['(']\n")).unwrap_err();
        assert!(e.to_string().contains("rule[0].text[0]"), "{e}");
        let e = Rules::from_toml("t", &format!("{base}[[rule]]\nname='x'\nreason='blocked'\nstatus=['5.7.1']\n"))
            .unwrap_err();
        assert!(e.to_string().contains("needs `text`"), "{e}");
        let ok = Rules::from_toml("t", &format!("{base}[[rule]]\nname='dnsbl'\nreason='blocked'\ntext=['dnsbl']\n"))
            .unwrap();
        let s = Signals { text: "listed in dnsbl", ..Default::default() };
        assert_eq!(ok.first_match(&s), Some((Reason::Blocked, "dnsbl")));
    }

    #[test]
    fn not_text_keeps_a_frame_from_deciding_what_its_content_names() {
        let rules = format!(
            "{DETECT}[[rule]]\nname='program'\nreason='mailererror'\nnot_text=['quota']\ntext=['command output:']\n\
             [[rule]]\nname='full'\nreason='mailboxfull'\ntext=['quota exceeded']\n"
        );
        let r = Rules::from_toml("t", &rules).unwrap();
        let first = |text| r.first_match(&Signals { text, ..Default::default() });
        assert_eq!(first("command output: mail quota exceeded."), Some((Reason::MailboxFull, "full")));
        assert_eq!(first("command output: cannot connect"), Some((Reason::MailerError, "program")));
        let bad = Rules::from_toml("t", &rules.replace("not_text=['quota']", "not_text=['(']")).unwrap_err();
        assert!(bad.to_string().contains("rule[0].not_text[0]"), "{bad}");
    }

    #[test]
    fn errors_come_in_file_order_whichever_thread_meets_them() {
        let detect = |from: &str| {
            format!(
                "[detect]\nbounce_from=[{from}]\nbounce_subject=[]\nautoreply_subject=[]\nautoreply_header=[]\noriginal_start=[]\nnot_recipient=[]\nnot_recipient_line=[]\n"
            )
        };
        let commands = "[commands]\nRCPT=['(']\n";
        let rule = "[[rule]]\nname='n'\nreason='nope'\ntext=['x']\n";
        let err = |text: String| Rules::from_toml("t", &text).unwrap_err().to_string();
        let e = err(format!("{}{commands}{rule}", detect("'('")));
        assert!(e.contains("[detect] bounce_from[0]"), "{e}");
        let e = err(format!("{}{commands}{rule}", detect("")));
        assert!(e.contains("rule[0].reason"), "{e}");
        let e = err(format!("{}{commands}", detect("")));
        assert!(e.contains("[commands] RCPT"), "{e}");
    }
    #[test]
    fn an_empty_detect_list_matches_nothing_and_a_written_one_any_of_its_patterns() {
        let r = Rules::from_toml("t", DETECT).unwrap();
        for text in ["", "undeliverable", "x-autoreply: yes"] {
            assert!(!r.detect.bounce_subject.is_match(text), "{text:?}");
            assert!(!r.detect.autoreply_header.is_match(text), "{text:?}");
        }
        let listed = DETECT
            .replace("bounce_subject=[]", "bounce_subject=['^undeliverable', 'delivery (status )?failure']")
            .replace("autoreply_header=[]", "autoreply_header=['^X-Autoreply: ?yes']");
        let r = Rules::from_toml("t", &listed).unwrap();
        assert!(r.detect.bounce_subject.is_match("undeliverable: hello"));
        assert!(r.detect.bounce_subject.is_match("re: delivery failure"));
        assert!(!r.detect.bounce_subject.is_match("re: undeliverable"), "each pattern keeps its own anchor");
        assert!(r.detect.autoreply_header.is_match("x-autoreply: YES"), "header lines match in any case");
    }
}
