//! A literal prefilter for the rule patterns: one Aho-Corasick pass over a
//! text says which groups of patterns (rules, SMTP command lists) could
//! match it, so only their regexes run.
//!
//! Each pattern's prefix literals are extracted from its syntax: any match
//! of the pattern starts with one of them (or, failing that, ends with one
//! of its suffix literals). A pattern for which neither can be listed (`.`)
//! makes its group always a candidate.
//! Texts are lower-cased before matching, so literals are lower-cased too.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_syntax::hir::Hir;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Which groups could match a text.
#[derive(Debug)]
pub(crate) struct Prefilter {
    ac: Option<AhoCorasick>,
    /// Literal index → group.
    group_of: Vec<usize>,
    /// Groups that are candidates whatever the text.
    always: Vec<usize>,
    groups: usize,
}

/// The candidate groups for one text.
#[derive(Debug, Clone)]
pub(crate) struct Candidates(Vec<bool>);

impl Candidates {
    /// Whether `group` could match.
    pub fn contains(&self, group: usize) -> bool {
        self.0.get(group).copied().unwrap_or(false)
    }
}

impl Prefilter {
    /// Builds the prefilter from `(group, pattern)` pairs, each pattern
    /// as parsed by [`parse`]; groups are numbered from 0 to `groups - 1`.
    pub fn new(groups: usize, patterns: &[(usize, &Hir)]) -> Prefilter {
        let mut literals: Vec<String> = Vec::new();
        let mut group_of = Vec::new();
        let mut always = Vec::new();
        for &(group, hir) in patterns {
            match necessary_literals(hir) {
                Some(lits) => {
                    for lit in lits {
                        literals.push(lit);
                        group_of.push(group);
                    }
                }
                None => always.push(group),
            }
        }
        always.sort_unstable();
        always.dedup();
        let ac = if literals.is_empty() {
            None
        } else {
            // Overlapping search needs the standard match kind. Literals and
            // texts are both lower-case: no case folding, a smaller DFA.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                // The contiguous NFA builds in a fraction of the full DFA's
                // time and memory (a whole-process run is mostly start-up),
                // and searches the short diagnostic texts nearly as fast.
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .byte_classes(true)
                .build(&literals)
                .ok()
        };
        if ac.is_none() {
            // Without an automaton every group stays a candidate.
            always = (0..groups).collect();
        }
        Prefilter { ac, group_of, always, groups }
    }

    /// The groups that could match `text`.
    pub fn candidates(&self, text: &str) -> Candidates {
        let mut found = vec![false; self.groups];
        for &g in &self.always {
            if let Some(slot) = found.get_mut(g) {
                *slot = true;
            }
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(text) {
                if let Some(slot) = self.group_of.get(m.pattern().as_usize()).and_then(|&g| found.get_mut(g)) {
                    *slot = true;
                }
            }
        }
        Candidates(found)
    }
}

/// Parses a pattern as the prefilter reads it: case-sensitively, since
/// texts are lower-case and case-insensitive extraction would list every
/// capitalisation. An error is the syntax error, for the rules loader.
pub(crate) fn parse(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new().build().parse(pattern).map_err(|e| format!("bad regular expression: {e}"))
}

/// The bytes a match of one of `patterns` can start with, in both cases,
/// or `None` when a pattern's start cannot be listed (it may start with
/// anything, or match the empty string).
pub(crate) fn first_bytes<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Option<[bool; 256]> {
    let mut set = [false; 256];
    for pattern in patterns {
        let hir = parse(pattern).ok()?;
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        let lits = seq.literals()?;
        if lits.is_empty() {
            return None;
        }
        for lit in lits {
            let &b = lit.as_bytes().first()?;
            for c in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                if let Some(slot) = set.get_mut(usize::from(c)) {
                    *slot = true;
                }
            }
        }
    }
    Some(set)
}

/// Lower-cased literals one of which every match of `pattern` starts with
/// (or else ends with), or `None` when neither can be listed.
fn necessary_literals(hir: &Hir) -> Option<Vec<String>> {
    literals(hir, ExtractKind::Prefix).or_else(|| literals(hir, ExtractKind::Suffix))
}

fn literals(hir: &Hir, kind: ExtractKind) -> Option<Vec<String>> {
    let seq = Extractor::new().kind(kind).extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(lits.len());
    for lit in lits {
        let s = std::str::from_utf8(lit.as_bytes()).ok()?;
        // A one-byte literal would flag the group on almost every text.
        if s.len() < 2 {
            return None;
        }
        out.push(s.to_lowercase());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefilter from `(group, pattern)` pairs written as text.
    fn prefilter(groups: usize, patterns: &[(usize, &str)]) -> Prefilter {
        let hirs: Vec<(usize, Hir)> =
            patterns.iter().map(|&(g, p)| (g, parse(p).unwrap_or_else(|e| panic!("{p}: {e}")))).collect();
        Prefilter::new(groups, &hirs.iter().map(|(g, h)| (*g, h)).collect::<Vec<_>>())
    }

    fn literals_of(pattern: &str) -> Option<Vec<String>> {
        necessary_literals(&parse(pattern).ok()?)
    }

    #[test]
    fn groups_follow_their_literals() {
        let p = prefilter(
            3,
            &[(0, "mailbox (is )?full"), (0, "over ?quota"), (1, "user unknown"), (2, r"\d{3} .* [0-9]+")],
        );
        let c = p.candidates("550 5.2.2 mailbox full");
        assert!(c.contains(0));
        assert!(!c.contains(1));
        assert!(c.contains(2), "a pattern without listable literals is always a candidate");
        let c = p.candidates("said: user unknown");
        assert!(!c.contains(0) && c.contains(1));
        assert!(prefilter(1, &[(0, "Over Quota")]).candidates("over quota").contains(0), "literals are lower-cased");
        assert!(!p.candidates("").contains(0));
    }

    #[test]
    fn unlistable_patterns_are_always_candidates() {
        for pat in [".", "(a|b)", r"\bx", "[a-z]+ unknown [0-9]+"] {
            let p = prefilter(1, &[(0, pat)]);
            assert!(p.candidates("nothing here").contains(0), "{pat}");
        }
        assert!(literals_of("(?:user|recipient) unknown").is_some());
        // No listable start, but a listable end.
        assert_eq!(literals_of(r"\d{3} .*user unknown$"), Some(vec!["user unknown".to_string()]));
        assert!(!prefilter(1, &[(0, r"\d{3} .*user unknown$")]).candidates("550 mailbox full").contains(0));
    }

    #[test]
    fn first_bytes_cover_every_start() {
        let set = first_bytes(["-+ ?original message", "(the )?header", "Return-Path: ?<"]).unwrap_or([false; 256]);
        let starts: String = (0..=255u8).filter(|&b| set[usize::from(b)]).map(char::from).collect();
        assert_eq!(starts, "-HRThrt");
        assert!(first_bytes(["original", ".*message"]).is_none());
        assert!(first_bytes(["(x)?"]).is_none(), "a pattern that matches the empty string");
    }
}
