//! The `[tokens]` config section: how long a retired signing key keeps
//! verifying the tokens it made.

use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::units::HumanDuration;

/// How long old keys verify by default: a year, so unsubscribe links in
/// mail read long after it was sent keep working.
pub const DEFAULT_KEY_OVERLAP: Duration = Duration::from_secs(365 * 86_400);

/// `[tokens]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    /// How long a key keeps verifying after `winback keys rotate` retired it.
    pub key_overlap: Option<HumanDuration>,
}

/// `[tokens]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokensConfig {
    /// How long a retired key keeps verifying; zero revokes it at once.
    pub key_overlap: Duration,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig { key_overlap: DEFAULT_KEY_OVERLAP }
    }
}

/// Validates `[tokens]`; `file` names the config file in errors.
pub fn validate(file: &str, raw: RawTokens) -> Result<TokensConfig, ConfigError> {
    let key_overlap = raw.key_overlap.map_or(DEFAULT_KEY_OVERLAP, |d| d.0);
    if key_overlap > Duration::from_secs(100 * 365 * 86_400) {
        return Err(ConfigError {
            file: file.to_string(),
            key: "[tokens] key_overlap".into(),
            message: "longer than a century; write a duration like \"365d\" (\"0s\" revokes retired keys at once)"
                .into(),
        });
    }
    Ok(TokensConfig { key_overlap })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TokensConfig, ConfigError> {
        validate("t.toml", toml::from_str(text).expect("toml"))
    }

    #[test]
    fn default_overlap_is_a_year_and_zero_is_allowed() {
        assert_eq!(parse("").unwrap().key_overlap, DEFAULT_KEY_OVERLAP);
        assert_eq!(parse("key_overlap = \"30d\"").unwrap().key_overlap, Duration::from_secs(30 * 86_400));
        assert_eq!(parse("key_overlap = \"0s\"").unwrap().key_overlap, Duration::ZERO);
        assert_eq!(parse("key_overlap = \"40000d\"").unwrap_err().key, "[tokens] key_overlap");
    }
}
