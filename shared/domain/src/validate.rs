//! Field validation shared by every entity: lengths, single-line text, addresses and ids.
//! Each check names the offending field so the API can report it.

use crate::error::{DomainError, DomainResult};

pub const MAX_NAME: usize = 200;
pub const MAX_SUBJECT: usize = 300;
pub const MAX_LONG_TEXT: usize = 65_536;
pub const MAX_ID: usize = 64;
pub const MAX_EMAIL: usize = 254;

/// Single-line text: trimmed, not empty, no control characters (which also keeps CR/LF out of
/// anything that may later become a mail header).
pub fn line(field: &str, value: &str, max: usize) -> DomainResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must be a single line without control characters"));
    }
    Ok(value.to_owned())
}

pub fn optional_line(field: &str, value: Option<&str>, max: usize) -> DomainResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => line(field, v, max).map(Some),
    }
}

/// The name of an attached file, as its uploader gave it: one line (see [`line`]) of at most
/// [`MAX_NAME`] characters, without folders. It is shown and offered as the name to save the
/// file under, encoded for each place it goes (a `Content-Disposition`, a mail header).
pub fn file_name(field: &str, value: &str) -> DomainResult<String> {
    let name = line(field, value, MAX_NAME)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(DomainError::invalid(field, "a file name has no folders"));
    }
    Ok(name)
}

/// Multi-line text: newlines and tabs allowed, other control characters refused.
pub fn long_text(field: &str, value: &str, max: usize) -> DomainResult<String> {
    if value.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// A reference to another record by id.
pub fn id(field: &str, value: &str) -> DomainResult<String> {
    if value.is_empty() || value.len() > MAX_ID || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(DomainError::invalid(field, "is not a valid id"));
    }
    Ok(value.to_owned())
}

/// An email address, lower-cased: `local@domain` with a plausible domain.
pub fn email(field: &str, value: &str) -> DomainResult<String> {
    let value = value.trim().to_lowercase();
    let bad = || DomainError::invalid(field, format!("{value:?} is not an email address"));
    if value.len() > MAX_EMAIL || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.contains(['<', '>', ',', ';', '"', '(', ')']) || domain_name(field, domain).is_err() {
        return Err(bad());
    }
    Ok(value)
}

/// A DNS domain name, lower-cased.
pub fn domain_name(field: &str, value: &str) -> DomainResult<String> {
    let value = value.trim().trim_end_matches('.').to_lowercase();
    let labels_ok = value.split('.').count() >= 2
        && value
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if value.len() > 253 || !labels_ok {
        return Err(DomainError::invalid(field, format!("{value:?} is not a domain name")));
    }
    Ok(value)
}

/// A web origin as browsers send it in `Origin`: `http(s)://host[:port]`, lower-cased, with no
/// path. The host is a domain name, `localhost` or an IPv4 address.
pub fn origin(field: &str, value: &str) -> DomainResult<String> {
    let normalized = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let bad = || DomainError::invalid(field, format!("{normalized:?} is not an origin like https://www.example.com"));
    let (scheme, authority) = normalized.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") || authority.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(bad());
    }
    let host_ok = host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok() || domain_name(field, host).is_ok();
    if !host_ok {
        return Err(bad());
    }
    Ok(normalized)
}

/// A list without duplicates and with a bounded length, each element checked by `check`.
pub fn list<T: PartialEq + std::fmt::Debug>(
    field: &str,
    values: &[impl AsRef<str>],
    max: usize,
    check: impl Fn(&str, &str) -> DomainResult<T>,
) -> DomainResult<Vec<T>> {
    if values.len() > max {
        return Err(DomainError::invalid(field, format!("holds at most {max} entries")));
    }
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        let v = check(field, v.as_ref())?;
        if out.contains(&v) {
            return Err(DomainError::invalid(field, format!("lists {v:?} twice")));
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_text_refuses_header_breaking_characters() {
        assert!(line("subject", "hello\r\nBcc: x@example.com", 300).is_err());
        assert!(line("subject", "bad\0nul", 300).is_err());
        assert_eq!(line("subject", "  fine  ", 300).unwrap(), "fine");
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email("emails", "Ada@Example.COM").unwrap(), "ada@example.com");
        for bad in ["ada", "@example.com", "ada@", "ada@localhost", "a b@example.com", "<a@example.com>"] {
            assert!(email("emails", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(origin("o", "HTTPS://www.Example.com/").unwrap(), "https://www.example.com");
        assert_eq!(origin("o", "http://localhost:8080").unwrap(), "http://localhost:8080");
        for bad in ["www.example.com", "ftp://example.com", "https://example.com/form", "https://example.com:0", "https://a@example.com", "null"] {
            assert!(origin("o", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lists_refuse_duplicates_and_excess() {
        let two = vec!["a@example.com".to_owned(), "A@example.com".to_owned()];
        assert!(list("emails", &two, 10, email).is_err());
        let many = vec!["x".to_owned(); 3];
        assert!(list("ids", &many, 2, id).is_err());
    }
}
