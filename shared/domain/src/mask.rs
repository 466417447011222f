//! The case-number mask: how a number is shown (`[#{n}]`, `SR-{n}`) and read back.

use crate::error::{DomainError, DomainResult};

pub const DEFAULT_MASK: &str = "[#{n}]";
const PLACEHOLDER: &str = "{n}";
const MAX_MASK: usize = 40;

/// A checked mask: exactly one `{n}`, short, printable, single line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNumberMask {
    prefix: String,
    suffix: String,
}

impl CaseNumberMask {
    pub fn parse(mask: &str) -> DomainResult<Self> {
        let field = "case_number_mask";
        if mask.chars().count() > MAX_MASK || mask.chars().any(char::is_control) {
            return Err(DomainError::invalid(field, format!("must be one line of at most {MAX_MASK} characters")));
        }
        if mask.matches(PLACEHOLDER).count() != 1 {
            return Err(DomainError::invalid(field, "must contain {n} exactly once"));
        }
        let (prefix, suffix) = mask.split_once(PLACEHOLDER).unwrap_or((mask, ""));
        if prefix.is_empty() && suffix.is_empty() {
            return Err(DomainError::invalid(field, "needs text around {n} so numbers can be found in subjects"));
        }
        if prefix.ends_with(|c: char| c.is_ascii_digit()) || suffix.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(DomainError::invalid(field, "must not put digits right beside {n}"));
        }
        Ok(Self { prefix: prefix.to_owned(), suffix: suffix.to_owned() })
    }

    /// The literal text before and after the number.
    pub fn parts(&self) -> (&str, &str) {
        (&self.prefix, &self.suffix)
    }

    pub fn format(&self, number: u64) -> String {
        format!("{}{number}{}", self.prefix, self.suffix)
    }

    /// Reads a number written through this mask (`SR-42` → 42); `None` when it does not fit.
    pub fn read(&self, text: &str) -> Option<u64> {
        let digits = text.strip_prefix(self.prefix.as_str())?.strip_suffix(self.suffix.as_str())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

impl Default for CaseNumberMask {
    fn default() -> Self {
        Self { prefix: "[#".into(), suffix: "]".into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_formats_and_reads_back() {
        let mask = CaseNumberMask::parse(DEFAULT_MASK).unwrap();
        assert_eq!(mask, CaseNumberMask::default());
        assert_eq!(mask.format(42), "[#42]");
        assert_eq!(mask.read("[#42]"), Some(42));
        assert_eq!(mask.read("[#4x2]"), None);
        assert_eq!(mask.read("42"), None);
    }

    #[test]
    fn custom_mask_round_trips() {
        let mask = CaseNumberMask::parse("SR-{n}").unwrap();
        assert_eq!(mask.format(7), "SR-7");
        assert_eq!(mask.read("SR-7"), Some(7));
    }

    #[test]
    fn bad_masks_are_refused_with_a_reason() {
        for bad in ["{n}", "no placeholder", "{n}-{n}", "A1{n}", "x\r\n{n}", &"x".repeat(50)] {
            let err = CaseNumberMask::parse(bad).unwrap_err();
            assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "case_number_mask"), "{bad}");
        }
    }
}
