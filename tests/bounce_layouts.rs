//! Notices laid out as the mail systems the development corpus has few or
//! no messages from write them: the X1–X6 gateways, Zoho, InterScan MSS,
//! Mail.ru, AOL, MessageLabs, Facebook, m-FILTER, MailFoundry, SurfControl,
//! Verizon, Apache James, IMail, MailMarshal, McAfee, Biglobe, Google
//! Workspace, Exchange 5.5, 2000/2003 and 2010 (HTML only), Netscape
//! Messaging Server, GroupWise, PMDF, CommuniGate Pro (the cause only in
//! the text part), Cisco IronPort (a rate limit quoted
//! under its expiry), Exchange 2019 and others.
//! Each `tests/data/bounce/layouts/NAME.eml` puts the system's own failure
//! statement where that system puts it (a bullet list,
//! "Sent <<< / Received >>>" transcripts, `ERROR_CODE :` fields, a Russian
//! preamble above Exim's text, a "Message details" block naming the
//! original's sender, …); `labels.tsv` lists the failed recipients of each in
//! order with reason and hard/soft. A recipient comes only from where the
//! layout names the failed address: never from the original's sender line
//! or its quoted headers. Loaded names and subjects, and text parts
//! re-encoded for transport, change no verdict.

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

/// A report whose delivery-status part has no `Diagnostic-Code` (CommuniGate
/// Pro states the cause only in its text part) shows the recipient's own
/// failure text as the diagnostic, so an operator sees what the server said;
/// a text that names only the address shows nothing.
#[test]
fn a_cause_stated_only_in_the_text_part_is_the_shown_diagnostic() {
    let diagnostic = |raw: &[u8]| {
        let report = winback::bounce::classify(raw).expect("a report");
        report.recipients.into_iter().map(|r| r.diagnostic).collect::<Vec<_>>()
    };
    let remote = std::fs::read(dir().join("communigate-remote.eml")).expect("layout");
    let shown = diagnostic(&remote);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].contains("550 5.1.1 leo@example.net unknown user account"), "{shown:?}");
    let local = std::fs::read(dir().join("communigate-local.eml")).expect("layout");
    assert!(diagnostic(&local)[0].ends_with("account is full (quota exceeded)"), "{:?}", diagnostic(&local));
    let bare = String::from_utf8(remote)
        .expect("ascii")
        .replace("Failed to deliver to 'leo@example.net'\nSMTP module(domain pop.example.net) reports:\n host pop.example.net says:\n 550 5.1.1 leo@example.net unknown user account\n", "<leo@example.net>\n");
    assert!(!bare.contains("unknown user account"), "the statement was removed");
    assert_eq!(diagnostic(bare.as_bytes()), vec![String::new()]);
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

/// A transfer encoding or markup changes how a notice travels, not what it
/// says: every layout and every golden message of `tests/data/bounce`, their
/// text parts re-encoded as base64 and as quoted-printable (an Exchange
/// server or a relay re-encoding on the way is common), and their plain text
/// written as HTML (a notice with no plain-text part: tags, entities, a
/// style sheet), reads as before.
#[test]
fn a_transfer_encoding_or_markup_changes_no_verdict() {
    let golden = dir().parent().expect("layouts sit in tests/data/bounce").to_path_buf();
    let mut files: Vec<PathBuf> = [dir(), golden]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for encoding in ["base64", "quoted-printable", "html"] {
        let (mut wrong, mut changed) = (Vec::new(), 0);
        for file in &files {
            let original = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let raw = reencode(&original, encoding);
            changed += usize::from(raw != original);
            let (want, got) = (verdicts(&original), verdicts(&raw));
            if got != want {
                wrong.push(format!("{}:\n  want {want:?}\n  got  {got:?}", file.display()));
            }
        }
        assert!(changed >= 45, "only {changed} messages re-encoded as {encoding}");
        assert!(wrong.is_empty(), "{} messages read differently as {encoding}:\n{}", wrong.len(), wrong.join("\n"));
    }
}

/// The message with each `text/*` part that has a `Content-Type` and no
/// transfer encoding (or 7bit, 8bit) encoded as `encoding` (`html`: each
/// `text/plain` part written as HTML); multiparts are followed, attached
/// messages and their headers left as they are.
fn reencode(msg: &[u8], encoding: &str) -> Vec<u8> {
    let split = msg.windows(2).position(|w| w == b"\n\n").map_or(msg.len(), |i| i + 1);
    let (header, body) = msg.split_at(split);
    let unfolded = String::from_utf8_lossy(header).replace("\n ", " ").replace("\n\t", " ");
    let field = |name: &str| {
        unfolded.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let Some(ctype) = field("content-type") else { return msg.to_vec() };
    let lower = ctype.to_ascii_lowercase();
    if lower.starts_with("multipart/") {
        let Some(at) = lower.find("boundary=") else { return msg.to_vec() };
        let value = &ctype[at + "boundary=".len()..];
        let boundary = value.split(';').next().unwrap_or_default().trim().trim_matches('"');
        return [header, &reencode_parts(body, boundary, encoding)].concat();
    }
    let cte = field("content-transfer-encoding").unwrap_or_default().to_ascii_lowercase();
    if !lower.starts_with("text/") || !matches!(cte.as_str(), "" | "7bit" | "8bit") {
        return msg.to_vec();
    }
    let html = encoding == "html";
    if html && !lower.starts_with("text/plain") {
        return msg.to_vec();
    }
    let mut out = Vec::new();
    let mut dropping = false;
    for line in header.split_inclusive(|&b| b == b'\n').filter(|l| l.trim_ascii() != b"") {
        let continued = line.starts_with(b" ") || line.starts_with(b"\t");
        let name = line.to_ascii_lowercase();
        dropping = if continued {
            dropping
        } else {
            name.starts_with(b"content-transfer-encoding:") || html && name.starts_with(b"content-type:")
        };
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    if html {
        let charset = lower.split("charset=").nth(1).map(|c| c.split(';').next().unwrap_or(c).trim().trim_matches('"'));
        out.extend_from_slice(
            format!("Content-Type: text/html; charset={}\n\n", charset.unwrap_or("us-ascii")).as_bytes(),
        );
        out.extend(as_html(body));
        return out;
    }
    out.extend_from_slice(format!("Content-Transfer-Encoding: {encoding}\n\n").as_bytes());
    out.extend(if encoding == "base64" { base64_lines(body) } else { quoted_printable(body) });
    out
}

/// Plain text as an HTML notice writes it: a style sheet in the head,
/// characters escaped, a `<br>` and a source line break for each line.
fn as_html(body: &[u8]) -> Vec<u8> {
    let mut out = b"<html><head><style type=\"text/css\">p { margin: 0 }</style></head>\n<body>\n".to_vec();
    for line in body.split(|&b| b == b'\n') {
        for &b in line {
            match b {
                b'&' => out.extend_from_slice(b"&amp;"),
                b'<' => out.extend_from_slice(b"&lt;"),
                b'>' => out.extend_from_slice(b"&gt;"),
                b'\'' => out.extend_from_slice(b"&#39;"),
                _ => out.push(b),
            }
        }
        out.extend_from_slice(b"<br>\n");
    }
    out.extend_from_slice(b"</body></html>\n");
    out
}

/// A multipart body with each part re-encoded.
fn reencode_parts(body: &[u8], boundary: &str, encoding: &str) -> Vec<u8> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut part: Option<Vec<u8>> = None;
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(delim.as_bytes()) {
            if let Some(p) = part.take() {
                out.extend(reencode(&p, encoding));
            }
            out.extend_from_slice(line);
            if !line[delim.len()..].starts_with(b"--") {
                part = Some(Vec::new());
            }
        } else if let Some(p) = part.as_mut() {
            p.extend_from_slice(line);
        } else {
            out.extend_from_slice(line);
        }
    }
    out.extend(part.map(|p| reencode(&p, encoding)).unwrap_or_default());
    out
}

fn base64_lines(body: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    encoded.as_bytes().chunks(76).flat_map(|c| [c, b"\n"].concat()).collect()
}

/// Quoted-printable as RFC 2045 writes it: `=XX` for bytes outside printable
/// ASCII, for `=` and for blanks ending a line; lines broken softly at 76.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in body.split_inclusive(|&b| b == b'\n') {
        let (text, newline) = line.strip_suffix(b"\n").map_or((line, false), |t| (t, true));
        let mut width = 0;
        for (i, &b) in text.iter().enumerate() {
            let last = i + 1 == text.len();
            let literal = (b.is_ascii_graphic() && b != b'=') || (matches!(b, b' ' | b'\t') && !last);
            let piece = if literal { vec![b] } else { format!("={b:02X}").into_bytes() };
            if width + piece.len() > 75 {
                out.extend_from_slice(b"=\n");
                width = 0;
            }
            width += piece.len();
            out.extend(piece);
        }
        if newline {
            out.push(b'\n');
        }
    }
    out
}
