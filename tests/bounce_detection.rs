//! Whether a message is a bounce at all, before any reason is read: a
//! free-text notice without a report part is recognised by its sender or
//! its subject, in the languages and encodings mail systems write them in.

use winback::bounce::classify;

/// A free-text notice from `from` with `subject` (header values as written)
/// saying one address failed.
fn notice(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\nTo: bounces@example.com\nSubject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\n\
         Delivery to the following recipient failed permanently:\n\n    gone@example.net\n\n\
         Remote server replied: 550 5.1.1 <gone@example.net>... User unknown\n"
    )
}

fn failed(raw: &str) -> Vec<(String, String, bool)> {
    classify(raw.as_bytes())
        .map(|r| r.recipients.into_iter().map(|x| (x.recipient, x.reason.as_str().to_string(), x.hard)).collect())
        .unwrap_or_default()
}

fn gone() -> Vec<(String, String, bool)> {
    vec![("gone@example.net".to_string(), "userunknown".to_string(), true)]
}

#[test]
fn a_person_writing_about_a_failure_is_not_a_bounce() {
    // The control for the tests below: the same words from a person, under
    // an ordinary subject, are a message, not a delivery report.
    assert_eq!(failed(&notice("Anna <anna@example.org>", "Re: hello")), vec![]);
}

#[test]
fn the_null_sender_as_from_marks_a_bounce() {
    // McAfee Email Gateway writes the null reverse-path as the From address.
    assert_eq!(failed(&notice("<>", "Delivery Status")), gone());
}

#[test]
fn exchange_s_report_mailbox_marks_a_bounce_whatever_the_subject() {
    let exchange = "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.org>";
    assert_eq!(failed(&notice(exchange, "Re: hello")), gone());
}

#[test]
fn localised_non_delivery_subjects_mark_a_bounce() {
    let gateway = "Mail Gateway <gateway@relay.example.org>";
    for subject in [
        "Unzustellbar: Ihre Bestellung",
        "Non remis : votre commande",
        "No se puede entregar: su pedido",
        "Non recapitabile: il tuo ordine",
        "Onbestelbaar: uw bestelling",
        "Niedostarczalne: Twoje zamówienie",
        "Postmaster notify: see transcript for details",
        "[BOUNCE]",
        "Delivery delayed: your order",
        // "配信不能: ご注文" and "Недоставленное сообщение", RFC 2047-encoded.
        "=?utf-8?B?6YWN5L+h5LiN6IO9OiDjgZTms6jmloc=?=",
        "=?utf-8?B?0J3QtdC00L7RgdGC0LDQstC70LXQvdC90L7QtSDRgdC+0L7QsdGJ0LXQvdC40LU=?=",
        // "系统退信", "无法投递: 您的订单", "배달되지 않음: 주문" and
        // "메일 전송 실패 안내", RFC 2047-encoded.
        "=?utf-8?B?57O757uf6YCA5L+h?=",
        "=?utf-8?B?5peg5rOV5oqV6YCSOiDmgqjnmoTorqLljZU=?=",
        "=?utf-8?B?67Cw64us65CY7KeAIOyViuydjDog7KO866y4?=",
        "=?utf-8?B?66mU7J28IOyghOyGoSDsi6TtjKgg7JWI64K0?=",
    ] {
        assert_eq!(failed(&notice(gateway, subject)), gone(), "{subject}");
    }
}

#[test]
fn a_subject_in_iso_2022_jp_is_decoded_before_it_is_read() {
    // InterScan's "メッセージを配信できません。" as Japanese mail systems
    // encode it; undecoded it is escape sequences that match nothing.
    let subject = "=?iso-2022-jp?B?GyRCJWElQyU7ITwlOCRyR1s/LiRHJC0kXiQ7JHMhIxsoQg==?=";
    assert_eq!(failed(&notice("Mail Gateway <gateway@relay.example.org>", subject)), gone());
}

#[test]
fn the_shipped_binary_decodes_every_charset_the_tests_do() {
    // Tests are built with the dev-dependencies, and one of them turns on
    // mail-parser's `full_encoding`; a release build has only the features
    // named here. Without it, ISO-2022-JP, Shift_JIS, GBK, Big5, EUC-KR and
    // KOI8-R headers reach the rules undecoded in the binary users run,
    // while every test passes.
    let manifest: toml::Value =
        toml::from_str(include_str!("../Cargo.toml")).unwrap_or_else(|e| panic!("Cargo.toml does not parse: {e}"));
    let features = manifest
        .get("dependencies")
        .and_then(|d| d.get("mail-parser"))
        .and_then(|m| m.get("features"))
        .and_then(|f| f.as_array())
        .map(|f| f.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(features.contains(&"full_encoding"), "mail-parser features in Cargo.toml: {features:?}");
}

/// `(format, recipient, reason)` of a plain message from a person with
/// `subject` (written as a header value) and no automatic-reply header.
fn reply(subject: &str) -> Vec<(String, String, String)> {
    let raw = format!(
        "From: Anna Lindqvist <anna@example.org>\nTo: news@example.com\nSubject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\nI am away until Monday and will answer then.\n"
    );
    classify(raw.as_bytes())
        .map(|r| {
            let format = format!("{:?}", r.format);
            r.recipients.into_iter().map(|x| (format.clone(), x.recipient, x.reason.as_str().to_string())).collect()
        })
        .unwrap_or_default()
}

#[test]
fn localised_automatic_reply_subjects_mark_an_auto_reply() {
    let away = || vec![("AutoReply".to_string(), "anna@example.org".to_string(), "vacation".to_string())];
    // The control: the same message under an ordinary subject is mail.
    assert_eq!(reply("Re: your order"), vec![]);
    for subject in [
        "Automatic reply: your order",
        "Automatische Antwort: Ihre Bestellung",
        "Automatisch antwoord: uw bestelling",
        "Autosvar: din beställning",
        "Automaattinen vastaus: tilauksesi",
        // "Odpowiedź automatyczna:", "自動応答:", "自动回复:", "자동 회신:" and
        // "Автоматический ответ:" before the original subject, RFC 2047-encoded.
        "=?utf-8?B?T2Rwb3dpZWTFuiBhdXRvbWF0eWN6bmE6IHphbcOzd2llbmll?=",
        "=?utf-8?B?6Ieq5YuV5b+c562UOiDms6jmlofjgavjgaTjgYTjgaY=?=",
        "=?utf-8?B?6Ieq5Yqo5Zue5aSNOiDmgqjnmoTorqLljZU=?=",
        "=?utf-8?B?7J6Q64+ZIO2ajOyLoDog7KO866y4?=",
        "=?utf-8?B?0JDQstGC0L7QvNCw0YLQuNGH0LXRgdC60LjQuSDQvtGC0LLQtdGCOiDQt9Cw0LrQsNC3?=",
        // HCL / Lotus Notes' out-of-office agent.
        "AUTO: Lindqvist, Anna is out of the office. (returning 05/01/2027)",
    ] {
        assert_eq!(reply(subject), away(), "{subject}");
    }
}
