// Temporary: memory of hostile structures.
fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    let mut raw = b"From: a@b.example\r\n".to_vec();
    let target = 40 * 1024 * 1024 - 1000;
    match kind.as_str() {
        "partheaders" => { raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"); while raw.len() < target { raw.extend_from_slice(b"X:y\r\n"); } raw.extend_from_slice(b"\r\nbody\r\n--b--\r\n"); }
        "base64" => { raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/pdf\r\n\r\n"); while raw.len() < target { raw.extend_from_slice(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"); } raw.extend_from_slice(b"--b--\r\n"); }
        "lines" => { raw.extend_from_slice(b"\r\n"); while raw.len() < target { raw.extend_from_slice(b"a\r\n"); } }
        _ => panic!("kind"),
    }
    let start = std::time::Instant::now();
    let result = docket_mail::inbound::parse(&raw, &Default::default());
    println!("{kind}: {} bytes, {:?} -> {:?}", raw.len(), start.elapsed(), result.as_ref().map(|m| (m.attachments.len(), m.text.len())).map_err(|e| e.to_string()));
}
