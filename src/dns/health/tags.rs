//! The `tag=value; tag=value` syntax shared by DKIM key records
//! (RFC 6376 §3.2) and DMARC records (RFC 7489 §6.4).

/// Parsed tags in record order; names lower-cased, values trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// Parses a tag list; a tag without `=` or a repeated tag is an error.
    pub fn parse(text: &str) -> Result<Tags, String> {
        let mut tags: Vec<(String, String)> = Vec::new();
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}` is not tag=value"))?;
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                return Err(format!("`{part}` has no tag name"));
            }
            if tags.iter().any(|(n, _)| *n == name) {
                return Err(format!("tag {name}= appears twice"));
            }
            tags.push((name, value.trim().to_string()));
        }
        Ok(Tags(tags))
    }

    /// The value of a tag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first tag's name, if any.
    pub fn first_name(&self) -> Option<&str> {
        self.0.first().map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let t = Tags::parse(" v=DKIM1; K = rsa ;p=AB CD;").unwrap();
        assert_eq!(t.get("k"), Some("rsa"));
        assert_eq!(t.get("p"), Some("AB CD"));
        assert_eq!(t.first_name(), Some("v"));
        assert!(Tags::parse("v=DMARC1; p=none; p=reject").is_err());
        assert!(Tags::parse("v=DMARC1; nonsense").is_err());
    }
}
