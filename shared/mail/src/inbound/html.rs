//! HTML bodies are sanitised before anyone displays them (F20).

use ammonia::{Builder, UrlRelative};

/// Sanitises an HTML body with `ammonia`'s allow-list: no scripts, styles, event handlers, forms,
/// frames or comments; links get `rel="noopener noreferrer"`; relative URLs (which would point at
/// our own site) are dropped; `cid:` image references are kept so the UI can map them to inline
/// attachments.
pub fn sanitize_html(html: &str) -> String {
    let mut builder = Builder::default();
    builder
        .add_url_schemes(["cid"])
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        // Not rendered in a browser either: drop their text along with the tag.
        .add_clean_content_tags(["title", "noscript", "template"]);
    builder.clean(html).to_string()
}
