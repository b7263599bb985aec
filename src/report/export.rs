//! Rows for BI tools: the event export (CSV or JSON Lines, one event per
//! row, written as it is read) and the report as CSV (one row per
//! sequence, control group, step and step variant).
//!
//! CSV follows RFC 4180 (the `csv` crate): a field with a comma, a quote
//! or a line break is quoted, quotes doubled; rows end with CRLF. Values
//! are written as stored (no spreadsheet-formula escaping: the consumers
//! are data tools, which would keep a prefix as part of the data). Times
//! are RFC 3339 in UTC; an absent value is an empty field (JSON `null`).

use std::io::Write;

use serde::Serialize;

use super::{Report, SequenceKpi, StepKpi};
use crate::clock::rfc3339;
use crate::domain::Event;

/// The output formats of the event export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// One exported event.
#[derive(Debug, Serialize)]
struct EventRow<'a> {
    id: u64,
    at: String,
    email: &'a str,
    kind: &'a str,
    origin: &'a str,
    value: Option<f64>,
    #[serde(rename = "ref")]
    reference: Option<&'a str>,
    message: Option<u64>,
}

impl<'a> EventRow<'a> {
    fn new(id: u64, e: &'a Event) -> Self {
        EventRow {
            id,
            at: rfc3339(e.at),
            email: &e.email,
            kind: e.kind.as_str(),
            origin: e.origin.as_str(),
            value: e.value.filter(|v| v.is_finite()),
            reference: e.reference.as_deref(),
            message: e.message,
        }
    }
}

/// Writes events as they come, in one format; the CSV header goes out
/// before the first row (also when there is none).
pub struct EventWriter<W: Write> {
    out: Sink<W>,
}

enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> EventWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W, format: Format) -> std::io::Result<Self> {
        Ok(EventWriter {
            out: match format {
                Format::Csv => {
                    let mut w =
                        csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::CRLF).from_writer(out);
                    w.write_record(["id", "at", "email", "kind", "origin", "value", "ref", "message"])?;
                    Sink::Csv(Box::new(w))
                }
                Format::Jsonl => Sink::Jsonl(out),
            },
        })
    }

    /// Writes one event.
    pub fn write(&mut self, id: u64, e: &Event) -> std::io::Result<()> {
        let row = EventRow::new(id, e);
        match &mut self.out {
            Sink::Csv(w) => w.serialize(&row).map_err(std::io::Error::other),
            Sink::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &row)?;
                w.write_all(b"\n")
            }
        }
    }

    /// Flushes what is buffered.
    pub fn finish(self) -> std::io::Result<()> {
        match self.out {
            Sink::Csv(mut w) => w.flush(),
            Sink::Jsonl(mut w) => w.flush(),
        }
    }
}

/// The columns of [`report_csv`].
pub const REPORT_COLUMNS: [&str; 26] = [
    "sequence",
    "group",
    "step",
    "variant",
    "entered",
    "sent",
    "delivered",
    "opens_human",
    "opens_machine",
    "opens_unknown",
    "clicks",
    "reactivated",
    "reactivation_rate",
    "retained",
    "retention_rate",
    "unsubscribed",
    "complaints",
    "sunset",
    "revenue",
    "lift_absolute",
    "lift_ci_low",
    "lift_ci_high",
    "lift_p_value",
    "cost",
    "roi",
    "incremental_revenue",
];

/// One CSV row, filled by column name.
struct Row(Vec<String>);

impl Row {
    fn new(sequence: &str, group: &str) -> Row {
        let mut r = Row(vec![String::new(); REPORT_COLUMNS.len()]);
        r.set("sequence", sequence).set("group", group);
        r
    }

    fn set(&mut self, column: &str, value: impl ToString) -> &mut Row {
        if let Some(i) = REPORT_COLUMNS.iter().position(|c| *c == column) {
            self.0[i] = value.to_string();
        }
        self
    }

    fn opt<T: ToString>(&mut self, column: &str, value: Option<T>) -> &mut Row {
        if let Some(v) = value {
            self.set(column, v);
        }
        self
    }

    fn lift(&mut self, l: Option<&super::lift::Lift>) -> &mut Row {
        self.opt("lift_absolute", l.map(|l| l.absolute))
            .opt("lift_ci_low", l.map(|l| l.ci_low))
            .opt("lift_ci_high", l.map(|l| l.ci_high))
            .opt("lift_p_value", l.map(|l| l.p_value))
    }

    fn roi(&mut self, r: Option<&super::roi::Roi>) -> &mut Row {
        self.opt("cost", r.map(|r| r.cost))
            .opt("roi", r.and_then(|r| r.roi))
            .opt("incremental_revenue", r.and_then(|r| r.incremental_revenue))
    }
}

/// One row per sequence (`group` = `mailed`, with the lift over control),
/// per control group (`control`), per step (`step`) and per step variant
/// (`variant`, with the best variant's lift over it).
pub fn report_csv<W: Write>(r: &Report, out: W) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    w.write_record(REPORT_COLUMNS)?;
    for s in &r.sequences {
        w.write_record(&sequence_row(s).0)?;
        let c = &s.control;
        if c.entered > 0 {
            let mut row = Row::new(&s.name, "control");
            row.set("entered", c.entered)
                .set("reactivated", c.reactivated)
                .opt("reactivation_rate", c.reactivation_rate)
                .set("revenue", c.revenue);
            w.write_record(&row.0)?;
        }
        for st in &s.steps {
            w.write_record(&step_row(&s.name, st).0)?;
            for v in st.variants.iter().flat_map(|v| &v.variants) {
                let mut row = Row::new(&s.name, "variant");
                row.set("step", st.step)
                    .set("variant", &v.name)
                    .set("sent", v.sent)
                    .set("delivered", v.delivered)
                    .set("opens_human", v.opens_human)
                    .set("clicks", v.clicks)
                    .set("reactivated", v.reactivated)
                    .opt("reactivation_rate", v.reactivation_rate)
                    .set("unsubscribed", v.unsubscribed)
                    .set("complaints", v.complaints)
                    .set("revenue", v.revenue)
                    .lift(v.vs_best.as_ref());
                w.write_record(&row.0)?;
            }
        }
    }
    w.flush()
}

fn sequence_row(s: &SequenceKpi) -> Row {
    let sum = |f: fn(&StepKpi) -> u64| s.steps.iter().map(f).sum::<u64>();
    let mut row = Row::new(&s.name, "mailed");
    row.set("entered", s.entered)
        .set("sent", sum(|t| t.sent))
        .set("delivered", sum(|t| t.delivered))
        .set("opens_human", sum(|t| t.opens_human))
        .set("opens_machine", sum(|t| t.opens_machine))
        .set("opens_unknown", sum(|t| t.opens_unknown))
        .set("clicks", sum(|t| t.clicks))
        .set("reactivated", s.reactivated)
        .opt("reactivation_rate", s.reactivation_rate)
        .set("retained", s.retained)
        .opt("retention_rate", s.retention_rate)
        .set("unsubscribed", s.unsubscribed)
        .set("sunset", s.sunset)
        .set("revenue", s.revenue)
        .lift(s.control.lift.as_ref())
        .roi(s.roi.as_ref());
    row
}

fn step_row(name: &str, st: &StepKpi) -> Row {
    let mut row = Row::new(name, "step");
    row.set("step", st.step)
        .set("sent", st.sent)
        .set("delivered", st.delivered)
        .set("opens_human", st.opens_human)
        .set("opens_machine", st.opens_machine)
        .set("opens_unknown", st.opens_unknown)
        .set("clicks", st.clicks)
        .set("reactivated", st.reactivated)
        .set("unsubscribed", st.unsubscribed)
        .opt("revenue", st.roi.as_ref().map(|r| r.revenue))
        .roi(st.roi.as_ref());
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, Origin};

    #[test]
    fn csv_quotes_what_needs_quoting_and_jsonl_is_one_object_a_line() {
        let mut e = Event::new("a@example.com", EventKind::Purchase, 1_700_000_000_000);
        e.value = Some(12.5);
        e.reference = Some("order \"7\", line 1\nsecond".into());
        e.message = Some(42);
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf, Format::Csv).unwrap();
        w.write(7, &e).unwrap();
        let mut plain = Event::new("b@example.com", EventKind::App("log,in".into()), 0);
        plain.origin = Origin::Unknown;
        w.write(8, &plain).unwrap();
        w.finish().unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "id,at,email,kind,origin,value,ref,message\r\n\
             7,2023-11-14T22:13:20Z,a@example.com,purchase,human,12.5,\"order \"\"7\"\", line 1\nsecond\",42\r\n\
             8,1970-01-01T00:00:00Z,b@example.com,\"log,in\",unknown,,,\r\n"
        );
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf, Format::Jsonl).unwrap();
        w.write(7, &e).unwrap();
        w.write(8, &plain).unwrap();
        w.finish().unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["ref"], "order \"7\", line 1\nsecond");
        assert_eq!((lines[1]["value"].is_null(), lines[1]["kind"].as_str()), (true, Some("log,in")));
    }
}
