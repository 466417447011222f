// Temporary: prints what the parser makes of each corpus message.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
    files.sort();
    let only = std::env::args().nth(1);
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if only.as_deref().is_some_and(|o| !name.contains(o)) { continue; }
        let raw = std::fs::read(&file).unwrap();
        println!("=== {name}"); if std::env::var("DBG").is_ok() { debug(&raw); }
        match docket_mail::inbound::parse(&raw, &Default::default()) {
            Ok(m) => {
                println!("subject={:?}\nclean={:?}\nid={:?}\nirt={:?}\nrefs={:?}\nfrom={:?}\nto={:?}\ncc={:?}\ndate={:?}", m.subject, m.clean_subject, m.message_id, m.in_reply_to, m.references, m.from, m.to, m.cc, m.date);
                println!("auto={:?}", m.auto);
                println!("text={:?}\nvisible={:?}\nquoted={:?}", m.text, m.visible_text, m.quoted_text);
                println!("html={:?}", m.html_sanitized);
                for a in &m.attachments { println!("att name={:?} ct={:?} cid={:?} inline={} len={} head={:?}", a.file_name, a.content_type, a.content_id, a.inline, a.bytes.len(), String::from_utf8_lossy(&a.bytes[..a.bytes.len().min(40)])); }
            }
            Err(e) => println!("ERR {e:?}"),
        }
    }
}
#[allow(dead_code)]
fn debug(raw: &[u8]) {
    let m = mail_parser::MessageParser::new().parse(raw).unwrap();
    println!("text_body={:?} html_body={:?} attachments={:?}", m.text_body, m.html_body, m.attachments);
    for (i, p) in m.parts.iter().enumerate() { println!("part {i}: {:?} enc_problem={}", match &p.body { mail_parser::PartType::Text(t) => format!("Text({:?})", t), mail_parser::PartType::Html(_) => "Html".into(), mail_parser::PartType::Binary(b) => format!("Binary({})", b.len()), mail_parser::PartType::InlineBinary(_) => "Inline".into(), mail_parser::PartType::Message(_) => "Message".into(), mail_parser::PartType::Multipart(v) => format!("Multipart({v:?})") }, p.is_encoding_problem); }
}
