//! Config validation: good files load; bad ones name the key and the fix.

use super::*;

fn err(toml: &str) -> ConfigError {
    match Config::from_toml("t.toml", toml) {
        Ok(_) => panic!("expected an error for:\n{toml}"),
        Err(e) => e,
    }
}

#[test]
fn the_shipped_config_and_the_embedded_default_load() {
    let c = Config::from_toml("<embedded>", EMBEDDED_DEFAULT).expect("embedded default is valid");
    assert_eq!(c.state_dir, PathBuf::from("./var"));
    assert!(matches!(c.transport.kind, TransportKind::Maildir(ref p) if p == Path::new("./var/outbox")));
    assert_eq!(c.sequences.len(), 1);
    assert_eq!(c.sequences[0].steps.len(), 3);
    assert_eq!(c.lapse.inactive_after, Duration::from_secs(90 * 86_400));
    assert_eq!(c.limits.global.to_string(), "20/s");
    assert!(c.hygiene.role_accounts.contains("postmaster"));
    assert!(c.hygiene.disposable_domains.contains("mailinator.com"));
}

#[test]
fn errors_name_the_file_the_key_and_the_fix() {
    let e = err("[transport]\nkind = \"carrier-pigeon\"\n");
    assert_eq!((e.file.as_str(), e.key.as_str()), ("t.toml", "[transport] kind"));
    assert!(e.message.contains("\"maildir\", \"smtp\" or \"mx\""), "{e}");

    let e = err("[transport]\nkind = \"smtp\"\n");
    assert_eq!(e.key, "[transport] host");

    let e = err("[limits]\nglobal = \"20 per second\"\n");
    assert!(e.key.starts_with("line 2"), "{e}");
    assert!(e.message.contains("not a rate"), "{e}");

    let e = err("[lapse]\ninactive_after = \"ninety days\"\n");
    assert!(e.message.contains("not a duration"), "{e}");

    let e = err("[sender]\nfrom = \"nobody\"\n");
    assert_eq!(e.key, "[sender] from");

    let e = err("unknown_key = 1\n");
    assert!(e.message.contains("unknown field"), "{e}");

    let e = err("[dns]\nnameservers = [\"localhost\"]\n");
    assert_eq!(e.key, "[dns] nameservers");
}

#[test]
fn sequences_are_checked() {
    let seq = |steps: &str| format!("[[sequence]]\nname = \"s\"\ngrace = \"1d\"\n{steps}");
    let step = |t: &str, fin: bool| {
        format!("[[sequence.step]]\nafter = \"1d\"\nsubject = \"x\"\ntemplate = \"{t}\"\nfinal = {fin}\n")
    };

    let e = err(&seq(""));
    assert!(e.key.ends_with("step"), "{e}");
    let e = err(&seq(&step("miss-you", false)));
    assert!(e.key.ends_with("step[0].final"), "{e}");
    let e = err(&seq(&(step("miss-you", true) + &step("last-chance", true))));
    assert!(e.message.contains("only the last step"), "{e}");
    let e = err(&seq(&step("no-such-template", true)));
    assert!(e.message.contains("no-such-template.txt does not exist"), "{e}");
    let two = seq(&step("miss-you", true)) + &seq(&step("miss-you", true));
    assert!(err(&two).message.contains("two sequences"));
}

#[test]
fn smtp_transport_reads_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let toml = format!(
        "[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"starttls\"\nusername = \"u\"\npassword_file = \"{}\"\n",
        pw.display()
    );
    let c = Config::from_toml("t.toml", &toml).unwrap();
    let TransportKind::Smtp(relay) = c.transport.kind else { panic!("smtp expected") };
    assert_eq!(relay.port, 587);
    assert_eq!(relay.auth, Some(("u".into(), "s3cret".into())));
    let missing = toml.replace(&pw.display().to_string(), "/nonexistent/pw");
    assert_eq!(err(&missing).key, "[transport] password_file");
}
