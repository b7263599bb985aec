//! Per-variant figures on hand-made records, and the comparison against
//! values computed apart (Wilson limits and Newcombe's hybrid interval by
//! hand; the p-value agrees with the chi-square test without correction).

use super::*;
use crate::report::compute;

fn row(name: &str, sent: u64, reactivated: u64) -> VariantKpi {
    VariantKpi { name: name.into(), weight: 1.0, sent, reactivated, ..Default::default() }
}

#[test]
fn a_clear_winner_is_recommended_with_its_interval() {
    let v = compare(vec![row("a", 200, 30), row("b", 200, 12)], 0.02);
    assert_eq!((v.best.as_deref(), v.significant), (Some("a"), true));
    let l = v.variants[1].vs_best.expect("b against a");
    assert!(v.variants[0].vs_best.is_none());
    // 30/200 against 12/200: [0.030037, 0.151520]; chi-square 8.6193, p = 0.003326.
    assert!((l.absolute - 0.09).abs() < 1e-12);
    assert!((l.ci_low - 0.030_037).abs() < 1e-6 && (l.ci_high - 0.151_520).abs() < 1e-6, "{l:?}");
    assert!((l.p_value - 0.003_326).abs() < 1e-6, "{l:?}");
    let r = v.recommendation.expect("a recommendation");
    assert!(
        r.starts_with("send a: a beats b on reactivation: 15.0% vs 6.0%, +9.0 points, 95% CI [+3.0, +15.2]"),
        "{r}"
    );
    assert_eq!(v.needed_per_variant, None);
}

#[test]
fn without_significance_no_recommendation_but_a_sample_size() {
    let v = compare(vec![row("a", 200, 15), row("b", 200, 20), row("c", 0, 0)], 0.02);
    assert_eq!((v.best.as_deref(), v.significant, v.recommendation.as_deref()), (Some("b"), false, None));
    let l = v.variants[0].vs_best.unwrap();
    // 20/200 against 15/200: [-0.031634, 0.082301], p = 0.3763.
    assert!((l.ci_low + 0.031_634).abs() < 1e-6 && (l.ci_high - 0.082_301).abs() < 1e-6, "{l:?}");
    assert!((l.p_value - 0.376_293).abs() < 1e-6);
    // 10% against 8%: 3,213 per group (Fleiss, no continuity correction).
    assert_eq!(v.needed_per_variant, Some(3_213));
    assert!(v.variants[2].vs_best.is_none() && v.variants[2].reactivation_rate.is_none(), "nothing sent yet");
    let nothing = compare(vec![row("a", 0, 0), row("b", 0, 0)], 0.02);
    assert_eq!((nothing.best, nothing.significant), (None, false));
}

#[test]
fn each_variant_counts_its_own_messages_events_and_reactivations() {
    let toml = "[[sequence]]\nname = \"wb\"\ngrace = \"1d\"\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"s\"\n\
                template = \"miss-you\"\n[[sequence.step.variant]]\nname = \"a\"\n[[sequence.step.variant]]\n\
                name = \"b\"\nsubject = \"other\"\n[[sequence.step]]\nafter = \"1d\"\nsubject = \"t\"\n\
                template = \"last-chance\"\nfinal = true\n";
    let cfg = Config::from_toml("test", toml).unwrap();
    let msg = |id: u64, email: &str, step: u32, variant: Option<&str>| MessageRecord {
        variant: variant.map(String::from),
        ..crate::report::tests::msg(id, email, step, MessageState::Sent)
    };
    let messages = vec![
        msg(1, "p@x.com", 0, Some("a")),
        msg(2, "q@x.com", 0, Some("a")),
        msg(3, "r@x.com", 0, Some("b")),
        msg(4, "p@x.com", 1, None),
        msg(5, "r@x.com", 1, None),
    ];
    let ev = |email: &str, kind: &str, origin: Origin, message: Option<u64>, value: Option<f64>| Event {
        email: email.into(),
        kind: kind.into(),
        at: 10,
        origin,
        value,
        reference: None,
        message,
    };
    let events = vec![
        ev("p@x.com", "open", Origin::Human, Some(1), None),
        ev("p@x.com", "open", Origin::Machine, Some(1), None),
        ev("q@x.com", "click", Origin::Human, Some(2), None),
        ev("q@x.com", "complaint", Origin::Human, Some(2), None),
        ev("r@x.com", "click", Origin::Machine, Some(3), None),
        ev("r@x.com", "unsubscribe", Origin::Human, Some(3), None),
        ev("r@x.com", "bounce", Origin::Human, Some(3), None),
        ev("p@x.com", "purchase", Origin::Human, None, Some(25.0)),
    ];
    let reactivations = vec![
        // After step 2: counts for step 1's variant a.
        Reactivation { email: "p@x.com".into(), sequence: "wb".into(), after_step: 2, at: 5, control: false },
    ];
    let mut counts = Counts::default();
    counts.0.insert(promoted_counter("wb", 0, "a"), 1);
    let r = compute(&cfg, &counts, &messages, &events, &reactivations, 100);
    let v = r.sequences[0].steps[0].variants.as_deref().expect("step 1 has variants");
    assert!(r.sequences[0].steps[1].variants.is_none());
    let (a, b) = (&v.variants[0], &v.variants[1]);
    assert_eq!((a.sent, a.delivered, a.opens_human, a.clicks, a.complaints, a.unsubscribed), (2, 2, 1, 1, 1, 0));
    assert_eq!((b.sent, b.delivered, b.opens_human, b.clicks, b.complaints, b.unsubscribed), (1, 0, 0, 0, 0, 1));
    assert_eq!((a.reactivated, a.revenue, a.reactivation_rate), (1, 25.0, Some(0.5)));
    assert_eq!((b.reactivated, b.revenue), (0, 0.0));
    assert_eq!((v.best.as_deref(), v.promoted.as_deref()), (Some("a"), Some("a")));
    let text = r.render();
    assert!(text.contains("promoted: new contacts all get a"), "{text}");
}
