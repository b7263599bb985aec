//! The README's quick tour, run as written (the block between the
//! `quick-tour` markers) with bash in a fresh copy of `examples/` and
//! `config/`, the built binary standing in for `target/release/winback`:
//! three messages land in the Maildir, the status moves, the tracked click
//! reactivates its contact.

mod support;

use std::path::Path;
use std::process::Command;

/// The shell block of the README's quick tour.
fn tour() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let start = readme.find("<!-- quick-tour:begin").expect("quick-tour:begin marker");
    let end = readme.find("<!-- quick-tour:end -->").expect("quick-tour:end marker");
    let block = &readme[start..end];
    let body = block.split_once("```sh\n").expect("a sh block").1;
    body.rsplit_once("```").expect("the block's end").0.to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

#[test]
fn the_quick_tour_in_the_readme_works_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let clone = tempfile::tempdir().unwrap();
    for dir in ["examples", "config"] {
        copy_dir(&root.join(dir), &clone.path().join(dir));
    }
    let _ = std::fs::remove_dir_all(clone.path().join("examples/var"));
    std::fs::create_dir_all(clone.path().join("target/release")).unwrap();
    std::os::unix::fs::symlink(support::daemon::bin(), clone.path().join("target/release/winback")).unwrap();

    let script = tour();
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(clone.path())
        .env_remove("WINBACK_CONFIG")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(clone.path().join("examples/winback.log")).unwrap_or_default();
    let context = format!("stdout:\n{stdout}\nstderr:\n{}\ndaemon log:\n{log}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the tour failed ({}):\n{context}", out.status);

    let sent = std::fs::read_dir(clone.path().join("examples/var/outbox/new")).unwrap().count();
    assert_eq!(sent, 3, "one message per lapsed customer, none to info@:\n{context}");
    let field = |name: &str| -> Vec<String> {
        stdout.lines().filter_map(|l| l.trim_start().strip_prefix(name)).map(|v| v.trim().to_string()).collect()
    };
    assert_eq!(field("reactivated:"), ["0", "1"], "the click reactivated its contact:\n{context}");
    assert!(field("messages:").first().is_some_and(|m| m.contains("sent 3")), "{context}");
    assert!(stdout.contains("302 -> https://shop.example/"), "the click redirects to the shop:\n{context}");
}
