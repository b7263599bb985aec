//! Tests of template loading, checking and rendering, and of where
//! template files are found.

use std::time::Duration;

use super::*;
use crate::config::StepConfig;

fn seq(name: &str, steps: &[(&str, &str)]) -> SequenceConfig {
    SequenceConfig {
        holdout: 0.0,
        send_window: None,
        segments: Vec::new(),
        stage: crate::customers::lapse::Stage::Lapsed,
        name: name.into(),
        grace: Duration::from_secs(86_400),
        sleepers: true,
        never_engaged: true,
        steps: steps
            .iter()
            .map(|(subject, template)| StepConfig {
                after: Duration::ZERO,
                subject: (*subject).into(),
                template: (*template).into(),
                variants: Vec::new(),
                auto_promote: false,
                offer_cost: None,
            })
            .collect(),
    }
}

/// A templates dir with `files` as (name, content).
fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(d.path().join(name), content).unwrap();
    }
    d
}

fn contact() -> Contact {
    let mut c = Contact::new("ada@example.org", 0);
    c.name = Some("Ada".into());
    c.fields.insert("city".into(), "Zürich".into());
    c.fields.insert("favourite".into(), "<b>tea</b>".into());
    c
}

const URL: &str = "https://shop.example/u/tok";

fn links() -> Links<'static> {
    Links { unsubscribe: URL, survey: "https://shop.example/s/tok" }
}

#[test]
fn personalizes_subject_text_and_html() {
    let d = dir(&[
        (
            "hello.txt",
            "Hi {{ name }} from {{ city }} <{{ email }}>\nbye: {{ unsubscribe_url }}\nwhy: {{ survey_url }}\n",
        ),
        ("hello.html", "<p>{{ name }} likes {{ favourite }}</p><a href=\"{{ unsubscribe_url }}\">u</a>"),
    ]);
    let t = Templates::load(
        &TemplateDirs::one(d.path()),
        &[seq("s", &[("Hello{% if name %},\n {{ name }}{% endif %}!", "hello")])],
    )
    .unwrap();
    let r = t.render("s", 0, &contact(), &links(), 0).unwrap();
    assert_eq!(r.subject, "Hello, Ada!", "subject is folded onto one line");
    assert_eq!(
        r.text,
        "Hi Ada from Zürich <ada@example.org>\nbye: https://shop.example/u/tok\nwhy: https://shop.example/s/tok\n"
    );
    assert_eq!(r.html, "<p>Ada likes &lt;b&gt;tea&lt;&#x2f;b&gt;</p><a href=\"https://shop.example/u/tok\">u</a>");

    let mut nameless = contact();
    nameless.name = None;
    let r = t.render("s", 0, &nameless, &links(), 0).unwrap();
    assert_eq!(r.subject, "Hello!");
    assert!(r.text.starts_with("Hi  from Zürich"));
}

#[test]
fn shipped_templates_load_and_check() {
    let cfg = crate::config::Config::from_toml("<embedded>", crate::config::EMBEDDED_DEFAULT).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let t = Templates::load(&TemplateDirs::one(&dir), &cfg.sequences).unwrap();
    t.check(&Templates::sample_contact::<&str>(&[])).unwrap();
    assert!(t.columns_used().is_empty(), "{:?}", t.columns_used());
    let r = t.render("winback", 2, &contact(), &links(), 0).unwrap();
    assert_eq!(r.subject, "Last chance: should we stay in touch?");
    assert!(r.text.contains(URL));
}

#[test]
fn a_local_copy_replaces_the_shipped_file_of_its_name_only() {
    let shipped = dir(&[("a.txt", "shipped text\n"), ("a.html", "<p>shipped</p>")]);
    let local = dir(&[("a.txt", "local text\n")]);
    let both = TemplateDirs { dir: shipped.path().to_path_buf(), local: Some(local.path().to_path_buf()) };
    let r =
        Templates::load(&both, &[seq("s", &[("subj", "a")])]).unwrap().render("s", 0, &contact(), &links(), 0).unwrap();
    assert_eq!((r.text.as_str(), r.html.as_str()), ("local text\n", "<p>shipped</p>"));
    // A local folder that does not exist is no error: the shipped files.
    let absent = TemplateDirs { dir: shipped.path().to_path_buf(), local: Some(local.path().join("none")) };
    let r = Templates::load(&absent, &[seq("s", &[("subj", "a")])])
        .unwrap()
        .render("s", 0, &contact(), &links(), 0)
        .unwrap();
    assert_eq!(r.text, "shipped text\n");
}

#[test]
fn unknown_variable_names_template_line_and_variable() {
    let d = dir(&[("a.txt", "line one\nHello {{ nmae }}\n"), ("a.html", "<p>ok</p>")]);
    let t = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj", "a")])]).unwrap();
    let err = t.check(&contact()).unwrap_err();
    match &err {
        TemplateError::UnknownVariable { template, line, variable } => {
            assert_eq!(template, "a.txt");
            assert_eq!(*line, Some(2));
            assert_eq!(variable, "nmae");
        }
        other => panic!("expected UnknownVariable, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("a.txt line 2") && msg.contains("`nmae`"), "{msg}");
    assert_eq!(t.columns_used(), BTreeSet::from(["nmae".to_string()]));
}

#[test]
fn column_check_depends_on_the_sample_and_default_guards_it() {
    let d = dir(&[("a.txt", "{{ city }} {{ zip | default(\"-\") }}"), ("a.html", "{% if vip %}VIP{% endif %}")]);
    let t = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj {{ city }}", "a")])]).unwrap();
    assert_eq!(t.columns_used(), BTreeSet::from(["city".into(), "vip".into(), "zip".into()]));
    // `vip` used in a test of truth is an error too in strict mode.
    let err = t.check(&Templates::sample_contact(&["city"])).unwrap_err();
    assert!(
        matches!(&err, TemplateError::UnknownVariable { template, variable, .. } if template == "a.html" && variable == "vip"),
        "{err:?}"
    );
    t.check(&Templates::sample_contact(&["city", "vip"])).unwrap();
    let r = t.render("s", 0, &Templates::sample_contact(&["city", "vip"]), &links(), 0).unwrap();
    assert_eq!(r.text, "sample city -");
    assert_eq!(r.subject, "subj sample city");
}

#[test]
fn subject_errors_name_the_step() {
    let d = dir(&[("a.txt", "x"), ("a.html", "x")]);
    let t = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("ok", "a"), ("Hi {{ frist_name }}", "a")])])
        .unwrap();
    let err = t.check(&contact()).unwrap_err();
    assert!(
        matches!(&err, TemplateError::UnknownVariable { template, line: Some(1), variable } if template == "sequence s step 2 subject" && variable == "frist_name"),
        "{err:?}"
    );
}

#[test]
fn syntax_errors_fail_at_load() {
    let d = dir(&[("a.txt", "fine\n{% if name %}unclosed\n"), ("a.html", "x")]);
    let err = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj", "a")])]).unwrap_err();
    match &err {
        TemplateError::Syntax { template, .. } => assert_eq!(template, "a.txt"),
        other => panic!("expected Syntax, got {other:?}"),
    }
    let err = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("{{ name", "b")])]).unwrap_err();
    assert!(
        matches!(&err, TemplateError::Syntax { template, .. } if template == "sequence s step 1 subject"),
        "{err:?}"
    );
}

#[test]
fn render_failure_is_an_error_naming_the_template() {
    let d = dir(&[("a.txt", "ok"), ("a.html", "<p>\n{{ name | truncate(\"ten\") }}</p>")]);
    let t = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj", "a")])]).unwrap();
    let err = t.render("s", 0, &contact(), &links(), 0).unwrap_err();
    match &err {
        TemplateError::Render { template, line, .. } => {
            assert_eq!(template, "a.html");
            assert_eq!(*line, Some(2));
        }
        other => panic!("expected Render, got {other:?}"),
    }
}

#[test]
fn missing_file_and_unknown_step_are_clear() {
    let d = dir(&[("a.txt", "ok")]);
    let err = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj", "a")])]).unwrap_err();
    assert!(matches!(&err, TemplateError::Read { path, .. } if path.ends_with("a.html")), "{err:?}");
    let d = dir(&[("a.txt", "ok"), ("a.html", "ok")]);
    let t = Templates::load(&TemplateDirs::one(d.path()), &[seq("s", &[("subj", "a")])]).unwrap();
    assert!(matches!(t.render("s", 1, &contact(), &links(), 0), Err(TemplateError::UnknownStep { step: 1, .. })));
    assert!(matches!(t.render("other", 0, &contact(), &links(), 0), Err(TemplateError::UnknownStep { .. })));
}

#[test]
fn one_line_folds_controls() {
    assert_eq!(one_line(" a\r\nBcc: x\0y\t z "), "a Bcc: x y z");
    assert_eq!(one_line("\r\n"), "");
}
