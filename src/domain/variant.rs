//! Variants of a sequence step (A/B tests): `[[sequence.step.variant]]` as
//! written and validated, and which variant a contact gets.
//!
//! A step with variants sends each contact one of them. The choice is a
//! keyed hash of the address, the sequence and the step, spread over the
//! variants by weight: the same contact always gets the same variant of a
//! step (re-imports and restarts change nothing), and the choices of two
//! steps are independent. A variant overrides the step's subject, its
//! template, or both; what it leaves out is the step's.
//!
//! With `auto_promote = true` on the step, once the report finds one
//! variant significantly better than every other on reactivation, new
//! contacts all get that variant ([`PROMOTED_PREFIX`] records it); without
//! it, the split never changes by itself.

use serde::Deserialize;

/// One `[[sequence.step.variant]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    /// Unique within the step; shown in the report.
    pub name: String,
    /// Relative share of contacts (default 1).
    pub weight: Option<f64>,
    /// Subject line (default: the step's).
    pub subject: Option<String>,
    /// Template name (default: the step's).
    pub template: Option<String>,
}

/// One validated variant.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantConfig {
    /// Name.
    pub name: String,
    /// Relative share, positive.
    pub weight: f64,
    /// Subject template source.
    pub subject: String,
    /// Template name.
    pub template: String,
}

/// The blob naming a step's promoted variant: `PREFIX{sequence}:{step}`,
/// step 0-based.
pub const PROMOTED_PREFIX: &str = "variant:promoted:";

/// The blob key of the promoted variant of a step.
pub fn promoted_key(sequence: &str, step: usize) -> String {
    format!("{PROMOTED_PREFIX}{sequence}:{step}")
}

/// A bad variant: the key (below the step) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantError {
    /// `variant[N].name`, …
    pub key: String,
    /// The problem and the fix.
    pub message: String,
}

/// Validates the variants of one step; `subject` and `template` are the
/// step's, `templates_dir` where template files must exist.
pub fn validate(
    raw: &[RawVariant],
    subject: &str,
    template: &str,
    templates_dir: &crate::config::TemplateDirs,
) -> Result<Vec<VariantConfig>, VariantError> {
    let mut out: Vec<VariantConfig> = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        let err = |k: &str, m: String| VariantError { key: format!("variant[{i}].{k}"), message: m };
        if v.name.is_empty() || !crate::config::valid_kind(&v.name) {
            return Err(err(
                "name",
                "use lower-case letters, digits, `_` and `-`, like \"a\" or \"free-shipping\"".into(),
            ));
        }
        if out.iter().any(|o| o.name == v.name) {
            return Err(err("name", format!("two variants of the step are called `{}`", v.name)));
        }
        let weight = v.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight > 0.0) {
            return Err(err("weight", format!("`{weight}`: write a positive number (shares are relative)")));
        }
        let template = v.template.clone().unwrap_or_else(|| template.to_string());
        for ext in ["txt", "html"] {
            let p = templates_dir.file(&format!("{template}.{ext}"));
            if !p.is_file() {
                return Err(err(
                    "template",
                    format!("{} does not exist; each template needs a .txt and an .html file", p.display()),
                ));
            }
        }
        let subject = v.subject.clone().unwrap_or_else(|| subject.to_string());
        out.push(VariantConfig { name: v.name.clone(), weight, subject, template });
    }
    if out.len() == 1 {
        return Err(VariantError {
            key: "variant".into(),
            message: "a step with variants needs at least two; put a single one's subject and template on the step"
                .into(),
        });
    }
    Ok(out)
}

/// A uniform number in [0, 1) from a keyed hash of the address, the
/// sequence and the 0-based step.
pub fn draw(key: &[u8], email: &str, sequence: &str, step: usize) -> f64 {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else { return 0.0 };
    mac.update(b"variant\0");
    mac.update(sequence.as_bytes());
    mac.update(b"\0");
    mac.update(step.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(email.trim().to_ascii_lowercase().as_bytes());
    let bytes = mac.finalize().into_bytes();
    let x = u64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    // 53 bits: exactly representable, strictly below 1.
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The variant a draw `x` in [0, 1) falls on, by weight; `None` without
/// variants.
pub fn pick(variants: &[VariantConfig], x: f64) -> Option<&VariantConfig> {
    let total: f64 = variants.iter().map(|v| v.weight).sum();
    let mut at = x * total;
    for v in variants {
        if at < v.weight {
            return Some(v);
        }
        at -= v.weight;
    }
    // Rounding at the very top end: the last one.
    variants.last()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, weight: f64) -> VariantConfig {
        VariantConfig { name: name.into(), weight, subject: "s".into(), template: "t".into() }
    }

    #[test]
    fn the_draw_is_stable_independent_per_step_and_split_by_weight() {
        let key = [7u8; 32];
        let vs = [v("a", 1.0), v("b", 3.0)];
        assert_eq!(draw(&key, "Ann@Example.net ", "wb", 0), draw(&key, "ann@example.net", "wb", 0));
        assert_ne!(draw(&key, "ann@example.net", "wb", 0), draw(&key, "ann@example.net", "wb", 1));
        let n = 20_000;
        let mut b = 0;
        let mut same = 0;
        for i in 0..n {
            let e = format!("c{i}@example.net");
            let first = pick(&vs, draw(&key, &e, "wb", 0)).unwrap().name.clone();
            let second = pick(&vs, draw(&key, &e, "wb", 1)).unwrap().name.clone();
            b += usize::from(first == "b");
            same += usize::from(first == second);
        }
        // Binomial(20000, 0.75): sd 61; five sd either way.
        assert!((14_695..=15_305).contains(&b), "{b}");
        // Independent steps agree with probability 0.75² + 0.25² = 0.625.
        assert!((12_160..=12_840).contains(&same), "{same}");
    }

    #[test]
    fn pick_follows_the_cumulative_weights() {
        let vs = [v("a", 1.0), v("b", 2.0), v("c", 1.0)];
        let at = |x| pick(&vs, x).unwrap().name.as_str();
        assert_eq!([at(0.0), at(0.249), at(0.25), at(0.74), at(0.75), at(0.999_999)], ["a", "a", "b", "b", "c", "c"]);
        assert!(pick(&[], 0.5).is_none());
    }

    #[test]
    fn validation_names_the_key_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["base.txt", "base.html", "alt.txt", "alt.html"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let raw = |name: &str, weight: Option<f64>, template: Option<&str>| RawVariant {
            name: name.into(),
            weight,
            subject: None,
            template: template.map(String::from),
        };
        let ok = validate(
            &[raw("a", None, None), raw("b", Some(2.0), Some("alt"))],
            "Hi",
            "base",
            &crate::config::TemplateDirs::one(dir.path()),
        )
        .unwrap();
        assert_eq!(
            ok[0],
            VariantConfig { name: "a".into(), weight: 1.0, subject: "Hi".into(), template: "base".into() }
        );
        assert_eq!((ok[1].weight, ok[1].template.as_str()), (2.0, "alt"));
        let key = |r: Vec<RawVariant>| {
            validate(&r, "Hi", "base", &crate::config::TemplateDirs::one(dir.path())).unwrap_err().key
        };
        assert_eq!(key(vec![raw("a", None, None), raw("a", None, None)]), "variant[1].name");
        assert_eq!(key(vec![raw("A b", None, None), raw("a", None, None)]), "variant[0].name");
        assert_eq!(key(vec![raw("a", Some(0.0), None), raw("b", None, None)]), "variant[0].weight");
        assert_eq!(key(vec![raw("a", Some(f64::NAN), None), raw("b", None, None)]), "variant[0].weight");
        assert_eq!(key(vec![raw("a", None, Some("missing")), raw("b", None, None)]), "variant[0].template");
        assert_eq!(key(vec![raw("a", None, None)]), "variant");
        assert!(validate(&[], "Hi", "base", &crate::config::TemplateDirs::one(dir.path())).unwrap().is_empty());
    }
}
