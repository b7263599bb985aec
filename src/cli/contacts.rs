//! `winback contacts show|import`.

use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure, address_arg, call, print, unexpected};
use crate::admin::{ContactView, Request, Response};
use crate::clock::rfc3339;
use crate::config::Config;

/// Contact subcommands.
#[derive(Debug, Subcommand)]
pub enum ContactsCmd {
    /// Import contacts from a CSV file with list hygiene.
    Import(super::import::ImportArgs),
    /// Show one contact: state, history, suppression.
    Show {
        /// The address.
        email: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Everything held about a person (contact, fields, events, messages,
    /// history, suppression), as JSON: for a data-protection access request.
    Export {
        /// The address.
        email: String,
    },
    /// Erase a person's data and history; the address stays suppressed as a
    /// keyed hash, so a later import never brings it back.
    Forget {
        /// The address.
        email: String,
    },
}

/// Runs a contacts subcommand.
pub fn run(cfg: &Config, cmd: ContactsCmd) -> CmdResult {
    match cmd {
        ContactsCmd::Import(args) => super::import::run(cfg, args),
        ContactsCmd::Export { email } => match call(cfg, Request::ContactExport { email: address_arg(&email)? })? {
            Response::Export { export } => {
                println!("{}", serde_json::to_string_pretty(&export).unwrap_or_default());
                Ok(ExitCode::SUCCESS)
            }
            other => Err(unexpected(&other)),
        },
        ContactsCmd::Forget { email } => {
            let email = address_arg(&email)?;
            match call(cfg, Request::ContactForget { email: email.clone() })? {
                Response::Forgotten { erased: e } => {
                    println!(
                        "{email} forgotten: contact {}, {} event(s), {} history line(s), suppression {}; \
                         {} message(s) and {} reactivation(s) kept for the KPIs without the address; \
                         the address is kept only as a keyed hash and never imported or mailed again",
                        if e.contact { "erased" } else { "not held" },
                        e.events,
                        e.history,
                        if e.suppression { "erased" } else { "not held" },
                        e.messages,
                        e.reactivations
                    );
                    Ok(ExitCode::SUCCESS)
                }
                other => Err(unexpected(&other)),
            }
        }
        ContactsCmd::Show { email, json } => {
            let email = address_arg(&email)?;
            let view = match call(cfg, Request::ContactShow { email: email.clone() })? {
                Response::Contact { view: Some(v) } => v,
                Response::Contact { view: None } => {
                    return Err(Failure::new(super::EX_DATAERR, format!("no contact {email}")));
                }
                other => return Err(unexpected(&other)),
            };
            print(json, &view, || render(&view));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render(v: &ContactView) -> String {
    let c = &v.contact;
    let mut o = format!("{}\n", c.email);
    if let Some(n) = &c.name {
        o += &format!("  name:            {n}\n");
    }
    o += &format!("  state:           {}\n", serde_json::to_string(&c.state).unwrap_or_default());
    let t = |x: Option<i64>| x.map_or_else(|| "never".to_string(), rfc3339);
    o += &format!("  last engaged:    {}\n", t(c.last_engaged_at));
    o += &format!("  last purchase:   {}\n", t(c.last_purchase_at));
    o += &format!(
        "  enrolled:        {}{}{}\n",
        c.enrolled,
        if c.role { " (role account)" } else { "" },
        if c.disposable { " (disposable domain)" } else { "" }
    );
    o += &super::customers_view::contact(&c.customer, crate::clock::Clock::system().now());
    if let Some(d) = c.due_at {
        o += &format!("  next look:       {}\n", rfc3339(d));
    }
    match &v.suppression {
        Some(s) => o += &format!("  suppressed:      {} since {} {}\n", s.reason, rfc3339(s.at), s.detail),
        None => o += "  suppressed:      no\n",
    }
    for (k, val) in &c.fields {
        o += &format!("  field {k}: {val}\n");
    }
    o += "  history:\n";
    for h in &v.history {
        o += &format!("    {}  {}\n", rfc3339(h.at), h.text);
    }
    if !v.events.is_empty() {
        o += "  events:\n";
        for e in &v.events {
            o += &format!("    {}  {} ({})\n", rfc3339(e.at), e.kind, e.origin.as_str());
        }
    }
    if !v.messages.is_empty() {
        o += "  messages:\n";
        for m in &v.messages {
            o += &format!("    #{} {} step {}: {}\n", m.id, m.sequence, m.step + 1, m.state.name());
        }
    }
    o
}
