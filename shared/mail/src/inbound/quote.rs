//! Splits the quoted history off a reply, for the stream view (F20). The full text is always
//! kept as well, so a wrong guess here hides nothing for good.

/// Words between the dashes of an "original message" or "forwarded message" separator line,
/// lower case.
const ORIGINAL_MESSAGE_MARKERS: [&str; 17] = [
    "original message",
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "ursprüngliche nachricht",
    "message d'origine",
    "message d’origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "original meddelelse",
    "ursprungligt meddelande",
    "wiadomość oryginalna",
    "mensagem original",
];

/// First fields of the header block Outlook writes above a quoted message.
const HEADER_BLOCK_FROM: [&str; 8] = [
    "from:", "von:", "de:", "de :", "van:", "da:", "från:", "od:",
];
/// Fields that follow `From:` in such a block.
const HEADER_BLOCK_SENT: [&str; 13] = [
    "sent:",
    "gesendet:",
    "envoyé:",
    "envoyé :",
    "enviado el:",
    "enviado:",
    "verzonden:",
    "inviato:",
    "skickat:",
    "wysłano:",
    "date:",
    "datum:",
    "date :",
];

/// Attribution lines: (how they start, a word they contain), lower case. They also end with a
/// colon and hold a digit or an `@` (a date or an address).
const ATTRIBUTIONS: [(&str, &str); 11] = [
    ("on ", "wrote"),
    ("am ", "schrieb"),
    ("le ", "a écrit"),
    ("el ", "escribió"),
    ("il ", "ha scritto"),
    ("op ", "schreef"),
    ("den ", "skrev"),
    ("em ", "escreveu"),
    ("w dniu ", "pisze"),
    ("dne ", "napsal"),
    ("pe ", "a scris"),
];

/// Splits `text` into what the sender wrote and the quoted history below it: `(visible, quoted)`.
///
/// The history starts at the first of: an attribution line ("On … wrote:", "Am … schrieb …:",
/// "Le … a écrit :", …, also when wrapped over two lines), an "-----Original Message-----" or
/// "---------- Forwarded message ---------" separator (in several languages), Outlook's "From: … / Sent: …" header block (with the
/// underscore rule above it), or the block of `>`-quoted lines that ends the text (with an
/// attribution line just above it). When nothing would be left visible (a forwarded message,
/// say), everything stays visible.
pub fn split_quoted(text: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let cut = [separator_start(&lines), trailing_quote_start(&lines)]
        .into_iter()
        .flatten()
        .min();
    let whole = || (text.trim_end().to_owned(), None);
    let Some(cut) = cut else {
        return whole();
    };
    let visible = lines[..cut].join("\n");
    let visible = visible.trim_end();
    if visible.trim().is_empty() {
        return whole();
    }
    let quoted = lines[cut..].join("\n");
    let quoted = quoted.trim();
    if quoted.is_empty() {
        return whole();
    }
    (visible.to_owned(), Some(quoted.to_owned()))
}

fn separator_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find_map(|index| {
        if is_original_message_marker(lines[index]) || is_attribution(lines, index) {
            return Some(index);
        }
        if is_header_block(lines, index) {
            // Outlook draws a rule of underscores above the block.
            let rule_above = index
                .checked_sub(1)
                .filter(|&above| is_underscore_rule(lines[above]))
                .or_else(|| {
                    index.checked_sub(2).filter(|&above| {
                        lines[above + 1].trim().is_empty() && is_underscore_rule(lines[above])
                    })
                });
            return Some(rule_above.unwrap_or(index));
        }
        None
    })
}

fn is_original_message_marker(line: &str) -> bool {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    // Apple Mail and iOS write the forward marker without dashes.
    lower == "begin forwarded message:"
        || lower == "anfang der weitergeleiteten nachricht:"
        || (trimmed.starts_with("---")
            && ORIGINAL_MESSAGE_MARKERS.contains(&lower.trim_matches('-').trim()))
}

fn is_underscore_rule(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= 10 && trimmed.bytes().all(|b| b == b'_')
}

/// Lower case, without the `*` and whitespace HTML-to-text conversion leaves around bold text.
fn field_line(line: &str) -> String {
    line.trim()
        .trim_start_matches('*')
        .replace('*', "")
        .trim()
        .to_lowercase()
}

fn is_header_block(lines: &[&str], index: usize) -> bool {
    let first = field_line(lines[index]);
    HEADER_BLOCK_FROM
        .iter()
        .any(|field| first.starts_with(field))
        && lines[index + 1..]
            .iter()
            .take(4)
            .map(|line| field_line(line))
            .any(|line| HEADER_BLOCK_SENT.iter().any(|field| line.starts_with(field)))
}

fn is_attribution(lines: &[&str], index: usize) -> bool {
    let line = lines[index].trim();
    if looks_like_attribution(line) {
        return true;
    }
    // Clients wrap long attribution lines: "On …, Jane <\njane@example.com> wrote:".
    !line.ends_with(':')
        && lines
            .get(index + 1)
            .is_some_and(|next| looks_like_attribution(&format!("{line} {}", next.trim())))
}

fn looks_like_attribution(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.ends_with(':')
        && line.len() <= 400
        && line.chars().any(|c| c.is_ascii_digit() || c == '@')
        && ATTRIBUTIONS
            .iter()
            .any(|(start, verb)| lower.starts_with(start) && lower.contains(verb))
}

/// The first line of the block of `>`-quoted (and blank) lines that ends the text, or of the
/// attribution line ending in `:` right above it.
fn trailing_quote_start(lines: &[&str]) -> Option<usize> {
    let mut start = None;
    for index in (0..lines.len()).rev() {
        let line = lines[index].trim_start();
        if line.starts_with('>') {
            start = Some(index);
        } else if !line.trim().is_empty() {
            break;
        }
    }
    let start = start?;
    // An attribution in a language we do not know: the line right above (or one blank line
    // above) ending in a colon.
    let above = (1..=2)
        .filter_map(|distance| start.checked_sub(distance))
        .find(|&above| !lines[above].trim().is_empty());
    match above {
        Some(above)
            if lines[above].trim_end().ends_with(':')
                && lines[above + 1..start].iter().all(|l| l.trim().is_empty()) =>
        {
            Some(above)
        }
        _ => Some(start),
    }
}
