//! The alias table: which header of a shop or CRM export is which winback
//! column. Built from `config/import-columns.toml` (embedded) and the
//! operator's `[import.contact_columns]` / `[import.event_columns]`, which
//! take precedence. See that file for the rules.

use std::collections::{BTreeMap, HashMap};

use super::header::identifier;

/// The table shipped with winback.
pub const BUILTIN: &str = include_str!("../../../config/import-columns.toml");

/// Which kind of file a table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `winback contacts import`.
    Contacts,
    /// `winback events import`.
    Events,
}

impl Table {
    fn section(self) -> &'static str {
        match self {
            Table::Contacts => "contacts",
            Table::Events => "events",
        }
    }

    /// The winback columns an alias may name (`None`: any field name).
    fn targets(self) -> Option<&'static [&'static str]> {
        match self {
            Table::Contacts => None,
            Table::Events => Some(&["email", "kind", "at", "value", "ref"]),
        }
    }
}

/// How strongly a header claims a column: lower wins.
pub(crate) type Rank = (u8, usize);

/// Header name (normalized) → winback column, with a rank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    map: HashMap<String, (String, Rank)>,
}

/// Target column → header names as written.
pub type AliasList = BTreeMap<String, Vec<String>>;

impl Aliases {
    /// The built-in table for `table`, with `extra` (the operator's) first.
    pub fn new(table: Table, extra: &AliasList) -> Result<Aliases, String> {
        let builtin: BTreeMap<String, AliasList> =
            toml::from_str(BUILTIN).map_err(|e| format!("import-columns.toml: {e}"))?;
        let mut aliases = Aliases::default();
        if let Some(list) = builtin.get(table.section()) {
            aliases.add(table, list, 2)?;
        }
        aliases.add(table, extra, 1)?;
        Ok(aliases)
    }

    fn add(&mut self, table: Table, list: &AliasList, tier: u8) -> Result<(), String> {
        for (target, headers) in list {
            let target = identifier(target).map_err(|why| format!("`{target}`: {why}"))?;
            if let Some(allowed) = table.targets().filter(|t| !t.contains(&target.as_str())) {
                return Err(format!(
                    "`{target}` is not a column of {} files (use one of {})",
                    table.section(),
                    allowed.join(", ")
                ));
            }
            for (i, header) in headers.iter().enumerate() {
                let name = identifier(header).map_err(|why| format!("{target}: `{header}`: {why}"))?;
                self.map.insert(name, (target.clone(), (tier, i)));
            }
        }
        Ok(())
    }

    /// The column a header (already normalized) names, and how strongly:
    /// itself at rank zero when no alias names it.
    pub(crate) fn lookup<'a>(&'a self, name: &'a str) -> (&'a str, Rank) {
        match self.map.get(name) {
            // A header that is already a winback column stays that column.
            _ if self.is_target(name) => (name, (0, 0)),
            Some((target, rank)) => (target.as_str(), *rank),
            None => (name, (0, 0)),
        }
    }

    fn is_target(&self, name: &str) -> bool {
        self.map.values().any(|(t, _)| t == name)
    }
}

/// Resolves which column gets each target name: `claims[i]` is column
/// `i`'s `(own name, target, rank)`; returns each column's final name.
/// The best claim on a target takes it; the others keep their own names.
pub(crate) fn resolve(claims: &[(String, String, Rank)]) -> Vec<String> {
    let mut best: HashMap<&str, (Rank, usize)> = HashMap::new();
    for (i, (_, target, rank)) in claims.iter().enumerate() {
        let entry = best.entry(target.as_str()).or_insert((*rank, i));
        if *rank < entry.0 {
            *entry = (*rank, i);
        }
    }
    claims
        .iter()
        .enumerate()
        .map(
            |(i, (own, target, _))| {
                if best.get(target.as_str()).is_some_and(|&(_, w)| w == i) { target.clone() } else { own.clone() }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(table: Table, headers: &[&str], extra: &AliasList) -> Vec<String> {
        let aliases = Aliases::new(table, extra).unwrap_or_else(|e| panic!("{e}"));
        let claims: Vec<(String, String, Rank)> = headers
            .iter()
            .map(|h| {
                let own = identifier(h).unwrap_or_else(|e| panic!("{e}"));
                let (target, rank) = aliases.lookup(&own);
                (own.clone(), target.to_string(), rank)
            })
            .collect();
        resolve(&claims)
    }

    #[test]
    fn shop_exports_map_to_winback_columns() {
        let none = AliasList::new();
        // Shopify customers.
        let shopify = [
            "Customer ID",
            "First Name",
            "Last Name",
            "Email",
            "Accepts Email Marketing",
            "Total Spent",
            "Total Orders",
            "Tags",
        ];
        assert_eq!(
            names(Table::Contacts, &shopify, &none),
            [
                "customer_id",
                "first_name",
                "last_name",
                "email",
                "accepts_marketing",
                "total_spent",
                "orders_count",
                "tags"
            ]
        );
        // Mailchimp audience.
        assert_eq!(
            names(Table::Contacts, &["Email Address", "First Name", "LAST_CHANGED"], &none),
            ["email", "first_name", "last_changed"]
        );
        // WooCommerce customers report.
        assert_eq!(
            names(Table::Contacts, &["Name", "Last active", "Email", "Orders", "Total spend"], &none),
            ["name", "last_engaged_at", "email", "orders_count", "total_spent"]
        );
        // Shopify orders: `Created at` beats `Paid at`, which keeps its name.
        assert_eq!(
            names(Table::Events, &["Name", "Email", "Paid at", "Total", "Created at"], &none),
            ["ref", "email", "paid_at", "value", "at"]
        );
    }

    #[test]
    fn the_exact_name_wins_and_operators_extend() {
        let none = AliasList::new();
        assert_eq!(names(Table::Contacts, &["E-Mail Address", "Email"], &none), ["e_mail_address", "email"]);
        assert_eq!(names(Table::Contacts, &["Billing Email", "Customer Email"], &none), ["billing_email", "email"]);
        let extra: AliasList = [("email".to_string(), vec!["Kunden-E-Mail".to_string()])].into();
        assert_eq!(names(Table::Contacts, &["Customer Email", "Kunden-E-Mail"], &extra), ["customer_email", "email"]);
        let bad: AliasList = [("amount".to_string(), vec!["Betrag".to_string()])].into();
        assert!(Aliases::new(Table::Events, &bad).is_err_and(|e| e.contains("not a column of events")));
    }
}
