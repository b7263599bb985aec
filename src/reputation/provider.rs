//! Mailbox providers: recipient domains grouped by the MX hosts that serve
//! them, because providers judge (and rate-limit) a sender across all the
//! domains they host. The suffix table is a data file
//! (`config/providers.toml`); hosts it does not know are grouped by the
//! registrable part of their first MX host.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The built-in table, used when no file is configured or found.
pub const BUILTIN_PROVIDERS: &str = include_str!("../../config/providers.toml");

/// A mailbox provider, like `google`, `microsoft` or `example.net`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderKey(String);

impl ProviderKey {
    /// A provider by name, lower-cased.
    pub fn new(name: &str) -> Self {
        ProviderKey(name.trim().trim_end_matches('.').to_ascii_lowercase())
    }

    /// The key of a recipient domain without MX hosts (nothing to group by).
    pub fn unknown() -> Self {
        ProviderKey("unknown".into())
    }

    /// Where signals of providers beyond the tracking cap are counted.
    pub fn other() -> Self {
        ProviderKey("other".into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A providers file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderTableError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    providers: BTreeMap<String, String>,
}

/// MX host suffix → provider name, longest suffix first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTable {
    suffixes: Vec<(String, ProviderKey)>,
}

impl ProviderTable {
    /// The table shipped with winback.
    pub fn builtin() -> &'static ProviderTable {
        static TABLE: OnceLock<ProviderTable> = OnceLock::new();
        // The shipped file is checked by a unit test; an empty table is a
        // safe (if less useful) fallback that cannot happen in a release.
        TABLE.get_or_init(|| ProviderTable::from_toml(BUILTIN_PROVIDERS).unwrap_or(ProviderTable { suffixes: vec![] }))
    }

    /// Reads a table file.
    pub fn load(path: &Path) -> Result<ProviderTable, ProviderTableError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProviderTableError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Parses `[providers]` with `"suffix" = "name"` lines.
    pub fn from_toml(text: &str) -> Result<ProviderTable, ProviderTableError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| ProviderTableError(e.message().to_string()))?;
        let mut suffixes = Vec::new();
        for (suffix, name) in raw.providers {
            let s = normalize_host(&suffix);
            if s.is_empty() || !s.contains('.') || !s.bytes().all(host_byte) {
                return Err(ProviderTableError(format!(
                    "[providers] `{suffix}`: write an MX host suffix with a dot, like \"google.com\""
                )));
            }
            if name.is_empty() || !name.bytes().all(|b| host_byte(b) || b == b'_') {
                return Err(ProviderTableError(format!(
                    "[providers] \"{suffix}\" = \"{name}\": use lower-case letters, digits, '-', '_' and '.'"
                )));
            }
            suffixes.push((s, ProviderKey::new(&name)));
        }
        suffixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(ProviderTable { suffixes })
    }

    /// The provider serving a domain with these MX hosts (in preference
    /// order): the first host that matches a known suffix decides; else the
    /// registrable part of the first host. A domain without MX records is
    /// served by its own A record (RFC 5321 §5.1), so callers pass the
    /// domain itself then; an empty list gives [`ProviderKey::unknown`].
    pub fn provider_of(&self, mx_hosts: &[String]) -> ProviderKey {
        for host in mx_hosts {
            let h = normalize_host(host);
            for (suffix, key) in &self.suffixes {
                if h == *suffix || (h.ends_with(suffix.as_str()) && h[..h.len() - suffix.len()].ends_with('.')) {
                    return key.clone();
                }
            }
        }
        match mx_hosts.first().map(|h| registrable(&normalize_host(h))) {
            Some(r) if !r.is_empty() => ProviderKey(r),
            _ => ProviderKey::unknown(),
        }
    }

    /// How many suffixes the table has.
    pub fn len(&self) -> usize {
        self.suffixes.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.suffixes.is_empty()
    }
}

/// [`ProviderTable::provider_of`] with the built-in table.
pub fn provider_of(mx_hosts: &[String]) -> ProviderKey {
    ProviderTable::builtin().provider_of(mx_hosts)
}

fn host_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
}

fn normalize_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Second-level labels under which registries sell names (`co.uk`,
/// `com.au`): without a full public-suffix list this covers the common
/// country-code cases.
const SECOND_LEVEL: [&str; 10] = ["co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go"];

/// The registrable part of a host: the last two labels, or three when the
/// second-to-last is a common second-level label under a country code.
fn registrable(host: &str) -> String {
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    let take = match labels.as_slice() {
        [.., sl, tld] if n >= 3 && tld.len() == 2 && SECOND_LEVEL.contains(sl) => 3,
        _ => 2,
    };
    labels[n.saturating_sub(take)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn builtin_table_parses_and_groups_by_mx() {
        let t = ProviderTable::from_toml(BUILTIN_PROVIDERS).unwrap();
        assert!(t.len() > 20);
        assert_eq!(provider_of(&hosts(&["gmail-smtp-in.l.google.com."])), ProviderKey::new("google"));
        assert_eq!(provider_of(&hosts(&["ASPMX.L.GOOGLE.COM"])), ProviderKey::new("google"));
        assert_eq!(provider_of(&hosts(&["contoso-com.mail.protection.outlook.com"])), ProviderKey::new("microsoft"));
        assert_eq!(provider_of(&hosts(&["mta5.am0.yahoodns.net"])), ProviderKey::new("yahoo"));
        // A later host may decide when the first is unknown.
        assert_eq!(provider_of(&hosts(&["backup.example.org", "alt1.aspmx.l.google.com"])), ProviderKey::new("google"));
    }

    #[test]
    fn unknown_hosts_fall_back_to_the_registrable_part() {
        assert_eq!(provider_of(&hosts(&["mx1.mail.example.net"])).as_str(), "example.net");
        assert_eq!(provider_of(&hosts(&["mx.shop.co.uk", "mx2.other.org"])).as_str(), "shop.co.uk");
        assert_eq!(provider_of(&hosts(&["localhost"])).as_str(), "localhost");
        assert_eq!(provider_of(&[]), ProviderKey::unknown());
        assert_eq!(provider_of(&hosts(&[".", ""])), ProviderKey::unknown());
        // A suffix matches whole labels only.
        assert_eq!(provider_of(&hosts(&["mx.notgoogle.com"])).as_str(), "notgoogle.com");
    }

    #[test]
    fn longest_suffix_wins_and_bad_files_are_refused() {
        let t = ProviderTable::from_toml("[providers]\n\"example.com\" = \"big\"\n\"eu.example.com\" = \"big-eu\"\n")
            .unwrap();
        assert_eq!(t.provider_of(&hosts(&["mx.eu.example.com"])).as_str(), "big-eu");
        assert_eq!(t.provider_of(&hosts(&["mx.us.example.com"])).as_str(), "big");
        assert!(ProviderTable::from_toml("[providers]\n\"com\" = \"x\"\n").unwrap_err().0.contains("suffix"));
        assert!(ProviderTable::from_toml("[providers]\n\"a.com\" = \"X Y\"\n").unwrap_err().0.contains("lower-case"));
        assert!(ProviderTable::from_toml("[other]\n").is_err());
    }
}
