//! The `[import]` config section: the time zone of local times in import
//! files, the layout of non-ISO dates, and the operator's column aliases.
//!
//! ```toml
//! [import]
//! time_zone = "Europe/Berlin"   # IANA name; default "UTC"
//! date_format = "%d.%m.%Y"      # strftime; default: ISO dates only
//! [import.contact_columns]
//! email = ["Kunden-E-Mail"]
//! [import.event_columns]
//! value = ["Bestellwert"]
//! ```

use std::sync::LazyLock;

use serde::Deserialize;

use super::aliases::{AliasList, Aliases, Table};
use super::dates::DateReader;
use crate::config::ConfigError;

/// `[import]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImport {
    /// IANA time zone of dates and times written without an offset.
    pub time_zone: Option<String>,
    /// strftime layout of dates that are not ISO (`%d.%m.%Y`).
    pub date_format: Option<String>,
    /// More header names for contact columns: column → headers.
    #[serde(default)]
    pub contact_columns: AliasList,
    /// More header names for event columns: column → headers.
    #[serde(default)]
    pub event_columns: AliasList,
}

/// `[import]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    /// How date columns are read.
    pub dates: DateReader,
    /// Header names of contact files.
    pub contact_columns: Aliases,
    /// Header names of event files.
    pub event_columns: Aliases,
}

impl Default for ImportConfig {
    fn default() -> Self {
        DEFAULT.clone()
    }
}

/// UTC, ISO dates, the built-in aliases.
static DEFAULT: LazyLock<ImportConfig> = LazyLock::new(|| ImportConfig {
    dates: DateReader::default(),
    contact_columns: Aliases::new(Table::Contacts, &AliasList::new()).unwrap_or_default(),
    event_columns: Aliases::new(Table::Events, &AliasList::new()).unwrap_or_default(),
});

impl ImportConfig {
    /// The defaults, shared (readers built without a config use them).
    pub fn builtin() -> &'static ImportConfig {
        &DEFAULT
    }
}

/// Validates `[import]`; `file` names the config file in errors.
pub fn validate(file: &str, raw: RawImport) -> Result<ImportConfig, ConfigError> {
    let err =
        |key: &str, message: String| ConfigError { file: file.to_string(), key: format!("[import] {key}"), message };
    let zone = raw.time_zone.as_deref().unwrap_or("UTC");
    let dates = DateReader::new(zone, None).map_err(|m| err("time_zone", m))?;
    let dates = match raw.date_format.as_deref() {
        Some(f) => dates.with_format(f).map_err(|m| err("date_format", m))?,
        None => dates,
    };
    let contact_columns = Aliases::new(Table::Contacts, &raw.contact_columns).map_err(|m| err("contact_columns", m))?;
    let event_columns = Aliases::new(Table::Events, &raw.event_columns).map_err(|m| err("event_columns", m))?;
    Ok(ImportConfig { dates, contact_columns, event_columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ImportConfig, ConfigError> {
        validate("t.toml", toml::from_str(text).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn defaults_and_errors_name_the_key() {
        assert_eq!(parse("").map(|c| c.dates.zone().to_string()).ok().as_deref(), Some("UTC"));
        let c = parse("time_zone = \"Europe/Berlin\"\ndate_format = \"%d.%m.%Y\"");
        assert_eq!(c.map(|c| c.dates.zone().to_string()).ok().as_deref(), Some("Europe/Berlin"));
        assert!(parse("time_zone = \"CEST\"").is_err_and(|e| e.key == "[import] time_zone"));
        assert!(parse("date_format = \"%d.%m\"").is_err_and(|e| e.key == "[import] date_format"));
        assert!(parse("[event_columns]\nprice = [\"Preis\"]").is_err_and(|e| e.key == "[import] event_columns"));
        assert!(parse("[contact_columns]\nemail = [\"Kunden-E-Mail\"]").is_ok());
    }
}
