//! The `[dashboard]` section: where the read-only dashboard listens, how
//! old the KPIs it shows may be, how many days its time series span.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::units::HumanDuration;

/// `[dashboard]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDashboard {
    /// `ip:port`, or `""` / `"off"`.
    pub listen: Option<String>,
    /// How long computed KPIs are reused.
    pub refresh: Option<HumanDuration>,
    /// Days of history in the time series.
    pub days: Option<u32>,
}

/// `[dashboard]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Where the dashboard is served; `None`: nowhere. Never the public
    /// tracking listener.
    pub listen: Option<SocketAddr>,
    /// KPIs older than this are computed again at the next page view.
    pub refresh: Duration,
    /// Days in the daily charts (1 to 366).
    pub days: u32,
    /// Pages need the API token (`[http] api_token_file`): the address is
    /// not a loopback one.
    pub token_required: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig { listen: None, refresh: Duration::from_secs(60), days: 90, token_required: false }
    }
}

fn err(file: &str, key: &str, message: String) -> ConfigError {
    ConfigError { file: file.into(), key: key.into(), message }
}

/// Validates `[dashboard]`: absent, `""` or `"off"` turns it off; a
/// non-loopback address needs the API token, which every page then asks for.
pub fn validate(file: &str, raw: RawDashboard, api_token: Option<&str>) -> Result<DashboardConfig, ConfigError> {
    let d = DashboardConfig::default();
    let listen = match raw.listen.as_deref().map(str::trim) {
        None | Some("") | Some("off") => None,
        Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
            err(file, "[dashboard] listen", format!("`{s}` is not ip:port; write it like \"127.0.0.1:8026\""))
        })?),
    };
    let token_required = listen.is_some_and(|a| !a.ip().is_loopback());
    if token_required && api_token.is_none() {
        return Err(err(
            file,
            "[dashboard] listen",
            "a dashboard on an address other than loopback needs the API token: set [http] api_token_file, or listen on 127.0.0.1".into(),
        ));
    }
    let days = raw.days.unwrap_or(d.days);
    if !(1..=366).contains(&days) {
        return Err(err(file, "[dashboard] days", format!("{days}: write 1 to 366")));
    }
    Ok(DashboardConfig { listen, refresh: raw.refresh.map_or(d.refresh, |r| r.0), days, token_required })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str, token: Option<&str>) -> Result<DashboardConfig, ConfigError> {
        validate("t.toml", toml::from_str(t).unwrap(), token)
    }

    #[test]
    fn off_unless_named_and_loopback_needs_no_token() {
        assert_eq!(v("", None).unwrap().listen, None);
        assert_eq!(v("listen = \"\"", None).unwrap().listen, None);
        assert_eq!(v("listen = \"off\"", None).unwrap().listen, None);
        let c = v("listen = \"127.0.0.1:8026\"\nrefresh = \"5s\"\ndays = 30", None).unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:8026".parse().unwrap()));
        assert!(!c.token_required);
        assert_eq!((c.refresh, c.days), (Duration::from_secs(5), 30));
    }

    #[test]
    fn other_addresses_need_the_api_token() {
        let e = v("listen = \"0.0.0.0:8026\"", None).unwrap_err();
        assert_eq!(e.key, "[dashboard] listen");
        assert!(e.message.contains("api_token_file"), "{}", e.message);
        assert!(v("listen = \"0.0.0.0:8026\"", Some("t")).unwrap().token_required);
        assert_eq!(v("listen = \"localhost\"", None).unwrap_err().key, "[dashboard] listen");
        assert_eq!(v("days = 0", None).unwrap_err().key, "[dashboard] days");
    }
}
