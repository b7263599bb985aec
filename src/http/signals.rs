//! The machine-signals data file (`config/machine-signals.toml`): proxy
//! networks, user-agent rules and timing thresholds, parsed into the form
//! the classifier ([`super::classify`]) matches against quickly.
//!
//! The file is data an operator updates (a new scanner's agent string, a
//! provider's published egress list), so every mistake in it is reported
//! with the key and the fix, like any other configuration error.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::config::units::HumanDuration;
use crate::domain::Origin;

/// The signals file shipped with winback, used when the configured default
/// path does not exist (e.g. a daemon started from another directory).
pub const EMBEDDED_SIGNALS: &str = include_str!("../../config/machine-signals.toml");

/// A problem in the signals file: the key and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SignalsError {
    /// Like `[apple] networks[3]` or `agent[2].pattern`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> SignalsError {
    SignalsError { key: key.into(), message: message.into() }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignals {
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    apple: RawApple,
    #[serde(default, rename = "agent")]
    agents: Vec<RawAgent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    open_min_after_send: Option<HumanDuration>,
    click_min_after_send: Option<HumanDuration>,
    click_burst_window: Option<HumanDuration>,
    click_burst_links: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApple {
    #[serde(default)]
    networks: Vec<String>,
    networks_file: Option<PathBuf>,
    #[serde(default)]
    user_agents: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: String,
    pattern: String,
    origin: Origin,
}

/// Timing thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Opens sooner than this after sending are machine opens.
    pub open_min_after_send: Duration,
    /// Clicks sooner than this after sending are machine clicks.
    pub click_min_after_send: Duration,
    /// Window in which several different links clicked make a burst.
    pub click_burst_window: Duration,
    /// Different links within the window (this click included) that make a burst.
    pub click_burst_links: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            open_min_after_send: Duration::from_secs(2),
            click_min_after_send: Duration::from_secs(10),
            click_burst_window: Duration::from_secs(1),
            click_burst_links: 2,
        }
    }
}

/// One user-agent rule.
#[derive(Debug, Clone)]
pub struct AgentRule {
    /// Name reported as the deciding signal.
    pub name: String,
    /// Case-insensitive pattern.
    pub pattern: Regex,
    /// What a match decides.
    pub origin: Origin,
}

/// A set of IP networks with logarithmic lookup: ranges sorted and merged,
/// so even a provider's list of tens of thousands of prefixes is cheap.
/// IPv4 ranges are kept apart from IPv6 ones (both as `u128`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSet {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl NetSet {
    /// Builds the set from networks.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for n in nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()).into(), u32::from(n.broadcast()).into())),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        NetSet { v4: merge(v4), v6: merge(v6) }
    }

    /// Whether the address is in one of the networks. IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => lookup(&self.v4, u32::from(a).into()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => lookup(&self.v4, u32::from(v4).into()),
                None => lookup(&self.v6, u128::from(a)),
            },
        }
    }

    /// Number of merged ranges (for logs).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn merge(mut r: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    r.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn lookup(ranges: &[(u128, u128)], x: u128) -> bool {
    // The last range starting at or below x is the only candidate.
    let i = ranges.partition_point(|&(lo, _)| lo <= x);
    i > 0 && ranges.get(i - 1).is_some_and(|&(_, hi)| x <= hi)
}

/// The parsed signals.
#[derive(Debug, Clone)]
pub struct Signals {
    /// Timing thresholds.
    pub timing: Timing,
    /// Apple Mail Privacy Protection proxy networks (opens only).
    pub apple_networks: NetSet,
    /// Apple proxy user agents (opens only).
    pub apple_agents: Vec<Regex>,
    /// User-agent rules, in file order.
    pub agents: Vec<AgentRule>,
}

impl Default for Signals {
    /// The shipped signals.
    fn default() -> Self {
        Signals::parse(EMBEDDED_SIGNALS, Path::new(".")).unwrap_or_else(|_| Signals::empty())
    }
}

impl Signals {
    /// No signals at all: everything without evidence is unknown.
    pub fn empty() -> Self {
        Signals {
            timing: Timing::default(),
            apple_networks: NetSet::default(),
            apple_agents: Vec::new(),
            agents: vec![],
        }
    }

    /// Reads a signals file; relative `networks_file` paths are taken
    /// relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self, SignalsError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| err("file", format!("cannot read {}: {e}", path.display())))?;
        Signals::parse(&text, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses the file's text; `dir` resolves relative `networks_file` paths.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, SignalsError> {
        let raw: RawSignals = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            err(line.map_or_else(|| "syntax".into(), |l| format!("line {l}")), e.message().to_string())
        })?;
        let t = raw.timing;
        let d = Timing::default();
        let timing = Timing {
            open_min_after_send: t.open_min_after_send.map_or(d.open_min_after_send, |v| v.0),
            click_min_after_send: t.click_min_after_send.map_or(d.click_min_after_send, |v| v.0),
            click_burst_window: t.click_burst_window.map_or(d.click_burst_window, |v| v.0),
            click_burst_links: t.click_burst_links.unwrap_or(d.click_burst_links),
        };
        if timing.click_burst_links < 2 {
            return Err(err(
                "[timing] click_burst_links",
                "must be at least 2 (one click alone is never a burst); raise it or set click_burst_window = \"0s\" to disable bursts",
            ));
        }

        let mut nets = Vec::new();
        for (i, n) in raw.apple.networks.iter().enumerate() {
            nets.push(parse_net(n).ok_or_else(|| {
                err(format!("[apple] networks[{i}]"), format!("`{n}` is not a network; write it like `17.0.0.0/8`"))
            })?);
        }
        if let Some(f) = &raw.apple.networks_file {
            let path = if f.is_absolute() { f.clone() } else { dir.join(f) };
            nets.extend(read_network_csv(&path)?);
        }
        let mut apple_agents = Vec::new();
        for (i, p) in raw.apple.user_agents.iter().enumerate() {
            apple_agents.push(compile(p, &format!("[apple] user_agents[{i}]"))?);
        }
        let mut agents = Vec::new();
        for (i, a) in raw.agents.into_iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(err(format!("agent[{i}].name"), "give the rule a name; it is reported as the signal"));
            }
            let pattern = compile(&a.pattern, &format!("agent[{i}] ({}).pattern", a.name))?;
            agents.push(AgentRule { name: a.name, pattern, origin: a.origin });
        }
        Ok(Signals { timing, apple_networks: NetSet::new(nets), apple_agents, agents })
    }
}

/// `a.b.c.d/n`, `x::/n`, or a bare address (a single host).
fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from)).map(|n| n.trunc())
}

fn compile(pattern: &str, key: &str) -> Result<Regex, SignalsError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| err(key, format!("not a valid regular expression: {e}")))
}

/// A CSV whose first column is a network (Apple's published egress list
/// has this shape); `#` comments and blank lines are skipped.
fn read_network_csv(path: &Path) -> Result<Vec<IpNet>, SignalsError> {
    let key = "[apple] networks_file";
    let text = std::fs::read_to_string(path).map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let first = line.split(',').next().unwrap_or("").trim();
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        out.push(
            parse_net(first)
                .ok_or_else(|| err(key, format!("{} line {}: `{first}` is not a network", path.display(), n + 1)))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn net_set_merges_and_looks_up() {
        let set = NetSet::new(
            ["10.0.0.0/24", "10.0.1.0/24", "192.0.2.7/32", "2001:db8::/32"].iter().map(|s| s.parse().unwrap()),
        );
        assert_eq!(set.len(), 3, "adjacent /24s merge");
        assert!(set.contains(ip("10.0.1.255")));
        assert!(!set.contains(ip("10.0.2.0")));
        assert!(set.contains(ip("192.0.2.7")));
        assert!(!set.contains(ip("192.0.2.8")));
        assert!(!set.contains(ip("9.255.255.255")));
        assert!(set.contains(ip("2001:db8:1::1")));
        assert!(set.contains(ip("::ffff:10.0.0.5")), "mapped v4");
        assert!(!NetSet::default().contains(ip("10.0.0.1")));
        let all = NetSet::new(["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
        assert!(all.contains(ip("255.255.255.255")) && all.contains(ip("ffff::1")));
    }

    #[test]
    fn shipped_file_parses() {
        let s = Signals::parse(EMBEDDED_SIGNALS, Path::new(".")).unwrap();
        assert!(s.apple_networks.contains(ip("17.58.1.2")));
        assert!(!s.agents.is_empty());
        assert_eq!(s.timing.click_burst_links, 2);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Signals::parse("[apple]\nnetworks = [\"17.0.0.0/8\", \"nope\"]", Path::new(".")).unwrap_err();
        assert_eq!(e.key, "[apple] networks[1]");
        let e = Signals::parse("[[agent]]\nname = \"x\"\npattern = \"(\"\norigin = \"machine\"", Path::new("."))
            .unwrap_err();
        assert_eq!(e.key, "agent[0] (x).pattern");
        let e =
            Signals::parse("[[agent]]\nname = \"x\"\npattern = \"a\"\norigin = \"robot\"", Path::new(".")).unwrap_err();
        assert!(e.key.starts_with("line"), "{e}");
        let e = Signals::parse("[timing]\nclick_burst_links = 1", Path::new(".")).unwrap_err();
        assert_eq!(e.key, "[timing] click_burst_links");
        let e = Signals::parse("[timing]\nsurprise = 1", Path::new(".")).unwrap_err();
        assert!(e.message.contains("surprise"), "{e}");
    }

    #[test]
    fn networks_file_is_read_relative_to_the_signals_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("egress.csv"),
            "# prefix,cc,region,city\n172.224.226.0/27,GB,GB-EN,London,\n\n2a02:26f7:b3c0:4000::/64,GB,,,\n",
        )
        .unwrap();
        let s = Signals::parse("[apple]\nnetworks_file = \"egress.csv\"", dir.path()).unwrap();
        assert!(s.apple_networks.contains(ip("172.224.226.9")));
        assert!(s.apple_networks.contains(ip("2a02:26f7:b3c0:4000::5")));
        std::fs::write(dir.path().join("egress.csv"), "bad,GB\n").unwrap();
        let e = Signals::parse("[apple]\nnetworks_file = \"egress.csv\"", dir.path()).unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }
}
