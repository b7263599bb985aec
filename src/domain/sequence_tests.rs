//! Walks contacts through the state machine with explicit times.

use super::*;
use crate::domain::event::Origin;

const DAY: Millis = 86_400_000;

fn cfg() -> Config {
    crate::config::testing::with_sequence(
        "[lapse]\ninactive_after = \"90d\"\nreentry_after = \"180d\"",
        "wb",
        "14d",
        &[("0s", "miss-you"), ("7d", "whats-new"), ("3d", "last-chance")],
    )
}

/// Runs `on_due` at `now` and, when it sends, settles the message as sent at
/// the same instant; returns the contact and the step sent.
fn tick(c: &Contact, cfg: &Config, now: Millis, msg: u64) -> (Contact, Option<u32>, Option<SuppressionReason>) {
    let out = on_due(c, false, cfg, now);
    let mut contact = out.contact;
    let step = out.send.map(|(_, s)| s);
    if step.is_some() {
        if let ContactState::Active { awaiting, .. } = &mut contact.state {
            *awaiting = Some(msg);
        }
        contact = on_message_settled(&contact, msg, Settled::Sent, cfg, now).contact;
    }
    (contact, step, out.suppress)
}

#[test]
fn never_engaged_contact_runs_the_whole_sequence_then_sunsets() {
    let cfg = cfg();
    let t0 = 1_000 * DAY;
    let c = Contact::new("a@example.com", t0);
    assert_eq!(idle_due(&c, &cfg), Some(t0), "never engaged: eligible at once");

    let (c, step, _) = tick(&c, &cfg, t0, 1);
    assert_eq!(step, None, "entering schedules step 0");
    assert!(matches!(c.state, ContactState::Active { next_step: 0, .. }));
    assert_eq!(c.due_at, Some(t0));

    let (c, step, _) = tick(&c, &cfg, t0, 1);
    assert_eq!(step, Some(0));
    assert_eq!(c.due_at, Some(t0 + 7 * DAY), "second step 7d after the first went out");

    let (c, step, _) = tick(&c, &cfg, t0 + 7 * DAY, 2);
    assert_eq!(step, Some(1));
    assert_eq!(c.due_at, Some(t0 + 10 * DAY));

    let (c, step, _) = tick(&c, &cfg, t0 + 10 * DAY, 3);
    assert_eq!(step, Some(2));
    assert_eq!(c.due_at, Some(t0 + 24 * DAY), "grace runs from the final message");

    let (c, step, suppress) = tick(&c, &cfg, t0 + 24 * DAY, 4);
    assert_eq!(step, None);
    assert_eq!(suppress, Some(SuppressionReason::Unengaged));
    assert!(matches!(c.state, ContactState::Sunset { .. }));
    assert_eq!(c.due_at, None, "a sunset contact is never scheduled again");
}

#[test]
fn engagement_mid_sequence_reactivates_and_records_the_step() {
    let cfg = cfg();
    let t0 = 1_000 * DAY;
    let mut c = Contact::new("b@example.com", t0 - 400 * DAY);
    c.last_engaged_at = Some(t0 - 200 * DAY);
    assert_eq!(lapse_at(&c, &cfg), t0 - 110 * DAY);
    let (c, _, _) = tick(&c, &cfg, t0, 1);
    let (c, _, _) = tick(&c, &cfg, t0, 1);
    let mut click = Event::new("b@example.com", "click", t0 + DAY);
    click.origin = Origin::Human;
    let out = on_event(&c, &click, &cfg);
    assert_eq!(out.contact.state, ContactState::Reactivated { sequence: "wb".into(), after_step: 1, at: t0 + DAY });
    assert_eq!(out.contact.last_engaged_at, Some(t0 + DAY));
    // Re-entry: not before reentry_after (180d), which is later than lapse (90d).
    assert_eq!(out.contact.due_at, Some(t0 + DAY + 180 * DAY));
}

#[test]
fn machine_opens_and_events_before_entry_do_not_reactivate() {
    let cfg = cfg();
    let t0 = 1_000 * DAY;
    let c = Contact::new("c@example.com", t0);
    let (c, _, _) = tick(&c, &cfg, t0, 1);
    let mut open = Event::new("c@example.com", "open", t0 + 10);
    open.origin = Origin::Machine;
    let out = on_event(&c, &open, &cfg);
    assert!(matches!(out.contact.state, ContactState::Active { .. }));
    assert_eq!(out.contact.last_engaged_at, None, "machine opens are not engagement");

    let old = Event::new("c@example.com", "purchase", t0 - DAY);
    let out = on_event(&c, &old, &cfg);
    assert!(matches!(out.contact.state, ContactState::Active { .. }), "an old event does not end the sequence");
    assert_eq!(out.contact.last_purchase_at, Some(t0 - DAY));

    let visit = Event::new("c@example.com", "visit", t0 + 20);
    let out = on_event(&c, &visit, &cfg);
    assert!(matches!(out.contact.state, ContactState::Active { .. }), "visit is not an engagement kind here");
}

#[test]
fn queued_message_counts_as_unsent_when_engagement_wins_the_race() {
    let cfg = cfg();
    let t0 = 1_000 * DAY;
    let c = Contact::new("d@example.com", t0);
    let (c, _, _) = tick(&c, &cfg, t0, 1);
    let out = on_due(&c, false, &cfg, t0);
    let mut c = out.contact;
    if let ContactState::Active { awaiting, .. } = &mut c.state {
        *awaiting = Some(9);
    }
    assert_eq!(on_due(&c, false, &cfg, t0 + 99 * DAY).send, None, "nothing scheduled while in flight");
    let out = on_event(&c, &Event::new("d@example.com", "login", t0 + 5), &cfg);
    assert!(matches!(out.contact.state, ContactState::Reactivated { after_step: 0, .. }));
    // The sender then cancels message 9; settling it changes nothing more.
    let after = on_message_settled(&out.contact, 9, Settled::Cancelled, &cfg, t0 + 6);
    assert_eq!(after.contact, out.contact);
}

#[test]
fn suppression_stops_and_lifting_it_resumes_lapse_detection() {
    let cfg = cfg();
    let t0 = 1_000 * DAY;
    let c = Contact::new("e@example.com", t0);
    let (c, _, _) = tick(&c, &cfg, t0, 1);
    let out = on_suppressed(&c, t0 + 1);
    assert_eq!(out.contact.state, ContactState::Idle);
    assert_eq!(out.contact.due_at, None);
    assert_eq!(on_due(&out.contact, true, &cfg, t0 + 2).contact.due_at, None, "suppressed: never due");
    let back = on_unsuppressed(&out.contact, &cfg, t0 + 2);
    assert_eq!(back.contact.due_at, Some(t0 + 1 + 180 * DAY), "re-entry waits reentry_after");
}

#[test]
fn segments_choose_the_sequence() {
    let mut cfg = cfg();
    cfg.sequences[0].never_engaged = false;
    let t0 = 1_000 * DAY;
    let c = Contact::new("f@example.com", t0);
    assert!(pick_sequence(&c, &cfg, Stage::Lapsed, 0).is_none(), "never-engaged segment excluded");
    let out = on_due(&c, false, &cfg, t0);
    assert_eq!(out.contact.state, ContactState::Idle);
    assert!(out.contact.due_at > Some(t0), "looked at again later");
    let mut sleeper = c.clone();
    sleeper.last_engaged_at = Some(t0 - 100 * DAY);
    assert_eq!(pick_sequence(&sleeper, &cfg, Stage::Lapsed, 0).map(|s| s.0.name.as_str()), Some("wb"));
}

#[test]
fn role_accounts_are_not_enrolled() {
    let cfg = cfg();
    let mut c = Contact::new("postmaster@example.com", 0);
    c.enrolled = false;
    assert_eq!(idle_due(&c, &cfg), None);
    assert_eq!(on_due(&c, false, &cfg, DAY).contact.due_at, None);
}
