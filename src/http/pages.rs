//! What the public endpoints send back to people: the open pixel and the
//! small unsubscribe pages. Plain HTML with no scripts, no external
//! resources and no tracking, readable in any browser.

use super::instrument::escape;

/// A transparent 1×1 GIF (43 bytes).
pub const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The form field and value of an RFC 8058 one-click unsubscribe POST; the
/// confirmation page's form sends the same, so both go one way.
pub const ONE_CLICK_FIELD: &str = "List-Unsubscribe";
/// See [`ONE_CLICK_FIELD`].
pub const ONE_CLICK_VALUE: &str = "One-Click";

fn page(title: &str, body: &str) -> String {
    styled_page(title, "", body)
}

/// A page with `css` added to the shared style.
pub(super) fn styled_page(title: &str, css: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}}
button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:.3rem;border:1px solid #444;background:#fff;cursor:pointer}}{css}</style>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"#
    )
}

/// Asks for confirmation. `address` is the subscriber's address, shown
/// partly masked (the page is reachable by anyone holding the link).
/// A GET never unsubscribes: link scanners follow GETs.
pub fn unsubscribe_confirm(address: &str, action: &str) -> String {
    page(
        "Unsubscribe",
        &format!(
            r#"<p>Stop all mail from us to <strong>{}</strong>?</p>
<form method="post" action="{}">
<input type="hidden" name="{ONE_CLICK_FIELD}" value="{ONE_CLICK_VALUE}">
<button type="submit" id="unsubscribe">Unsubscribe</button>
</form>"#,
            escape(&mask(address)),
            escape(action)
        ),
    )
}

/// After a successful unsubscribe.
pub fn unsubscribed(address: &str) -> String {
    page(
        "You are unsubscribed",
        &format!(
            "<p id=\"done\">We will not send any more mail to <strong>{}</strong>. Sorry to see you go.</p>",
            escape(&mask(address))
        ),
    )
}

/// An unknown, altered or expired link.
pub fn not_found() -> String {
    page(
        "Link not valid",
        "<p>This link is not valid. It may have been cut short when copied; try clicking it in the mail again.</p>",
    )
}

/// A POST that was not an RFC 8058 one-click request.
pub fn bad_unsubscribe_request() -> String {
    page("Unsubscribe", "<p>This request could not be understood. Please use the button on the unsubscribe page.</p>")
}

/// `jane.doe@example.com` → `j•••••e@example.com`: enough for the person
/// to recognise the address, not enough to harvest it from a leaked link.
pub fn mask(address: &str) -> String {
    let Some((local, domain)) = address.rsplit_once('@') else { return "•••".into() };
    let chars: Vec<char> = local.chars().collect();
    let masked: String = match chars.as_slice() {
        [] => String::new(),
        [one] => format!("{one}•"),
        [first, middle @ .., last] => {
            format!("{first}{}{last}", "•".repeat(middle.len().clamp(1, 5)))
        }
    };
    format!("{masked}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses() {
        assert_eq!(mask("jane.doe@example.com"), "j•••••e@example.com");
        assert_eq!(mask("ab@x.example"), "a•b@x.example");
        assert_eq!(mask("a@x.example"), "a•@x.example");
        assert_eq!(mask("nonsense"), "•••");
    }

    #[test]
    fn confirm_page_has_a_plain_form_that_posts_the_one_click_body() {
        let p = unsubscribe_confirm("<x>@example.com", "/u/abc\"def");
        assert!(p.contains(r#"<form method="post" action="/u/abc&quot;def">"#), "{p}");
        assert!(p.contains(r#"name="List-Unsubscribe" value="One-Click""#));
        assert!(!p.contains("<script"));
        assert!(p.contains("<strong>&lt;•&gt;@example.com</strong>"), "{p}");
    }

    #[test]
    fn pixel_is_a_gif() {
        assert!(PIXEL_GIF.starts_with(b"GIF89a"));
        assert_eq!(PIXEL_GIF.last(), Some(&0x3b));
    }
}
