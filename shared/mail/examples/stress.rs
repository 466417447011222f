// Temporary: how mail-parser copes with pathological nesting.
fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    let mut raw = b"From: a@b.example\r\n".to_vec();
    let target = 40 * 1024 * 1024 - 1000;
    match kind.as_str() {
        "nest" => { while raw.len() < target { raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"); } }
        "flat" => { raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"); while raw.len() < target { raw.extend_from_slice(b"--b\r\n\r\nx\r\n"); } }
        "headers" => { raw.extend_from_slice(b"Subject: x\r\n\r\n"); while raw.len() < target { raw.extend_from_slice(b"X: y\r\n"); } }
        "encoded" => { raw.extend_from_slice(b"Subject: "); while raw.len() < 400_000 { raw.extend_from_slice(b"=?utf-8?q?a?= "); } raw.extend_from_slice(b"\r\n\r\nbody"); }
        "html" => { raw.extend_from_slice(b"Content-Type: text/html\r\n\r\n"); while raw.len() < target { raw.extend_from_slice(b"<div><b><i><a href=x>"); } }
        "rfc822" => { for _ in 0..10 { raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n"); } raw.extend_from_slice(b"Subject: deep\r\n\r\nbody"); }
        _ => panic!("kind"),
    }
    let start = std::time::Instant::now();
    let result = docket_mail::inbound::parse(&raw, &Default::default());
    println!("{kind}: {} bytes, {:?} -> {:?}", raw.len(), start.elapsed(), result.as_ref().map(|m| (m.attachments.len(), m.text.len())).map_err(|e| e.to_string()));
}
