//! `[bounce]`: the phrase rules the daemon classifies bounces with. The
//! rules built into the binary (`config/bounce-rules.toml` at build time)
//! unless `rules_file` names a file of the same form; the file is
//! compiled when the configuration is loaded, so a broken file is a
//! configuration error at start and a refused `winback reload`, never a
//! daemon running without rules.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::Rules;
use crate::config::ConfigError;

/// `[bounce]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounce {
    /// A rules file replacing the built-in rules.
    pub rules_file: Option<PathBuf>,
}

/// `[bounce]` validated: the rules compiled.
#[derive(Debug, Clone, Default)]
pub struct BounceConfig {
    /// The file named, if any.
    pub rules_file: Option<PathBuf>,
    /// Its rules; `None`: the built-in ones.
    loaded: Option<Arc<Rules>>,
}

impl BounceConfig {
    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        self.loaded.as_deref().unwrap_or_else(|| Rules::embedded())
    }
}

/// Validates `[bounce]`, compiling the rules file if one is named.
pub fn validate(file: &str, raw: RawBounce) -> Result<BounceConfig, ConfigError> {
    let loaded = match &raw.rules_file {
        Some(p) => Some(Arc::new(Rules::from_path(p).map_err(|e| ConfigError {
            file: file.to_string(),
            key: "[bounce] rules_file".into(),
            message: format!(
                "{e}; fix the file (its form is that of config/bounce-rules.toml) or remove the key to use the built-in rules"
            ),
        })?)),
        None => None,
    };
    Ok(BounceConfig { rules_file: raw.rules_file, loaded })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_replaces_the_built_in_rules_and_a_bad_one_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("rules.toml");
        let shipped = include_str!("../../config/bounce-rules.toml");
        let extra = "\n[[rule]]\nname = \"test-only\"\nreason = \"blocked\"\ntext = ['zz-private-wording-zz']\n";
        std::fs::write(&good, format!("{shipped}{extra}")).unwrap();
        let cfg = validate("w.toml", RawBounce { rules_file: Some(good) }).unwrap();
        let reply = |rules: &Rules| super::super::classify_reply_with(rules, None, 550, None, "zz-private-wording-zz");
        let v = reply(cfg.rules());
        assert_eq!((v.reason, v.decided_by.as_str()), (super::super::Reason::Blocked, "test-only"));
        assert_ne!(reply(BounceConfig::default().rules()).decided_by.as_str(), "test-only");

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[[rule]]\nname = 'x'\nreason = 'nope'\ntext = ['x']\n").unwrap();
        let e = validate("w.toml", RawBounce { rules_file: Some(bad) }).unwrap_err();
        assert_eq!(e.key, "[bounce] rules_file");
        assert!(e.message.contains("built-in rules"), "{}", e.message);
        let missing = validate("w.toml", RawBounce { rules_file: Some(dir.path().join("none.toml")) }).unwrap_err();
        assert_eq!(missing.key, "[bounce] rules_file");
    }
}
