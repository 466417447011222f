//! Subjects without the reply and forward prefixes mail clients add, for display and for
//! comparing a reply with the case it answers.

/// Reply and forward prefixes, lower case: English, German (AW, WG), French (TR, Réf), Spanish
/// (RV), Scandinavian (SV, VS, VB), Dutch (Antw, Doorst), Polish (Odp, PD), Italian (R, Rif),
/// Portuguese (Res, Enc), Chinese, and the full-width forms CJK clients write.
const PREFIXES: [&str; 28] = [
    "re",
    "fwd",
    "fw",
    "aw",
    "wg",
    "tr",
    "rv",
    "sv",
    "vs",
    "vb",
    "antw",
    "doorst",
    "odp",
    "pd",
    "r",
    "ref",
    "réf",
    "rif",
    "res",
    "enc",
    "回复",
    "回覆",
    "转发",
    "轉寄",
    "答复",
    "ｒｅ",
    "ｆｗ",
    "ｆｗｄ",
];

/// The subject without leading reply/forward prefixes, stripped repeatedly.
///
/// Conservative: a prefix is removed only when it is a known one (case-insensitive) followed by a
/// colon (`:` or the full-width `：`), optionally with a counter (`Re[2]:`, `RE(3):`) or spaces
/// before the colon (`TR :`). A leading list tag such as `[users]` or `[EXTERNAL]` is removed too,
/// but only when it holds no digit — a tag with digits (`[#12]`, `[SR-7]`) may be a case number
/// and is always kept, as is anything after it. Nothing else changes.
pub fn clean_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    loop {
        if let Some(after) = strip_prefix(rest) {
            rest = after.trim_start();
            continue;
        }
        if let Some(after) = strip_list_tag(rest)
            && !after.trim().is_empty()
        {
            rest = after.trim_start();
            continue;
        }
        break;
    }
    rest.trim_end().to_owned()
}

fn strip_prefix(subject: &str) -> Option<&str> {
    PREFIXES.iter().find_map(|prefix| {
        let prefix_chars = prefix.chars().count();
        let end = subject.char_indices().nth(prefix_chars).map_or(subject.len(), |(index, _)| index);
        let head = subject.get(..end)?;
        if head.chars().count() != prefix_chars || head.to_lowercase() != *prefix {
            return None;
        }
        strip_colon(strip_counter(&subject[end..]))
    })
}

/// `[2]` or `(2)` after a prefix.
fn strip_counter(rest: &str) -> &str {
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = rest.strip_prefix(open)
            && let Some(close_at) = inner.find(close)
            && close_at > 0
            && inner[..close_at].bytes().all(|b| b.is_ascii_digit())
        {
            return &inner[close_at + 1..];
        }
    }
    rest
}

fn strip_colon(rest: &str) -> Option<&str> {
    let rest = rest.trim_start_matches([' ', '\u{a0}']);
    rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
}

/// A leading `[tag]` of letters, `-`, `_`, `.` and spaces-free, without digits.
fn strip_list_tag(subject: &str) -> Option<&str> {
    let inner = subject.strip_prefix('[')?;
    let close = inner.find(']')?;
    let tag = &inner[..close];
    let is_list_tag =
        (1..=64).contains(&tag.len()) && tag.chars().any(char::is_alphabetic) && tag.chars().all(|c| c.is_alphabetic() || matches!(c, '-' | '_' | '.'));
    is_list_tag.then(|| &inner[close + 1..])
}
