// Temporary: how the HTML steps scale with hostile nesting.
fn main() {
    let size: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let pattern = std::env::args().nth(2).unwrap_or("<div><b><i><a href=x>".into());
    let mut html = String::new();
    while html.len() < size { html.push_str(&pattern); }
    let start = std::time::Instant::now();
    let text = mail_parser::decoders::html::html_to_text(&html);
    let t1 = start.elapsed();
    let start = std::time::Instant::now();
    let clean = docket_mail::inbound::sanitize_html(&html);
    println!("{size}: html_to_text {t1:?} ({}), ammonia {:?} ({})", text.len(), start.elapsed(), clean.len());
}
