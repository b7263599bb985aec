//! The reasons-for-leaving survey: `GET /s/{token}` shows the question and
//! its choices (a GET never records anything: link scanners open every
//! link in a mail), `POST /s/{token}` records the answer through the
//! engine ([`engine::survey_answer`]). The page is plain HTML: a fieldset
//! of labelled radio buttons and a labelled text field, no script, nothing
//! loaded from elsewhere.

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::instrument::escape;
use super::pages::{self, mask, styled_page};
use super::state::HttpState;
use super::tracking::TokenPath;
use crate::domain::survey::{CHOICE_FIELD, SurveyConfig, TEXT_FIELD};
use crate::engine;
use crate::token::Purpose;

/// Largest answer body: a choice key and a bounded free text, encoded.
pub const MAX_BODY: usize = 32 * 1024;

/// As the unsubscribe page: post only to ourselves, load and run nothing,
/// never framed, never cached.
const PAGE_HEADERS: [(HeaderName, &str); 3] = [
    (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
    (axum::http::header::X_FRAME_OPTIONS, "DENY"),
    (axum::http::header::CACHE_CONTROL, "no-store"),
];

const CSS: &str = "fieldset{border:0;padding:0;margin:0 0 1rem}legend{font-weight:600;margin-bottom:.5rem}\
.choice{margin:.4rem 0}.choice input{margin-right:.5rem}label{cursor:pointer}\
textarea{width:100%;font:inherit;margin-top:.3rem}[role=alert]{color:#a00;font-weight:600}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (status, PAGE_HEADERS, Html(styled_page(title, CSS, body))).into_response()
}

fn unavailable(what: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("{what}, please try again")).into_response()
}

/// `GET /s/{token}`: the question.
pub async fn form(State(st): State<HttpState>, TokenPath(token): TokenPath) -> Response {
    let st = &st.inner;
    match st.message_for(Purpose::Survey, &token) {
        Ok(Some((msg, _))) => {
            page(StatusCode::OK, "A quick question", &form_html(&st.cfg().survey, &msg.email, &token, None))
        }
        Ok(None) => (StatusCode::NOT_FOUND, PAGE_HEADERS, Html(pages::not_found())).into_response(),
        Err(e) => {
            tracing::error!("survey page: {e}");
            unavailable("store unavailable")
        }
    }
}

/// `POST /s/{token}`: records the answer.
pub async fn answer(
    State(st): State<HttpState>,
    TokenPath(token): TokenPath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let st = &st.inner;
    let msg = match st.message_for(Purpose::Survey, &token) {
        Ok(Some((m, _))) => m,
        Ok(None) => return (StatusCode::NOT_FOUND, PAGE_HEADERS, Html(pages::not_found())).into_response(),
        Err(e) => {
            tracing::error!("survey answer: {e}");
            return unavailable("store unavailable");
        }
    };
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let cfg = st.cfg();
    let survey = &cfg.survey;
    let read = if content_type.is_empty() || content_type.starts_with("application/x-www-form-urlencoded") {
        survey.read_answer(&bytes)
    } else {
        Err("Please send your answer with the form on this page.".to_string())
    };
    let answer = match read {
        Ok(a) => a,
        Err(why) => {
            return page(
                StatusCode::BAD_REQUEST,
                "A quick question",
                &form_html(survey, &msg.email, &token, Some(&why)),
            );
        }
    };
    let now = st.clock.now();
    let (cfg, sent, given) = (cfg.clone(), (*msg).clone(), answer.clone());
    let done = st.committer.run(move |w| engine::survey_answer(w, &cfg, &sent, &given, now)).await;
    match done {
        Ok(outcome) => {
            tracing::info!(message = msg.id, choice = %answer.choice, ?outcome, "survey answered");
            let leaving = survey.choice(&answer.choice).is_some_and(|c| c.suppress);
            page(StatusCode::OK, "Thank you", &thanks_html(leaving))
        }
        Err(e) => {
            tracing::error!(message = msg.id, "survey answer not recorded: {e}");
            unavailable("could not record your answer right now")
        }
    }
}

/// The form; `error` is shown above it, announced to screen readers.
pub fn form_html(survey: &SurveyConfig, address: &str, action: &str, error: Option<&str>) -> String {
    let mut choices = String::new();
    for (i, c) in survey.choices.iter().enumerate() {
        let required = if i == 0 { " required" } else { "" };
        choices.push_str(&format!(
            "<div class=\"choice\"><input type=\"radio\" id=\"choice-{key}\" name=\"{CHOICE_FIELD}\" value=\"{key}\"{required}><label for=\"choice-{key}\">{label}</label></div>\n",
            key = escape(&c.key),
            label = escape(&c.label),
        ));
    }
    let other = survey.choices.iter().find(|c| c.other).map_or(String::new(), |c| {
        format!(
            "<div class=\"other\"><label for=\"{TEXT_FIELD}\">If you chose “{}”, tell us in a few words (optional, up to {} characters):</label>\n<textarea id=\"{TEXT_FIELD}\" name=\"{TEXT_FIELD}\" rows=\"3\" maxlength=\"{}\"></textarea></div>\n",
            escape(&c.label),
            survey.other_max_chars,
            survey.other_max_chars
        )
    });
    let alert = error.map_or(String::new(), |e| format!("<p role=\"alert\" id=\"error\">{}</p>\n", escape(e)));
    format!(
        "{alert}<p>We noticed we have not seen you in a while ({}). One question, and we will not ask again.</p>\n\
         <form method=\"post\" action=\"{}\">\n<fieldset>\n<legend>{}</legend>\n{choices}</fieldset>\n{other}\
         <p><button type=\"submit\" id=\"send\">Send my answer</button></p>\n</form>",
        escape(&mask(address)),
        escape(action),
        escape(&survey.question),
    )
}

fn thanks_html(leaving: bool) -> String {
    let rest = if leaving {
        "We are sorry to see you go: we will not send you any more mail."
    } else {
        "Your answer helps us do better."
    };
    format!("<p id=\"done\">Thank you for telling us. {rest}</p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_labels_every_choice_and_loads_nothing() {
        let p = form_html(&SurveyConfig::default(), "jane@example.com", "tok\"en", Some("Pick <one>"));
        assert!(p.contains("<legend>Why did you stop shopping with us?</legend>"), "{p}");
        assert!(p.contains(r#"<input type="radio" id="choice-moved_away" name="choice" value="moved_away">"#), "{p}");
        assert!(p.contains(r#"<label for="choice-moved_away">I moved away</label>"#));
        assert!(p.contains(r#"<textarea id="other_text" name="other_text" rows="3" maxlength="300">"#));
        assert!(p.contains(r#"action="tok&quot;en""#));
        assert!(p.contains("<p role=\"alert\" id=\"error\">Pick &lt;one&gt;</p>"));
        assert!(p.contains("j••e@example.com"));
        assert!(!p.contains("<script") && !p.contains("http"));
    }
}
