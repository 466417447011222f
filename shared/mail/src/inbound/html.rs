//! HTML bodies are sanitised before anyone displays them (F20).

use ammonia::{Builder, UrlRelative};

/// How much nesting the HTML parser may have to walk through (the sum, over all start tags, of
/// the depth they open at). html5ever's tree builder searches the stack of open elements for
/// each tag, so deeply nested hostile HTML costs time quadratic in its size: 400 KB of `<div>`
/// take seconds. Real mail stays orders of magnitude below this budget (a 2 MB Outlook thread is
/// about 3 million).
const MAX_NESTING_WORK: u64 = 50_000_000;
/// Most elements sanitised: the parser's tree takes several hundred bytes per element, so 40 MB
/// of tag soup would take gigabytes. 200 000 elements are several megabytes of dense HTML, more
/// than any real mail body.
const MAX_ELEMENTS: u64 = 200_000;

/// Elements that never stay open (void) or are closed implicitly by their next sibling, so they
/// do not deepen the tree.
const FLAT_ELEMENTS: [&str; 33] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param", "keygen", "p", "li", "dt", "dd", "option",
    "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot", "rb", "rt", "rp", "html", "head", "body",
];

/// Sanitises an HTML body with `ammonia`'s allow-list: no scripts, styles, event handlers, forms,
/// frames or comments; links get `rel="noopener noreferrer"`; relative URLs (which would point at
/// our own site) are dropped; `cid:` image references are kept so the UI can map them to inline
/// attachments. Remote images are kept (the UI decides whether to load them).
///
/// `None` when the HTML is nested too deeply or has too many elements (over 200 000) to parse in
/// reasonable time and memory; the text body still has its content.
pub fn sanitize_html(html: &str) -> Option<String> {
    if too_complex(html, MAX_NESTING_WORK, MAX_ELEMENTS) {
        return None;
    }
    let mut builder = Builder::default();
    builder
        .add_url_schemes(["cid"])
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        // Not rendered in a browser either: drop their text along with the tag.
        .add_clean_content_tags(["title", "noscript", "template"]);
    Some(builder.clean(html).to_string().trim().to_owned())
}

/// One linear pass estimating the nesting work of [`MAX_NESTING_WORK`] and the elements from the
/// start and end tags (an overestimate: comments and misnested tags count as they are written).
fn too_complex(html: &str, max_work: u64, max_elements: u64) -> bool {
    let bytes = html.as_bytes();
    let mut depth: u64 = 0;
    let mut work: u64 = 0;
    let mut elements: u64 = 0;
    let mut position = 0;
    while let Some(offset) = bytes[position..].iter().position(|&b| b == b'<') {
        let tag = &bytes[position + offset + 1..];
        position += offset + 1;
        match tag.first() {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(first) if first.is_ascii_alphabetic() => {
                let name_len = tag.iter().position(|b| !b.is_ascii_alphanumeric()).unwrap_or(tag.len());
                let name = &tag[..name_len];
                elements += 1;
                if elements > max_elements {
                    return true;
                }
                let flat = FLAT_ELEMENTS.iter().any(|element| element.as_bytes().eq_ignore_ascii_case(name));
                if !flat {
                    work += depth;
                    depth += 1;
                    if work > max_work {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_html_is_well_within_the_nesting_budget() {
        let thread =
            "<div><p>Reply</p><blockquote><div><b>Von:</b> x<br><table><tr><td>y</td></tr></table>".repeat(50) + &"</div></blockquote></div>".repeat(50);
        assert!(!too_complex(&thread, 1_000_000, 10_000));
        let paragraphs = "<p>text <b>bold</b> <a href=\"https://x.example\">link</a>".repeat(50_000);
        assert!(!too_complex(&paragraphs, MAX_NESTING_WORK, MAX_ELEMENTS));
        assert!(sanitize_html(&paragraphs).is_some());
    }

    #[test]
    fn deeply_nested_html_is_not_handed_to_the_parser() {
        // GIVEN 100 000 nested elements (which take html5ever seconds)
        let nested = "<div><b><i><a href=x>".repeat(25_000);
        // WHEN sanitised
        let started = std::time::Instant::now();
        let clean = sanitize_html(&nested);
        // THEN it is refused at once
        assert_eq!(clean, None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // AND closing tags bring the depth down again
        let balanced = "<div><span>x</span></div>".repeat(20_000);
        assert!(!too_complex(&balanced, MAX_NESTING_WORK, MAX_ELEMENTS));
    }

    #[test]
    fn html_with_too_many_elements_is_not_handed_to_the_parser() {
        let flat = "<p>x<b>y</b></p>".repeat(150_000);
        assert_eq!(sanitize_html(&flat), None);
    }
}
