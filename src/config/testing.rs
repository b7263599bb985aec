//! Test configurations: one sequence with the given steps, using the
//! shipped templates, plus any extra TOML.

use super::Config;

/// A config with `extra` TOML and one sequence `name` whose steps are
/// `(after, template)` pairs (the last one final).
pub fn with_sequence(extra: &str, name: &str, grace: &str, steps: &[(&str, &str)]) -> Config {
    let mut toml = format!("{extra}\n[[sequence]]\nname = \"{name}\"\ngrace = \"{grace}\"\n");
    for (i, (after, template)) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        toml += &format!(
            "[[sequence.step]]\nafter = \"{after}\"\nsubject = \"step {i}\"\ntemplate = \"{template}\"\nfinal = {last}\n"
        );
    }
    Config::from_toml("test", &toml).unwrap_or_else(|e| panic!("test config: {e}"))
}
