//! Who opened or clicked: a person, a machine, or can't tell.
//!
//! A pure function of what the request shows (client address, user agent),
//! when the message left, the time now, and the clicks already seen on the
//! same message. The thresholds, networks and agent patterns come from the
//! signals file ([`super::signals`]); `docs/engagement.md` explains each.
//!
//! The order matters. Evidence of a machine wins over evidence of a person:
//! security gateways often present a browser's agent string, so a browser
//! agent only makes a person once every machine signal came up empty.

use std::net::IpAddr;

use crate::clock::{Millis, ms};
use crate::domain::Origin;

use super::signals::Signals;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The open pixel was fetched.
    Open,
    /// A tracked link was followed.
    Click {
        /// The link's index in the message.
        link: u16,
    },
}

/// An earlier click on the same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentClick {
    /// When.
    pub at: Millis,
    /// Which link.
    pub link: u16,
}

/// What the classifier looks at.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Open or click.
    pub action: Action,
    /// The client's address (after trusted proxies), if known.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<&'a str>,
    /// When the message was handed to the transport, if known.
    pub sent_at: Option<Millis>,
    /// Now.
    pub now: Millis,
    /// Earlier clicks on the same message (this one not included), any order.
    pub recent_clicks: &'a [RecentClick],
}

/// The signal that decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal<'s> {
    /// The open came from an Apple Mail Privacy Protection network.
    AppleNetwork,
    /// The open came with the Apple proxy's agent string.
    AppleAgent,
    /// A user-agent rule of the signals file, by name.
    Agent(&'s str),
    /// Too soon after sending for a person.
    SoonAfterSend {
        /// Milliseconds between sending and the request (negative if the
        /// request claims to predate sending, e.g. clock skew).
        after_ms: i64,
    },
    /// Several different links within the burst window.
    ClickBurst {
        /// Different links clicked in the window, this one included.
        links: usize,
    },
    /// No user agent at all and nothing else to go by.
    NoAgent,
    /// An agent no rule knows, and nothing else to go by.
    NoEvidence,
}

impl std::fmt::Display for Signal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signal::AppleNetwork => f.write_str("apple-network"),
            Signal::AppleAgent => f.write_str("apple-agent"),
            Signal::Agent(name) => write!(f, "agent:{name}"),
            Signal::SoonAfterSend { after_ms } => write!(f, "soon-after-send:{after_ms}ms"),
            Signal::ClickBurst { links } => write!(f, "click-burst:{links}-links"),
            Signal::NoAgent => f.write_str("no-agent"),
            Signal::NoEvidence => f.write_str("no-evidence"),
        }
    }
}

/// A verdict and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'s> {
    /// Person, machine or unknown.
    pub origin: Origin,
    /// What decided it.
    pub signal: Signal<'s>,
}

/// Classifies one open or click.
pub fn classify<'s>(signals: &'s Signals, obs: &Observation<'_>) -> Verdict<'s> {
    let machine = |signal| Verdict { origin: Origin::Machine, signal };
    let agent = obs.user_agent.map(str::trim).filter(|a| !a.is_empty());
    let is_open = obs.action == Action::Open;

    // Apple's proxy fetches images only; its relay networks also carry real
    // people's clicks (iCloud Private Relay), so the network says nothing
    // about a click.
    if is_open {
        if obs.ip.is_some_and(|ip| signals.apple_networks.contains(ip)) {
            return machine(Signal::AppleNetwork);
        }
        if agent.is_some_and(|a| signals.apple_agents.iter().any(|re| re.is_match(a))) {
            return machine(Signal::AppleAgent);
        }
    }
    let rule = |origin: Origin| {
        agent.and_then(|a| signals.agents.iter().find(|r| r.origin == origin && r.pattern.is_match(a)))
    };
    if let Some(r) = rule(Origin::Machine) {
        return machine(Signal::Agent(&r.name));
    }

    let t = &signals.timing;
    if let Some(sent) = obs.sent_at {
        let after_ms = obs.now.saturating_sub(sent);
        let min = if is_open { t.open_min_after_send } else { t.click_min_after_send };
        if after_ms < ms(min) {
            return machine(Signal::SoonAfterSend { after_ms });
        }
    }
    if let Action::Click { link } = obs.action {
        let window = ms(t.click_burst_window);
        let mut links: Vec<u16> = obs
            .recent_clicks
            .iter()
            .filter(|c| (obs.now - window..=obs.now).contains(&c.at))
            .map(|c| c.link)
            .chain([link])
            .collect();
        links.sort_unstable();
        links.dedup();
        if window > 0 && links.len() >= t.click_burst_links {
            return machine(Signal::ClickBurst { links: links.len() });
        }
    }

    if let Some(r) = rule(Origin::Human) {
        return Verdict { origin: Origin::Human, signal: Signal::Agent(&r.name) };
    }
    // A rule may also name "unknown" explicitly.
    if let Some(r) = rule(Origin::Unknown) {
        return Verdict { origin: Origin::Unknown, signal: Signal::Agent(&r.name) };
    }
    Verdict { origin: Origin::Unknown, signal: if agent.is_some() { Signal::NoEvidence } else { Signal::NoAgent } }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: Millis = 1_700_000_000_000;
    const CHROME: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
    const IPHONE: &str =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";

    fn obs<'a>(
        action: Action,
        ip: &str,
        ua: Option<&'a str>,
        after_s: i64,
        recent: &'a [RecentClick],
    ) -> Observation<'a> {
        Observation {
            action,
            ip: Some(ip.parse().unwrap()),
            user_agent: ua,
            sent_at: Some(SENT),
            now: SENT + after_s * 1000,
            recent_clicks: recent,
        }
    }

    fn run(o: Observation<'_>) -> (Origin, String) {
        let s = Signals::default();
        let v = classify(&s, &o);
        (v.origin, v.signal.to_string())
    }

    const CLICK: Action = Action::Click { link: 0 };

    #[test]
    fn apple_proxy_opens_are_machine_but_relay_clicks_are_not() {
        assert_eq!(run(obs(Action::Open, "17.58.63.1", Some(IPHONE), 3600, &[])).1, "apple-network");
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some("Mozilla/5.0"), 3600, &[])).1, "apple-agent");
        assert_eq!(run(obs(Action::Open, "::ffff:17.1.2.3", Some(CHROME), 3600, &[])).0, Origin::Machine);
        assert_eq!(run(obs(CLICK, "17.58.63.1", Some(IPHONE), 3600, &[])), (Origin::Human, "agent:browser".into()));
    }

    #[test]
    fn scanner_agents_are_machine_even_late() {
        let (o, s) = run(obs(CLICK, "198.51.100.1", Some("Mozilla/5.0 (compatible; Barracuda Sentinel)"), 86_400, &[]));
        assert_eq!((o, s.as_str()), (Origin::Machine, "agent:security-scanner"));
        assert_eq!(run(obs(CLICK, "198.51.100.1", Some("curl/8.5.0"), 86_400, &[])).1, "agent:http-library");
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some("Googlebot/2.1"), 86_400, &[])).0, Origin::Machine);
    }

    #[test]
    fn too_soon_after_sending_is_machine_even_with_a_browser_agent() {
        let (o, s) = run(obs(Action::Open, "198.51.100.1", Some(CHROME), 1, &[]));
        assert_eq!((o, s.as_str()), (Origin::Machine, "soon-after-send:1000ms"));
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some(CHROME), 3, &[])).0, Origin::Human);
        assert_eq!(run(obs(CLICK, "198.51.100.1", Some(CHROME), 9, &[])).0, Origin::Machine);
        assert_eq!(run(obs(CLICK, "198.51.100.1", Some(CHROME), 11, &[])).0, Origin::Human);
        assert_eq!(run(obs(CLICK, "198.51.100.1", Some(CHROME), -5, &[])).1, "soon-after-send:-5000ms");
    }

    #[test]
    fn several_links_in_one_second_are_a_burst_but_one_link_twice_is_not() {
        let now = SENT + 600_000;
        let other_link = [RecentClick { at: now - 400, link: 1 }];
        let (o, s) = run(obs(Action::Click { link: 0 }, "198.51.100.1", Some(CHROME), 600, &other_link));
        assert_eq!((o, s.as_str()), (Origin::Machine, "click-burst:2-links"));
        let same_link = [RecentClick { at: now - 400, link: 0 }];
        assert_eq!(run(obs(Action::Click { link: 0 }, "198.51.100.1", Some(CHROME), 600, &same_link)).0, Origin::Human);
        let long_ago = [RecentClick { at: now - 5_000, link: 1 }];
        assert_eq!(run(obs(Action::Click { link: 0 }, "198.51.100.1", Some(CHROME), 600, &long_ago)).0, Origin::Human);
        // Earlier clicks say nothing about an open.
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some(CHROME), 600, &other_link)).0, Origin::Human);
    }

    #[test]
    fn without_evidence_it_is_unknown() {
        assert_eq!(run(obs(Action::Open, "198.51.100.1", None, 600, &[])), (Origin::Unknown, "no-agent".into()));
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some("  "), 600, &[])).1, "no-agent");
        assert_eq!(run(obs(Action::Open, "198.51.100.1", Some("SomeMailer 1.0"), 600, &[])).1, "no-evidence");
        let o = Observation { sent_at: None, ip: None, ..obs(Action::Open, "198.51.100.1", Some(CHROME), 0, &[]) };
        assert_eq!(run(o).0, Origin::Human, "unknown send time: the agent decides");
        assert_eq!(
            run(obs(Action::Open, "198.51.100.1", Some("GoogleImageProxy"), 600, &[])).1,
            "agent:gmail-image-proxy"
        );
    }

    #[test]
    fn an_empty_signals_file_decides_nothing() {
        let s = Signals::empty();
        let v = classify(&s, &obs(Action::Open, "17.0.0.1", Some(CHROME), 600, &[]));
        assert_eq!(v, Verdict { origin: Origin::Unknown, signal: Signal::NoEvidence });
    }
}
