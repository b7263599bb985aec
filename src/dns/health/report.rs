//! The DNS health report: one [`Check`] per question, a blocklist
//! summary, and its three renderings (text, JSON via serde, Prometheus).

use std::fmt;

use serde::Serialize;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Pass,
    /// Works, but weaker than it should be (or could not be fully verified).
    Warn,
    /// Wrong: mail will be rejected, spam-foldered or bounces will be lost.
    Fail,
    /// The check could not run (DNS timeout, SERVFAIL): says nothing either way.
    Error,
}

impl Status {
    /// Upper-case label for the text report.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
        }
    }

    /// Numeric value for metrics: 0 pass, 1 warn, 2 fail, 3 error.
    pub fn metric(self) -> u8 {
        self as u8
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name: `spf`, `dkim`, `dmarc`, `dmarc-alignment`, `bounce-mx`,
    /// `fcrdns:IP`, `dnsbl:ZONE:SUBJECT`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// What was found and, when not passing, what to fix.
    pub detail: String,
}

impl Check {
    /// A check result.
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Check { name: name.into(), status, detail: detail.into() }
    }
}

/// One blocklist entry found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The listed IP or domain.
    pub subject: String,
    /// The blocklist zone.
    pub zone: String,
    /// The 127.x.y.z return codes.
    pub codes: Vec<String>,
    /// The zone's TXT explanation, if any.
    pub reason: Option<String>,
}

/// Everything `winback check-dns` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsHealthReport {
    /// `From:` domain checked.
    pub from_domain: String,
    /// Return-path (bounce) domain checked.
    pub bounce_domain: String,
    /// The checks in a fixed order.
    pub checks: Vec<Check>,
    /// Blocklist entries found.
    pub listings: Vec<Listing>,
    /// True when any blocklist lists a sending IP or one of our domains.
    pub listed: bool,
    /// True when listed and `[dns_check] pause_on_listing` asks to pause sending.
    pub pause_requested: bool,
}

/// Process exit code when every check passes or only warns.
pub const EXIT_OK: u8 = 0;
/// Process exit code when any check fails.
pub const EXIT_FAILED: u8 = 1;
/// Process exit code when nothing failed but some check could not run (sysexits EX_TEMPFAIL).
pub const EXIT_INCOMPLETE: u8 = 75;

impl DnsHealthReport {
    /// The worst status of all checks (`Pass` when there are none).
    pub fn worst(&self) -> Status {
        let has = |s| self.checks.iter().any(|c| c.status == s);
        if has(Status::Fail) {
            Status::Fail
        } else if has(Status::Error) {
            Status::Error
        } else if has(Status::Warn) {
            Status::Warn
        } else {
            Status::Pass
        }
    }

    /// 0 when nothing failed (warnings allowed), 1 when any check failed,
    /// 75 when nothing failed but some check could not run.
    pub fn exit_code(&self) -> u8 {
        match self.worst() {
            Status::Fail => EXIT_FAILED,
            Status::Error => EXIT_INCOMPLETE,
            Status::Pass | Status::Warn => EXIT_OK,
        }
    }

    /// The check with this name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Prometheus text exposition: one gauge per check (0 pass, 1 warn,
    /// 2 fail, 3 error), plus `listed` and `pause_requested`.
    pub fn prometheus(&self) -> String {
        let mut out = String::from(
            "# HELP winback_dns_check_status DNS health check status (0 pass, 1 warn, 2 fail, 3 error).\n\
             # TYPE winback_dns_check_status gauge\n",
        );
        for c in &self.checks {
            out.push_str(&format!(
                "winback_dns_check_status{{check=\"{}\"}} {}\n",
                escape_label(&c.name),
                c.status.metric()
            ));
        }
        out.push_str(&format!(
            "# HELP winback_dns_listed 1 when a blocklist lists a sending IP or domain.\n\
             # TYPE winback_dns_listed gauge\nwinback_dns_listed {}\n\
             # HELP winback_dns_pause_requested 1 when sending should pause because of a listing.\n\
             # TYPE winback_dns_pause_requested gauge\nwinback_dns_pause_requested {}\n",
            u8::from(self.listed),
            u8::from(self.pause_requested)
        ));
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl fmt::Display for DnsHealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "DNS health of {} (bounce domain {})", self.from_domain, self.bounce_domain)?;
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            writeln!(f, "{:<5} {:<width$}  {}", c.status.label(), c.name, c.detail)?;
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        writeln!(
            f,
            "{} passed, {} warnings, {} failed, {} could not run",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Error)
        )?;
        if self.listed {
            writeln!(
                f,
                "LISTED on a blocklist: {}",
                if self.pause_requested {
                    "sending should pause ([dns_check] pause_on_listing = true)"
                } else {
                    "sending continues ([dns_check] pause_on_listing = false)"
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[Status]) -> DnsHealthReport {
        DnsHealthReport {
            from_domain: "a.example".into(),
            bounce_domain: "b.example".into(),
            checks: statuses.iter().enumerate().map(|(i, s)| Check::new(format!("c{i}"), *s, "d")).collect(),
            listings: vec![],
            listed: false,
            pause_requested: false,
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(report(&[Status::Pass, Status::Warn]).exit_code(), EXIT_OK);
        assert_eq!(report(&[Status::Pass, Status::Error]).exit_code(), EXIT_INCOMPLETE);
        assert_eq!(report(&[Status::Error, Status::Fail]).exit_code(), EXIT_FAILED);
    }

    #[test]
    fn renderings() {
        let r = report(&[Status::Pass, Status::Fail]);
        let text = r.to_string();
        assert!(text.contains("PASS  c0"), "{text}");
        assert!(text.contains("1 passed, 0 warnings, 1 failed"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["checks"][1]["status"], "fail");
        let prom = r.prometheus();
        assert!(prom.contains("winback_dns_check_status{check=\"c1\"} 2\n"), "{prom}");
        assert!(prom.contains("winback_dns_listed 0\n"), "{prom}");
    }
}
