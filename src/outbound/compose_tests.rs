//! Tests of message composition: headers, tokens, links, DKIM and the
//! rendered parts.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::Mutex;

use mail_parser::{MessageParser, MimeHeaders};

use super::*;

const TXT_WITH_URL: &str = "Hello {{ name }} from {{ city }}\nLeave: {{ unsubscribe_url }}\n";
const HTML_WITH_URL: &str =
    "<html><body><p>Hello {{ name }}</p><a href=\"{{ unsubscribe_url }}\">leave</a></body></html>";

struct Fixture {
    _dir: tempfile::TempDir,
    composer: Composer,
    keys: Keys,
}

fn fixture_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dkim"))
}

/// A composer over a temp config; `dkim_key` names a key file in the fixtures.
fn fixture(dkim_key: Option<&str>, txt: &str, html: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), txt).unwrap();
    std::fs::write(dir.path().join("t.html"), html).unwrap();
    let dkim = dkim_key.map_or(String::new(), |k| {
        format!(
            "[dkim]\ndomain = \"shop.example\"\nselector = \"wb1\"\nprivate_key_file = \"{}\"\n",
            fixture_dir().join(k).display()
        )
    });
    let toml = format!(
        r#"
state_dir = "{d}/var"
[sender]
from = "Example Shop <hello@shop.example>"
reply_to = "Support <help@shop.example>"
bounce_domain = "bounces.shop.example"
public_base_url = "https://shop.example/"
feedback_id = "shop"
{dkim}
[templates]
dir = "{d}"
[[sequence]]
name = "winback"
grace = "14d"
  [[sequence.step]]
  after = "0s"
  subject = "We miss you, {{{{ name }}}} ☕"
  template = "t"
  [[sequence.step]]
  after = "7d"
  subject = "Last chance"
  template = "t"
  final = true
"#,
        d = dir.path().display()
    );
    let cfg = Config::from_toml("test.toml", &toml).unwrap();
    let templates = Arc::new(Templates::load(&cfg.templates_dir, &cfg.sequences).unwrap());
    let keys = Keys::from_secret([3; 32]);
    let composer =
        Composer::new(&cfg, keys.clone(), templates).unwrap().with_clock(Clock::starting_at(1_700_000_000_000));
    Fixture { _dir: dir, composer, keys }
}

fn contact() -> Contact {
    let mut c = Contact::new("ada@example.org", 0);
    c.name = Some("Ada Lovelace".into());
    c.fields.insert("city".into(), "London".into());
    c
}

fn compose(f: &Fixture, id: u64, step: usize) -> Composed {
    let c = contact();
    f.composer.compose(&OutgoingMessage { id, contact: &c, sequence: "winback", step, variant: None }, None).unwrap()
}

/// A header's raw value, unfolded and trimmed.
fn raw(m: &mail_parser::Message<'_>, name: &str) -> String {
    let v = m.header_raw(name).unwrap_or_else(|| panic!("header {name} missing"));
    v.replace("\r\n", "").replace('\n', "").trim().to_string()
}

#[test]
fn every_header_is_present_and_correct() {
    let f = fixture(None, TXT_WITH_URL, HTML_WITH_URL);
    let out = compose(&f, 4_242, 0);
    let m = MessageParser::default().parse(&out.bytes).unwrap();

    let from = m.from().and_then(|a| a.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Example Shop"), Some("hello@shop.example")));
    let reply = m.reply_to().and_then(|a| a.first()).unwrap();
    assert_eq!(reply.address(), Some("help@shop.example"));
    let to = m.to().and_then(|a| a.first()).unwrap();
    assert_eq!((to.name(), to.address()), (Some("Ada Lovelace"), Some("ada@example.org")));
    assert_eq!(m.subject(), Some("We miss you, Ada Lovelace ☕"));
    assert_eq!(m.date().map(|d| d.to_timestamp()), Some(1_700_000_000));

    // Message-ID maps back to the id.
    assert_eq!(m.message_id().map(|s| format!("<{s}>")), Some(out.message_id.clone()));
    assert!(out.message_id.starts_with("<wb.4242.") && out.message_id.ends_with("@bounces.shop.example>"));
    assert_eq!(parse_message_id(&out.message_id), Some(4_242));

    // VERP envelope and X-Winback-Token carry the same verifiable token.
    let token = raw(&m, "X-Winback-Token");
    assert_eq!(out.envelope_from, format!("bounces+{token}@bounces.shop.example"));
    assert_eq!(f.keys.verify(Purpose::Message, &token).map(|t| t.message), Some(4_242));
    assert_eq!(out.recipient, "ada@example.org");

    // RFC 8058 one-click unsubscribe.
    let utoken = f.keys.sign(Purpose::Unsubscribe, 4_242, 0);
    assert_eq!(
        raw(&m, "List-Unsubscribe"),
        format!("<https://shop.example/u/{utoken}>, <mailto:unsubscribe+{utoken}@bounces.shop.example>")
    );
    assert_eq!(raw(&m, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert_eq!(f.keys.verify(Purpose::Unsubscribe, &utoken).map(|t| t.message), Some(4_242));
    assert_eq!(raw(&m, "Feedback-ID"), "winback:1:winback:shop");
    assert_eq!(raw(&m, "MIME-Version"), "1.0");
    assert!(m.header_raw("DKIM-Signature").is_none(), "no [dkim], no signature");

    // Feedback-ID counts steps from 1.
    let m2 = compose(&f, 7, 1);
    let m2 = MessageParser::default().parse(&m2.bytes).unwrap();
    assert_eq!(raw(&m2, "Feedback-ID"), "winback:2:winback:shop");
    assert_eq!(m2.subject(), Some("Last chance"));
}

#[test]
fn multipart_alternative_with_personalized_bodies() {
    let f = fixture(None, TXT_WITH_URL, HTML_WITH_URL);
    let out = compose(&f, 1, 0);
    assert!(!out.bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "CRLF line ends only");
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    let root = m.root_part().content_type().unwrap();
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("alternative")));
    assert_eq!(m.parts.len(), 3, "root + text + html");
    let kinds: Vec<_> =
        m.parts[1..].iter().map(|p| p.content_type().map(|c| c.subtype().unwrap_or("").to_string())).collect();
    assert_eq!(kinds, [Some("plain".to_string()), Some("html".to_string())]);
    let url = f.composer.unsubscribe_url(1);
    let text = m.body_text(0).unwrap();
    assert_eq!(text.replace("\r\n", "\n"), format!("Hello Ada Lovelace from London\nLeave: {url}\n"));
    let html = m.body_html(0).unwrap();
    assert!(html.contains(&format!("<a href=\"{url}\">leave</a>")), "{html}");
    assert!(html.contains("<p>Hello Ada Lovelace</p>"));
}

#[test]
fn footer_is_added_when_a_template_forgets_the_link() {
    let f = fixture(None, "Hello {{ name }}", "<HTML><BODY><p>Hi</p></BODY></HTML>");
    let out = compose(&f, 9, 0);
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    let url = f.composer.unsubscribe_url(9);
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(text, format!("Hello Ada Lovelace\n\n--\nUnsubscribe with one click: {url}\n"));
    let html = m.body_html(0).unwrap().replace("\r\n", "\n");
    let footer = format!("<a href=\"{url}\">Unsubscribe</a>");
    assert!(html.contains(&footer), "{html}");
    assert!(html.find(&footer) < html.find("</BODY>"), "footer goes inside the body: {html}");
}

#[test]
fn body_filter_runs_last() {
    let f = fixture(None, TXT_WITH_URL, "<p>no link</p>");
    let c = contact();
    let pixel =
        |b: Bodies| Bodies { text: b.text, html: format!("{}<img src=\"https://shop.example/o/x.gif\">", b.html) };
    let out = f
        .composer
        .compose(&OutgoingMessage { id: 2, contact: &c, sequence: "winback", step: 0, variant: None }, Some(&pixel))
        .unwrap();
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    let html = m.body_html(0).unwrap();
    assert!(html.ends_with("<img src=\"https://shop.example/o/x.gif\">"), "{html}");
    assert!(html.contains(&f.composer.unsubscribe_url(2)), "footer added before the filter ran");
    assert!(!m.body_text(0).unwrap().contains("x.gif"), "text untouched");
}

#[test]
fn message_ids_are_unique_and_parse_strictly() {
    let f = fixture(None, TXT_WITH_URL, HTML_WITH_URL);
    let a = compose(&f, 5, 0).message_id;
    let b = compose(&f, 5, 0).message_id;
    assert_ne!(a, b);
    assert_eq!(parse_message_id(&a), Some(5));
    for bad in
        ["", "<>", "<x@y>", "<wb.5@d>", "<wb.five.0123456789abcdef@d>", "<wb.5.0123@d>", "<wb.5.0123456789abcdeg@d>"]
    {
        assert_eq!(parse_message_id(bad), None, "{bad}");
    }
    assert_eq!(parse_message_id(" wb.18446744073709551615.0123456789abcdef@x "), Some(u64::MAX));
}

#[test]
fn hostile_names_cannot_inject_headers_and_bad_addresses_are_errors() {
    let f = fixture(None, TXT_WITH_URL, HTML_WITH_URL);
    let mut c = contact();
    c.name = Some("Eve\r\nBcc: victim@example.net".into());
    let out = f
        .composer
        .compose(&OutgoingMessage { id: 3, contact: &c, sequence: "winback", step: 0, variant: None }, None)
        .unwrap();
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(m.bcc().is_none(), "no Bcc header was injected");
    assert_eq!(m.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("ada@example.org"));
    assert!(!m.subject().unwrap().contains('\n'));

    c.email = "not an address".into();
    let err =
        f.composer.compose(&OutgoingMessage { id: 3, contact: &c, sequence: "winback", step: 0, variant: None }, None);
    assert!(matches!(err, Err(ComposeError::Address { what: "recipient", .. })), "{err:?}");
    let err = f
        .composer
        .compose(&OutgoingMessage { id: 3, contact: &contact(), sequence: "nope", step: 0, variant: None }, None);
    assert!(matches!(err, Err(ComposeError::Template(TemplateError::UnknownStep { .. }))), "{err:?}");
}

/// A TXT cache serving our test DKIM key records.
struct KeyRecords(Mutex<HashMap<String, mail_auth::Txt>>);

impl mail_auth::ResolverCache<String, mail_auth::Txt> for KeyRecords {
    fn get<Q>(&self, name: &Q) -> Option<mail_auth::Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn remove<Q>(&self, name: &Q) -> Option<mail_auth::Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }
    fn insert(&self, key: String, value: mail_auth::Txt, _: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// Verifies `bytes` with mail-auth against the published key `record`.
async fn dkim_results(bytes: &[u8], record: &str) -> Vec<mail_auth::DkimResult> {
    use mail_auth::common::parse::TxtRecordParser;
    use mail_auth::common::verify::DomainKey;
    use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};

    let key = DomainKey::parse(record.as_bytes()).unwrap();
    let cache = KeyRecords(Mutex::new(HashMap::from([(
        "wb1._domainkey.shop.example.".to_string(),
        mail_auth::Txt::from(key),
    )])));
    // A resolver that could only ever ask loopback; the cache answers first.
    let mut rc = ResolverConfig::new();
    rc.add_name_server(NameServerConfig::new(
        "127.0.0.1:9".parse().unwrap(),
        mail_auth::hickory_resolver::proto::xfer::Protocol::Udp,
    ));
    let auth = mail_auth::MessageAuthenticator::new(rc, ResolverOpts::default()).unwrap();
    let msg = mail_auth::AuthenticatedMessage::parse(bytes).unwrap();
    let params = mail_auth::Parameters::new(&msg).with_txt_cache(&cache);
    auth.verify_dkim(params).await.into_iter().map(|o| o.result().clone()).collect()
}

async fn check_dkim(key_file: &str, record: String) {
    let f = fixture(Some(key_file), TXT_WITH_URL, HTML_WITH_URL);
    let out = compose(&f, 77, 0);
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    let sig = raw(&m, "DKIM-Signature");
    assert!(sig.contains("d=shop.example") && sig.contains("s=wb1"), "{sig}");
    for h in ["list-unsubscribe", "list-unsubscribe-post", "feedback-id", "message-id", "x-winback-token"] {
        assert!(sig.to_ascii_lowercase().contains(h), "{h} not signed: {sig}");
    }
    assert_eq!(dkim_results(&out.bytes, &record).await, [mail_auth::DkimResult::Pass]);

    // Changing a signed header or the body breaks the signature.
    let text = String::from_utf8(out.bytes.clone()).unwrap();
    let tampered = text.replacen("List-Unsubscribe-Post: List-Unsubscribe=One-Click", "List-Unsubscribe-Post: x", 1);
    assert_ne!(tampered, text);
    assert_eq!(
        dkim_results(tampered.as_bytes(), &record).await,
        [mail_auth::DkimResult::Fail(mail_auth::Error::FailedVerification)]
    );
    let tampered = text.replacen("Hello Ada", "Hello Eve", 1);
    assert_ne!(tampered, text);
    assert_eq!(
        dkim_results(tampered.as_bytes(), &record).await,
        [mail_auth::DkimResult::Neutral(mail_auth::Error::FailedBodyHashMatch)]
    );
}

fn pub_key(file: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(file)).unwrap().trim().to_string()
}

#[tokio::test]
async fn rsa_dkim_signature_verifies_pkcs1_and_pkcs8() {
    let record = format!("v=DKIM1; k=rsa; p={}", pub_key("rsa.pub.b64"));
    check_dkim("rsa-pkcs1.pem", record.clone()).await;
    check_dkim("rsa-pkcs8.pem", record).await;
}

#[tokio::test]
async fn ed25519_dkim_signature_verifies() {
    check_dkim("ed25519.pem", format!("v=DKIM1; k=ed25519; p={}", pub_key("ed25519.pub.b64"))).await;
}

#[test]
fn bad_dkim_key_fails_at_construction() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("bad.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n").unwrap();
    let toml = format!(
        "[dkim]\ndomain = \"d.example\"\nselector = \"s\"\nprivate_key_file = \"{}\"\n[templates]\ndir = \"{}\"\n",
        key.display(),
        dir.path().display()
    );
    let cfg = Config::from_toml("t.toml", &toml).unwrap();
    let t = Arc::new(Templates::load(&cfg.templates_dir, &cfg.sequences).unwrap());
    let err = Composer::new(&cfg, Keys::from_secret([1; 32]), t).unwrap_err();
    assert!(err.to_string().contains("[dkim] private_key_file"), "{err}");
}
