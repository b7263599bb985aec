//! The state machine with `[lapse] mode = "cadence"`, an at-risk stage
//! and sequences that take segments.

use super::*;
use crate::domain::event::Origin;

const DAY: Millis = 86_400_000;
const T0: Millis = 20_000 * DAY;

fn cfg(extra: &str) -> Config {
    let toml = format!(
        r#"[lapse]
mode = "cadence"
factor = 3
min = "10d"
max = "400d"
inactive_after = "90d"
reentry_after = "180d"
at_risk_factor = 1.5
{extra}
[[segment]]
name = "big"
when = "total_spent >= 100"

[[sequence]]
name = "keep"
stage = "at_risk"
grace = "5d"
[[sequence.step]]
after = "0s"
subject = "s"
template = "miss-you"
final = true

[[sequence]]
name = "vip"
segments = ["big"]
grace = "5d"
[[sequence.step]]
after = "0s"
subject = "s"
template = "miss-you"
final = true

[[sequence]]
name = "rest"
grace = "5d"
[[sequence.step]]
after = "0s"
subject = "s"
template = "last-chance"
final = true
"#
    );
    Config::from_toml("test", &toml).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// A buyer with orders every `gap` days up to T0, each worth `value`.
fn buyer(email: &str, gap: i64, orders: i64, value: f64, cfg: &Config) -> Contact {
    let mut c = Contact::new(email, T0 - 3_000 * DAY);
    for k in (0..orders).rev() {
        let mut e = Event::new(email, "purchase", T0 - k * gap * DAY);
        e.value = Some(value);
        e.origin = Origin::Human;
        c = on_event(&c, &e, cfg).contact;
    }
    c
}

#[test]
fn cadence_lapses_each_buyer_by_its_own_rhythm() {
    let cfg = cfg("");
    let weekly = buyer("w@example.com", 7, 10, 5.0, &cfg);
    let monthly = buyer("m@example.com", 30, 10, 5.0, &cfg);
    let yearly = buyer("y@example.com", 365, 4, 5.0, &cfg);
    let once = buyer("o@example.com", 1, 1, 5.0, &cfg);
    // The typical gap comes from a √2-wide bucket: 3 × ~7 days, 3 × ~30
    // days (within the bounds), the yearly one capped at 400 days, the
    // one-time buyer on the fixed 90 days.
    let lapse = |c: &Contact| (lapse_at(c, &cfg) - T0) as f64 / DAY as f64;
    assert!((14.0..=30.0).contains(&lapse(&weekly)), "{}", lapse(&weekly));
    assert!((60.0..=130.0).contains(&lapse(&monthly)), "{}", lapse(&monthly));
    assert_eq!(lapse(&yearly), 400.0);
    assert_eq!(lapse(&once), 90.0);
}

#[test]
fn at_risk_then_lapsed_with_segments_choosing_the_sequence() {
    let cfg = cfg("");
    let c = buyer("w@example.com", 7, 10, 20.0, &cfg);
    let risk = at_risk_at(&c, &cfg).expect("at risk before lapse");
    assert_eq!(idle_due(&c, &cfg), Some(risk));
    assert!(risk < lapse_at(&c, &cfg));

    // At risk: the retention sequence, which ends without sunset.
    let out = on_due(&c, false, &cfg, risk);
    assert!(matches!(&out.contact.state, ContactState::Active { sequence, .. } if sequence == "keep"));
    assert_eq!(out.contact.customer.retention_at, Some(risk));
    let mut c = out.contact;
    let out = on_due(&c, false, &cfg, risk);
    assert_eq!(out.send, Some(("keep".into(), 0)));
    c = out.contact;
    if let ContactState::Active { awaiting, .. } = &mut c.state {
        *awaiting = Some(1);
    }
    c = on_message_settled(&c, 1, Settled::Sent, &cfg, risk).contact;
    let end = c.due_at.unwrap();
    let out = on_due(&c, false, &cfg, end);
    assert_eq!(out.suppress, None, "a retention sequence never sunsets");
    assert_eq!(out.contact.state, ContactState::Idle);
    assert_eq!(out.contact.due_at, Some(lapse_at(&out.contact, &cfg)), "next: the lapse, not at risk again");

    // Lapsed: total spent 200 → the `big` segment's sequence.
    let lapsed = out.contact.due_at.unwrap();
    let out = on_due(&out.contact, false, &cfg, lapsed);
    assert!(matches!(&out.contact.state, ContactState::Active { sequence, .. } if sequence == "vip"));
    assert_eq!(out.contact.customer.segment.as_deref(), Some("big"));

    // A small spender goes to the catch-all.
    let small = buyer("s@example.com", 7, 10, 1.0, &cfg);
    let (seq, seg) = pick_sequence(&small, &cfg, Stage::Lapsed, T0 + 100 * DAY).unwrap();
    assert_eq!((seq.name.as_str(), seg), ("rest", None));
}

#[test]
fn a_new_purchase_moves_the_lapse_and_reopens_the_at_risk_stage() {
    let cfg = cfg("");
    let mut c = buyer("w@example.com", 7, 10, 20.0, &cfg);
    c.customer.retention_at = Some(T0 + 5 * DAY);
    assert_eq!(at_risk_at(&c, &cfg), None, "retention already tried since the last order");
    let before = lapse_at(&c, &cfg);
    let e = Event::new("w@example.com", "purchase", T0 + 7 * DAY);
    let c = on_event(&c, &e, &cfg).contact;
    assert_eq!(lapse_at(&c, &cfg), before + 7 * DAY);
    assert!(at_risk_at(&c, &cfg).is_some());
}

#[test]
fn configuration_errors_name_the_key_and_column() {
    let bad = |extra: &str| Config::from_toml("t.toml", extra).map(|_| ()).expect_err("refused").to_string();
    let e = bad("[[segment]]\nname = \"x\"\nwhen = \"clv >= 200 and p_alvie < 0.3\"\n");
    assert!(e.contains("segment[0] (x) when: at column 16: unknown name `p_alvie`"), "{e}");
    let e = bad("[lapse]\nmode = \"sometimes\"\n");
    assert!(e.contains("[lapse] mode"), "{e}");
    let e = bad("[lapse]\nmode = \"cadence\"\nfactor = 2\nat_risk_factor = 2.5\n");
    assert!(e.contains("[lapse] at_risk_factor"), "{e}");
    let e = bad(
        "[[sequence]]\nname = \"a\"\ngrace = \"1d\"\nsegments = [\"nobody\"]\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"s\"\ntemplate = \"miss-you\"\nfinal = true\n",
    );
    assert!(e.contains("sequence[0] (a) segments") && e.contains("`nobody`"), "{e}");
    let e = bad(
        "[[sequence]]\nname = \"a\"\ngrace = \"1d\"\nstage = \"later\"\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"s\"\ntemplate = \"miss-you\"\nfinal = true\n",
    );
    assert!(e.contains("sequence[0] (a) stage"), "{e}");
    // RFM segment names are segments too.
    let ok = "[[sequence]]\nname = \"a\"\ngrace = \"1d\"\nsegments = [\"can't lose them\"]\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"s\"\ntemplate = \"miss-you\"\nfinal = true\n";
    assert!(Config::from_toml("t.toml", ok).is_ok());
}

#[test]
fn lapse_modes_segments_and_stages_are_part_of_the_rules() {
    let base = crate::engine::rules_fingerprint(&cfg(""));
    assert_eq!(base, crate::engine::rules_fingerprint(&cfg("")));
    let other = |from: &str, to: &str| {
        let mut c = cfg("");
        match (from, to) {
            ("factor", _) => {
                c.lapse.mode = lapse::LapseMode::Cadence {
                    factor: 4.0,
                    min: std::time::Duration::ZERO,
                    max: std::time::Duration::MAX,
                }
            }
            ("at_risk", _) => c.lapse.at_risk_factor = Some(2.0),
            ("stage", _) => c.sequences[1].stage = Stage::AtRisk,
            ("segments", _) => c.sequences[2].segments = vec!["big".into()],
            _ => c.customers.segments[0].source = to.into(),
        }
        crate::engine::rules_fingerprint(&c)
    };
    for (k, v) in [("factor", ""), ("at_risk", ""), ("stage", ""), ("segments", ""), ("when", "orders > 9")] {
        assert_ne!(other(k, v), base, "{k}");
    }
}
