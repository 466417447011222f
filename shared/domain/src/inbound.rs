//! Email-to-case (SPEC F20–F28): one inbound message becomes a new case, an entry on an
//! existing case, or a logged refusal — never nothing.
//!
//! The order of the checks is the order of trust: duplicates first (the same delivery, then the
//! same Message-ID), then size, then the parser, then the receiving system's verdicts (virus,
//! spam), the blacklist and automatic mail, then the mailbox, then threading by the rules of F21
//! (first match wins, recorded), the status policy of F22 and the contacts of F23, and finally
//! the acknowledgement of F27. Every outcome is written to the inbound log with its reason.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use docket_mail::compose::{Address, AutoSubmitted, OutgoingMessage, compose};
use docket_mail::inbound::{InboundMessage, Limits, Verdict, normalize_message_id, parse, parse_headers_only};
use docket_ports::{Mailer, OutboundMail};
use docket_store::{Condition, Cursor, Key, Query, WriteOp};

use crate::Docket;
use crate::cases::CaseFields;
use crate::clock::new_id;
use crate::directory::{ContactFields, Entity, from_item};
use crate::error::{DomainError, DomainResult};
use crate::follows::FollowerKind;
use crate::model::*;
use crate::notify::{MailSettings, message_id_key, record_message_id, reply_token, reply_token_lookup_key};
use crate::schema::{CASES, directory_keys, keyed_item};
use crate::stream::{AttachmentRef, Attachment, Author, AuthorKind, EmailMeta, EntryKind, StreamEntry, Visibility, attachment_key, entry_put};
use crate::validate;

/// One message as the receiving system handed it over.
#[derive(Debug, Clone, Default)]
pub struct InboundMail {
    /// Where it came from (the S3 object key, or the SMTP session's id): a second delivery of
    /// the same source changes nothing.
    pub source_id: String,
    /// Envelope recipients; for S3 deliveries the To/Cc addresses of the message.
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
    /// Whether SES received the message, so its verdict headers (above its topmost
    /// `X-SES-RECEIPT`) mean something. Mail from the local SMTP port or a file never claims it.
    pub received_by_ses: bool,
    /// Whether the receiving listener vouches for the From address itself (a local listener set
    /// up for authenticated submission). Off by default: From alone proves nothing.
    pub trusted_sender: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InboundOutcome {
    Created,
    Appended,
    Reopened,
    Duplicate,
    Suppressed,
    Rejected,
    Quarantined,
}

/// Which F21 rule threaded the message (or `new_case`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThreadRule {
    ReplyToken,
    MessageId,
    SubjectNumber,
    BodyNumber,
    NewCase,
}

/// One line of the inbound log (F28).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboundLogEntry {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub source_id: String,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub outcome: InboundOutcome,
    pub rule: Option<ThreadRule>,
    pub reason: String,
    pub mailbox_id: Option<String>,
    pub case_id: Option<String>,
    pub case_number: Option<u64>,
    pub raw_blob_key: Option<String>,
    pub acknowledged: bool,
}

const LOG_PARTITION: &str = "INBOUNDLOG";
/// Entries are single DynamoDB items (at most 400 KB): bodies and quoted history are bounded so
/// that even text of 4-byte characters fits.
const MAX_BODY_CHARS: usize = 60_000;
const MAX_QUOTED_CHARS: usize = 20_000;
const MAX_ATTACHMENTS: usize = 40;

fn source_key(source_id: &str) -> Key {
    Key::new(format!("INBOUNDSRC#{source_id}"), "INBOUND")
}

fn message_claim_key(message_id: &str) -> Key {
    Key::new(format!("INBOUNDMSG#{message_id}"), "INBOUND")
}

/// The inbound pipeline, built per message from the application and its outbound mailer.
pub struct Inbound<'a> {
    pub docket: &'a Docket,
    /// Sends acknowledgements; none where acknowledgements are not sent.
    pub mailer: Option<&'a dyn Mailer>,
    pub settings: &'a MailSettings,
}

/// What the pipeline decided before it is logged.
struct Decision {
    outcome: InboundOutcome,
    rule: Option<ThreadRule>,
    reason: String,
    mailbox_id: Option<String>,
    case: Option<Case>,
    acknowledged: bool,
}

impl Decision {
    fn plain(outcome: InboundOutcome, reason: impl Into<String>) -> Self {
        Decision { outcome, rule: None, reason: reason.into(), mailbox_id: None, case: None, acknowledged: false }
    }
}

/// The sender of a message, resolved against the directory.
enum Sender {
    Staff(User),
    Contact(Contact),
}

impl Sender {
    fn author(&self) -> Author {
        match self {
            Sender::Staff(u) => Author { kind: AuthorKind::User, id: Some(u.id.clone()) },
            Sender::Contact(c) => Author { kind: AuthorKind::Contact, id: Some(c.id.clone()) },
        }
    }
    fn id(&self) -> &str {
        match self {
            Sender::Staff(u) => &u.id,
            Sender::Contact(c) => &c.id,
        }
    }
}

impl Inbound<'_> {
    /// Takes one message through the pipeline. Errors are transient (retry the delivery);
    /// everything about the message itself ends as a logged outcome.
    pub async fn receive(&self, mail: InboundMail) -> DomainResult<InboundLogEntry> {
        let store = self.docket.store();
        if let Some(done) = store.get(CASES, &source_key(&mail.source_id)).await? {
            // The same delivery again (S3 and SQS deliver at least once): change nothing.
            if let Some(log_id) = done.get("log_id").and_then(Value::as_str)
                && let Some(entry) = self.log_entry(log_id).await?
            {
                return Ok(entry);
            }
        }
        let log_id = new_id();
        let raw_blob_key = format!("inbound/{log_id}.eml");
        self.docket
            .blobs()?
            .put(&raw_blob_key, "message/rfc822", mail.raw.clone())
            .await
            .map_err(|e| DomainError::Transient(format!("cannot keep the raw message: {e}")))?;
        let settings = self.docket.directory().settings().await?;
        let limits = Limits { max_bytes: usize::try_from(settings.max_message_bytes).unwrap_or(usize::MAX), ..Limits::default() };

        let trusted = |mut message: InboundMessage| {
            if !mail.received_by_ses {
                message.auto.ses = Default::default();
            }
            message
        };
        let (decision, headers) = match parse(&mail.raw, &limits) {
            Ok(message) => {
                let message = trusted(message);
                let headers = LogHeaders::of(&message);
                (self.decide(&mail, &message, &settings, &raw_blob_key).await?, headers)
            }
            Err(limit) if limit.is_limit() => match parse_headers_only(&mail.raw, &limits) {
                Ok(headers_only) => {
                    let message = trusted(InboundMessage::without_body(headers_only));
                    let headers = LogHeaders::of(&message);
                    let note = format!("The message ({} bytes) was not imported: {limit}.", mail.raw.len());
                    (self.decide_oversize(&mail, &message, &settings, &raw_blob_key, note).await?, headers)
                }
                Err(e) => (Decision::plain(InboundOutcome::Rejected, format!("oversize and unreadable: {e}")), LogHeaders::default()),
            },
            Err(e) => (Decision::plain(InboundOutcome::Rejected, format!("not a readable message: {e}")), LogHeaders::default()),
        };

        let entry = InboundLogEntry {
            id: log_id.clone(),
            received_at: self.docket.clock().now(),
            source_id: mail.source_id.clone(),
            message_id: headers.message_id,
            from: headers.from,
            to: mail.envelope_to.clone(),
            subject: headers.subject,
            outcome: decision.outcome,
            rule: decision.rule,
            reason: decision.reason,
            mailbox_id: decision.mailbox_id,
            case_id: decision.case.as_ref().map(|c| c.id.clone()),
            case_number: decision.case.as_ref().map(|c| c.number),
            raw_blob_key: Some(raw_blob_key),
            acknowledged: decision.acknowledged,
        };
        store
            .transact(vec![
                WriteOp::put(CASES, keyed_item(Key::new(LOG_PARTITION, log_id.clone()), &entry)?),
                WriteOp::put(CASES, keyed_item(source_key(&mail.source_id), serde_json::json!({ "log_id": log_id }))?),
            ])
            .await?;
        tracing::info!(outcome = ?entry.outcome, rule = ?entry.rule, reason = %entry.reason, case = ?entry.case_number, source = %entry.source_id, "inbound mail");
        Ok(entry)
    }

    async fn log_entry(&self, id: &str) -> DomainResult<Option<InboundLogEntry>> {
        self.docket.store().get(CASES, &Key::new(LOG_PARTITION, id)).await?.map(from_item).transpose()
    }

    /// The full decision for a parsed message.
    async fn decide(&self, mail: &InboundMail, message: &InboundMessage, settings: &Settings, raw_key: &str) -> DomainResult<Decision> {
        let verdicts = &message.auto.ses;
        if verdicts.virus == Verdict::Fail {
            return Ok(Decision::plain(InboundOutcome::Quarantined, "the receiving system found a virus"));
        }
        let Some(sender_address) = message.from.as_ref().map(|a| a.email.to_lowercase()) else {
            return Ok(Decision::plain(InboundOutcome::Rejected, "the message has no usable From address"));
        };
        let mailbox = self.mailbox(&mail.envelope_to).await?;
        let Some(mailbox) = mailbox else {
            return Ok(Decision::plain(InboundOutcome::Rejected, format!("no group mailbox receives at {}", mail.envelope_to.join(", "))));
        };
        let mailbox_id = (mailbox.id != SYSTEM_MAILBOX).then(|| mailbox.id.clone());
        let decision = |outcome, reason: String| Decision { mailbox_id: mailbox_id.clone(), ..Decision::plain(outcome, reason) };

        if let Some(bounce) = &message.auto.bounce {
            // A bounce of our own mail belongs to its case; any other bounce is noise.
            if let Some(original) = bounce.original_message_id.as_deref().and_then(normalize_message_id)
                && let Some(case) = self.case_of_message_id(&original).await?
            {
                let note = format!("Delivery failed{}{}", bounce.recipient.as_deref().map(|r| format!(" to {r}")).unwrap_or_default(), bounce.status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default());
                self.append(&case, message, &Author::system(), Visibility::Internal, raw_key, Some(note)).await?;
                if let Some(recipient) = &bounce.recipient {
                    self.flag_bounced(recipient).await?;
                }
                return Ok(Decision { case: Some(case), rule: Some(ThreadRule::MessageId), ..decision(InboundOutcome::Appended, "bounce of our mail, attached to its case".into()) });
            }
            return Ok(decision(InboundOutcome::Suppressed, "delivery status report".into()));
        }
        if let Some(reason) = &message.auto.automatic {
            return Ok(decision(InboundOutcome::Suppressed, format!("automatic mail ({reason}): opens nothing, gets no acknowledgement")));
        }
        let junk = if verdicts.spam == Verdict::Fail {
            Some("the receiving system judged it spam".to_owned())
        } else {
            blacklisted(&settings.blacklist, &sender_address).map(|entry| format!("the sender matches the blacklist entry {entry:?}"))
        };
        if let Some(reason) = junk {
            return match settings.junk_policy {
                JunkPolicy::Drop => Ok(decision(InboundOutcome::Suppressed, format!("junk: {reason}; kept raw, no case"))),
                JunkPolicy::JunkCase => {
                    let case = self.junk_case(message, &mailbox, raw_key).await?;
                    Ok(Decision { case: Some(case), rule: Some(ThreadRule::NewCase), ..decision(InboundOutcome::Created, format!("junk: {reason}; opened as a Cancelled case")) })
                }
            };
        }
        if self.is_our_address(&sender_address).await? {
            return Ok(decision(InboundOutcome::Suppressed, "mail from one of our own mailboxes (a loop)".into()));
        }
        if let Some(message_id) = &message.message_id {
            let claim = keyed_item(message_claim_key(message_id), serde_json::json!({ "source_id": mail.source_id }))?;
            match self.docket.store().write(WriteOp::put_if(CASES, claim, Condition::NotExists)).await {
                Ok(()) => {}
                Err(e) if e.is_condition_failure() => return Ok(decision(InboundOutcome::Duplicate, format!("Message-ID {message_id} was received before"))),
                Err(e) => return Err(e.into()),
            }
        }
        let outcome = self.thread_and_store(mail, message, settings, &mailbox, &sender_address, raw_key).await;
        if outcome.is_err()
            && let Some(message_id) = &message.message_id
        {
            // Nothing was stored: let the retried delivery claim the Message-ID again.
            let _ = self.docket.store().write(WriteOp::delete(CASES, message_claim_key(message_id))).await;
        }
        let mut decided = outcome?;
        decided.mailbox_id = mailbox_id;
        Ok(decided)
    }

    /// F26: an oversize message still reaches its case (or opens one) with its headers.
    async fn decide_oversize(&self, mail: &InboundMail, message: &InboundMessage, settings: &Settings, raw_key: &str, note: String) -> DomainResult<Decision> {
        let mut message = message.clone();
        message.visible_text = format!("[{note}]");
        let mut decision = self.decide(mail, &message, settings, raw_key).await?;
        decision.reason = format!("{}; {note}", decision.reason);
        Ok(decision)
    }

    /// The group mailbox the message was sent to. Replies to the system address (mail about
    /// cases that have no mailbox) count when they carry a valid reply token.
    async fn mailbox(&self, envelope_to: &[String]) -> DomainResult<Option<Mailbox>> {
        let directory = self.docket.directory();
        for address in envelope_to {
            let token = docket_mail::inbound::plus_token(address);
            let base = token.as_ref().map_or_else(|| address.to_lowercase(), |(base, _)| base.clone());
            if let Some(mailbox) = directory.mailbox_by_address(&base).await? {
                return Ok(Some(mailbox));
            }
            if let Some((_, token)) = token
                && base.eq_ignore_ascii_case(&self.settings.reply_to)
                && self.docket.store().get(CASES, &reply_token_lookup_key(&token)).await?.is_some()
            {
                return Ok(Some(system_mailbox(&base, self.docket.clock().now())));
            }
        }
        Ok(None)
    }

    async fn is_our_address(&self, address: &str) -> DomainResult<bool> {
        Ok(address.eq_ignore_ascii_case(&self.settings.from.email) || self.docket.directory().mailbox_by_address(address).await?.is_some())
    }

    async fn case_of_message_id(&self, message_id: &str) -> DomainResult<Option<Case>> {
        let Some(item) = self.docket.store().get(CASES, &message_id_key(message_id)).await? else { return Ok(None) };
        match item.get("case_id").and_then(Value::as_str) {
            Some(id) => self.docket.cases().find(id).await,
            None => Ok(None),
        }
    }

    /// F21: the case the message belongs to, and the rule that found it.
    async fn thread(&self, mail: &InboundMail, message: &InboundMessage, settings: &Settings, sender: &Sender, sender_address: &str) -> DomainResult<Option<(Case, ThreadRule)>> {
        if message.auto.ses.dmarc == Verdict::Fail {
            // Forged senders must never reach an existing conversation.
            return Ok(None);
        }
        let store = self.docket.store();
        let cases = self.docket.cases();
        for address in &mail.envelope_to {
            if let Some((_, token)) = docket_mail::inbound::plus_token(address)
                && let Some(item) = store.get(CASES, &reply_token_lookup_key(&token)).await?
                && let Some(case_id) = item.get("case_id").and_then(Value::as_str)
                && let Some(case) = cases.find(case_id).await?
            {
                return Ok(Some((case, ThreadRule::ReplyToken)));
            }
        }
        for id in message.in_reply_to.iter().chain(message.references.iter()) {
            if let Some(case) = self.case_of_message_id(id).await? {
                return Ok(Some((case, ThreadRule::MessageId)));
            }
        }
        let mask = cases.mask().await?;
        let (prefix, suffix) = mask.parts();
        for (text, rule) in [(Some(message.subject.as_str()), ThreadRule::SubjectNumber), (settings.number_in_body.then_some(message.visible_text.as_str()), ThreadRule::BodyNumber)] {
            let Some(text) = text else { continue };
            for number in docket_mail::inbound::find_numbers(text, prefix, suffix) {
                if let Some(case) = cases.find(&number.to_string()).await?
                    && self.is_participant(&case, sender, sender_address).await?
                {
                    return Ok(Some((case, rule)));
                }
            }
        }
        Ok(None)
    }

    /// Only people on the case may thread into it by its number (the "ticket trick").
    async fn is_participant(&self, case: &Case, sender: &Sender, sender_address: &str) -> DomainResult<bool> {
        if case.assignee_id.as_deref() == Some(sender.id()) || case.contact_ids.iter().any(|c| c == sender.id()) {
            return Ok(true);
        }
        let follows = self.docket.cases().follows_of(&case.id).await?;
        if follows.iter().any(|f| f.follower_id == sender.id()) {
            return Ok(true);
        }
        // A second address of a contact on the case also counts.
        let directory = self.docket.directory();
        for contact_id in &case.contact_ids {
            if let Some(contact) = directory.get::<Contact>(contact_id).await?
                && contact.emails.iter().any(|e| e == sender_address)
            {
                return Ok(true);
            }
        }
        Ok(follows.iter().any(|f| f.kind == FollowerKind::User && f.follower_id == sender.id()))
    }

    async fn thread_and_store(&self, mail: &InboundMail, message: &InboundMessage, settings: &Settings, mailbox: &Mailbox, sender_address: &str, raw_key: &str) -> DomainResult<Decision> {
        let Some(sender) = self.sender(message, mailbox, sender_address).await? else {
            return Ok(Decision::plain(InboundOutcome::Rejected, format!("unknown sender {sender_address} and mailbox {} takes mail only from known contacts", mailbox.name)));
        };
        let threaded = self.thread(mail, message, settings, &sender, sender_address).await?;
        let now = self.docket.clock().now();
        if let Some((case, rule)) = threaded {
            let reopen_window = match mailbox.closed_case_policy {
                ClosedCasePolicy::Reopen => None,
                ClosedCasePolicy::NewLinked => Some(0),
                ClosedCasePolicy::NewAfterDays { days } => Some(days),
            };
            let phase = case.status.phase();
            let start_new = phase == Phase::Final
                && reopen_window.is_some_and(|days| now - case.audit.updated_at >= time::Duration::days(i64::from(days)));
            if !start_new {
                let visibility = Visibility::Public;
                self.append(&case, message, &sender.author(), visibility, raw_key, None).await?;
                let (case, outcome, reason) = if phase == Phase::Open {
                    (case, InboundOutcome::Appended, "reply added to the open case".to_owned())
                } else {
                    let from = case.status;
                    let reopened = self.docket.cases().reopen(&case, &sender.author()).await?;
                    (reopened, InboundOutcome::Reopened, format!("reply to a {} case reopened it", from.as_str()))
                };
                return Ok(Decision { outcome, rule: Some(rule), reason, mailbox_id: None, case: Some(case), acknowledged: false });
            }
            let case = self.new_case(message, mailbox, &sender, Some(&case.id), raw_key).await?;
            let acknowledged = self.acknowledge(&case, message, mailbox, sender_address, settings).await?;
            return Ok(Decision {
                outcome: InboundOutcome::Created,
                rule: Some(rule),
                reason: "reply to a closed case opened a new case linked to it (mailbox policy)".into(),
                mailbox_id: None,
                case: Some(case),
                acknowledged,
            });
        }
        let case = self.new_case(message, mailbox, &sender, None, raw_key).await?;
        let acknowledged = self.acknowledge(&case, message, mailbox, sender_address, settings).await?;
        Ok(Decision { outcome: InboundOutcome::Created, rule: Some(ThreadRule::NewCase), reason: "no thread matched: new case".into(), mailbox_id: None, case: Some(case), acknowledged })
    }

    /// The sender as a user or contact; unknown senders become contacts when the mailbox says so.
    async fn sender(&self, message: &InboundMessage, mailbox: &Mailbox, address: &str) -> DomainResult<Option<Sender>> {
        let directory = self.docket.directory();
        if let Some(id) = directory.owner_of(&directory_keys::user_email(address)).await?
            && let Some(user) = directory.get::<User>(&id).await?
            && user.active
        {
            return Ok(Some(Sender::Staff(user)));
        }
        if let Some(contact) = directory.contact_by_email(address).await? {
            return Ok(Some(Sender::Contact(contact)));
        }
        if mailbox.unknown_senders == UnknownSenders::Reject {
            return Ok(None);
        }
        let name = message.from.as_ref().and_then(|a| a.name.clone()).filter(|n| !n.trim().is_empty());
        self.contact_for(address, name).await.map(|c| c.map(Sender::Contact))
    }

    /// Finds or creates the contact of an address, linked to the account owning its domain.
    async fn contact_for(&self, address: &str, name: Option<String>) -> DomainResult<Option<Contact>> {
        let directory = self.docket.directory();
        if let Some(contact) = directory.contact_by_email(address).await? {
            return Ok(Some(contact));
        }
        let Ok(address) = validate::email("email", address) else { return Ok(None) };
        let domain = address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        let account = directory.account_by_domain(&domain).await?;
        let name = name
            .map(|n| n.chars().filter(|c| !c.is_control()).take(validate::MAX_NAME).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| address.split('@').next().unwrap_or("customer").to_owned());
        let now = self.docket.clock().now();
        let audit = Audit { created_at: now, created_by: "system".into(), updated_at: now, updated_by: "system".into(), version: 1 };
        let fields = ContactFields { name, emails: vec![address.clone()], phone: None, account_id: account.map(|a| a.id), portal: None };
        let contact = Contact::build(new_id(), fields, audit)?;
        match directory.insert(&contact).await {
            Ok(()) => Ok(Some(contact)),
            // Created meanwhile by a concurrent message from the same sender.
            Err(DomainError::Conflict { .. }) => directory.contact_by_email(&address).await,
            Err(e) => Err(e),
        }
    }

    async fn new_case(&self, message: &InboundMessage, mailbox: &Mailbox, sender: &Sender, parent: Option<&str>, raw_key: &str) -> DomainResult<Case> {
        let mut contact_ids = Vec::new();
        if let Sender::Contact(c) = sender {
            contact_ids.push(c.id.clone());
        }
        // F23: addresses in Cc (and other To addresses) collaborate; the sender stays primary.
        for address in message.cc.iter().chain(message.to.iter()).map(|a| a.email.to_lowercase()) {
            if contact_ids.len() >= crate::cases::MAX_CONTACTS || self.is_our_address(&address).await? || docket_mail::inbound::plus_token(&address).is_some() {
                continue;
            }
            if let Some(contact) = self.contact_for(&address, None).await?
                && !contact_ids.contains(&contact.id)
            {
                contact_ids.push(contact.id);
            }
        }
        let subject = if message.clean_subject.trim().is_empty() { "(no subject)".to_owned() } else { message.clean_subject.clone() };
        let fields = CaseFields {
            subject: subject.chars().filter(|c| !c.is_control()).take(validate::MAX_SUBJECT).collect(),
            description: truncated(&message.visible_text),
            status: None,
            priority: Priority::Normal,
            case_type: None,
            category: None,
            source: Some(Source::Email),
            account_id: None,
            contact_ids,
            lead_id: None,
            assignee_id: None,
            collaborator_ids: Vec::new(),
            team_ids: mailbox.team_id.iter().cloned().collect(),
            internal: false,
            parent_id: parent.map(str::to_owned),
            mailbox_id: (mailbox.id != SYSTEM_MAILBOX).then(|| mailbox.id.clone()),
        };
        let case = self.docket.cases().open(&sender.author(), fields, None).await?.case;
        self.append(&case, message, &sender.author(), Visibility::Public, raw_key, None).await?;
        Ok(case)
    }

    async fn junk_case(&self, message: &InboundMessage, mailbox: &Mailbox, raw_key: &str) -> DomainResult<Case> {
        let fields = CaseFields {
            subject: format!("[junk] {}", message.clean_subject).chars().filter(|c| !c.is_control()).take(validate::MAX_SUBJECT).collect(),
            description: truncated(&message.visible_text),
            status: None,
            priority: Priority::Low,
            case_type: None,
            category: Some("junk".into()),
            source: Some(Source::Email),
            account_id: None,
            contact_ids: vec![],
            lead_id: None,
            assignee_id: None,
            collaborator_ids: Vec::new(),
            team_ids: mailbox.team_id.iter().cloned().collect(),
            internal: true,
            parent_id: None,
            mailbox_id: (mailbox.id != SYSTEM_MAILBOX).then(|| mailbox.id.clone()),
        };
        let cases = self.docket.cases_without_events();
        let case = cases.open(&Author::system(), fields, None).await?.case;
        self.append(&case, message, &Author::system(), Visibility::Internal, raw_key, None).await?;
        cases.set_status_as_system(&case, CaseStatus::Cancelled).await
    }

    /// Writes the message as an `email_received` entry with its attachments.
    async fn append(&self, case: &Case, message: &InboundMessage, author: &Author, visibility: Visibility, raw_key: &str, note: Option<String>) -> DomainResult<StreamEntry> {
        let blobs = self.docket.blobs()?;
        let transient = |e: docket_ports::PortError| DomainError::Transient(e.to_string());
        let entry_id = new_id();
        let mut ops = Vec::new();
        let mut refs = Vec::new();
        for attachment in message.attachments.iter().take(MAX_ATTACHMENTS) {
            let id = new_id();
            let blob_key = format!("cases/{}/attachments/{id}", case.id);
            let content_type = if docket_ports::validate_content_type(&attachment.content_type).is_ok() { attachment.content_type.clone() } else { "application/octet-stream".to_owned() };
            blobs.put(&blob_key, &content_type, attachment.bytes.clone()).await.map_err(transient)?;
            let stored = Attachment {
                id: id.clone(),
                case_id: case.id.clone(),
                name: attachment.file_name.clone(),
                content_type: content_type.clone(),
                size: attachment.bytes.len() as u64,
                blob_key,
                uploaded_by: author.id.clone().unwrap_or_else(|| "system".into()),
                entry_id: Some(entry_id.clone()),
                visibility: Some(visibility),
            };
            ops.push(WriteOp::put(CASES, keyed_item(attachment_key(&case.id, &id), &stored)?));
            refs.push(AttachmentRef { id, name: stored.name, content_type, size: stored.size });
        }
        let html_blob_key = match &message.html_sanitized {
            Some(html) => {
                let key = format!("cases/{}/mail/{entry_id}.html", case.id);
                blobs.put(&key, "text/html; charset=utf-8", html.as_bytes().to_vec()).await.map_err(transient)?;
                Some(key)
            }
            None => None,
        };
        let entry = StreamEntry {
            id: entry_id,
            case_id: case.id.clone(),
            kind: EntryKind::EmailReceived,
            visibility,
            author: author.clone(),
            body: truncated(&message.visible_text),
            system: None,
            attachments: refs,
            email_customer: false,
            email: Some(EmailMeta {
                message_id: message.message_id.clone(),
                from: message.from.as_ref().map(|a| a.email.clone()),
                to: message.to.iter().map(|a| a.email.clone()).collect(),
                cc: message.cc.iter().map(|a| a.email.clone()).collect(),
                subject: message.subject.clone(),
                raw_blob_key: Some(raw_key.to_owned()),
                html_blob_key,
                quoted_text: message.quoted_text.as_deref().map(|q| truncated_to(q, MAX_QUOTED_CHARS)),
                note,
            }),
            created_at: self.docket.clock().now(),
        };
        ops.insert(0, entry_put(&entry)?);
        self.docket.store().transact(ops).await?;
        if let Some(message_id) = &message.message_id {
            record_message_id(self.docket.store(), message_id, &case.id, &entry.id).await?;
        }
        let cases = self.docket.cases();
        cases.notify(std::slice::from_ref(&entry)).await;
        // Mail from people starts workflow rules; bounces and junk (written by the system) do not.
        if author.kind != AuthorKind::System {
            cases.announce(crate::events::Trigger::EmailReceived, &case.id, Some(&entry.id), Vec::new()).await;
        }
        Ok(entry)
    }

    async fn flag_bounced(&self, address: &str) -> DomainResult<()> {
        let item = keyed_item(Key::new(format!("BOUNCED#{}", address.to_lowercase()), "BOUNCED"), serde_json::json!({ "at": self.docket.clock().now().unix_timestamp() }))?;
        self.docket.store().write(WriteOp::put(CASES, item)).await?;
        Ok(())
    }

    /// F27: acknowledges a new email case to its sender, within the rate limit.
    async fn acknowledge(&self, case: &Case, message: &InboundMessage, mailbox: &Mailbox, sender_address: &str, settings: &Settings) -> DomainResult<bool> {
        let Some(mailer) = self.mailer else { return Ok(false) };
        if !mailbox.auto_ack || blacklisted(&settings.blacklist, sender_address).is_some() || self.is_our_address(sender_address).await? {
            return Ok(false);
        }
        if self.docket.store().get(CASES, &Key::new(format!("BOUNCED#{sender_address}"), "BOUNCED")).await?.is_some() {
            return Ok(false);
        }
        let window = i64::from(settings.ack_limit_window_minutes.max(1)) * 60;
        let bucket = self.docket.clock().now().unix_timestamp() / window;
        let counter = Key::new(format!("ACKRATE#{sender_address}#{bucket}"), "ACKRATE");
        let sent = self.docket.store().increment(CASES, &counter, "count", 1).await?;
        if sent > i64::from(settings.ack_limit_count) {
            tracing::info!(case = case.number, "acknowledgement skipped: rate limit");
            return Ok(false);
        }
        let Some(contact) = self.docket.directory().contact_by_email(sender_address).await? else { return Ok(false) };
        let number = self.docket.cases().mask().await?.format(case.number);
        let token = reply_token(self.docket.store(), &case.id, &contact.id, sender_address).await?;
        let reply_base = mailbox.addresses.first().cloned().unwrap_or_else(|| self.settings.reply_to.clone());
        let text = mailbox
            .ack_text
            .clone()
            .unwrap_or_else(|| "Thank you for your message. We opened case {number} and will answer as soon as we can.\n\nReply to this email to add to the case.".into())
            .replace("{number}", &number)
            .replace("{subject}", &case.subject);
        let message_id = format!("ack.{}@{}", case.id.to_lowercase(), self.settings.message_id_domain);
        let outgoing = OutgoingMessage {
            from: self.settings.from.clone(),
            to: vec![Address { name: Some(contact.name.clone()), email: sender_address.to_owned() }],
            reply_to: Some(Address { name: Some(mailbox.name.clone()), email: crate::notify::plus_address_of(&reply_base, &token) }),
            subject: format!("{number} {}", case.subject),
            text,
            html: None,
            message_id: message_id.clone(),
            in_reply_to: message.message_id.clone(),
            references: message.message_id.iter().cloned().collect(),
            auto_submitted: AutoSubmitted::AutoReplied,
            extra_headers: Vec::new(),
        };
        // Some clients' Message-IDs hold characters we never put in a header; the
        // acknowledgement then goes out without In-Reply-To rather than not at all.
        let composed = match compose(&outgoing) {
            Err(docket_mail::compose::ComposeError::InvalidMessageId(_)) => {
                compose(&OutgoingMessage { in_reply_to: None, references: Vec::new(), ..outgoing })
            }
            other => other,
        };
        let raw = match composed {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(case = case.number, error = %e, "acknowledgement not composed");
                return Ok(false);
            }
        };
        let provider_id = mailer
            .send(OutboundMail { from: self.settings.from.email.clone(), to: vec![sender_address.to_owned()], raw })
            .await
            .map_err(|e| DomainError::Transient(format!("acknowledgement not sent: {e}")))?;
        record_message_id(self.docket.store(), &message_id, &case.id, "ack").await?;
        if let Some(domain) = &self.settings.provider_message_id_domain {
            record_message_id(self.docket.store(), &format!("{provider_id}@{domain}"), &case.id, "ack").await?;
        }
        Ok(true)
    }
}

impl Docket {
    /// The inbound log, newest first (admins).
    pub async fn inbound_log(&self, principal: &crate::Principal, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<InboundLogEntry>, Option<Cursor>)> {
        principal.require_admin()?;
        let page = self.store().query(Query::table(CASES, LOG_PARTITION).descending().limit(limit).after(after)).await?;
        Ok((page.items.into_iter().map(from_item).collect::<DomainResult<_>>()?, page.next))
    }
}

/// The blacklist entry a sender matches: a full address, a local part, or `@domain`.
fn blacklisted<'a>(blacklist: &'a [String], address: &str) -> Option<&'a str> {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    blacklist.iter().map(String::as_str).find(|entry| {
        let entry = entry.trim();
        entry.eq_ignore_ascii_case(address)
            || entry.eq_ignore_ascii_case(local)
            || entry.strip_prefix('@').is_some_and(|d| d.eq_ignore_ascii_case(domain) || domain.to_lowercase().ends_with(&format!(".{}", d.to_lowercase())))
    })
}

fn truncated(text: &str) -> String {
    truncated_to(text, MAX_BODY_CHARS)
}

fn truncated_to(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect();
    }
    let mut cut: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).take(max).collect();
    cut.push_str("\n[… truncated; the full message is kept with the case]");
    cut
}

/// The policies for replies to the system address: reopen, no acknowledgement.
fn system_mailbox(address: &str, now: OffsetDateTime) -> Mailbox {
    Mailbox {
        id: SYSTEM_MAILBOX.into(),
        name: "System address".into(),
        addresses: vec![address.to_owned()],
        team_id: None,
        assignment_rule: None,
        closed_case_policy: ClosedCasePolicy::Reopen,
        auto_ack: false,
        ack_text: None,
        unknown_senders: UnknownSenders::CreateContact,
        audit: Audit { created_at: now, created_by: "system".into(), updated_at: now, updated_by: "system".into(), version: 1 },
    }
}

const SYSTEM_MAILBOX: &str = "system";

/// The headers an inbound-log line shows.
#[derive(Default)]
struct LogHeaders {
    message_id: Option<String>,
    from: Option<String>,
    subject: Option<String>,
}

impl LogHeaders {
    fn of(message: &InboundMessage) -> Self {
        LogHeaders { message_id: message.message_id.clone(), from: message.from.as_ref().map(|a| a.email.clone()), subject: Some(message.subject.clone()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blacklist_matches_addresses_local_parts_and_domains() {
        let list: Vec<String> = ["mailer-daemon", "spam@x.example", "@junk.example"].map(String::from).to_vec();
        assert_eq!(blacklisted(&list, "mailer-daemon@anywhere.example"), Some("mailer-daemon"));
        assert_eq!(blacklisted(&list, "SPAM@x.example"), Some("spam@x.example"));
        assert_eq!(blacklisted(&list, "a@mail.junk.example"), Some("@junk.example"));
        assert_eq!(blacklisted(&list, "ada@example.com"), None);
        assert_eq!(blacklisted(&list, "a@notjunk.example"), None);
    }
}
