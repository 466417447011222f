//! Threading signals found in addresses and text (F21).

/// Shortest and longest reply token accepted (Docket's tokens are 24 base32 characters).
const TOKEN_LEN: std::ops::RangeInclusive<usize> = 16..=64;
/// More digits than any case number has (and than fit a `u64`).
const MAX_NUMBER_DIGITS: usize = 19;

/// The reply token of a plus-address: `support+<token>@x.example` gives
/// `("support@x.example", "<token>")`. The token is the part after the last `+` of the local part
/// and must be 16 to 64 characters of lower-case base32 (`[a-z2-7]`; upper case is accepted and
/// returned lower-cased). The domain of the base address is lower-cased. Surrounding angle
/// brackets and whitespace are ignored.
pub fn plus_token(address: &str) -> Option<(String, String)> {
    let address = address.trim();
    let address = address.strip_prefix('<').and_then(|inner| inner.strip_suffix('>')).unwrap_or(address);
    let (local, domain) = address.rsplit_once('@')?;
    let (base, token) = local.rsplit_once('+')?;
    let valid = !base.is_empty()
        && !domain.is_empty()
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && TOKEN_LEN.contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b));
    valid.then(|| (format!("{base}@{}", domain.to_lowercase()), token.to_ascii_lowercase()))
}

/// Case numbers written through a mask with the literal `prefix` and `suffix` (compared
/// ASCII-case-insensitively), e.g. `[#` and `]`, or `SR-` and nothing: every `prefix` + digits +
/// `suffix` in `text`, in order of appearance, without repeats.
///
/// The digits are all the digits there are (`SR-1234` is 1234, never 123), and a mask that starts
/// or ends with a letter or digit must not be glued to one (`XSR-12` and `SR-12a` are not
/// numbers). More than 19 digits are not a number.
pub fn find_numbers(text: &str, prefix: &str, suffix: &str) -> Vec<u64> {
    let bytes = text.as_bytes();
    let prefix = prefix.as_bytes();
    let suffix = suffix.as_bytes();
    let prefix_needs_boundary = prefix.first().is_none_or(u8::is_ascii_alphanumeric);
    let suffix_needs_boundary = suffix.last().is_none_or(u8::is_ascii_alphanumeric);
    let mut numbers = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let candidate = start;
        start += 1;
        if !bytes[candidate..].get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix)) {
            continue;
        }
        if prefix_needs_boundary && candidate > 0 && bytes[candidate - 1].is_ascii_alphanumeric() {
            continue;
        }
        let digits_start = candidate + prefix.len();
        // With an empty prefix, a number starts only where a run of digits starts.
        if prefix.is_empty() && candidate > 0 && bytes[candidate - 1].is_ascii_digit() {
            continue;
        }
        let digits_len = bytes[digits_start..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits_len == 0 || digits_len > MAX_NUMBER_DIGITS {
            continue;
        }
        let digits_end = digits_start + digits_len;
        if !bytes[digits_end..].get(..suffix.len()).is_some_and(|tail| tail.eq_ignore_ascii_case(suffix)) {
            continue;
        }
        let end = digits_end + suffix.len();
        if suffix_needs_boundary && bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        // Only ASCII digits, at most 19 of them: always fits and parses.
        if let Ok(number) = text[digits_start..digits_end].parse::<u64>()
            && !numbers.contains(&number)
        {
            numbers.push(number);
        }
        start = end.max(candidate + 1);
    }
    numbers
}
