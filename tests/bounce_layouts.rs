//! Notices laid out as the mail systems the development corpus has few or
//! no messages from write them: the X1–X6 gateways, Zoho, InterScan MSS,
//! Mail.ru, AOL, MessageLabs, Facebook, m-FILTER, MailFoundry, SurfControl,
//! Verizon, Apache James, IMail, MailMarshal, McAfee, Biglobe, Google
//! Workspace, Exchange 5.5 and 2000/2003, Netscape Messaging Server,
//! GroupWise, PMDF and others.
//! Each `tests/data/bounce/layouts/NAME.eml` puts the system's own failure
//! statement where that system puts it (a bullet list,
//! "Sent <<< / Received >>>" transcripts, `ERROR_CODE :` fields, a Russian
//! preamble above Exim's text, a "Message details" block naming the
//! original's sender, …); `labels.tsv` lists the failed recipients of each in
//! order with reason and hard/soft. A recipient comes only from where the
//! layout names the failed address: never from the original's sender line
//! or its quoted headers.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `(recipient, reason, hard)` per recipient of a notice.
type Verdicts = Vec<(String, String, bool)>;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bounce/layouts")
}

/// The labels, by file name.
fn labels() -> BTreeMap<String, Verdicts> {
    let text = std::fs::read_to_string(dir().join("labels.tsv")).expect("layouts/labels.tsv is readable");
    let mut out: BTreeMap<String, Verdicts> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let [file, recipient, reason, hard] = f[..] else {
            panic!("labels.tsv line {}: want 4 tab-separated fields, got {line:?}", n + 1)
        };
        out.entry(file.to_string()).or_default().push((recipient.to_string(), reason.to_string(), hard == "1"));
    }
    out
}

fn classify(file: &str) -> Verdicts {
    verdicts(&std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}")))
}

/// What the classifier says of each recipient of a message.
fn verdicts(raw: &[u8]) -> Verdicts {
    winback::bounce::classify(raw)
        .map(|r| r.recipients.into_iter().map(|x| (x.recipient, x.reason.as_str().to_string(), x.hard)).collect())
        .unwrap_or_default()
}

#[test]
fn every_layout_names_its_failed_recipients_with_their_reason() {
    let labels = labels();
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .expect("layouts directory exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "layout messages missing: {}", files.len());
    let unlabelled: Vec<&String> = files.iter().filter(|f| !labels.contains_key(*f)).collect();
    assert!(unlabelled.is_empty(), "messages without labels: {unlabelled:?}");
    let missing: Vec<&String> = labels.keys().filter(|k| !files.contains(k)).collect();
    assert!(missing.is_empty(), "labels without messages: {missing:?}");
    let wrong: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let (want, got) = (&labels[f], classify(f));
            (want != &got).then(|| format!("{f}:\n  want {want:?}\n  got  {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} layouts wrong:\n{}", wrong.len(), files.len(), wrong.join("\n"));
}

/// The rules read a failure statement, not the names in it nor the
/// sender's subject: every layout, its failed recipients' local parts and
/// its mail hosts renamed with the rules' own words
/// (`spam.relay-blocked-kijitora@…`, `spamfilter-relay-denied.mx.…`) and
/// those words added to every subject (the notice's, the one it quotes, the
/// original's), reads as before.
#[test]
fn names_and_subjects_made_of_the_rules_words_change_no_verdict() {
    const PREFIX: &str = "spam.relay-blocked-";
    let host = regex::bytes::Regex::new(r"(?i)([ (\[])((mx|mail|smtp|mta)\d*\.[a-z0-9-]+\.)").expect("host pattern");
    let subject = regex::bytes::Regex::new(r"(?im)^([ \t]*subject:[^\r\n]*)").expect("subject pattern");
    let (mut wrong, mut changed) = (Vec::new(), 0);
    for (file, want) in labels() {
        let original = std::fs::read(dir().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut raw = original.clone();
        let mut renamed = want.clone();
        for (recipient, _, _) in renamed.iter_mut().filter(|(r, _, _)| r.contains('@')) {
            let local = recipient.split('@').next().unwrap_or_default().to_string();
            let pattern = format!(r"(?i)(^|[^a-z0-9._+-])({})@", regex::escape(&local));
            let re = regex::bytes::Regex::new(&pattern).expect("local-part pattern");
            raw = re.replace_all(&raw, format!("${{1}}{PREFIX}${{2}}@").as_bytes()).into_owned();
            *recipient = format!("{PREFIX}{recipient}");
        }
        raw = host.replace_all(&raw, &b"${1}spamfilter-relay-denied.${2}"[..]).into_owned();
        raw = subject
            .replace_all(&raw, &b"${1} (spam filter: mailbox full, relay denied, blocked, expired, virus)"[..])
            .into_owned();
        changed += usize::from(raw != original);
        let got = verdicts(&raw);
        if got != renamed {
            wrong.push(format!("{file}:\n  want {renamed:?}\n  got  {got:?}"));
        }
    }
    assert!(changed >= 30, "only {changed} layouts renamed");
    assert!(wrong.is_empty(), "{} layouts read differently with loaded names:\n{}", wrong.len(), wrong.join("\n"));
}
