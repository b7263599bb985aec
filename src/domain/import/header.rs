//! The header line of an import file: which column is the address, which
//! are the known contact columns, and which become personalization fields
//! under a template-safe name. Headers go through the alias table
//! ([`super::aliases`]), so `E-mail Address` or `Last Order Date` are
//! read as `email` and `last_purchase_at`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ImportError;
use super::aliases::{Aliases, resolve};

/// Known column names (after normalization).
pub(crate) const EMAIL: &str = "email";
const NAME: &str = "name";
const LAST_ENGAGED: &str = "last_engaged_at";
const LAST_PURCHASE: &str = "last_purchase_at";
const FIRST_NAME: &str = "first_name";
const LAST_NAME: &str = "last_name";

/// Names a template cannot use as a plain variable.
const TEMPLATE_KEYWORDS: [&str; 10] = ["true", "false", "none", "and", "or", "not", "in", "is", "if", "else"];

/// One column of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// 1-based position in the line.
    pub position: usize,
    /// The header as written (trimmed).
    pub header: String,
    /// The name it is known by: `email`, `name`, `last_engaged_at`,
    /// `last_purchase_at`, or a personalization field name.
    pub name: String,
}

/// The columns and where the known ones are.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) columns: Vec<Column>,
    pub(crate) email: usize,
    pub(crate) name: Option<usize>,
    pub(crate) last_engaged: Option<usize>,
    pub(crate) last_purchase: Option<usize>,
    /// `first_name` and `last_name`, which make the name when there is no `name`.
    pub(crate) first_last: (Option<usize>, Option<usize>),
    /// `(index, field name)` of the personalization columns.
    pub(crate) fields: Vec<(usize, String)>,
}

impl Header {
    /// Reads the header from the fields of line `line`.
    pub(crate) fn parse(line: u64, record: &csv::ByteRecord, aliases: &Aliases) -> Result<Header, ImportError> {
        let columns = map_columns(line, record, aliases)?;
        let find = |n: &str| columns.iter().position(|c| c.name == n);
        let email = find(EMAIL).ok_or_else(|| ImportError::NoEmailColumn { line, found: found_list(&columns) })?;
        let (name, last_engaged, last_purchase) = (find(NAME), find(LAST_ENGAGED), find(LAST_PURCHASE));
        let first_last = (find(FIRST_NAME), find(LAST_NAME));
        let fields = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| ![EMAIL, NAME, LAST_ENGAGED, LAST_PURCHASE].contains(&c.name.as_str()))
            .map(|(i, c)| (i, c.name.clone()))
            .collect();
        Ok(Header { columns, email, name, last_engaged, last_purchase, first_last, fields })
    }

    /// The header text of a column, for messages.
    pub(crate) fn name_of(&self, index: usize) -> &str {
        self.columns.get(index).map_or("?", |c| c.name.as_str())
    }
}

/// The columns of a header line: each header's template-safe name, then
/// the alias table's column where it names one (the best claim on a
/// column takes it; see [`resolve`]).
pub(crate) fn map_columns(line: u64, record: &csv::ByteRecord, aliases: &Aliases) -> Result<Vec<Column>, ImportError> {
    let mut columns: Vec<Column> = Vec::with_capacity(record.len());
    // Index of each name in `columns`: a header may have thousands of columns.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let position = i + 1;
        let text = std::str::from_utf8(raw).map_err(|_| ImportError::HeaderNotUtf8 { line, position })?;
        let header = text.trim_start_matches('\u{feff}').trim().to_string();
        let name = identifier(&header).map_err(|why| ImportError::BadColumn {
            line,
            position,
            header: header.clone(),
            why,
        })?;
        if let Some(first) = seen.get(&name).and_then(|&j| columns.get(j)) {
            return Err(ImportError::SameColumnName {
                line,
                first: first.position,
                first_header: first.header.clone(),
                second: position,
                second_header: header,
                name,
            });
        }
        seen.insert(name.clone(), columns.len());
        columns.push(Column { position, header, name });
    }
    let claims: Vec<_> = columns
        .iter()
        .map(|c| {
            let (target, rank) = aliases.lookup(&c.name);
            (c.name.clone(), target.to_string(), rank)
        })
        .collect();
    for (c, name) in columns.iter_mut().zip(resolve(&claims)) {
        c.name = name;
    }
    Ok(columns)
}

/// What the header held, for the "no email column" message, with a hint
/// when the file is obviously not comma-separated.
fn found_list(columns: &[Column]) -> String {
    let list = columns.iter().map(|c| format!("`{}`", c.header)).collect::<Vec<_>>().join(", ");
    let only = columns.first().map(|c| c.header.as_str()).filter(|_| columns.len() == 1).unwrap_or("");
    if only.contains('@') || columns.iter().any(|c| c.header.contains('@')) {
        format!("{list}; this looks like an address, so the file probably has no header line")
    } else {
        list
    }
}

/// Turns a header into a template-safe identifier: lower-case, runs of
/// anything but ASCII letters and digits become one `_`, no `_` at either
/// end, and a leading digit gets a `_` in front (`2FA code` → `_2fa_code`).
pub(crate) fn identifier(header: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(header.len());
    let mut gap = false;
    for c in header.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        return Err(if header.is_empty() {
            "the header is empty; name the column or delete it"
        } else {
            "the header has no letter or digit to make a field name from; rename the column using letters, digits or _"
        });
    }
    if TEMPLATE_KEYWORDS.contains(&out.as_str()) {
        return Err(
            "the header becomes a template keyword (true, false, none, and, or, not, in, is, if, else); rename the column",
        );
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_template_safe() {
        assert_eq!(identifier("Email"), Ok("email".into()));
        assert_eq!(identifier("  First Name "), Ok("first_name".into()));
        assert_eq!(identifier("Last-Engaged-At"), Ok("last_engaged_at".into()));
        assert_eq!(identifier("(phone #)"), Ok("phone".into()));
        assert_eq!(identifier("__id__"), Ok("id".into()));
        assert_eq!(identifier("2FA code"), Ok("_2fa_code".into()));
        assert_eq!(identifier("Prénom"), Ok("pr_nom".into()));
        assert_eq!(identifier("CITY"), Ok("city".into()));
        assert!(identifier("").is_err());
        assert!(identifier("???").is_err());
        assert!(identifier("None").is_err());
    }
}
