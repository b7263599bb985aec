//! Engine tests: the state machine applied to a real store.

use super::*;
use crate::config::Config;
use crate::domain::{Contact, ContactState, Event, SuppressionReason};
use crate::store::{MessageState, Store};

const SEC: Millis = 1_000;

fn cfg() -> Config {
    crate::config::testing::with_sequence("", "wb", "30s", &[("0s", "miss-you"), ("10s", "last-chance")])
}

fn setup(emails: &[&str]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.write(|w| {
        for e in emails {
            let mut c = Contact::new(*e, 0);
            c.due_at = Some(0);
            w.put_contact(None, &c)?;
        }
        Ok(())
    })
    .unwrap();
    (dir, s)
}

fn send_all(s: &Store, cfg: &Config, now: Millis, attempt: Attempt) -> Vec<u64> {
    let ids = s.read().unwrap().ready_messages(now, 100).unwrap();
    let mut sent = Vec::new();
    for id in ids {
        if let BeginSend::Go(_) = s.write(|w| begin_send(w, cfg, id, now)).unwrap() {
            s.write(|w| {
                finish_send(w, cfg, id, &attempt, Some(format!("<{id}@x>")), vec![], now + 60 * SEC, false, now)
            })
            .unwrap();
            sent.push(id);
        }
    }
    sent
}

fn ok() -> Attempt {
    Attempt::Accepted { reply: "250 ok".into() }
}

#[test]
fn a_contact_goes_through_the_sequence_and_sunsets() {
    let cfg = cfg();
    let (_d, s) = setup(&["a@example.com"]);
    let r = s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    assert_eq!((r.entered, r.queued.len()), (1, 1));
    assert_eq!(send_all(&s, &cfg, 0, ok()).len(), 1);
    assert!(s.write(|w| tick(w, &cfg, 9 * SEC, 100)).unwrap().queued.is_empty(), "second step not due yet");
    let r = s.write(|w| tick(w, &cfg, 10 * SEC, 100)).unwrap();
    assert_eq!(r.queued.len(), 1);
    assert_eq!(send_all(&s, &cfg, 11 * SEC, ok()).len(), 1);
    assert_eq!(s.write(|w| tick(w, &cfg, 40 * SEC, 100)).unwrap().sunset, 0, "grace counts from the send");
    assert_eq!(s.write(|w| tick(w, &cfg, 41 * SEC, 100)).unwrap().sunset, 1);
    let r = s.read().unwrap();
    assert_eq!(r.suppression("a@example.com").unwrap().map(|x| x.reason), Some(SuppressionReason::Unengaged));
    let counts = r.counts().unwrap();
    assert_eq!(counts.get("messages:sent"), 2);
    assert_eq!(counts.get("contacts:sunset"), 1);
    assert_eq!(counts.get("kpi:entered:wb"), 1);
    assert!(r.history("a@example.com").unwrap().len() >= 5);
}

#[test]
fn engagement_cancels_the_queued_message_and_reactivates() {
    let cfg = cfg();
    let (_d, s) = setup(&["b@example.com"]);
    s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    let res = s.write(|w| record_event(w, &cfg, &Event::new("b@example.com", "purchase", SEC), false)).unwrap();
    assert_eq!(res, EventResult::Reactivated);
    assert!(send_all(&s, &cfg, 2 * SEC, ok()).is_empty(), "the queued step is cancelled, not sent");
    let r = s.read().unwrap();
    assert_eq!(r.counts().unwrap().get("messages:cancelled"), 1);
    assert!(matches!(
        r.contact("b@example.com").unwrap().unwrap().state,
        ContactState::Reactivated { after_step: 0, .. }
    ));
    assert_eq!(
        s.write(|w| record_event(w, &cfg, &Event::new("nobody@example.com", "login", SEC), false)).unwrap(),
        EventResult::UnknownContact
    );
}

#[test]
fn a_batch_says_what_each_event_did_and_creates_each_contact_once() {
    let cfg = cfg();
    let (_d, s) = setup(&["b@example.com"]);
    s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    let batch = [
        Event::new("new@example.com", "purchase", SEC),
        Event::new("b@example.com", "login", SEC),
        Event::new("new@example.com", "purchase", 2 * SEC),
        Event::new("b@example.com", "purchase", 3 * SEC),
    ];
    let results = s.write(|w| record_batch(w, &cfg, &batch, true)).unwrap();
    assert_eq!(
        results,
        [EventResult::Recorded, EventResult::Reactivated, EventResult::Recorded, EventResult::Recorded]
    );
    let r = s.read().unwrap();
    let counts = r.counts().unwrap();
    assert_eq!(counts.get("contacts:total"), 2, "the new contact is counted once");
    assert_eq!(counts.get("events:purchase:human") + counts.get("events:purchase:unknown"), 3);
    let created = r.contact("new@example.com").unwrap().unwrap();
    assert_eq!(created.created_at, SEC, "created at its first event");
    drop(r);
    let unknown = s.write(|w| record_batch(w, &cfg, &[Event::new("x@example.com", "login", SEC)], false)).unwrap();
    assert_eq!(unknown, [EventResult::UnknownContact]);
    assert!(s.read().unwrap().contact("x@example.com").unwrap().is_none());
}

#[test]
fn a_hard_refusal_suppresses_and_a_soft_one_is_retried() {
    let cfg = cfg();
    let (_d, s) = setup(&["c@example.com", "d@example.com"]);
    s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    let ids = s.read().unwrap().ready_messages(0, 10).unwrap();
    let (c_id, d_id) = (ids[0], ids[1]);
    for id in [c_id, d_id] {
        assert!(matches!(s.write(|w| begin_send(w, &cfg, id, 0)).unwrap(), BeginSend::Go(_)));
    }
    let hard = Attempt::PermFail {
        code: 550,
        enhanced: Some("5.1.1".into()),
        reply: "no such user".into(),
        hard_bounce: true,
    };
    s.write(|w| finish_send(w, &cfg, c_id, &hard, None, vec![], 0, false, 0)).unwrap();
    let soft = Attempt::TempFail { reply: "451 try later".into() };
    s.write(|w| finish_send(w, &cfg, d_id, &soft, None, vec![], 60 * SEC, false, 0)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.suppression("c@example.com").unwrap().map(|x| x.reason), Some(SuppressionReason::HardBounce));
    assert_eq!(r.ready_messages(59 * SEC, 10).unwrap(), Vec::<u64>::new());
    assert_eq!(r.ready_messages(60 * SEC, 10).unwrap(), vec![d_id]);
    assert_eq!(r.message(d_id).unwrap().unwrap().attempts, 1);
    drop(r);
    // Expired after retries: the sequence moves on.
    assert!(matches!(s.write(|w| begin_send(w, &cfg, d_id, 60 * SEC)).unwrap(), BeginSend::Go(_)));
    s.write(|w| finish_send(w, &cfg, d_id, &soft, None, vec![], 0, true, 60 * SEC)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.message(d_id).unwrap().unwrap().state, MessageState::Expired);
    assert_eq!(r.contact("d@example.com").unwrap().unwrap().due_at, Some(70 * SEC));
}

#[test]
fn messages_caught_mid_transaction_are_not_resent() {
    let cfg = cfg();
    let (_d, s) = setup(&["e@example.com"]);
    s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    let id = s.read().unwrap().ready_messages(0, 10).unwrap()[0];
    assert!(matches!(s.write(|w| begin_send(w, &cfg, id, 0)).unwrap(), BeginSend::Go(_)));
    // Crash here; on restart:
    assert_eq!(s.write(|w| recover_inflight(w, &cfg, 5 * SEC)).unwrap(), 1);
    let r = s.read().unwrap();
    assert_eq!(r.message(id).unwrap().unwrap().state, MessageState::Interrupted);
    assert_eq!(r.ready_messages(i64::MAX, 10).unwrap(), Vec::<u64>::new());
    assert_eq!(r.contact("e@example.com").unwrap().unwrap().due_at, Some(15 * SEC), "sequence goes on");
}

#[test]
fn manual_suppression_and_lifting() {
    let cfg = cfg();
    let (_d, s) = setup(&["f@example.com"]);
    s.write(|w| tick(w, &cfg, 0, 100)).unwrap();
    assert!(s.write(|w| suppress(w, "f@example.com", SuppressionReason::Manual, "asked by phone", SEC)).unwrap());
    assert!(send_all(&s, &cfg, 2 * SEC, ok()).is_empty());
    let lifted = s.write(|w| unsuppress(w, &cfg, "f@example.com", 3 * SEC)).unwrap();
    assert_eq!(lifted.map(|x| x.reason), Some(SuppressionReason::Manual));
    let c = s.read().unwrap().contact("f@example.com").unwrap().unwrap();
    assert_eq!(c.state, ContactState::Idle);
    assert!(c.due_at.is_some());
}

/// The daemon's view of time: a [`crate::clock::Clock`] on tokio's paused
/// clock, advanced by the test, drives the engine through a whole sequence
/// of days in no real time.
#[tokio::test(start_paused = true)]
async fn a_sequence_runs_on_paused_tokio_time() {
    use crate::clock::Clock;
    use std::time::Duration;

    let cfg = crate::config::testing::with_sequence(
        "",
        "wb",
        "14d",
        &[("0s", "miss-you"), ("7d", "whats-new"), ("3d", "last-chance")],
    );
    let (_d, s) = setup(&["p@example.com", "q@example.com"]);
    let clock = Clock::starting_at(0);
    let mut sent_at = Vec::new();
    // One pass every six simulated hours for 30 days, as the daemon's tick would.
    for _ in 0..(30 * 4) {
        let now = clock.now();
        s.write(|w| tick(w, &cfg, now, 100)).unwrap();
        for id in send_all(&s, &cfg, now, ok()) {
            let m = s.read().unwrap().message(id).unwrap().unwrap();
            sent_at.push((m.email, m.step, now / 3_600_000));
        }
        if now == 8 * 24 * 3_600_000 {
            // q buys something on day 8, after step 2 went out on day 7.
            s.write(|w| record_event(w, &cfg, &Event::new("q@example.com", "purchase", now), false)).unwrap();
        }
        tokio::time::advance(Duration::from_secs(6 * 3_600)).await;
    }
    let hours =
        |email: &str| -> Vec<i64> { sent_at.iter().filter(|(e, _, _)| e == email).map(|(_, _, h)| *h).collect() };
    assert_eq!(hours("p@example.com"), vec![0, 7 * 24, 10 * 24], "steps at day 0, 7 and 10");
    assert_eq!(hours("q@example.com"), vec![0, 7 * 24], "q reactivated before the last chance");
    let r = s.read().unwrap();
    assert_eq!(r.suppression("p@example.com").unwrap().map(|x| x.reason), Some(SuppressionReason::Unengaged));
    assert!(matches!(r.contact("p@example.com").unwrap().unwrap().state, ContactState::Sunset { .. }));
    assert!(matches!(
        r.contact("q@example.com").unwrap().unwrap().state,
        ContactState::Reactivated { after_step: 2, .. }
    ));
    assert_eq!(r.suppression("q@example.com").unwrap(), None);
    let sunset_day =
        r.history("p@example.com").unwrap().iter().find(|h| h.text.starts_with("sunset")).map(|h| h.at / 86_400_000);
    assert_eq!(sunset_day, Some(24), "grace of 14 days after the final message on day 10");
}

#[test]
fn due_times_follow_changed_lapse_rules() {
    let mut cfg = cfg();
    let fp = rules_fingerprint(&cfg);
    // The set's order (a new hash state) does not matter; the rules do.
    let mut same = cfg.clone();
    same.lapse.engagement_kinds = cfg.lapse.engagement_kinds.iter().cloned().collect();
    assert_eq!(rules_fingerprint(&same), fp);
    let (_d, s) = setup(&["a@example.com", "b@example.com", "c@example.com"]);
    let day = 86_400_000;
    s.write(|w| {
        for (email, engaged) in [("a@example.com", 10 * day), ("b@example.com", 20 * day)] {
            let old = w.contact(email)?.unwrap();
            let mut c = old.clone();
            c.last_engaged_at = Some(engaged);
            w.put_contact(Some(&old), &c)?;
        }
        engine_suppress(w, "c@example.com")
    })
    .unwrap();
    cfg.lapse.inactive_after = std::time::Duration::from_secs(400 * 86_400);
    assert_ne!(rules_fingerprint(&cfg), fp);
    let emails: Vec<String> = ["a@example.com", "b@example.com", "c@example.com"].map(String::from).to_vec();
    assert_eq!(s.write(|w| recompute_due(w, &cfg, &emails)).unwrap(), 2);
    let r = s.read().unwrap();
    assert_eq!(r.contact("a@example.com").unwrap().unwrap().due_at, Some(410 * day));
    assert_eq!(r.contact("b@example.com").unwrap().unwrap().due_at, Some(420 * day));
    assert_eq!(r.contact("c@example.com").unwrap().unwrap().due_at, None, "suppressed: never due");
    drop(r);
    // Done once: the same rules change nothing.
    assert_eq!(s.write(|w| recompute_due(w, &cfg, &emails)).unwrap(), 0);
}

fn engine_suppress(w: &mut crate::store::Writer<'_>, email: &str) -> Result<(), crate::store::StoreError> {
    suppress(w, email, SuppressionReason::Manual, "", 0).map(|_| ())
}

#[test]
fn a_holdout_share_enters_as_control_is_sent_nothing_and_is_measured() {
    let mut cfg = cfg();
    cfg.sequences[0].holdout = 0.3;
    let emails: Vec<String> = (0..400).map(|i| format!("c{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let (_d, s) = setup(&refs);
    s.write(|w| tick(w, &cfg, SEC, 1_000)).unwrap();
    let r = s.read().unwrap();
    let counts = r.counts().unwrap();
    let control = counts.get("kpi:control:entered:wb");
    let mailed = counts.get("kpi:entered:wb");
    assert_eq!(control + mailed, 400);
    // Binomial(400, 0.3): mean 120, sd 9.2; four sd either way.
    assert!((83..=157).contains(&control), "{control} of 400 in control");
    let queued = r.ready_messages(SEC, 1_000).unwrap();
    assert_eq!(queued.len() as i64, mailed, "control contacts are sent nothing");
    let mut in_control = Vec::new();
    r.for_each_contact(|c| {
        if matches!(c.state, ContactState::Active { control: true, .. }) {
            in_control.push(c.email.clone());
        }
    })
    .unwrap();
    assert_eq!(in_control.len() as i64, control);
    for m in &queued {
        assert!(!in_control.contains(&r.message(*m).unwrap().unwrap().email));
    }
    drop(r);
    // The split is stable: the same addresses again fall the same way.
    let key = s.read().unwrap().blob("secret:holdout-key").unwrap().unwrap();
    for e in &in_control {
        assert!(crate::domain::sequence::in_holdout(&key, e, "wb", 0.3));
    }
    // A control contact who buys is a control reactivation.
    let buyer = in_control[0].clone();
    let res = s.write(|w| record_event(w, &cfg, &Event::new(buyer.as_str(), "purchase", 2 * SEC), false)).unwrap();
    assert_eq!(res, EventResult::Reactivated);
    let reacts = s.read().unwrap().reactivations().unwrap();
    assert_eq!((reacts.len(), reacts[0].control, reacts[0].after_step), (1, true, 0));
    // The others leave after the span (steps 0s + 10s, grace 30s), unsuppressed.
    let after = SEC + 41 * SEC;
    s.write(|w| tick(w, &cfg, after, 1_000)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.counts().unwrap().get("kpi:control:finished:wb"), control - 1);
    let left = r.contact(&in_control[1]).unwrap().unwrap();
    assert_eq!(left.state, ContactState::Idle);
    assert!(r.suppression(&in_control[1]).unwrap().is_none(), "control contacts are never sunset");
}

/// A sequence `wb` (grace 30s) sent Monday to Friday, 09:00–18:00 in
/// Berlin, with `steps`.
fn office_hours_in_berlin(steps: &str) -> Config {
    let head = "[[sequence]]\nname = \"wb\"\ngrace = \"30s\"\n\
                send_window = { days = \"mon-fri\", hours = \"09:00-18:00\", time_zone = \"Europe/Berlin\" }\n";
    Config::from_toml("test", &format!("{head}{steps}")).unwrap()
}

#[test]
fn a_message_due_outside_the_send_window_waits_for_its_start_and_spacing_counts_from_the_send() {
    // Wednesday 2026-06-03 23:00 and Thursday 09:00 in Berlin.
    const WED_23_00: Millis = 1_780_520_400_000;
    const THU_09_00: Millis = 1_780_556_400_000;
    let cfg = office_hours_in_berlin(
        "[[sequence.step]]\nafter = \"0s\"\nsubject = \"a\"\ntemplate = \"miss-you\"\n\
         [[sequence.step]]\nafter = \"10s\"\nsubject = \"b\"\ntemplate = \"last-chance\"\nfinal = true\n",
    );
    let (_d, s) = setup(&["a@example.com"]);
    let r = s.write(|w| tick(w, &cfg, WED_23_00, 100)).unwrap();
    assert_eq!(r.queued.len(), 1, "queued at once");
    let reader = s.read().unwrap();
    assert!(reader.ready_messages(THU_09_00 - 1, 10).unwrap().is_empty(), "not ready in the night");
    assert_eq!(reader.ready_messages(THU_09_00, 10).unwrap(), r.queued, "ready when the window opens");
    assert_eq!(reader.next_wakeup().unwrap(), Some(THU_09_00));
    let history = reader.history("a@example.com").unwrap();
    assert!(history.iter().any(|h| h.text.contains("held for the send window until 2026-06-04T07:00:00Z")));
    drop(reader);
    assert_eq!(send_all(&s, &cfg, THU_09_00, ok()).len(), 1);
    let due = |t| s.write(|w| tick(w, &cfg, t, 100)).unwrap().queued.len();
    assert_eq!(due(THU_09_00 + 9 * SEC), 0, "the spacing counts from the send");
    assert_eq!(due(THU_09_00 + 10 * SEC), 1);
}

#[test]
fn a_retry_due_outside_the_send_window_waits_for_its_start() {
    // Thursday 2026-06-04 17:59:30 Berlin: deferred, the retry due at
    // 18:00:30 waits for Friday 09:00.
    const THU_17_59_30: Millis = 1_780_588_770_000;
    const FRI_09_00: Millis = 1_780_642_800_000;
    let cfg = office_hours_in_berlin(
        "[[sequence.step]]\nafter = \"0s\"\nsubject = \"a\"\ntemplate = \"miss-you\"\nfinal = true\n",
    );
    let (_d, s) = setup(&["a@example.com"]);
    let queued = s.write(|w| tick(w, &cfg, THU_17_59_30, 100)).unwrap().queued;
    assert_eq!(send_all(&s, &cfg, THU_17_59_30, Attempt::TempFail { reply: "451 later".into() }), queued);
    let r = s.read().unwrap();
    assert!(r.ready_messages(FRI_09_00 - 1, 10).unwrap().is_empty(), "no retry in the night");
    assert_eq!(r.ready_messages(FRI_09_00, 10).unwrap(), queued, "retried when the window opens");
    let history = r.history("a@example.com").unwrap();
    assert!(history.iter().any(|h| h.text.contains("retry held for the send window until 2026-06-05T07:00:00Z")));
}

#[test]
fn a_promoted_variant_goes_to_every_new_contact_only_when_the_step_promotes() {
    let toml = |promote: bool| {
        format!(
            "[[sequence]]\nname = \"wb\"\ngrace = \"30s\"\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"a\"\n\
             template = \"miss-you\"\nfinal = true\nauto_promote = {promote}\n[[sequence.step.variant]]\nname = \"a\"\n\
             [[sequence.step.variant]]\nname = \"b\"\n"
        )
    };
    let variants = |s: &Store, ids: &[u64]| -> Vec<String> {
        let r = s.read().unwrap();
        ids.iter().map(|id| r.message(*id).unwrap().unwrap().variant.unwrap()).collect()
    };
    for promote in [true, false] {
        let cfg = Config::from_toml("test", &toml(promote)).unwrap();
        let first: Vec<String> = (0..40).map(|i| format!("f{i}@example.com")).collect();
        let (_d, s) = setup(&first.iter().map(String::as_str).collect::<Vec<_>>());
        let before = variants(&s, &s.write(|w| tick(w, &cfg, 0, 100)).unwrap().queued);
        assert!(before.contains(&"a".to_string()) && before.contains(&"b".to_string()), "{before:?}");
        assert!(s.write(|w| promote_variant(w, "wb", 0, "b")).unwrap());
        assert!(!s.write(|w| promote_variant(w, "wb", 0, "a")).unwrap(), "promoted once, never changed");
        s.write(|w| {
            for i in 0..40 {
                let mut c = Contact::new(format!("n{i}@example.com"), 0);
                c.due_at = Some(0);
                w.put_contact(None, &c)?;
            }
            Ok(())
        })
        .unwrap();
        let after = variants(&s, &s.write(|w| tick(w, &cfg, SEC, 100)).unwrap().queued);
        assert_eq!(after.len(), 40);
        let all_b = after.iter().all(|v| v == "b");
        assert_eq!(all_b, promote, "auto_promote = {promote}: {after:?}");
    }
}
