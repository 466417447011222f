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
const HEADER_BLOCK_FROM: [&str; 8] = ["from:", "von:", "de:", "de :", "van:", "da:", "från:", "od:"];
/// Fields that follow `From:` in such a block.
const HEADER_BLOCK_SENT: [&str; 13] =
    ["sent:", "gesendet:", "envoyé:", "envoyé :", "enviado el:", "enviado:", "verzonden:", "inviato:", "skickat:", "wysłano:", "date:", "datum:", "date :"];

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
/// "---------- Forwarded message ---------" separator (in several languages), Outlook's
/// "From: … / Sent: …" header block (with the underscore rule above it), or the block of
/// `>`-quoted lines that ends the text (with an attribution line just above it). When nothing
/// would be left visible (a forward without a note, say), everything stays visible.
pub fn split_quoted(text: &str) -> (String, Option<String>) {
    let cut = [separator_start(text), trailing_quote_start(text)].into_iter().flatten().min();
    let whole = || (text.trim_end().to_owned(), None);
    let Some(cut) = cut else {
        return whole();
    };
    let visible = text[..cut].trim_end();
    let quoted = text[cut..].trim();
    if visible.trim().is_empty() || quoted.is_empty() {
        return whole();
    }
    (visible.to_owned(), Some(quoted.to_owned()))
}

/// The lines of `text` without their line ends, each with the byte offset it starts at. Works
/// in both directions without collecting, so huge bodies cost no extra memory.
fn lines(text: &str) -> impl DoubleEndedIterator<Item = (usize, &str)> + Clone {
    text.split_inclusive('\n').map(move |line| {
        let offset = line.as_ptr() as usize - text.as_ptr() as usize;
        let line = line.strip_suffix('\n').unwrap_or(line);
        (offset, line.strip_suffix('\r').unwrap_or(line))
    })
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Byte offset of the first separator line (or of the underscore rule above a header block).
fn separator_start(text: &str) -> Option<usize> {
    let mut rest = lines(text);
    // The two lines above the current one.
    let mut above: [Option<&str>; 2] = [None, None];
    let mut above_offsets = [0usize; 2];
    while let Some((offset, line)) = rest.next() {
        if is_original_message_marker(line) || is_attribution(line, rest.clone().next().map(|(_, next)| next)) {
            return Some(offset);
        }
        if is_header_block(line, rest.clone().take(4).map(|(_, next)| next)) {
            // Outlook draws a rule of underscores above the block, sometimes with a blank line.
            return Some(match above {
                [_, Some(previous)] if is_underscore_rule(previous) => above_offsets[1],
                [Some(before), Some(previous)] if is_blank(previous) && is_underscore_rule(before) => above_offsets[0],
                _ => offset,
            });
        }
        above = [above[1], Some(line)];
        above_offsets = [above_offsets[1], offset];
    }
    None
}

fn is_original_message_marker(line: &str) -> bool {
    let trimmed = line.trim();
    if trimmed.len() > 120 {
        return false;
    }
    let lower = trimmed.to_lowercase();
    // Apple Mail and iOS write the forward marker without dashes.
    lower == "begin forwarded message:"
        || lower == "anfang der weitergeleiteten nachricht:"
        || (trimmed.starts_with("---") && ORIGINAL_MESSAGE_MARKERS.contains(&lower.trim_matches('-').trim()))
}

fn is_underscore_rule(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= 10 && trimmed.bytes().all(|b| b == b'_')
}

/// Lower case, without the `*` and whitespace HTML-to-text conversion leaves around bold text.
fn field_line(line: &str) -> Option<String> {
    // A field name comes first: no need to look at long lines or lines without a colon.
    let head = line.get(..line.len().min(64)).unwrap_or(line);
    head.contains(':').then(|| line.trim().trim_start_matches('*').replace('*', "").trim().to_lowercase())
}

fn is_header_block<'a>(line: &str, mut next_lines: impl Iterator<Item = &'a str>) -> bool {
    field_line(line).is_some_and(|first| HEADER_BLOCK_FROM.iter().any(|field| first.starts_with(field)))
        && next_lines.any(|next| field_line(next).is_some_and(|next| HEADER_BLOCK_SENT.iter().any(|field| next.starts_with(field))))
}

fn is_attribution(line: &str, next: Option<&str>) -> bool {
    let line = line.trim();
    if !starts_like_attribution(line) {
        return false;
    }
    if looks_like_attribution(line) {
        return true;
    }
    // Clients wrap long attribution lines: "On …, Jane <\njane@example.com> wrote:".
    !line.ends_with(':') && next.is_some_and(|next| looks_like_attribution(&format!("{line} {}", next.trim())))
}

/// A cheap test before the allocating ones: the line starts like one of [`ATTRIBUTIONS`].
fn starts_like_attribution(line: &str) -> bool {
    ATTRIBUTIONS.iter().any(|(start, _)| line.as_bytes().get(..start.len()).is_some_and(|head| head.eq_ignore_ascii_case(start.as_bytes())))
}

fn looks_like_attribution(line: &str) -> bool {
    if line.len() > 400 || !line.ends_with(':') {
        return false;
    }
    let lower = line.to_lowercase();
    line.chars().any(|c| c.is_ascii_digit() || c == '@') && ATTRIBUTIONS.iter().any(|(start, verb)| lower.starts_with(start) && lower.contains(verb))
}

/// Byte offset of the first line of the block of `>`-quoted (and blank) lines that ends the
/// text, or of the attribution line ending in `:` right above it.
fn trailing_quote_start(text: &str) -> Option<usize> {
    let mut from_end = lines(text).rev().peekable();
    let mut start = None;
    while let Some(&(offset, line)) = from_end.peek() {
        if line.trim_start().starts_with('>') {
            start = Some(offset);
        } else if !is_blank(line) {
            break;
        }
        from_end.next();
    }
    let start = start?;
    // An attribution in a language we do not know: the line right above, or above one blank
    // line, ending in a colon.
    let above: Vec<(usize, &str)> = lines(&text[..start]).rev().take(2).collect();
    let attribution = match above.as_slice() {
        [(offset, line), ..] if !is_blank(line) => Some((*offset, *line)),
        [(_, blank), (offset, line)] if is_blank(blank) => Some((*offset, *line)),
        _ => None,
    };
    match attribution {
        Some((offset, line)) if line.trim_end().ends_with(':') => Some(offset),
        _ => Some(start),
    }
}
