//! Address syntax corpus: what is accepted, its canonical form, and the
//! exact reason for every rejection.

use super::*;

fn ok(raw: &str, canonical: &str) {
    assert_eq!(normalize(raw).as_deref(), Ok(canonical), "input {raw:?}");
}

fn bad(raw: &str, err: AddressError) {
    assert_eq!(normalize(raw), Err(err), "input {raw:?}");
}

#[test]
fn valid_dot_atoms_are_lower_cased() {
    ok("bob@example.com", "bob@example.com");
    ok("Bob.Smith@Example.COM", "bob.smith@example.com");
    ok("  bob@example.com\t", "bob@example.com");
    ok("a@b.co", "a@b.co");
    ok("user+tag@sub.example.org", "user+tag@sub.example.org");
    ok("o'brien@example.ie", "o'brien@example.ie");
    ok("!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com");
    ok("x@a-b.c-d.example", "x@a-b.c-d.example");
    ok("x@123.example", "x@123.example");
    ok("x@ab--cd.example", "x@ab--cd.example");
}

#[test]
fn quoted_local_parts() {
    // Needs quotes: kept as written, case included.
    ok("\"John Doe\"@example.com", "\"John Doe\"@example.com");
    ok("\"a@b\"@Example.com", "\"a@b\"@example.com");
    ok(r#""say \"hi\""@example.com"#, r#""say \"hi\""@example.com"#);
    ok(r#""back\\slash"@example.com"#, r#""back\\slash"@example.com"#);
    ok("\"a..b\"@example.com", "\"a..b\"@example.com");
    // Needless quotes and escapes go.
    ok("\"Bob\"@example.com", "bob@example.com");
    ok(r#""b\ob"@example.com"#, "bob@example.com");
    bad("\"bob@example.com", AddressError::UnclosedQuote);
    bad("\"bob\"x@example.com", AddressError::AfterQuote);
    bad("\"bob\"", AddressError::NoAt);
    bad("\"\"@example.com", AddressError::EmptyQuoted);
    bad("\"tab\there\"@example.com", AddressError::QuotedChar('\t'));
    bad("\"caf\u{e9}\"@example.com", AddressError::QuotedChar('\u{e9}'));
}

#[test]
fn idn_domains_become_punycode() {
    ok("user@bücher.example", "user@xn--bcher-kva.example");
    ok("user@BÜCHER.example", "user@xn--bcher-kva.example");
    ok("user@XN--BCHER-KVA.example", "user@xn--bcher-kva.example");
    ok("user@例え.テスト", "user@xn--r8jz45g.xn--zckzah");
    // Ideographic full stop is a dot under UTS #46.
    ok("user@bücher\u{3002}example", "user@xn--bcher-kva.example");
    bad("user@xn--a.example", AddressError::Idna("xn--a.example".into()));
    bad("user@bü_cher.example", AddressError::DomainChar('_'));
}

#[test]
fn structural_errors() {
    bad("", AddressError::Empty);
    bad("   ", AddressError::Empty);
    bad("bob.example.com", AddressError::NoAt);
    bad("bob@x@example.com", AddressError::MultipleAt);
    bad("@example.com", AddressError::EmptyLocal);
    bad("bob@", AddressError::EmptyDomain);
    bad("Bob <bob@example.com>", AddressError::AngleBrackets);
    bad("<bob@example.com>", AddressError::AngleBrackets);
    bad("bob smith@example.com", AddressError::Whitespace);
    bad("bob@exa mple.com", AddressError::Whitespace);
}

#[test]
fn local_part_errors() {
    bad(".bob@example.com", AddressError::LocalLeadingDot);
    bad("bob.@example.com", AddressError::LocalTrailingDot);
    bad("bo..b@example.com", AddressError::LocalDoubleDot);
    bad("bob,smith@example.com", AddressError::LocalChar(','));
    bad("bob(comment)@example.com", AddressError::LocalChar('('));
    bad("mailto:bob@example.com", AddressError::LocalChar(':'));
    bad("jos\u{e9}@example.com", AddressError::NonAsciiLocal('\u{e9}'));
}

#[test]
fn domain_errors() {
    bad("bob@example.com.", AddressError::DomainTrailingDot);
    bad("bob@.example.com", AddressError::DomainLeadingDot);
    bad("bob@example..com", AddressError::DomainDoubleDot);
    bad("bob@exam_ple.com", AddressError::DomainChar('_'));
    bad("bob@example,com", AddressError::DomainChar(','));
    bad("bob@-example.com", AddressError::LabelHyphen("-example".into()));
    bad("bob@example-.com", AddressError::LabelHyphen("example-".into()));
    bad("bob@localhost", AddressError::SingleLabel("localhost".into()));
    bad("bob@example.123", AddressError::NumericTld("123".into()));
    bad("bob@192.168.0.1", AddressError::NumericTld("1".into()));
    bad("bob@[192.0.2.1]", AddressError::AddressLiteral("[192.0.2.1]".into()));
    bad("bob@[IPv6:2001:db8::1]", AddressError::AddressLiteral("[IPv6:2001:db8::1]".into()));
}

#[test]
fn length_limits() {
    let local64 = "a".repeat(64);
    ok(&format!("{local64}@example.com"), &format!("{local64}@example.com"));
    bad(&format!("{}@example.com", "a".repeat(65)), AddressError::LocalTooLong(65));

    let label63 = "b".repeat(63);
    ok(&format!("x@{label63}.com"), &format!("x@{label63}.com"));
    let label64 = "b".repeat(64);
    bad(&format!("x@{label64}.com"), AddressError::LabelTooLong { label: label64, len: 64 });

    // 4 labels of 62 + 3 dots + ".com" = 255 > 253.
    let long_domain = format!("{0}.{0}.{0}.{0}.com", "c".repeat(62));
    bad(&format!("x@{long_domain}"), AddressError::DomainTooLong(255));
    // A 253-octet domain is fine on its own, but with even a 1-octet local
    // part the address is 255 octets; 252 leaves room for exactly one.
    let d253 = format!("{0}.{0}.{1}.{1}.com", "c".repeat(62), "c".repeat(61));
    assert_eq!(d253.len(), 253);
    bad(&format!("x@{d253}"), AddressError::TooLong(255));
    let d252 = &d253[1..];
    ok(&format!("x@{d252}"), &format!("x@{d252}"));
    bad(&format!("xy@{d252}"), AddressError::TooLong(255));
    // Punycode expansion counts, not the Unicode length.
    let wide = format!("x@{}.example", "ü".repeat(60));
    assert!(matches!(normalize(&wide), Err(AddressError::LabelTooLong { .. })), "{wide}");
}

#[test]
fn messages_say_what_is_wrong() {
    let msg = |raw: &str| normalize(raw).map_err(|e| e.to_string()).err().unwrap_or_default();
    assert_eq!(msg("bo..b@x.com"), "two dots in a row in the local part");
    assert_eq!(msg("bob"), "no @ (expected local-part@domain)");
    let label = "b".repeat(64);
    assert_eq!(
        msg(&format!("x@{label}.com")),
        format!("domain label `{label}` is 64 characters long; the limit is 63")
    );
    assert_eq!(
        msg("bob@x,com"),
        "character ',' is not allowed in a domain name (letters, digits, hyphens and dots only)"
    );
}

#[test]
fn normalize_is_idempotent_on_its_output() {
    for raw in ["Bob@Example.com", "\"John Doe\"@x.org", "user@bücher.example", r#""q\"x"@Y.org"#] {
        let once = normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(normalize(&once).as_deref(), Ok(once.as_str()));
    }
}

#[test]
fn parts() {
    assert_eq!(domain_of("bob@example.com"), "example.com");
    assert_eq!(domain_of("\"a@b\"@example.com"), "example.com");
    assert_eq!(domain_of("nothing"), "");
    assert_eq!(local_of("\"a@b\"@example.com"), "\"a@b\"");
    assert_eq!(local_of("nothing"), "nothing");
}

#[test]
fn report_form_is_printable_and_bounded() {
    assert_eq!(for_report(" a\nb "), "a\\nb");
    let long = "x".repeat(500);
    assert_eq!(for_report(&long).chars().count(), 121);
}
