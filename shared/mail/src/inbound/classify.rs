//! Classification of inbound mail for loop and junk protection (F24): is it automatic (and why),
//! is it a delivery status notification about one of our messages, is it an out-of-office reply,
//! and what did SES conclude about spam, viruses and sender authentication.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::{RawHeader, normalize_address, normalize_message_id};
use crate::compose::header_safe;

/// Longest header value quoted in a reason or a bounce detail, in characters.
const MAX_DETAIL_CHARS: usize = 200;

/// The header SES adds to every message it receives. Headers above the topmost one were added by
/// SES; everything below came with the message and may be forged by the sender.
pub const SES_RECEIPT_HEADER: &str = "X-SES-RECEIPT";

/// A verdict of one check, in SES's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verdict {
    Pass,
    Fail,
    /// Neither pass nor fail: SES's `GRAY`, and SPF/DKIM/DMARC `none`, `neutral`, `softfail`,
    /// `policy`.
    Gray,
    /// The check could not be done: SES's `PROCESSING_FAILED`, `temperror`, `permerror`.
    ProcessingFailed,
    /// No trusted verdict: the message did not come through SES, or the header is missing.
    #[default]
    Unknown,
}

impl Verdict {
    /// Reads a verdict value (`PASS`, `fail`, `softfail`, …) from an SES header or an
    /// `Authentication-Results` method result; anything else is [`Verdict::Unknown`].
    pub fn from_value(value: &str) -> Verdict {
        let token = value.trim().split(|c: char| c.is_whitespace() || matches!(c, '(' | ';')).next().unwrap_or_default().to_ascii_lowercase();
        match token.as_str() {
            "pass" => Verdict::Pass,
            "fail" | "hardfail" => Verdict::Fail,
            "gray" | "grey" | "softfail" | "neutral" | "none" | "policy" => Verdict::Gray,
            "processing_failed" | "temperror" | "permerror" => Verdict::ProcessingFailed,
            _ => Verdict::Unknown,
        }
    }

    /// The name in SES's notation (`PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`) or `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Gray => "GRAY",
            Verdict::ProcessingFailed => "PROCESSING_FAILED",
            Verdict::Unknown => "UNKNOWN",
        }
    }
}

/// SES's verdicts, read only from the headers above the topmost `X-SES-RECEIPT` (F24). All
/// [`Verdict::Unknown`] for a message that did not come through SES.
///
/// A message received any other way (local SMTP, an `.eml` file) can carry a forged
/// `X-SES-RECEIPT` at its very top; callers that did not get the message from SES should not act
/// on these verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SesVerdicts {
    /// `X-SES-Spam-Verdict`.
    pub spam: Verdict,
    /// `X-SES-Virus-Verdict`.
    pub virus: Verdict,
    /// `dmarc=` of SES's `Authentication-Results`.
    pub dmarc: Verdict,
    /// `spf=` of SES's `Authentication-Results`, else `Received-SPF`.
    pub spf: Verdict,
    /// `dkim=` of SES's `Authentication-Results` (pass when any signature passed).
    pub dkim: Verdict,
    /// Whether the message has an `X-SES-RECEIPT` header at all.
    pub received_by_ses: bool,
}

/// A delivery status notification (RFC 3464), usually a bounce of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bounce {
    /// The Message-ID of the message the report is about (from the returned message or its
    /// headers), normalised.
    pub original_message_id: Option<String>,
    /// `Final-Recipient` (else `Original-Recipient`) of the reported recipient.
    pub recipient: Option<String>,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lower case.
    pub action: Option<String>,
    /// `Diagnostic-Code`, header-safe and shortened.
    pub diagnostic: Option<String>,
}

impl Bounce {
    /// Whether delivery failed for good (`Action: failed`, or a 5.x.x status without an action),
    /// as opposed to a delay warning or a success report.
    pub fn is_failure(&self) -> bool {
        match self.action.as_deref() {
            Some(action) => action == "failed",
            None => self.status.as_deref().is_some_and(|status| status.starts_with('5')),
        }
    }
}

/// What the pipeline needs to know to protect against loops and junk (F24).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    /// Why the message is automatic (it then opens no case and gets no acknowledgement), e.g.
    /// `Auto-Submitted: auto-replied`, `Precedence: bulk`, `List-Id`, `null Return-Path`,
    /// `delivery-status report`; `None` for a message a person sent.
    pub automatic: Option<String>,
    /// Details of a delivery status notification.
    pub bounce: Option<Bounce>,
    /// An out-of-office or vacation reply (always automatic too).
    pub out_of_office: bool,
    pub ses: SesVerdicts,
}

impl Classification {
    pub fn is_automatic(&self) -> bool {
        self.automatic.is_some()
    }
}

/// Classifies a message from its top-level headers (in order) and decoded subject, plus its MIME
/// parts when the body was parsed.
pub(super) fn classify(headers: &[RawHeader], subject: &str, message: Option<&Message<'_>>) -> Classification {
    let bounce = message.and_then(bounce);
    let automatic = automatic_reason(headers)
        .or_else(|| message.is_some_and(|message| message.parts.iter().any(is_delivery_status)).then(|| "delivery-status report".to_owned()));
    let out_of_office = automatic.is_some()
        && bounce.is_none()
        && first(headers, "List-Id").is_none()
        && report_type(headers).is_none()
        && (auto_submitted(headers).as_deref() == Some("auto-replied")
            || present_and_not_no(headers, "X-Autoreply")
            || present_and_not_no(headers, "X-Autorespond")
            || is_out_of_office_subject(subject));
    Classification { automatic, bounce, out_of_office, ses: ses_verdicts(headers) }
}

fn first<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers.iter().find(|header| header.name.eq_ignore_ascii_case(name)).map(|header| header.value.as_str())
}

/// The first token of a header value (before `;`, `(` or whitespace), lower case.
fn token(value: &str) -> String {
    value.trim().split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ',')).next().unwrap_or_default().to_ascii_lowercase()
}

fn short(value: &str) -> String {
    let safe = header_safe(value);
    match safe.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe,
    }
}

fn auto_submitted(headers: &[RawHeader]) -> Option<String> {
    first(headers, "Auto-Submitted").map(token)
}

fn present_and_not_no(headers: &[RawHeader], name: &str) -> bool {
    first(headers, name).is_some_and(|value| !matches!(token(value).as_str(), "no" | "false" | "0"))
}

/// The `report-type` of a top-level `multipart/report` (`unknown` when it has none).
fn report_type(headers: &[RawHeader]) -> Option<String> {
    let content_type = first(headers, "Content-Type")?;
    let mut fields = content_type.split(';');
    let mime_type = fields.next()?.trim();
    if !mime_type.eq_ignore_ascii_case("multipart/report") {
        return None;
    }
    let report_type = fields
        .filter_map(|field| field.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("report-type"))
        .map(|(_, value)| value.trim().trim_matches('"').to_ascii_lowercase())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    Some(report_type)
}

/// The first reason, in the order of F24, that makes the message automatic.
fn automatic_reason(headers: &[RawHeader]) -> Option<String> {
    if let Some(kind) = auto_submitted(headers)
        && !kind.is_empty()
        && kind != "no"
    {
        return Some(format!("Auto-Submitted: {}", short(&kind)));
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if present_and_not_no(headers, name) {
            return Some(name.to_owned());
        }
    }
    if let Some(precedence) = first(headers, "Precedence").map(token)
        && matches!(precedence.as_str(), "bulk" | "junk" | "list")
    {
        return Some(format!("Precedence: {precedence}"));
    }
    for name in ["X-Loop", "List-Id", "List-Unsubscribe"] {
        if first(headers, name).is_some() {
            return Some(name.to_owned());
        }
    }
    // The topmost Return-Path is the envelope sender the receiving server recorded.
    if let Some(return_path) = first(headers, "Return-Path")
        && is_null_path(return_path)
    {
        return Some("null Return-Path".to_owned());
    }
    report_type(headers).map(|report_type| format!("multipart/report; report-type={}", short(&report_type)))
}

fn is_null_path(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    compact.is_empty() || compact == "<>"
}

/// Subjects out-of-office replies start with, lower case, in the languages of our customers.
const OUT_OF_OFFICE_SUBJECTS: [&str; 22] = [
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "out of office",
    "out of the office",
    "ooo:",
    "abwesenheitsnotiz",
    "automatische antwort",
    "abwesend",
    "réponse automatique",
    "absence",
    "risposta automatica",
    "respuesta automática",
    "automatisch antwoord",
    "afwezig",
    "autosvar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "自动回复",
    "自動回覆",
    "自動応答",
];

fn is_out_of_office_subject(subject: &str) -> bool {
    let lower = subject.trim().to_lowercase();
    OUT_OF_OFFICE_SUBJECTS.iter().any(|phrase| lower.starts_with(phrase))
}

fn ses_verdicts(headers: &[RawHeader]) -> SesVerdicts {
    let Some(receipt) = headers.iter().position(|header| header.name.eq_ignore_ascii_case(SES_RECEIPT_HEADER)) else {
        return SesVerdicts::default();
    };
    let trusted = &headers[..receipt];
    let mut verdicts = SesVerdicts {
        received_by_ses: true,
        spam: first(trusted, "X-SES-Spam-Verdict").map_or(Verdict::Unknown, Verdict::from_value),
        virus: first(trusted, "X-SES-Virus-Verdict").map_or(Verdict::Unknown, Verdict::from_value),
        ..SesVerdicts::default()
    };
    let ses_results = trusted
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|header| header.value.split_once(';'))
        .filter(|(authserv_id, _)| authserv_id.split_whitespace().next().is_some_and(|id| id.eq_ignore_ascii_case("amazonses.com")))
        .flat_map(|(_, results)| results.split(';'));
    for result in ses_results {
        let Some((method, value)) = result.split_once('=') else {
            continue;
        };
        let verdict = Verdict::from_value(value);
        match method.trim().to_ascii_lowercase().as_str() {
            "spf" if verdicts.spf == Verdict::Unknown => verdicts.spf = verdict,
            "dmarc" if verdicts.dmarc == Verdict::Unknown => verdicts.dmarc = verdict,
            "dkim" if verdicts.dkim == Verdict::Unknown || verdict == Verdict::Pass => {
                verdicts.dkim = verdict;
            }
            _ => {}
        }
    }
    if verdicts.spf == Verdict::Unknown
        && let Some(received_spf) = first(trusted, "Received-SPF")
    {
        verdicts.spf = Verdict::from_value(received_spf);
    }
    verdicts
}

fn is_content_type(part: &MessagePart<'_>, types: &[(&str, &str)]) -> bool {
    types.iter().any(|(ctype, subtype)| part.is_content_type(ctype, subtype))
}

fn is_delivery_status(part: &MessagePart<'_>) -> bool {
    is_content_type(part, &[("message", "delivery-status"), ("message", "global-delivery-status")])
}

/// The DSN of a message with a `message/delivery-status` part.
fn bounce(message: &Message<'_>) -> Option<Bounce> {
    let status_part = message.parts.iter().find(|part| is_delivery_status(part))?;
    let report = String::from_utf8_lossy(status_part.contents());
    let groups = field_groups(&report);
    // The first group is about the message; each further one (with a recipient) about a recipient.
    let recipients: Vec<&Vec<(String, String)>> = groups
        .iter()
        .filter(|group| field(group, "final-recipient").is_some() || field(group, "original-recipient").is_some() || field(group, "action").is_some())
        .collect();
    let chosen = recipients.iter().find(|group| field(group, "action").is_some_and(|action| token(action) == "failed")).or_else(|| recipients.first());
    let mut bounce = Bounce { original_message_id: original_message_id(message), ..Bounce::default() };
    if let Some(group) = chosen {
        bounce.recipient = field(group, "final-recipient").or_else(|| field(group, "original-recipient")).and_then(|value| {
            // `rfc822; user@example.com`
            let address = value.split_once(';').map_or(value, |(_, address)| address);
            normalize_address(address)
        });
        bounce.action = field(group, "action").map(token).filter(|a| !a.is_empty());
        bounce.status = field(group, "status").map(|status| short(&token(status))).filter(|status| !status.is_empty());
        bounce.diagnostic = field(group, "diagnostic-code").map(short).filter(|diagnostic| !diagnostic.is_empty());
    }
    Some(bounce)
}

/// The groups of `Name: value` fields of a delivery-status body, separated by empty lines;
/// names lower case, folded values unfolded.
fn field_groups(report: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in report.lines() {
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group.iter().find(|(field_name, _)| field_name == name).map(|(_, value)| value.as_str())
}

/// The Message-ID of the returned message: from an attached `message/rfc822` or from a
/// `text/rfc822-headers` part.
fn original_message_id(message: &Message<'_>) -> Option<String> {
    message.parts.iter().find_map(|part| {
        if let PartType::Message(returned) = &part.body {
            return returned.message_id().and_then(normalize_message_id);
        }
        let headers_only = is_content_type(
            part,
            &[
                ("text", "rfc822-headers"),
                ("message", "rfc822-headers"),
                ("message", "global-headers"),
                // A returned message mail-parser could not read as one.
                ("message", "rfc822"),
                ("message", "global"),
            ],
        );
        if !headers_only {
            return None;
        }
        MessageParser::new().parse_headers(part.contents()).and_then(|returned| returned.message_id().and_then(normalize_message_id))
    })
}
