use proptest::prelude::*;

use super::*;

/// A message from header lines and a body, with CRLF line ends.
fn raw(headers: &[&str], body: &str) -> Vec<u8> {
    raw_bytes(headers, body.as_bytes())
}

/// Like [`raw`], with a body that need not be UTF-8.
fn raw_bytes(headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut message = headers.join("\r\n").into_bytes();
    message.extend_from_slice(b"\r\n\r\n");
    for &byte in body {
        if byte == b'\n' {
            message.push(b'\r');
        }
        message.push(byte);
    }
    message
}

fn simple(extra_headers: &[&str]) -> Vec<u8> {
    let mut headers = vec![
        "From: Ada Customer <ada@customer.example>",
        "To: support@docket.example",
        "Subject: Printer on fire",
        "Message-ID: <m1@customer.example>",
        "Date: Tue, 05 Mar 2024 10:12:00 +0100",
    ];
    headers.extend_from_slice(extra_headers);
    raw(&headers, "Hello\n")
}

fn parsed(raw: &[u8]) -> InboundMessage {
    parse(raw, &Limits::default()).expect("parses")
}

// ---------------------------------------------------------------- message ids

#[test]
fn message_ids_are_normalised_with_or_without_angle_brackets() {
    // GIVEN ids as mail-parser returns them (bare) and as SES event headers keep them (bracketed)
    // WHEN normalised
    // THEN both give the bare id, trimmed
    assert_eq!(normalize_message_id("a1@x.example").as_deref(), Some("a1@x.example"));
    assert_eq!(normalize_message_id("<a1@x.example>").as_deref(), Some("a1@x.example"));
    assert_eq!(normalize_message_id("  <a1@x.example>  ").as_deref(), Some("a1@x.example"));
    assert_eq!(normalize_message_id("< a1@x.example >").as_deref(), Some("a1@x.example"));
    assert_eq!(normalize_message_id("<a1@x.example> (Ada's message of Tuesday)").as_deref(), Some("a1@x.example"));
    assert_eq!(normalize_message_id("a1@x.example>").as_deref(), Some("a1@x.example"));
}

#[test]
fn unusable_message_ids_are_none() {
    // GIVEN empty, bracket-only, spaced, control-laden and overlong ids
    // WHEN normalised
    // THEN none is accepted
    assert_eq!(normalize_message_id(""), None);
    assert_eq!(normalize_message_id("<>"), None);
    assert_eq!(normalize_message_id("   "), None);
    assert_eq!(normalize_message_id("a b@x"), None);
    assert_eq!(normalize_message_id("a\r\nBcc: x@y"), None);
    assert_eq!(normalize_message_id("a\0@x"), None);
    assert_eq!(normalize_message_id(&format!("{}@x", "a".repeat(600))), None);
}

#[test]
fn id_lists_are_split_in_order() {
    // GIVEN References values in the forms clients write
    // WHEN split
    // THEN every id comes out normalised, in order
    assert_eq!(parse_message_ids("<a@x> <b@y>"), ["a@x", "b@y"]);
    assert_eq!(parse_message_ids("<a@x>,<b@y>"), ["a@x", "b@y"]);
    assert_eq!(parse_message_ids("a@x b@y"), ["a@x", "b@y"]);
    assert_eq!(parse_message_ids(" <a@x>\r\n\t<b@y> "), ["a@x", "b@y"]);
    assert_eq!(parse_message_ids("<a@x><b@y>"), ["a@x", "b@y"]);
    assert!(parse_message_ids("").is_empty());
    assert!(parse_message_ids("<> , ").is_empty());
}

#[test]
fn threading_headers_are_read_normalised() {
    // GIVEN a reply with Message-ID, In-Reply-To and a folded References header
    let message = parsed(&raw(
        &[
            "From: ada@customer.example",
            "Message-ID:   <reply-1@customer.example>",
            "In-Reply-To: <n1@docket.example>",
            "References: <root@customer.example>\r\n <n1@docket.example>",
            "Subject: Re: x",
        ],
        "ok\n",
    ));
    // WHEN parsed
    // THEN ids are bare and in order
    assert_eq!(message.message_id.as_deref(), Some("reply-1@customer.example"));
    assert_eq!(message.in_reply_to, ["n1@docket.example"]);
    assert_eq!(message.references, ["root@customer.example", "n1@docket.example"]);
}

#[test]
fn message_without_brackets_in_its_ids_still_threads() {
    // GIVEN a broken client writing ids without angle brackets
    let message = parsed(&raw(&["From: ada@customer.example", "Message-ID: bare-1@x.example", "In-Reply-To: n1@docket.example"], "ok\n"));
    // THEN they are read all the same
    assert_eq!(message.message_id.as_deref(), Some("bare-1@x.example"));
    assert_eq!(message.in_reply_to, ["n1@docket.example"]);
}

// ---------------------------------------------------------------- subjects

#[test]
fn reply_and_forward_prefixes_are_stripped_repeatedly_in_many_languages() {
    // GIVEN subjects with prefixes in the languages of F20
    // WHEN cleaned
    // THEN only the subject is left
    let cases = [
        ("Re: Printer", "Printer"),
        ("RE: RE: Printer", "Printer"),
        ("re:Printer", "Printer"),
        ("Fwd: Printer", "Printer"),
        ("FW: WG: TR: Printer", "Printer"),
        ("Fw: Printer", "Printer"),
        ("AW: Drucker", "Drucker"),
        ("WG: AW: Drucker", "Drucker"),
        ("TR : RE : Imprimante", "Imprimante"),
        ("Réf: Imprimante", "Imprimante"),
        ("RÉF : Imprimante", "Imprimante"),
        ("Ref: Printer", "Printer"),
        ("RV: Impresora", "Impresora"),
        ("SV: Skrivare", "Skrivare"),
        ("VS: Tulostin", "Tulostin"),
        ("Antw: Printer", "Printer"),
        ("Doorst: Printer", "Printer"),
        ("Odp: Drukarka", "Drukarka"),
        ("PD: Drukarka", "Drukarka"),
        ("R: Stampante", "Stampante"),
        ("回复：打印机", "打印机"),
        ("转发: 打印机", "打印机"),
        ("答复: 打印机", "打印机"),
        ("Ｒｅ：プリンター", "プリンター"),
        ("ＲＥ: プリンター", "プリンター"),
        ("Re[2]: Printer", "Printer"),
        ("RE(3): Printer", "Printer"),
        ("Re: [users] Re: Printer", "Printer"),
        ("[EXTERNAL] RE: Printer", "Printer"),
        ("  Re:   Printer  ", "Printer"),
    ];
    for (subject, clean) in cases {
        assert_eq!(clean_subject(subject), clean, "{subject:?}");
    }
}

#[test]
fn subject_cleaning_is_conservative() {
    // GIVEN subjects that merely look like prefixes, and case numbers in tags
    // WHEN cleaned
    // THEN nothing that is not a known prefix followed by a colon goes, and case tags stay
    let cases = [
        ("Printer", "Printer"),
        ("Rex: my dog", "Rex: my dog"),
        ("Re Printer", "Re Printer"),
        ("Reply needed", "Reply needed"),
        ("Fwd Printer", "Fwd Printer"),
        ("[#12] Printer", "[#12] Printer"),
        ("Re: [#12] Printer", "[#12] Printer"),
        ("[#12] Re: Printer", "[#12] Re: Printer"),
        ("[SR-7] Printer", "[SR-7] Printer"),
        ("[Case 12] Printer", "[Case 12] Printer"),
        ("[users]", "[users]"),
        ("Re:", ""),
        ("", ""),
        ("Time: 10:00", "Time: 10:00"),
    ];
    for (subject, clean) in cases {
        assert_eq!(clean_subject(subject), clean, "{subject:?}");
    }
}

#[test]
fn subject_is_decoded_and_made_header_safe() {
    // GIVEN a B-encoded subject hiding CR LF and a Bcc header, and a Q-encoded one with NUL
    let b = parsed(&raw(&["From: x@y.example", "Subject: =?UTF-8?B?SGVsbG8NCkJjYzogdmljdGltQGV2aWwuZXhhbXBsZQ==?="], "x\n"));
    let q = parsed(&raw(&["From: x@y.example", "Subject: =?UTF-8?Q?Hi=0D=0ABcc:_v@evil.example=00end?="], "x\n"));
    // THEN the decoded text is single-line
    assert_eq!(b.subject, "Hello Bcc: victim@evil.example");
    assert_eq!(q.subject, "Hi Bcc: v@evil.example end");
    assert!(b.header("Bcc").is_none() && q.header("Bcc").is_none());
}

// ---------------------------------------------------------------- threading signals

#[test]
fn plus_tokens_are_split_off_the_address() {
    // GIVEN reply addresses with base32 tokens
    let token = "abcdefghijklmnopqrstuvwx";
    // WHEN looked at
    // THEN the base address and the token come apart
    assert_eq!(plus_token(&format!("support+{token}@Docket.Example")), Some(("support@docket.example".to_owned(), token.to_owned())));
    assert_eq!(plus_token(&format!("<help+desk+{}@x.example>", token.to_uppercase())), Some(("help+desk@x.example".to_owned(), token.to_owned())));
    assert_eq!(plus_token("support+abcdefghijklmnop@x.example").map(|(_, t)| t.len()), Some(16));
}

#[test]
fn things_that_are_not_reply_tokens_are_refused() {
    // GIVEN addresses without a token, with short, long or non-base32 tokens
    // THEN none gives a token
    assert_eq!(plus_token("support@x.example"), None);
    assert_eq!(plus_token("support+abc123@x.com"), None, "too short and not base32");
    assert_eq!(plus_token("support+abcdefghijklmno@x.example"), None, "15 characters");
    assert_eq!(plus_token(&format!("support+{}@x.example", "a".repeat(65))), None);
    assert_eq!(plus_token("support+abcdefghijklmnop1@x.example"), None, "1 is not base32");
    assert_eq!(plus_token("support+abcdefghijklmnop-@x.example"), None);
    assert_eq!(plus_token("+abcdefghijklmnop@x.example"), None, "no base");
    assert_eq!(plus_token("support+abcdefghijklmnop@"), None, "no domain");
    assert_eq!(plus_token("support+abcdefghijklmnop"), None, "no at");
    assert_eq!(plus_token("sup port+abcdefghijklmnop@x.example"), None);
}

#[test]
fn case_numbers_are_found_through_the_mask() {
    // GIVEN subjects with numbers behind masks
    // WHEN searched
    // THEN whole numbers behind the literal prefix and suffix are found, in order, once each
    assert_eq!(find_numbers("[#12] Printer", "[#", "]"), [12]);
    assert_eq!(find_numbers("Re: Printer [#12]", "[#", "]"), [12]);
    assert_eq!(find_numbers("[#12] and [#7] and [#12]", "[#", "]"), [12, 7]);
    assert_eq!(find_numbers("[#0012]", "[#", "]"), [12]);
    assert_eq!(find_numbers("SR-123 broke", "SR-", ""), [123]);
    assert_eq!(find_numbers("sr-123", "SR-", ""), [123], "case-insensitive");
    assert_eq!(find_numbers("(SR-5)", "SR-", ""), [5]);
    assert_eq!(find_numbers("Fall Nr. 42.", "Nr. ", ""), [42]);
    assert_eq!(find_numbers("Grüße [#9] ünd", "[#", "]"), [9]);
    assert_eq!(find_numbers("Ticket 12 and 345x and 6", "", ""), [12, 6]);
}

#[test]
fn digits_that_continue_or_glued_masks_are_not_numbers() {
    // GIVEN near misses
    // THEN none matches
    assert!(find_numbers("SR-1234", "SR-", "").iter().all(|&n| n == 1234));
    assert_eq!(find_numbers("SR-1234", "SR-", ""), [1234], "never 123");
    assert!(find_numbers("[#12", "[#", "]").is_empty());
    assert!(find_numbers("[#12a]", "[#", "]").is_empty());
    assert!(find_numbers("[#]", "[#", "]").is_empty());
    assert!(find_numbers("XSR-12", "SR-", "").is_empty());
    assert!(find_numbers("SR-12a", "SR-", "").is_empty());
    assert!(find_numbers("SR-", "SR-", "").is_empty());
    assert!(find_numbers(&format!("[#{}]", "9".repeat(20)), "[#", "]").is_empty());
    assert!(find_numbers("", "[#", "]").is_empty());
    assert_eq!(find_numbers("Case12", "Case", ""), [12], "prefix ending in a letter is fine");
    assert!(find_numbers("Case12x", "Case", "").is_empty());
}

// ---------------------------------------------------------------- quoted history

#[test]
fn gmail_style_attribution_starts_the_quote_even_when_wrapped() {
    let text =
        "Thanks, that worked.\n\nAda\n\nOn Tue, 5 Mar 2024 at 10:12, Docket Support <\nsupport@docket.example> wrote:\n\n> Please restart the printer.\n>\n";
    let (visible, quoted) = split_quoted(text);
    assert_eq!(visible, "Thanks, that worked.\n\nAda");
    let quoted = quoted.expect("quoted");
    assert!(quoted.starts_with("On Tue, 5 Mar 2024"), "{quoted}");
    assert!(quoted.ends_with("> Please restart the printer.\n>"), "{quoted}");
}

#[test]
fn german_french_and_outlook_separators_start_the_quote() {
    let cases = [
        "Danke!\n\nAm 05.03.2024 um 10:12 schrieb Docket Support <support@docket.example>:\n> Bitte neu starten.",
        "Merci !\n\nLe mar. 5 mars 2024 à 10:12, Docket Support <support@docket.example> a écrit :\n> Redémarrez.",
        "Thanks\n\n-----Original Message-----\nFrom: Docket Support\nSent: Tuesday, March 5, 2024 10:12 AM\nSubject: x\n\nRestart.",
        "Thanks\n\n________________________________\nFrom: Docket Support <support@docket.example>\nSent: Tuesday, March 5, 2024 10:12 AM\nTo: Ada\nSubject: x\n\nRestart.",
        "Thanks\n\n*From:* Docket Support\n*Sent:* Tuesday, March 5, 2024\n\nRestart.",
        "Danke\n\nVon: Docket Support\nGesendet: Dienstag, 5. März 2024 10:12\nAn: Ada\n\nNeu starten.",
        "Merci\n\nDe : Docket Support\nEnvoyé : mardi 5 mars 2024 10:12\n\nRedémarrez.",
        "Thanks\n\n-----Ursprüngliche Nachricht-----\nVon: Docket\n\nx",
    ];
    for text in cases {
        let (visible, quoted) = split_quoted(text);
        assert!(matches!(visible.as_str(), "Danke!" | "Merci !" | "Thanks" | "Danke" | "Merci"), "{text:?} gave visible {visible:?}");
        assert!(quoted.is_some(), "{text:?}");
    }
}

#[test]
fn trailing_quote_block_with_unknown_attribution_is_split_off() {
    let text = "Sounds good.\n\nSent from my iPhone\n\n> On 5 Mar 2024, at 10:12, Docket <support@docket.example> wrote:\n> \n> Restart it.\n";
    let (visible, quoted) = split_quoted(text);
    assert_eq!(visible, "Sounds good.\n\nSent from my iPhone");
    assert!(quoted.expect("quoted").starts_with("> On 5 Mar"));

    let text = "Dobrze.\n\nNapisał ktoś:\n> tekst\n> więcej";
    let (visible, quoted) = split_quoted(text);
    assert_eq!(visible, "Dobrze.");
    assert_eq!(quoted.as_deref(), Some("Napisał ktoś:\n> tekst\n> więcej"));
}

#[test]
fn text_without_history_or_with_only_history_stays_visible() {
    // GIVEN a message without quotes, one with inline answers, a forward without own text, and a
    // sentence that merely resembles an attribution
    let cases = [
        "Just a question.\nAnother line.",
        "> your question\nmy answer\n> second question\nsecond answer",
        "-----Original Message-----\nFrom: Bob\nSent: today 10:00\n\nForwarded content",
        "On Monday I wrote: the report is late.\nMore text.",
        "On the printer I wrote:\nhello",
    ];
    for text in cases {
        let (visible, quoted) = split_quoted(text);
        assert_eq!(visible, text.trim_end(), "{text:?}");
        assert_eq!(quoted, None, "{text:?}");
    }
}

// ---------------------------------------------------------------- HTML

#[test]
fn html_is_sanitised_but_keeps_links_and_cid_images() {
    let html = r#"<html><head><title>T</title><style>body{color:red}</style><script>alert(1)</script></head>
<body onload="steal()"><p style="color:red" onclick="x()">Hello <b>there</b></p>
<a href="https://example.com/x">link</a> <a href="javascript:alert(1)">bad</a> <a href="/relative">rel</a>
<img src="cid:image001.png@01DA6F00.12345670" alt="logo"><img src="data:image/png;base64,AAAA">
<form action="https://evil.example"><input name="password"><button>Go</button></form>
<iframe src="https://evil.example"></iframe><!-- secret comment --></body></html>"#;
    let clean = sanitize_html(html).expect("ordinary HTML is sanitised");
    for forbidden in [
        "<script",
        "alert(1)",
        "<style",
        "color:red",
        "onload",
        "onclick",
        "<form",
        "<input",
        "javascript:",
        "<iframe",
        "secret comment",
        "/relative",
        "data:",
        "<title",
        ">T<",
    ] {
        assert!(!clean.contains(forbidden), "{forbidden:?} in {clean}");
    }
    assert!(clean.contains(r#"<a href="https://example.com/x" rel="noopener noreferrer">link</a>"#), "{clean}");
    assert!(clean.contains(r#"src="cid:image001.png@01DA6F00.12345670""#), "{clean}");
    assert!(clean.contains("Hello <b>there</b>"), "{clean}");
}

// ---------------------------------------------------------------- attachments

#[test]
fn file_names_are_made_safe() {
    let cases = [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\invoice.pdf", "invoice.pdf"),
        ("in\u{0}voice\r\n.pdf", "invoice.pdf"),
        ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
        ("  .hidden.  ", "hidden"),
        ("..", DEFAULT_FILE_NAME),
        ("", DEFAULT_FILE_NAME),
        ("dir/", DEFAULT_FILE_NAME),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("Grüße.txt", "Grüße.txt"),
    ];
    for (name, safe) in cases {
        assert_eq!(sanitize_file_name(name), safe, "{name:?}");
    }
    let long = format!("{}.pdf", "x".repeat(300));
    let safe = sanitize_file_name(&long);
    assert_eq!(safe.chars().count(), 200);
    assert!(safe.ends_with("xx.pdf"));
    let long_no_extension = "é".repeat(300);
    assert_eq!(sanitize_file_name(&long_no_extension).chars().count(), 200);
}

#[test]
fn text_attachments_keep_their_own_bytes_and_inline_images_their_content_id() {
    // GIVEN a mixed message with a Latin-1 text attachment and an inline image
    let body = b"--b1\nContent-Type: text/plain; charset=utf-8\n\nSee attached.\n--b1\nContent-Type: text/plain; charset=iso-8859-1; name=\"caf\xe9.txt\"\nContent-Disposition: attachment; filename=\"menu.txt\"\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 cr=E8me\n--b1\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b1--\n";
    let message = parsed(&raw_bytes(&["From: a@b.example", "Content-Type: multipart/mixed; boundary=b1"], body));
    // THEN the text attachment has its Latin-1 bytes and the image is inline with its id
    assert_eq!(message.text, "See attached.");
    assert_eq!(message.attachments.len(), 2);
    let menu = &message.attachments[0];
    assert_eq!(menu.file_name, "menu.txt");
    assert_eq!(menu.content_type, "text/plain");
    assert_eq!(menu.bytes, b"caf\xe9 cr\xe8me");
    assert!(!menu.inline);
    let logo = &message.attachments[1];
    assert_eq!(logo.content_id.as_deref(), Some("logo@x"));
    assert!(logo.inline);
    assert_eq!(logo.file_name, DEFAULT_FILE_NAME);
    assert_eq!(logo.bytes, b"\x89PNG\r\n\x1a\n");
    assert_eq!(message.inline_attachment("cid:logo@x"), Some(logo));
    assert_eq!(message.inline_attachment("<logo@x>"), Some(logo));
    assert_eq!(message.inline_attachment("other@x"), None);
}

// ---------------------------------------------------------------- headers

#[test]
fn addresses_are_read_validated_and_made_safe() {
    let message = parsed(&raw(
        &[
            "From: =?UTF-8?B?QWRhDQpCY2M6IHhAeQ==?= <Ada@Customer.EXAMPLE>",
            "To: support@docket.example, undisclosed-recipients:;",
            "Cc: Team: bob@b.example, carol@c.example;, not-an-address",
            "Reply-To: <replies@customer.example>",
        ],
        "x\n",
    ));
    let from = message.from.expect("from");
    assert_eq!(from.email, "Ada@customer.example");
    assert_eq!(from.name.as_deref(), Some("Ada Bcc: x@y"));
    let emails = |list: &[Address]| list.iter().map(|a| a.email.clone()).collect::<Vec<_>>();
    assert_eq!(emails(&message.to), ["support@docket.example"]);
    assert_eq!(emails(&message.cc), ["bob@b.example", "carol@c.example"]);
    assert_eq!(emails(&message.reply_to), ["replies@customer.example"]);
}

#[test]
fn date_is_read_with_its_offset() {
    let message = parsed(&simple(&[]));
    let date = message.date.expect("date");
    assert_eq!(date.unix_timestamp(), 1_709_629_920);
    assert_eq!(date.offset().whole_hours(), 1);

    let broken = parsed(&raw(&["From: a@b.example", "Date: 31 Feb 2024 99:00"], "x"));
    assert_eq!(broken.date, None);
}

#[test]
fn raw_headers_are_unfolded_single_line_and_in_order() {
    let message = parsed(&raw(&["From: a@b.example", "X-Custom: one\r\n two", "x-custom: three", "Subject: s"], "x"));
    assert_eq!(message.header("X-CUSTOM"), Some("one two"));
    assert_eq!(message.header_all("x-custom").collect::<Vec<_>>(), ["one two", "three"]);
    let names: Vec<_> = message.raw_headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["From", "X-Custom", "x-custom", "Subject"]);
    assert_eq!(message.headers().header("subject"), Some("s"));
}

#[test]
fn text_body_has_unix_line_ends_and_html_only_mail_is_converted() {
    let message = parsed(&raw(&["From: a@b.example"], "line 1\nline 2\n"));
    assert_eq!(message.text, "line 1\nline 2\n");
    assert_eq!(message.html_sanitized, None);

    let html = parsed(&raw(&["From: a@b.example", "Content-Type: text/html; charset=utf-8"], "<p>Hello <b>world</b></p><script>x()</script>"));
    assert!(html.text.contains("Hello world"), "{:?}", html.text);
    assert_eq!(html.html_sanitized.as_deref(), Some("<p>Hello <b>world</b></p>"));
}

// ---------------------------------------------------------------- classification

fn automatic_of(extra_headers: &[&str]) -> Option<String> {
    parsed(&simple(extra_headers)).auto.automatic
}

#[test]
fn each_rfc3834_and_list_marker_makes_a_message_automatic() {
    let cases: [(&[&str], &str); 13] = [
        (&["Auto-Submitted: auto-replied"], "Auto-Submitted: auto-replied"),
        (&["Auto-Submitted: auto-generated; owner-email=x@y"], "Auto-Submitted: auto-generated"),
        (&["Auto-Submitted: Auto-Notified"], "Auto-Submitted: auto-notified"),
        (&["X-Autoreply: yes"], "X-Autoreply"),
        (&["X-Autorespond: Out of office"], "X-Autorespond"),
        (&["Precedence: bulk"], "Precedence: bulk"),
        (&["Precedence: JUNK"], "Precedence: junk"),
        (&["Precedence: list"], "Precedence: list"),
        (&["X-Loop: support@docket.example"], "X-Loop"),
        (&["List-Id: Users <users.lists.example>"], "List-Id"),
        (&["List-Unsubscribe: <mailto:leave@lists.example>"], "List-Unsubscribe"),
        (&["Return-Path: <>"], "null Return-Path"),
        (&["Content-Type: multipart/report; report-type=disposition-notification; boundary=x"], "multipart/report; report-type=disposition-notification"),
    ];
    for (headers, reason) in cases {
        assert_eq!(automatic_of(headers).as_deref(), Some(reason), "{headers:?}");
    }
}

#[test]
fn ordinary_markers_do_not_make_a_message_automatic() {
    for headers in [
        &[][..],
        &["Auto-Submitted: no"],
        &["X-Auto-Response-Suppress: All"],
        &["Precedence: first-class"],
        &["X-Autoreply: no"],
        &["Return-Path: <ada@customer.example>"],
        &["Importance: high", "X-Priority: 1"],
    ] {
        assert_eq!(automatic_of(headers), None, "{headers:?}");
    }
}

#[test]
fn out_of_office_needs_an_automatic_marker() {
    let ooo = |headers: &[&str], subject: &str| {
        let mut all = vec!["From: a@b.example"];
        let subject = format!("Subject: {subject}");
        all.push(&subject);
        all.extend_from_slice(headers);
        parsed(&raw(&all, "x")).auto.out_of_office
    };
    assert!(ooo(&["Auto-Submitted: auto-replied"], "Re: Printer"));
    assert!(ooo(&["X-Autoreply: yes"], "Printer"));
    assert!(ooo(&["Auto-Submitted: auto-generated"], "Automatic reply: Printer"));
    assert!(ooo(&["Precedence: bulk"], "Abwesenheitsnotiz: Drucker"));
    assert!(!ooo(&[], "Out of office next week"), "a person writing about it");
    assert!(!ooo(&["Auto-Submitted: auto-generated"], "Your invoice"));
    assert!(!ooo(&["List-Id: <l.example>", "Precedence: list"], "Out of office"));
}

fn ses_raw(above: &[&str], below: &[&str]) -> Vec<u8> {
    let mut headers = vec!["Return-Path: <ada@customer.example>", "Received: from mx by inbound-smtp.us-east-1.amazonaws.com"];
    headers.extend_from_slice(above);
    headers.push("X-SES-RECEIPT: AEFBQUFBQUFBQUFHbmZ1");
    headers.push("X-SES-DKIM-SIGNATURE: a=rsa-sha256; d=amazonses.com; b=abc");
    headers.extend_from_slice(below);
    headers.extend_from_slice(&["From: ada@customer.example", "To: support@docket.example", "Subject: x"]);
    raw(&headers, "x")
}

#[test]
fn ses_verdicts_are_read_from_above_the_receipt() {
    let message = parsed(&ses_raw(
        &[
            "X-SES-Spam-Verdict: FAIL",
            "X-SES-Virus-Verdict: PASS",
            "Received-SPF: pass (spfCheck: domain of customer.example designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;",
            "Authentication-Results: amazonses.com;\r\n spf=softfail (spfCheck: ...) client-ip=192.0.2.1; envelope-from=ada@customer.example;\r\n dkim=pass header.i=@customer.example;\r\n dmarc=fail header.from=customer.example;",
        ],
        &[],
    ));
    let ses = message.auto.ses;
    assert!(ses.received_by_ses);
    assert_eq!(ses.spam, Verdict::Fail);
    assert_eq!(ses.virus, Verdict::Pass);
    assert_eq!(ses.spf, Verdict::Gray, "Authentication-Results wins over Received-SPF");
    assert_eq!(ses.dkim, Verdict::Pass);
    assert_eq!(ses.dmarc, Verdict::Fail);
}

#[test]
fn forged_verdicts_below_the_receipt_are_ignored() {
    // GIVEN SES's spam FAIL above the receipt and the sender's forged PASS verdicts below it
    let message = parsed(&ses_raw(
        &["X-SES-Spam-Verdict: FAIL", "X-SES-Virus-Verdict: FAIL"],
        &[
            "X-SES-Spam-Verdict: PASS",
            "X-SES-Virus-Verdict: PASS",
            "Authentication-Results: amazonses.com; spf=pass; dkim=pass; dmarc=pass",
            "Received-SPF: pass",
        ],
    ));
    // THEN only SES's own verdicts count
    let ses = message.auto.ses;
    assert_eq!(ses.spam, Verdict::Fail);
    assert_eq!(ses.virus, Verdict::Fail);
    assert_eq!(ses.dmarc, Verdict::Unknown);
    assert_eq!(ses.spf, Verdict::Unknown);
    assert_eq!(ses.dkim, Verdict::Unknown);
}

#[test]
fn verdicts_of_other_servers_and_of_mail_without_receipt_are_unknown() {
    let other_server = parsed(&ses_raw(&["Authentication-Results: mx.google.com; spf=pass; dkim=pass; dmarc=pass"], &[]));
    assert_eq!(other_server.auto.ses.dmarc, Verdict::Unknown);
    assert_eq!(other_server.auto.ses.spam, Verdict::Unknown);

    let local = parsed(&simple(&["X-SES-Spam-Verdict: PASS", "Authentication-Results: amazonses.com; dmarc=pass"]));
    assert_eq!(local.auto.ses, SesVerdicts::default());
    assert!(!local.auto.ses.received_by_ses);
}

#[test]
fn verdict_values_map_to_ses_terms() {
    let cases = [
        ("PASS", Verdict::Pass),
        ("pass (spfCheck: ok)", Verdict::Pass),
        ("FAIL", Verdict::Fail),
        ("hardfail", Verdict::Fail),
        ("GRAY", Verdict::Gray),
        ("softfail", Verdict::Gray),
        ("neutral", Verdict::Gray),
        ("none", Verdict::Gray),
        ("PROCESSING_FAILED", Verdict::ProcessingFailed),
        ("temperror", Verdict::ProcessingFailed),
        ("", Verdict::Unknown),
        ("maybe", Verdict::Unknown),
    ];
    for (value, verdict) in cases {
        assert_eq!(Verdict::from_value(value), verdict, "{value:?}");
    }
    assert_eq!(Verdict::ProcessingFailed.as_str(), "PROCESSING_FAILED");
}

#[test]
fn a_delivery_status_notification_gives_the_bounce_details() {
    let body = "--r\nContent-Type: text/plain\n\nDelivery failed.\n--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.customer.example\n\nFinal-Recipient: rfc822; gone@customer.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n--r\nContent-Type: text/rfc822-headers\n\nFrom: support@docket.example\nMessage-ID: <n1@docket.example>\nSubject: [#42] x\n--r--\n";
    let message = parsed(&raw(&["From: MAILER-DAEMON@customer.example", "Content-Type: multipart/report; report-type=delivery-status; boundary=r"], body));
    assert_eq!(message.auto.automatic.as_deref(), Some("multipart/report; report-type=delivery-status"));
    let bounce = message.auto.bounce.expect("bounce");
    assert_eq!(bounce.original_message_id.as_deref(), Some("n1@docket.example"));
    assert_eq!(bounce.recipient.as_deref(), Some("gone@customer.example"));
    assert_eq!(bounce.status.as_deref(), Some("5.1.1"));
    assert_eq!(bounce.action.as_deref(), Some("failed"));
    assert_eq!(bounce.diagnostic.as_deref(), Some("smtp; 550 5.1.1 user unknown"));
    assert!(bounce.is_failure());
    assert!(!message.auto.out_of_office);
}

// ---------------------------------------------------------------- limits and failures

#[test]
fn limits_are_enforced_with_classified_errors() {
    let message = simple(&[]);
    let tight = |change: fn(&mut Limits)| {
        let mut limits = Limits::default();
        change(&mut limits);
        parse(&message, &limits).map(|_| ())
    };
    assert_eq!(tight(|l| l.max_bytes = 10), Err(ParseError::TooLarge { size: message.len(), max: 10 }));
    assert!(matches!(tight(|l| l.max_header_bytes = 20), Err(ParseError::HeadersTooLarge { max: 20, .. })));

    let mixed = raw(
        &["From: a@b.example", "Content-Type: multipart/mixed; boundary=b"],
        "--b\n\none\n--b\nContent-Type: application/pdf\n\n%PDF\n--b\nContent-Type: application/pdf\n\n%PDF\n--b--\n",
    );
    let mut limits = Limits { max_parts: 3, ..Limits::default() };
    assert_eq!(parse(&mixed, &limits), Err(ParseError::TooManyParts { count: 4, max: 3 }));
    limits = Limits { max_attachments: 1, ..Limits::default() };
    assert_eq!(parse(&mixed, &limits), Err(ParseError::TooManyAttachments { count: 2, max: 1 }));
    assert_eq!(parse(&mixed, &Limits::default()).map(|m| m.attachments.len()), Ok(2));
}

#[test]
fn input_without_headers_is_malformed() {
    for input in [&b""[..], b"\r\n\r\nbody only", b"\x00\x01\x02", b"no colon here"] {
        let error = parse(input, &Limits::default()).expect_err("refused");
        assert_eq!(error.kind(), "malformed", "{input:?}");
        assert!(!error.is_limit());
    }
}

#[test]
fn headers_of_an_oversize_message_can_still_be_read() {
    // GIVEN a message over the size limit
    let mut message = simple(&["In-Reply-To: <n1@docket.example>"]);
    message.extend(std::iter::repeat_n(b'x', 4096));
    let limits = Limits { max_bytes: 1024, ..Limits::default() };
    // WHEN parsed, and its headers read on their own
    let error = parse(&message, &limits).expect_err("too large");
    assert!(matches!(error, ParseError::TooLarge { .. }) && error.is_limit());
    let headers = parse_headers_only(&message, &limits).expect("headers");
    // THEN the headers are there, with the size of the whole message
    assert_eq!(headers.subject, "Printer on fire");
    assert_eq!(headers.in_reply_to, ["n1@docket.example"]);
    assert_eq!(headers.size, message.len());
    assert_eq!(headers.from.map(|a| a.email).as_deref(), Some("ada@customer.example"));
}

#[test]
fn headers_only_cuts_a_huge_header_section_at_a_line_end() {
    let long = format!("X-Long: {}", "y".repeat(5000));
    let message = raw(&["From: a@b.example", "Subject: kept", &long, "X-After: lost"], "x");
    let limits = Limits { max_header_bytes: 200, ..Limits::default() };
    assert!(matches!(parse(&message, &limits), Err(ParseError::HeadersTooLarge { .. })));
    let headers = parse_headers_only(&message, &limits).expect("headers");
    assert_eq!(headers.subject, "kept");
    assert_eq!(headers.header("X-After"), None);
}

#[test]
fn a_panic_while_parsing_becomes_malformed() {
    let result: Result<(), ParseError> = guarded(PARSER_FAILED, || panic!("boom\r\nin the parser"));
    assert_eq!(result, Err(ParseError::Malformed { reason: "mail-parser failed: boom in the parser".to_owned() }));
}

#[test]
fn header_section_length_is_found_with_either_line_end() {
    assert_eq!(header_section_len(b"A: b\r\n\r\nbody"), 8);
    assert_eq!(header_section_len(b"A: b\n\nbody"), 6);
    assert_eq!(header_section_len(b"A: b\n"), 5);
    assert_eq!(header_section_len(b"\r\nbody"), 2);
    assert_eq!(header_section_len(b""), 0);
}

// ---------------------------------------------------------------- properties

/// Small limits, so that arbitrary input also runs into them.
fn small_limits() -> Limits {
    Limits { max_bytes: 16 * 1024, max_parts: 8, max_header_bytes: 2048, max_attachments: 3 }
}

/// What every outcome of `parse` must satisfy.
fn assert_well_formed_outcome(input: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    match parse(input, limits) {
        Ok(message) => {
            prop_assert!(input.len() <= limits.max_bytes);
            prop_assert!(message.attachments.len() <= limits.max_attachments);
            prop_assert_eq!(message.size, input.len());
            let single_line = |value: &str| !value.contains(['\r', '\n', '\0']);
            prop_assert!(single_line(&message.subject));
            prop_assert!(single_line(&message.clean_subject));
            for address in message.from.iter().chain(&message.to).chain(&message.cc).chain(&message.reply_to) {
                prop_assert!(single_line(&address.email));
                prop_assert!(address.name.as_deref().is_none_or(single_line));
            }
            for header in &message.raw_headers {
                prop_assert!(single_line(&header.name) && single_line(&header.value));
            }
            for attachment in &message.attachments {
                prop_assert!(!attachment.file_name.is_empty());
                prop_assert!(attachment.file_name.chars().count() <= 200);
                prop_assert!(!attachment.file_name.contains(['/', '\\', '\0', '\r', '\n']));
            }
            prop_assert!(!message.text.contains('\r'));
        }
        Err(ParseError::Malformed { reason }) => {
            // A classified refusal; a panic in our own extraction would be a bug.
            prop_assert!(!reason.starts_with(EXTRACTION_FAILED), "{}", reason);
        }
        Err(error) => prop_assert!(error.is_limit()),
    }
    prop_assert!(parse_headers_only(input, limits).is_ok() || parse(input, limits).is_err());
    Ok(())
}

/// Bytes that look a little like mail: header-ish lines, boundaries, encodings.
fn mail_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"From: a@b.example\r\n".to_vec()),
        Just(b"Subject: =?utf-8?B?SGk=?= =?iso-8859-1?Q?caf=E9?=\r\n".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\r\n".to_vec()),
        Just(b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n".to_vec()),
        Just(b"Content-Type: message/delivery-status\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"Content-Disposition: attachment; filename=\"../x\r\n.txt\"\r\n".to_vec()),
        Just(b"X-SES-RECEIPT: x\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"--b\r\n".to_vec()),
        Just(b"--b--\r\n".to_vec()),
        Just(b"aGVsbG8gd29ybGQ=\r\n".to_vec()),
        Just(b"=E9=0D=0A=\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..4096)) {
        assert_well_formed_outcome(&input, &Limits::default())?;
        assert_well_formed_outcome(&input, &small_limits())?;
    }

    #[test]
    fn parse_never_panics_on_mail_like_bytes(input in mail_like()) {
        assert_well_formed_outcome(&input, &Limits::default())?;
        assert_well_formed_outcome(&input, &small_limits())?;
    }

    #[test]
    fn subject_cleaning_and_number_search_never_panic(text in any::<String>(), prefix in any::<String>(), suffix in any::<String>()) {
        let clean = clean_subject(&text);
        prop_assert!(text.contains(clean.as_str()));
        let _ = find_numbers(&text, &prefix, &suffix);
        let _ = plus_token(&text);
        let _ = split_quoted(&text);
        let _ = normalize_message_id(&text);
        prop_assert!(!sanitize_file_name(&text).is_empty());
    }
}

// ---------------------------------------------------------------- structure, flowed text, fallbacks

#[test]
fn format_flowed_soft_breaks_are_joined() {
    assert_eq!(unflow("one \ntwo\nthree", false), "one two\nthree");
    assert_eq!(unflow("one \ntwo", true), "onetwo");
    assert_eq!(unflow("> quoted \n> more\nmine", false), "> quoted more\nmine");
    assert_eq!(unflow("soft \n> quoted", false), "soft \n> quoted", "a depth change is a hard break");
    assert_eq!(unflow("-- \nsignature", false), "-- \nsignature", "the signature separator");
    assert_eq!(unflow(" From space-stuffed\n", false), "From space-stuffed\n");
    assert_eq!(unflow(">\n> x", false), ">\n> x");
}

#[test]
fn a_multipart_without_boundary_keeps_its_body_as_text() {
    let message = parsed(&raw(&["From: a@b.example", "Content-Type: multipart/mixed"], "--foo\nContent-Type: text/plain\n\nlost text\n--foo--\n"));
    assert!(message.text.contains("lost text"), "{:?}", message.text);
    assert!(message.attachments.is_empty());
}

#[test]
fn a_truncated_base64_attachment_is_decoded_as_far_as_it_goes() {
    let message = parsed(&raw(
        &["From: a@b.example", "Content-Type: multipart/mixed; boundary=b"],
        "--b\n\nsee log\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29y\nbGQ",
    ));
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].bytes, b"hello wor");
}

#[test]
fn structures_that_would_blow_up_the_parser_are_refused_before_parsing() {
    // GIVEN a message with 60 000 tiny parts, and one with 300 000 part header lines
    let mut parts = raw(&["From: a@b.example", "Content-Type: multipart/mixed; boundary=b"], "");
    parts.extend("--b\r\n\r\nx\r\n".repeat(60_000).bytes());
    let mut headers = raw(&["From: a@b.example", "Content-Type: multipart/mixed; boundary=b"], "--b\n");
    headers.extend("X:y\r\n".repeat(300_000).bytes());
    // THEN both are too complex, with their headers still readable
    for message in [parts, headers] {
        let error = parse(&message, &Limits::default()).expect_err("refused");
        assert_eq!(error.kind(), "too_complex", "{error}");
        assert!(error.is_limit());
        assert!(parse_headers_only(&message, &Limits::default()).is_ok());
    }
    // AND an ordinary message with dashes in its text is not
    let dashes = raw(&["From: a@b.example"], &"-----Original Message-----\nx\n".repeat(1_000));
    assert!(parse(&dashes, &Limits::default()).is_ok());
    assert_eq!(count_dash_pairs(b"-----"), 2);
    assert_eq!(count_dash_pairs(b"a--b--"), 2);
}

#[test]
fn header_recipients_are_to_then_cc_without_bcc() {
    // GIVEN a message to two addresses, one Cc and one Bcc
    let message =
        raw(&["From: a@b.example", "To: \"Support\" <Support@Acme.example>, sales@acme.example", "Cc: boss@b.example", "Bcc: hidden@acme.example"], "hello");
    // THEN the recipients are the To then the Cc addresses; the Bcc one is not among them
    let recipients = header_recipients(&message);
    assert_eq!(recipients.len(), 3, "{recipients:?}");
    assert!(recipients[0].eq_ignore_ascii_case("support@acme.example"), "{recipients:?}");
    assert_eq!(recipients[1], "sales@acme.example");
    assert_eq!(recipients[2], "boss@b.example");
    // AND bytes with no header give none
    assert!(header_recipients(b"\x00\x01 not mail").is_empty());
}
