//! Text views of the customer model: the overview of `winback customers`,
//! what a refresh did, and a contact's lines in `winback contacts show`.

use std::fmt::Write as _;

use crate::clock::{Millis, rfc3339};
use crate::customers::Customer;
use crate::customers::overview::{Overview, SegmentRow};
use crate::customers::refresh::Refreshed;

fn money(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn rows(o: &mut String, title: &str, rows: &[SegmentRow]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o, "{title:<24} {:>9} {:>12} {:>12}", "customers", "revenue", "average CLV");
    for r in rows {
        let _ = writeln!(o, "  {:<22} {:>9} {:>12.2} {:>12}", r.name, r.customers, r.revenue, money(r.average_clv));
    }
}

/// `winback customers`.
pub fn overview(v: &Overview) -> String {
    let mut o = String::new();
    let b = &v.buyers;
    let _ = writeln!(
        o,
        "contacts {}, buyers {}, revenue {:.2}, average CLV {}",
        v.contacts,
        b.customers,
        b.revenue,
        money(b.average_clv)
    );
    let _ = writeln!(o, "lapsed {}, at risk {}", v.lapsed, v.at_risk);
    rows(&mut o, "RFM segment", &v.rfm);
    rows(&mut o, "segment", &v.segments);
    match &v.refreshed {
        Some(r) => {
            let _ = writeln!(o, "scores refreshed {}", rfc3339(r.at));
        }
        None => o += "scores not refreshed yet: winback customers refresh\n",
    }
    o
}

/// `winback customers refresh`.
pub fn refreshed(r: &Refreshed) -> String {
    let mut o = format!(
        "refreshed {}: {} contacts, {} buyers scored, {} due time(s) moved\n",
        rfc3339(r.at),
        r.contacts,
        r.buyers,
        r.due_changed
    );
    if let Some(b) = &r.bgnbd {
        let p = b.params;
        let _ = writeln!(o, "BG/NBD: r {:.4}  alpha {:.4}  a {:.4}  b {:.4}", p.r, p.alpha, p.a, p.b);
    }
    if let Some(m) = r.gamma_gamma.as_ref().and_then(|g| g.pooled_mean) {
        let _ = writeln!(o, "Gamma-Gamma: no spread between customers; population mean order value {m:.2}");
    } else if let Some(g) = &r.gamma_gamma {
        let p = g.params;
        let _ = writeln!(o, "Gamma-Gamma: p {:.4}  q {:.4}  gamma {:.4}", p.p, p.q, p.gamma);
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

/// A contact's customer lines.
pub fn contact(c: &Customer, now: Millis) -> String {
    let mut o = String::new();
    let p = &c.purchases;
    if !p.is_empty() {
        let days = |d: Option<f64>| d.map_or_else(|| "-".into(), |d| format!("{d:.1} days"));
        let _ = writeln!(
            o,
            "  orders:          {} (first {}, last {}), total {:.2}, average {}",
            p.orders,
            p.first.map_or_else(|| "-".into(), rfc3339),
            p.last.map_or_else(|| "-".into(), rfc3339),
            p.total,
            money(p.average_value())
        );
        let _ = writeln!(o, "  typical gap:     {} (mean {})", days(p.typical_gap_days()), days(p.mean_gap_days()));
        if let Some(last) = p.last {
            let _ = writeln!(o, "  since order:     {} days", (now - last).max(0) / 86_400_000);
        }
    }
    if let Some(s) = &c.scores {
        let _ = writeln!(
            o,
            "  scores:          R {} F {} M {} ({}), as of {}",
            s.r,
            s.f,
            s.m,
            s.rfm_segment.as_deref().unwrap_or("no named segment"),
            rfc3339(s.at)
        );
        let f = |v: Option<f64>, d: usize| v.map_or_else(|| "-".into(), |v| format!("{v:.d$}"));
        let _ = writeln!(
            o,
            "  P(alive):        {}  expected purchases {}  CLV {}",
            f(s.p_alive, 3),
            f(s.expected_purchases, 2),
            f(s.clv, 2)
        );
    }
    if let Some(seg) = &c.segment {
        let _ = writeln!(o, "  segment:         {seg}");
    }
    o
}
