//! The survey part of the report: per sequence, how many people gave each
//! answer (a person who answered twice about one message counts once, with
//! the later answer), whether the shop can act on it, and the free texts
//! of the "other" choice.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::domain::survey::{SurveyConfig, decode};
use crate::domain::{Event, EventKind};

/// The free texts kept per sequence in the report (the latest).
const TEXTS_SHOWN: usize = 20;

/// Answers to one choice in one sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChoiceCount {
    /// The choice key (also keys answers no longer configured).
    pub choice: String,
    /// Its label, when still configured.
    #[serde(default)]
    pub label: String,
    /// Answering it suppresses.
    #[serde(default)]
    pub suppress: bool,
    /// A reason the shop can act on.
    #[serde(default)]
    pub controllable: bool,
    /// People who gave it.
    pub answers: u64,
}

/// The survey figures of one sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurveyKpi {
    /// People who answered.
    pub answers: u64,
    /// Of them, answers the shop can act on.
    pub controllable: u64,
    /// Per choice, in config order, then unknown keys.
    pub choices: Vec<ChoiceCount>,
    /// The latest free texts, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<String>,
}

/// Counts the answers in `events` per sequence index; `sequence_of` maps a
/// message id to its sequence's index.
pub fn tally(
    survey: &SurveyConfig,
    events: &[Event],
    sequence_of: impl Fn(u64) -> Option<usize>,
    sequences: usize,
) -> Vec<SurveyKpi> {
    // The latest answer per message.
    let mut latest: HashMap<u64, &Event> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Survey) {
        let Some(id) = e.message else { continue };
        let slot = latest.entry(id).or_insert(e);
        if e.at >= slot.at {
            *slot = e;
        }
    }
    let mut answers: Vec<(&Event, usize)> =
        latest.into_iter().filter_map(|(id, e)| sequence_of(id).map(|s| (e, s))).collect();
    answers.sort_by_key(|(e, _)| std::cmp::Reverse(e.at));
    let mut out: Vec<SurveyKpi> = (0..sequences)
        .map(|_| SurveyKpi {
            choices: survey
                .choices
                .iter()
                .map(|c| ChoiceCount {
                    choice: c.key.clone(),
                    label: c.label.clone(),
                    suppress: c.suppress,
                    controllable: c.controllable,
                    answers: 0,
                })
                .collect(),
            ..SurveyKpi::default()
        })
        .collect();
    for (e, si) in answers {
        let Some(kpi) = out.get_mut(si) else { continue };
        let (key, text) = decode(e.reference.as_deref().unwrap_or(""));
        let i = match kpi.choices.iter().position(|c| c.choice == key) {
            Some(i) => i,
            None => {
                kpi.choices.push(ChoiceCount { choice: key.to_string(), ..ChoiceCount::default() });
                kpi.choices.len() - 1
            }
        };
        let Some(c) = kpi.choices.get_mut(i) else { continue };
        c.answers += 1;
        kpi.answers += 1;
        kpi.controllable += u64::from(c.controllable);
        if let Some(t) = text.filter(|_| kpi.texts.len() < TEXTS_SHOWN) {
            kpi.texts.push(t.to_string());
        }
    }
    out
}

/// The survey lines of one sequence in the text report (none without answers).
pub fn render(o: &mut String, s: &SurveyKpi) {
    if s.answers == 0 {
        return;
    }
    let _ = writeln!(o, "  survey: {} answer(s), {} the shop can act on", s.answers, s.controllable);
    for c in s.choices.iter().filter(|c| c.answers > 0) {
        let share = c.answers as f64 / s.answers as f64 * 100.0;
        let flags = match (c.controllable, c.suppress) {
            (true, _) => " (controllable)",
            (false, true) => " (left: suppressed)",
            _ => "",
        };
        let label = if c.label.is_empty() { String::new() } else { format!(" \"{}\"", c.label) };
        let _ = writeln!(o, "    {:<20} {:>6} {:>5.1}%{label}{flags}", c.choice, c.answers, share);
    }
    for t in &s.texts {
        let _ = writeln!(o, "    other: {t}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Event;

    fn answer(message: u64, at: i64, reference: &str) -> Event {
        let mut e = Event::new("a@x.example", EventKind::Survey, at);
        e.message = Some(message);
        e.reference = Some(reference.into());
        e
    }

    #[test]
    fn counts_the_latest_answer_per_message_per_sequence() {
        let events = vec![
            answer(1, 10, "too_many_emails"),
            answer(1, 20, "moved_away"),
            answer(2, 5, "other: prices went up"),
            answer(3, 5, "gone_key"),
            answer(9, 5, "moved_away"),
            Event::new("a@x.example", EventKind::Click, 1),
        ];
        let seq = |id: u64| match id {
            1 | 2 => Some(0),
            3 => Some(1),
            _ => None,
        };
        let t = tally(&SurveyConfig::default(), &events, seq, 2);
        let counts: Vec<(&str, u64)> = t[0].choices.iter().map(|c| (c.choice.as_str(), c.answers)).collect();
        assert_eq!(counts.iter().find(|c| c.0 == "moved_away"), Some(&("moved_away", 1)));
        assert_eq!(counts.iter().find(|c| c.0 == "too_many_emails"), Some(&("too_many_emails", 0)));
        assert_eq!(counts.iter().find(|c| c.0 == "other"), Some(&("other", 1)));
        assert_eq!((t[0].answers, t[0].controllable), (2, 0));
        assert_eq!(t[0].texts, ["prices went up"]);
        assert_eq!(t[1].choices.last().map(|c| (c.choice.as_str(), c.answers)), Some(("gone_key", 1)));
        let mut o = String::new();
        render(&mut o, &t[0]);
        assert!(o.contains("survey: 2 answer(s)") && o.contains("moved_away") && o.contains("50.0%"), "{o}");
        assert!(o.contains("other: prices went up"), "{o}");
    }
}
