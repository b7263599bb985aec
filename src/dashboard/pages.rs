//! The pages: their paths and names, and rendering one from [`Inputs`]
//! through its minijinja template (built in, parsed once).

use std::sync::OnceLock;

use minijinja::Environment;
use serde_json::Value;

use super::view::{self, Inputs};

/// A dashboard page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Funnels, mailed against control, lift.
    Overview,
    /// Variants side by side.
    Variants,
    /// Revenue, reactivations and sends per day.
    Activity,
    /// Reputation over 30 days.
    Reputation,
    /// Suppressions, machine opens, DNS health.
    Hygiene,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 5] = [Page::Overview, Page::Variants, Page::Activity, Page::Reputation, Page::Hygiene];

    /// Its path.
    pub fn path(self) -> &'static str {
        match self {
            Page::Overview => "/",
            Page::Variants => "/variants",
            Page::Activity => "/activity",
            Page::Reputation => "/reputation",
            Page::Hygiene => "/hygiene",
        }
    }

    /// Its name in the navigation.
    pub fn name(self) -> &'static str {
        match self {
            Page::Overview => "Overview",
            Page::Variants => "Variants",
            Page::Activity => "Revenue and reactivations",
            Page::Reputation => "Reputation",
            Page::Hygiene => "Suppressions and DNS",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Page::Overview => "overview.html",
            Page::Variants => "variants.html",
            Page::Activity => "activity.html",
            Page::Reputation => "reputation.html",
            Page::Hygiene => "hygiene.html",
        }
    }

    fn context(self, inp: &Inputs) -> Value {
        match self {
            Page::Overview => view::overview(inp),
            Page::Variants => view::variants(inp),
            Page::Activity => view::activity(inp),
            Page::Reputation => view::reputation(inp),
            Page::Hygiene => view::hygiene(inp),
        }
    }
}

/// A page that could not be rendered (a bug in a template).
#[derive(Debug, thiserror::Error)]
#[error("dashboard template: {0}")]
pub struct RenderError(#[from] minijinja::Error);

const TEMPLATES: [(&str, &str); 7] = [
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("variants.html", include_str!("templates/variants.html")),
    ("activity.html", include_str!("templates/activity.html")),
    ("reputation.html", include_str!("templates/reputation.html")),
    ("hygiene.html", include_str!("templates/hygiene.html")),
];

fn env() -> Result<&'static Environment<'static>, RenderError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let built = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, text) in TEMPLATES {
            env.add_template(name, text).map_err(|e| e.to_string())?;
        }
        Ok(env)
    });
    built.as_ref().map_err(|e| RenderError(minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.clone())))
}

/// Renders `page` from `inputs` as a whole HTML document.
pub fn render(page: Page, inputs: &Inputs) -> Result<String, RenderError> {
    let mut ctx = page.context(inputs);
    if let Value::Object(m) = &mut ctx {
        m.insert("title".into(), page.name().into());
        m.insert("path".into(), page.path().into());
        m.insert("at".into(), crate::clock::rfc3339(inputs.report.at).into());
        let pages: Vec<Value> =
            Page::ALL.iter().map(|p| serde_json::json!({ "path": p.path(), "name": p.name() })).collect();
        m.insert("pages".into(), pages.into());
    }
    Ok(env()?.get_template(page.template())?.render(minijinja::Value::from_serialize(&ctx))?)
}

/// The sign-in page shown when a page needs the API token.
pub fn login(failed: bool) -> String {
    let note = if failed { "<p role=\"alert\">That token is not valid.</p>" } else { "" };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · winback</title>\
<style>body{{font-family:system-ui,sans-serif;color:#1a1a1a;margin:2rem}}label,input,button{{font-size:1rem}}</style></head>\
<body><main><h1>winback dashboard</h1>{note}<form method=\"post\" action=\"/login\">\
<label for=\"token\">API token</label> <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
<button type=\"submit\">Sign in</button></form>\
<p>The token is the one in <code>[http] api_token_file</code>; a client may send it as <code>Authorization: Bearer TOKEN</code> instead.</p></main></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dns::health::{Check, DnsHealthReport, Status};
    use crate::report::variants::{StepVariants, VariantKpi};
    use crate::report::{ControlKpi, Report, SequenceKpi, StepKpi, lift};
    use crate::reputation::{ProviderKey, ProviderLimits, Reputation, Signal, SignalKind};

    fn inputs() -> Inputs {
        let variant = |name: &str, sent, reactivated| VariantKpi {
            name: name.into(),
            weight: 1.0,
            sent,
            reactivated,
            reactivation_rate: Some(reactivated as f64 / sent as f64),
            ..VariantKpi::default()
        };
        let step = StepKpi {
            step: 1,
            sent: 200,
            delivered: 198,
            opens_human: 40,
            clicks: 12,
            reactivated: 20,
            variants: Some(Box::new(StepVariants {
                variants: vec![variant("a <plain>", 100, 8), variant("b", 100, 12)],
                best: Some("b".into()),
                recommendation: Some("b beats a on reactivation".into()),
                ..StepVariants::default()
            })),
            ..StepKpi::default()
        };
        let seq = SequenceKpi {
            name: "winter & spring".into(),
            entered: 200,
            reactivated: 20,
            reactivation_rate: Some(0.1),
            revenue: 1234.5,
            steps: vec![step],
            control: ControlKpi {
                entered: 50,
                reactivated: 2,
                reactivation_rate: Some(0.04),
                lift: lift::lift(20, 200, 2, 50),
                ..ControlKpi::default()
            },
            ..SequenceKpi::default()
        };
        let limits = ProviderLimits { default: "600/min".parse().unwrap(), overrides: Default::default() };
        let mut rep = Reputation::new(crate::reputation::config::ReputationConfig::default(), limits);
        let now = 20_000 * crate::store::rollup::DAY_MS;
        for _ in 0..300 {
            rep.record(now - 5, &Signal::new("shop.test", Some(ProviderKey::new("google")), SignalKind::Sent));
        }
        for _ in 0..30 {
            rep.record(now - 4, &Signal::new("shop.test", Some(ProviderKey::new("google")), SignalKind::Complaint));
        }
        let mut rollups = crate::store::rollup::Rollups::new();
        rollups.entry(19_999).or_default().insert("suppressed:complaint".into(), 3.0);
        rollups.entry(19_999).or_default().insert("event:open:machine".into(), 1.0);
        rollups.entry(19_999).or_default().insert("event:open:human".into(), 3.0);
        Inputs {
            report: Arc::new(Report { at: now, retention_window_days: 30.0, sequences: vec![seq] }),
            rollups,
            days: (19_990..=20_000).collect(),
            suppressed: vec![("complaint".into(), 3)],
            machine_open_share: Some(0.25),
            reputation: Some((rep.snapshot(now), rep.history(now))),
            dns: Some(DnsHealthReport {
                from_domain: "shop.test".into(),
                bounce_domain: "bounces.shop.test".into(),
                checks: vec![Check { name: "spf".into(), status: Status::Fail, detail: "no SPF record".into() }],
                listings: vec![],
                listed: false,
                pause_requested: false,
            }),
        }
    }

    #[test]
    fn every_page_renders_escaped_with_its_figures() {
        let inp = inputs();
        for page in Page::ALL {
            let html = render(page, &inp).unwrap_or_else(|e| panic!("{page:?}: {e}"));
            assert!(html.contains(&format!("<h1>{}</h1>", page.name())), "{page:?}");
            assert!(!html.contains("<script"), "{page:?}");
            assert!(!html.contains("winter & spring"), "{page:?}: names are escaped");
        }
        let o = render(Page::Overview, &inp).unwrap();
        assert!(o.contains(r#"data-k="sequences.0.entered" data-v="200.0">200<"#), "{o}");
        assert!(o.contains(r#"data-k="sequences.0.revenue" data-v="1234.5">1234.50<"#), "{o}");
        assert!(o.contains("winter &amp; spring"));
        assert!(o.contains(r#"class="errorbar""#), "the lift is drawn with error bars");
        let v = render(Page::Variants, &inp).unwrap();
        assert!(v.contains("a &lt;plain&gt;") && v.contains("b beats a on reactivation"), "{v}");
        let r = render(Page::Reputation, &inp).unwrap();
        assert!(r.contains("google") && r.contains("pause 0.3%"), "{r}");
        assert!(r.contains("level-pause"), "30 complaints in 300 pause sending: {r}");
        let h = render(Page::Hygiene, &inp).unwrap();
        assert!(h.contains("no SPF record") && h.contains("s-FAIL"), "{h}");
        assert!(h.contains("25.0%"), "the machine-open share: {h}");
        assert!(h.contains("<td>25%</td>"), "the day's machine share, 1 of 4 opens: {h}");
    }
}
