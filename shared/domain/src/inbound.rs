//! Email-to-case (SPEC F20–F28): one inbound message becomes a new case, an entry on an
//! existing case, or a logged refusal — never nothing.
//!
//! The order of the checks is the order of trust: duplicates first (the same delivery, then the
//! same Message-ID), then size, then the parser, then the receiving system's verdicts (virus,
//! spam), the blacklist and automatic mail, then the mailbox, then threading by the rules of F21
//! (first match wins, recorded), the status policy of F22 and the contacts of F23, and finally
//! the acknowledgement of F27. Every outcome is written to the inbound log with its reason.

use crate::ids::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use docket_mail::compose::{Address, AutoSubmitted, OutgoingMessage, compose};
use docket_mail::inbound::{InboundMessage, Limits, Verdict, normalize_message_id, parse, parse_headers_only};
use docket_ports::{Mailer, OutboundMail, PortError};
use docket_store::{Condition, Cursor, Key, Query, SortKeyRange, WriteOp, open_scoped, seal_scoped};

use crate::Docket;
use crate::access::Principal;
use crate::cases::CaseFields;
use crate::clock::new_id;
use crate::directory::{ContactFor, from_item};
use crate::error::{DomainError, DomainResult};
use crate::follows::Follow;
use crate::model::*;
use crate::notify::{MailSettings, MessageIdRecord, ReplyToken, TokenIssue, reply_token};
use crate::outbox::Effects;
use crate::ratelimit::FixedWindow;
use crate::schema::{CASES, COUNTERS, case_keys, directory_keys, keyed_item};
use crate::stream::{Attachment, AttachmentRef, Author, AuthorKind, EmailMeta, EntryKind, StreamEntry, Visibility, entry_put};
use crate::txn::{Label, Refused, Txn};
use crate::validate;

/// One message as the receiving system handed it over.
#[derive(Debug, Clone, Default)]
pub struct InboundMail {
    /// Where it came from (the S3 object key, or the SMTP session's id): a second delivery of
    /// the same source changes nothing.
    pub source_id: String,
    /// Envelope recipients: SES's `receipt.recipients` on AWS, SMTP `RCPT TO` locally; the
    /// To/Cc addresses only where no envelope is known (S3 events, `docket ingest --ses` without
    /// `--to`).
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
    /// Whether SES received the message, so its verdict headers (above its topmost
    /// `X-SES-RECEIPT`) mean something. Mail from the local SMTP port or a file never claims it.
    pub received_by_ses: bool,
    /// Whether the receiving listener vouches for the From address itself (a local listener set
    /// up for authenticated submission). Off by default: From alone proves nothing.
    pub trusted_sender: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboundOutcome {
    Created,
    /// A reply to a closed case opened a new case linked to it (mailbox policy).
    NewLinked,
    Appended,
    Reopened,
    Duplicate,
    Suppressed,
    /// The sender is on the blacklist.
    Dropped,
    /// The receiving system judged it spam (kept raw; a Cancelled case under the junk policy).
    Junk,
    Rejected,
    Quarantined,
}

/// Which F21 rule threaded the message (or `new_case`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadRule {
    ReplyToken,
    MessageId,
    SubjectNumber,
    BodyNumber,
    NewCase,
}

/// One line of the inbound log (F28).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
    pub mailbox_id: Option<MailboxId>,
    pub case_id: Option<CaseId>,
    pub case_number: Option<u64>,
    pub raw_blob_key: Option<String>,
    pub acknowledged: bool,
}

/// The acknowledgement of a new email case, as an outbox item for the notify worker (or the
/// pipeline itself, right after the commit): who gets it, and the log line it reports to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub log_id: String,
    pub contact_id: ContactId,
    pub email: EmailAddress,
    pub mailbox_id: MailboxId,
    /// The Message-ID of the message acknowledged (for In-Reply-To).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// Entries are single DynamoDB items (at most 400 KB): bodies and quoted history are bounded so
/// that even text of 4-byte characters fits.
const MAX_BODY_CHARS: usize = 60_000;
const MAX_QUOTED_CHARS: usize = 20_000;
const MAX_ATTACHMENTS: usize = 40;

/// The inbound pipeline, built per message from the application and its outbound mailer.
pub struct Inbound<'a> {
    pub docket: &'a Docket,
    /// Sends the acknowledgement right after the commit where outbox items are delivered
    /// immediately; elsewhere (and without one) the notify worker sends it.
    pub mailer: Option<&'a dyn Mailer>,
    pub settings: &'a MailSettings,
}

/// Everything one message changes, gathered while it is decided and committed as one
/// transaction with its log line and source item: a message has all its effects or none, and a
/// delivery tried again finds the log line (one case, one line) or starts afresh.
struct Work {
    log_id: String,
    raw_key: String,
    txn: Txn,
    /// Its queue messages (notifications, case events, the acknowledgement) as outbox items.
    effects: Effects,
    /// Follows of users who follow every new case, written after the commit (they may be many).
    auto_follows: Vec<Follow>,
    /// Contacts this message creates, not stored yet: a second mention finds them here.
    new_contacts: Vec<Contact>,
}

impl Work {
    fn new(log_id: &str, raw_key: &str) -> Self {
        Work {
            log_id: log_id.to_owned(),
            raw_key: raw_key.to_owned(),
            txn: Txn::new(),
            effects: Effects::default(),
            auto_follows: Vec::new(),
            new_contacts: Vec::new(),
        }
    }
}

/// The case a message threads to, by which rule, answering what.
struct Threaded {
    case: Case,
    rule: ThreadRule,
    context: ReplyContext,
}

/// What the pipeline decided before it is logged.
struct Decision {
    outcome: InboundOutcome,
    rule: Option<ThreadRule>,
    reason: String,
    mailbox_id: Option<MailboxId>,
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
    /// A staff member, and the mail is authenticated.
    Staff(User),
    /// From names a staff member, but nothing vouches for it: never their word, never public.
    UnverifiedStaff,
    Contact(Contact),
}

impl Sender {
    /// Who the entry is by. Unverified mail is recorded as the system's, so no notification
    /// or stream line says the staff member wrote it.
    fn author(&self) -> Author {
        match self {
            Sender::Staff(u) => Author { kind: AuthorKind::User, id: Some(u.id.to_string()) },
            Sender::UnverifiedStaff => Author::system(),
            Sender::Contact(c) => Author { kind: AuthorKind::Contact, id: Some(c.id.to_string()) },
        }
    }
    fn trust(&self) -> SenderTrust {
        match self {
            Sender::Staff(_) => SenderTrust::Staff,
            Sender::UnverifiedStaff => SenderTrust::UnverifiedStaff,
            Sender::Contact(_) => SenderTrust::Customer,
        }
    }
}

/// How far the sender of a message is trusted, for [`reply_visibility`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderTrust {
    Customer,
    Staff,
    UnverifiedStaff,
}

/// What the message answers, as far as threading can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyContext {
    /// A public entry or an acknowledgement (by its reply token or our Message-ID).
    Public,
    /// An internal entry: its notification went to staff only.
    Internal,
    /// Threaded by a case number or a customer's Message-ID: what it answers is not known.
    Unknown,
}

/// What is known about one threading hint of a message (F21), to judge whether it may bring
/// the message into the hint's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintFacts {
    pub rule: ThreadRule,
    pub sender: SenderTrust,
    /// The hint vouches for the sender by itself: a reply token issued to the sender's address,
    /// or a Message-ID of mail we sent.
    pub vouched: bool,
    /// The sender is on the case (a contact by any address, a follower, staff who may see it);
    /// only asked when [`needs_participation`] says so.
    pub participant: bool,
    /// A reply token past its expiry.
    pub expired: bool,
    /// What the hint says the message answers (its token's or our message's visibility).
    pub context: ReplyContext,
}

/// A hint's verdict: thread into its case answering `context`, or ignore it for a reason (the
/// inbound log says why, where the reason is worth saying).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintVerdict {
    Thread(ReplyContext),
    Ignore(Option<&'static str>),
}

/// Whether judging the hint needs to know if the sender is on the case (which costs reads): only
/// when the hint does not vouch for the sender and is not ignored anyway.
pub fn needs_participation(facts: &HintFacts) -> bool {
    let expired_token = facts.rule == ThreadRule::ReplyToken && facts.expired;
    !(facts.vouched || expired_token || facts.sender == SenderTrust::UnverifiedStaff)
}

/// F21: whether a hint may bring a message into its case. A reply token threads for the address
/// it was issued to (or anyone on the case) until it expires; a Message-ID threads when the
/// message answers mail we sent, or its sender is on the case (a customer's own Message-ID
/// quoted by a stranger does not); a case number in the subject or body threads only for people
/// on the case (the "ticket trick"), except unauthenticated staff mail, which lands on the case
/// internal and flagged. What is answered is known only from a token or our own Message-ID.
pub fn judge_hint(facts: HintFacts) -> HintVerdict {
    use HintVerdict::*;
    let on_case = facts.participant && facts.sender != SenderTrust::UnverifiedStaff;
    match facts.rule {
        ThreadRule::ReplyToken if facts.expired => Ignore(Some("the reply token has expired: threaded as if it were absent")),
        ThreadRule::ReplyToken if facts.vouched || on_case => Thread(facts.context),
        ThreadRule::ReplyToken => Ignore(Some("the reply token was issued to another address and the sender is not on the case: ignored")),
        ThreadRule::MessageId if facts.vouched => Thread(facts.context),
        ThreadRule::MessageId if on_case => Thread(ReplyContext::Unknown),
        ThreadRule::MessageId => Ignore(Some("the Message-ID is not ours and the sender is not on the case: ignored")),
        ThreadRule::SubjectNumber | ThreadRule::BodyNumber if on_case || facts.sender == SenderTrust::UnverifiedStaff => Thread(ReplyContext::Unknown),
        ThreadRule::SubjectNumber | ThreadRule::BodyNumber | ThreadRule::NewCase => Ignore(None),
    }
}

/// The visibility of an emailed entry: it inherits the visibility of what it answers, so a
/// staff member answering an internal note from a mail client never publishes it. Staff
/// replies of unknown context stay internal; unauthenticated mail from a staff address is
/// always internal. Customers' mail is public unless it answers something internal.
pub fn reply_visibility(trust: SenderTrust, context: ReplyContext) -> Visibility {
    match (trust, context) {
        (SenderTrust::UnverifiedStaff, _) | (_, ReplyContext::Internal) => Visibility::Internal,
        (SenderTrust::Staff, ReplyContext::Unknown) => Visibility::Internal,
        (SenderTrust::Staff | SenderTrust::Customer, ReplyContext::Public) | (SenderTrust::Customer, ReplyContext::Unknown) => Visibility::Public,
    }
}

/// What a public reply does to the case it threads to (F22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyEffect {
    /// The case is open: the reply is added.
    Append,
    /// The case is waiting, or final within the mailbox's window: added, and the case reopened.
    Reopen,
    /// The case is final and the mailbox's policy opens a new case linked to it instead.
    NewLinkedCase,
}

/// F22: a reply to an open case appends; to a waiting one reopens it; to a final one reopens it
/// or, as the mailbox's `closed_case_policy` says (always, or once `days` have passed since
/// the case's last change), opens a new case linked to it.
pub fn reply_effect(status: CaseStatus, policy: ClosedCasePolicy, since_last_change: time::Duration) -> ReplyEffect {
    match status.phase() {
        Phase::Open => ReplyEffect::Append,
        Phase::Final => {
            let window = match policy {
                ClosedCasePolicy::Reopen => None,
                ClosedCasePolicy::NewLinked => Some(0),
                ClosedCasePolicy::NewAfterDays { days } => Some(days),
            };
            match window {
                Some(days) if since_last_change >= time::Duration::days(i64::from(days)) => ReplyEffect::NewLinkedCase,
                _ => ReplyEffect::Reopen,
            }
        }
        Phase::Waiting => ReplyEffect::Reopen,
    }
}

/// Whether the From address of a message is vouched for: by the listener itself (a local
/// setting, off by default), or by SES's checks — SPF or DKIM passed and DMARC did not fail.
/// Verdicts count only where SES received the message (the caller clears them otherwise).
pub fn sender_authenticated(mail: &InboundMail, verdicts: &docket_mail::inbound::SesVerdicts) -> bool {
    mail.trusted_sender || (mail.received_by_ses && (verdicts.spf == Verdict::Pass || verdicts.dkim == Verdict::Pass) && verdicts.dmarc != Verdict::Fail)
}

/// Whether SES's checks show the sender forged: no acknowledgement goes to such an address.
pub fn forged_by_verdicts(verdicts: &docket_mail::inbound::SesVerdicts) -> bool {
    verdicts.dmarc == Verdict::Fail || (verdicts.spf == Verdict::Fail && verdicts.dkim == Verdict::Fail)
}

/// The address a group mailbox receives an envelope recipient at, and whether the recipient
/// had a plus part: `support+anything@x` is the mailbox `support@x`'s (the plus part a reply
/// token, a tag such as `+orders`, or anything else). Mailbox addresses never hold a `+`
/// (`MailboxFields` refuses it), so one lookup of the part before the first `+` suffices.
pub fn mailbox_address(address: &str) -> (String, bool) {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
    if let Some((local, domain)) = address.rsplit_once('@')
        && let Some((base, _)) = local.split_once('+')
        && !base.is_empty()
    {
        return (format!("{base}@{domain}"), true);
    }
    (address, false)
}

impl Inbound<'_> {
    /// Takes one message through the pipeline. Errors are transient (retry the delivery);
    /// everything about the message itself ends as a logged outcome. Its answer is durable: the
    /// store is synced once, after all the message's commits, before the outcome is returned
    /// (and so before any `250` or JSON line reports it).
    pub async fn receive(&self, mail: InboundMail) -> DomainResult<InboundLogEntry> {
        let entry = self.receive_unsynced(mail).await?;
        self.docket.store().sync().await?;
        Ok(entry)
    }

    async fn receive_unsynced(&self, mail: InboundMail) -> DomainResult<InboundLogEntry> {
        // A delivery seen before changes nothing: its log line is the answer.
        if let Some(entry) = self.logged(&mail.source_id).await? {
            return Ok(entry);
        }
        let log_id = new_id();
        let raw_key = crate::schema::blob_keys::inbound_raw(&log_id);
        self.docket
            .blobs()?
            .put(&raw_key, "message/rfc822", mail.raw.clone())
            .await
            .map_err(|e| DomainError::Transient(format!("cannot keep the raw message: {e}")))?;
        let settings = self.docket.directory().settings().await?;
        let limits = Limits { max_bytes: usize::try_from(settings.max_message_bytes).unwrap_or(usize::MAX), ..Limits::default() };
        for _ in 0..MAX_CONFLICTS {
            let mut work = Work::new(&log_id, &raw_key);
            let (decision, headers) = self.decide_message(&mail, &settings, &limits, &mut work).await?;
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
                raw_blob_key: Some(raw_key.clone()),
                acknowledged: decision.acknowledged,
            };
            match self.commit(&mut work, &entry).await {
                Ok(()) => {
                    tracing::info!(outcome = ?entry.outcome, rule = ?entry.rule, reason = %entry.reason, case = ?entry.case_number, source = %entry.source_id, "inbound mail");
                    return self.after_commit(work, entry).await;
                }
                Err(e) if e.is_condition_failure() => {
                    // The same source, delivered twice at once: the other delivery's line stands.
                    if let Some(entry) = self.logged(&mail.source_id).await? {
                        return Ok(entry);
                    }
                    if e.is(&Label::Number) {
                        // The counter is behind the numbers in use: move it past this one.
                        self.docket.store().increment(COUNTERS, &crate::schema::case_number_counter(), "value", 1).await?;
                    }
                    // Something this message depends on moved meanwhile (its Message-ID was
                    // claimed, a contact or a case number was taken, the case changed): decide
                    // again on what is stored now.
                    tracing::debug!(source = %mail.source_id, error = %e.error, "inbound mail raced a concurrent change: deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Transient("the message kept racing concurrent changes; try again".into()))
    }

    /// The log line of a source delivered before, if any.
    async fn logged(&self, source_id: &str) -> DomainResult<Option<InboundLogEntry>> {
        let source = self.docket.store().get(CASES, &case_keys::inbound_source(source_id)).await?;
        match source.as_ref().and_then(|i| i.get("log_id")).and_then(Value::as_str) {
            Some(log_id) => self.log_entry(log_id).await,
            None => Ok(None),
        }
    }

    /// Parses the message and decides what it becomes; the headers for its log line.
    async fn decide_message(&self, mail: &InboundMail, settings: &Settings, limits: &Limits, work: &mut Work) -> DomainResult<(Decision, LogHeaders)> {
        let trusted = |mut message: InboundMessage| {
            if !mail.received_by_ses {
                message.auto.ses = Default::default();
            }
            message
        };
        Ok(match parse(&mail.raw, limits) {
            Ok(message) => {
                let message = trusted(message);
                let headers = LogHeaders::of(&message);
                (self.decide(mail, &message, settings, work).await?, headers)
            }
            Err(limit) if limit.is_limit() => match parse_headers_only(&mail.raw, limits) {
                Ok(headers_only) => {
                    let message = trusted(InboundMessage::without_body(headers_only));
                    let headers = LogHeaders::of(&message);
                    let note = format!("The message ({} bytes) was not imported: {limit}.", mail.raw.len());
                    (self.decide_oversize(mail, &message, settings, work, note).await?, headers)
                }
                Err(e) => (Decision::plain(InboundOutcome::Rejected, format!("oversize and unreadable: {e}")), LogHeaders::default()),
            },
            Err(e) => (Decision::plain(InboundOutcome::Rejected, format!("not a readable message: {e}")), LogHeaders::default()),
        })
    }

    /// Commits the message's work with its log line and source item, in one transaction.
    async fn commit(&self, work: &mut Work, entry: &InboundLogEntry) -> Result<(), Refused> {
        let encode = Refused::unbuildable;
        let mut txn = std::mem::take(&mut work.txn);
        txn.plain(WriteOp::put(CASES, keyed_item(case_keys::inbound_log(&entry.id), entry).map_err(encode)?));
        let source = keyed_item(case_keys::inbound_source(&entry.source_id), InboundSource { log_id: entry.id.clone() }).map_err(encode)?;
        txn.plain(WriteOp::put_if(CASES, source, Condition::NotExists));
        txn.plain_all(work.effects.ops().map_err(encode)?);
        let txn = txn.without_redundant_checks();
        if txn.len() > docket_store::MAX_TRANSACTION_OPS {
            let refusal = format!("the message makes {} writes, more than one transaction holds", txn.len());
            return Err(Refused::unlabelled(docket_store::StoreError::Validation(refusal)));
        }
        txn.commit(self.docket.store()).await
    }

    /// What follows the commit: the automatic follows of a new case, the delivery of its queue
    /// messages, and the acknowledgement where this process sends it.
    async fn after_commit(&self, mut work: Work, mut entry: InboundLogEntry) -> DomainResult<InboundLogEntry> {
        let cases = self.docket.cases();
        if let Err(error) = cases.add_follows(&work.auto_follows).await {
            tracing::warn!(case = ?entry.case_number, %error, "automatic follows of a new email case not written");
        }
        let immediate = matches!(self.docket.delivery, crate::outbox::OutboxDelivery::Immediate);
        let ack = match self.mailer {
            Some(mailer) if immediate => work.effects.take_ack().map(|item| (mailer, item)),
            _ => None,
        };
        cases.deliver(std::mem::take(&mut work.effects)).await;
        if let Some((mailer, item)) = ack {
            let notifier = crate::notify::Notifier { docket: self.docket, mailer, settings: self.settings };
            match notifier.handle(&item.body).await {
                // Done (or never possible): the outbox item has served.
                Ok(_) | Err(crate::error::WorkError::Poison(_)) => {
                    if let Err(error) = self.docket.store().write(WriteOp::delete(CASES, crate::schema::outbox_item(&item.id))).await {
                        tracing::warn!(%error, "the acknowledgement's outbox item was not deleted; the worker will find it sent");
                    }
                }
                Err(error) => tracing::warn!(case = ?entry.case_number, %error, "acknowledgement not sent yet: it waits in the outbox"),
            }
            if let Some(updated) = self.log_entry(&entry.id).await? {
                entry = updated;
            }
        }
        Ok(entry)
    }

    async fn log_entry(&self, id: &str) -> DomainResult<Option<InboundLogEntry>> {
        self.docket.store().get(CASES, &case_keys::inbound_log(id)).await?.map(from_item).transpose()
    }

    /// The full decision for a parsed message.
    async fn decide(&self, mail: &InboundMail, message: &InboundMessage, settings: &Settings, work: &mut Work) -> DomainResult<Decision> {
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
                let note = format!(
                    "Delivery failed{}{}",
                    bounce.recipient.as_deref().map(|r| format!(" to {r}")).unwrap_or_default(),
                    bounce.status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                );
                self.append(&case, message, &Author::system(), Visibility::Internal, work, Some(note), false).await?;
                if let Some(recipient) = &bounce.recipient {
                    self.flag_bounced(recipient, work)?;
                }
                return Ok(Decision {
                    case: Some(case),
                    rule: Some(ThreadRule::MessageId),
                    ..decision(InboundOutcome::Appended, "bounce of our mail, attached to its case".into())
                });
            }
            return Ok(decision(InboundOutcome::Suppressed, "delivery status report".into()));
        }
        if let Some(reason) = &message.auto.automatic {
            return Ok(decision(InboundOutcome::Suppressed, format!("automatic mail ({reason}): opens nothing, gets no acknowledgement")));
        }
        let junk = if verdicts.spam == Verdict::Fail {
            Some((InboundOutcome::Junk, "the receiving system judged it spam".to_owned()))
        } else {
            blacklisted(&settings.blacklist, &sender_address)
                .map(|entry| (InboundOutcome::Dropped, format!("the sender matches the blacklist entry {entry:?}")))
        };
        if let Some((outcome, reason)) = junk {
            return match settings.junk_policy {
                JunkPolicy::Drop => Ok(decision(outcome, format!("junk: {reason}; kept raw, no case"))),
                JunkPolicy::JunkCase => {
                    let case = self.junk_case(message, &mailbox, work).await?;
                    Ok(Decision {
                        case: Some(case),
                        rule: Some(ThreadRule::NewCase),
                        ..decision(outcome, format!("junk: {reason}; opened as a Cancelled case"))
                    })
                }
            };
        }
        if self.is_our_address(&sender_address).await? {
            return Ok(decision(InboundOutcome::Suppressed, "mail from one of our own mailboxes (a loop)".into()));
        }
        if let Some(message_id) = &message.message_id {
            // The claim commits with the log line: one that exists was logged, unless an
            // earlier version of the pipeline left it behind cut short (then it is taken over).
            let store = self.docket.store();
            let claim = keyed_item(case_keys::inbound_message_claim(message_id), MessageClaim { source_id: &mail.source_id, log_id: &work.log_id })?;
            let earlier = store.get(CASES, &case_keys::inbound_message_claim(message_id)).await?;
            let earlier_log = earlier.as_ref().and_then(|i| i.get("log_id")).and_then(Value::as_str).map(str::to_owned);
            let condition = match (&earlier, earlier_log) {
                (None, _) => Condition::NotExists,
                (Some(_), Some(log_id)) if self.log_entry(&log_id).await?.is_none() => Condition::equals("log_id", log_id),
                (Some(_), _) => return Ok(decision(InboundOutcome::Duplicate, format!("Message-ID {message_id} was received before"))),
            };
            work.txn.plain(WriteOp::put_if(CASES, claim, condition));
        }
        let mut decided = self.thread_and_store(mail, message, settings, &mailbox, &sender_address, work).await?;
        decided.mailbox_id = mailbox_id;
        Ok(decided)
    }

    /// F26: an oversize message still reaches its case (or opens one) with its headers.
    async fn decide_oversize(
        &self,
        mail: &InboundMail,
        message: &InboundMessage,
        settings: &Settings,
        work: &mut Work,
        note: String,
    ) -> DomainResult<Decision> {
        let mut message = message.clone();
        message.visible_text = format!("[{note}]");
        let mut decision = self.decide(mail, &message, settings, work).await?;
        decision.reason = format!("{}; {note}", decision.reason);
        Ok(decision)
    }

    /// The group mailbox the message was sent to: `mailbox+anything@domain` belongs to the
    /// mailbox (a reply token, a tag, or a token that is unknown or expired — threading decides
    /// what the plus part is worth). Mail to the system address (replies about cases without
    /// a mailbox) counts when it carries a plus part.
    async fn mailbox(&self, envelope_to: &[String]) -> DomainResult<Option<Mailbox>> {
        let directory = self.docket.directory();
        for address in envelope_to {
            let (base, plus) = mailbox_address(address);
            if let Some(mailbox) = directory.mailbox_by_address(&base).await? {
                return Ok(Some(mailbox));
            }
            if plus && base.eq_ignore_ascii_case(&self.settings.reply_to) {
                return Ok(Some(system_mailbox(&base, self.docket.clock().now())));
            }
        }
        Ok(None)
    }

    async fn is_our_address(&self, address: &str) -> DomainResult<bool> {
        Ok(address.eq_ignore_ascii_case(&self.settings.from.email) || self.docket.directory().mailbox_by_address(address).await?.is_some())
    }

    /// The case of a Message-ID we issued (bounces name only ours).
    async fn case_of_message_id(&self, message_id: &str) -> DomainResult<Option<Case>> {
        match MessageIdRecord::find(self.docket.store(), message_id).await? {
            Some(record) if record.is_ours() => self.docket.cases().find(&record.case_id).await,
            _ => Ok(None),
        }
    }

    /// What a known Message-ID's entry tells about a reply to it.
    async fn context_of(&self, record: &MessageIdRecord) -> DomainResult<ReplyContext> {
        if let Some(internal) = record.internal {
            return Ok(if internal { ReplyContext::Internal } else { ReplyContext::Public });
        }
        if record.entry_id == "ack" {
            return Ok(ReplyContext::Public);
        }
        Ok(match self.docket.cases().entry(&record.case_id, &record.entry_id).await? {
            Some(entry) if entry.is_internal() => ReplyContext::Internal,
            Some(_) => ReplyContext::Public,
            None => ReplyContext::Unknown,
        })
    }

    /// F21: the case the message belongs to, the rule that found it and what it answers.
    /// Threading hints that do not hold (a token issued to someone else, an expired token, a
    /// customer's Message-ID quoted by a stranger) are ignored, and `notes` says why.
    async fn thread(
        &self,
        mail: &InboundMail,
        message: &InboundMessage,
        settings: &Settings,
        sender: &Sender,
        sender_address: &str,
        notes: &mut Vec<String>,
    ) -> DomainResult<Option<Threaded>> {
        if message.auto.ses.dmarc == Verdict::Fail {
            // Forged senders must never reach an existing conversation.
            return Ok(None);
        }
        let store = self.docket.store();
        let cases = self.docket.cases();
        let now = self.docket.clock().now().unix_timestamp();
        let judge = |case: Case, mut facts: HintFacts| async move {
            if needs_participation(&facts) {
                facts.participant = self.is_participant(&case, sender, sender_address).await?;
            }
            DomainResult::Ok((case, judge_hint(facts)))
        };
        let facts = |rule, vouched, expired, context| HintFacts { rule, sender: sender.trust(), vouched, participant: false, expired, context };
        for address in &mail.envelope_to {
            let Some((_, token)) = docket_mail::inbound::plus_token(address) else { continue };
            let Some(token) = ReplyToken::find(store, &token).await? else {
                notes.push("the plus part of the address is no reply token we issued".into());
                continue;
            };
            let Some(case) = cases.find(&token.case_id).await? else { continue };
            let context = if token.internal { ReplyContext::Internal } else { ReplyContext::Public };
            let hint = facts(ThreadRule::ReplyToken, token.email.eq_ignore_ascii_case(sender_address), token.expired(now), context);
            match judge(case, hint).await? {
                (case, HintVerdict::Thread(context)) => return Ok(Some(Threaded { case, rule: ThreadRule::ReplyToken, context })),
                (case, HintVerdict::Ignore(why)) => notes.extend(why.map(|why| format!("case {}: {why} ({sender_address})", case.number))),
            }
        }
        for id in message.in_reply_to.iter().chain(message.references.iter()) {
            let Some(record) = MessageIdRecord::find(store, id).await? else { continue };
            let Some(case) = cases.find(&record.case_id).await? else { continue };
            let context = if record.is_ours() { self.context_of(&record).await? } else { ReplyContext::Unknown };
            match judge(case, facts(ThreadRule::MessageId, record.is_ours(), false, context)).await? {
                (case, HintVerdict::Thread(context)) => return Ok(Some(Threaded { case, rule: ThreadRule::MessageId, context })),
                (case, HintVerdict::Ignore(why)) => notes.extend(why.map(|why| format!("case {}, Message-ID {id}: {why} ({sender_address})", case.number))),
            }
        }
        let mask = cases.mask().await?;
        let (prefix, suffix) = mask.parts();
        for (text, rule) in [
            (Some(message.subject.as_str()), ThreadRule::SubjectNumber),
            (settings.number_in_body.then_some(message.visible_text.as_str()), ThreadRule::BodyNumber),
        ] {
            let Some(text) = text else { continue };
            for number in docket_mail::inbound::find_numbers(text, prefix, suffix) {
                let Some(case) = cases.find(&number.to_string()).await? else { continue };
                if let (case, HintVerdict::Thread(context)) = judge(case, facts(rule, false, false, ReplyContext::Unknown)).await? {
                    return Ok(Some(Threaded { case, rule, context }));
                }
            }
        }
        Ok(None)
    }

    /// Only people on the case may thread into it by its number or a customer's Message-ID
    /// (the "ticket trick"): its contacts (by any of their addresses), its followers, and
    /// authenticated staff who may see it. Unauthenticated staff addresses never count.
    async fn is_participant(&self, case: &Case, sender: &Sender, sender_address: &str) -> DomainResult<bool> {
        match sender {
            Sender::UnverifiedStaff => Ok(false),
            Sender::Staff(user) => Ok(Principal::Staff(user.clone()).can_see(case)),
            Sender::Contact(contact) => {
                if case.contact_ids.iter().any(|c| c == &contact.id) {
                    return Ok(true);
                }
                let follows = self.docket.cases().follows_of(&case.id).await?;
                if follows.iter().any(|f| f.follower_id == contact.id) {
                    return Ok(true);
                }
                // A second address of a contact on the case also counts.
                let directory = self.docket.directory();
                for contact_id in &case.contact_ids {
                    if let Some(contact) = directory.get::<Contact>(contact_id).await?
                        && contact.emails.iter().any(|e| e.eq_ignore_ascii_case(sender_address))
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    async fn thread_and_store(
        &self,
        mail: &InboundMail,
        message: &InboundMessage,
        settings: &Settings,
        mailbox: &Mailbox,
        sender_address: &str,
        work: &mut Work,
    ) -> DomainResult<Decision> {
        let authenticated = sender_authenticated(mail, &message.auto.ses);
        let Some(sender) = self.sender(message, mailbox, sender_address, authenticated, work).await? else {
            return Ok(Decision::plain(
                InboundOutcome::Rejected,
                format!("unknown sender {sender_address} and mailbox {} takes mail only from known contacts", mailbox.name),
            ));
        };
        let mut notes = Vec::new();
        let threaded = self.thread(mail, message, settings, &sender, sender_address, &mut notes).await?;
        let mut decision = match threaded {
            Some(threaded) => self.store_reply(message, settings, mailbox, sender, sender_address, work, threaded).await?,
            None => {
                let sender = match sender {
                    // Naming no case, unverified staff mail opens nothing as staff: the rules
                    // for any other sender apply.
                    Sender::UnverifiedStaff => {
                        notes.push(format!("{sender_address} is a staff address but the mail is not authenticated: handled as from any sender"));
                        match self.contact_sender(message, mailbox, sender_address, work).await? {
                            Some(contact) => Sender::Contact(contact),
                            None => {
                                return Ok(Decision::plain(
                                    InboundOutcome::Rejected,
                                    format!(
                                        "{sender_address} is a staff address but the mail is not authenticated, and mailbox {} takes mail only from known contacts",
                                        mailbox.name
                                    ),
                                ));
                            }
                        }
                    }
                    other => other,
                };
                let case = self.new_case(message, mailbox, &sender, None, work).await?;
                let (acknowledged, why) = self.acknowledgement(&case, message, mailbox, &sender, sender_address, settings, work).await?;
                let reason = format!("no thread matched: new case{why}");
                Decision { outcome: InboundOutcome::Created, rule: Some(ThreadRule::NewCase), reason, mailbox_id: None, case: Some(case), acknowledged }
            }
        };
        for note in notes {
            decision.reason.push_str("; ");
            decision.reason.push_str(&note);
        }
        Ok(decision)
    }

    /// A message threaded to a case: an entry of the visibility it inherits (F21), the status
    /// policy of F22 for public replies.
    #[allow(clippy::too_many_arguments)]
    async fn store_reply(
        &self,
        message: &InboundMessage,
        settings: &Settings,
        mailbox: &Mailbox,
        sender: Sender,
        sender_address: &str,
        work: &mut Work,
        threaded: Threaded,
    ) -> DomainResult<Decision> {
        let Threaded { case, rule, context } = threaded;
        let visibility = reply_visibility(sender.trust(), context);
        let unverified = matches!(sender, Sender::UnverifiedStaff);
        if visibility == Visibility::Internal {
            let note = unverified.then(|| format!("Unauthenticated mail from the staff address {sender_address}: not verified, kept internal."));
            self.append(&case, message, &sender.author(), Visibility::Internal, work, note, unverified).await?;
            let reason = if unverified {
                "unauthenticated mail from a staff address: added to the case as an internal entry flagged unverified"
            } else {
                "reply added to the case as an internal entry (it answers something internal, or staff mail of unknown context)"
            };
            return Ok(Decision {
                outcome: InboundOutcome::Appended,
                rule: Some(rule),
                reason: reason.into(),
                mailbox_id: None,
                case: Some(case),
                acknowledged: false,
            });
        }
        let since_last_change = self.docket.clock().now() - case.audit.updated_at;
        let effect = reply_effect(case.status, mailbox.closed_case_policy, since_last_change);
        if effect != ReplyEffect::NewLinkedCase {
            self.append(&case, message, &sender.author(), Visibility::Public, work, None, false).await?;
            // A public mail is a reply for the SLA clocks, recorded in the message's transaction
            // (a concurrent reply refuses it, and the message is decided again).
            let turn = match sender.trust() {
                SenderTrust::Staff => Some(crate::sla::Change::StaffReply),
                SenderTrust::Customer => Some(crate::sla::Change::CustomerReply),
                SenderTrust::UnverifiedStaff => None,
            };
            if let Some(change) = turn
                && let Some(op) = self.docket.cases().reply_op(&case, self.docket.clock().now(), change).await?
            {
                work.txn.push(op, Label::Turn);
            }
            let (case, outcome, reason) = if effect == ReplyEffect::Append {
                (case, InboundOutcome::Appended, "reply added to the open case".to_owned())
            } else {
                let from = case.status;
                let reopened = self.reopen(&case, &sender.author(), work).await?;
                (reopened, InboundOutcome::Reopened, format!("reply to a {} case reopened it", from.as_str()))
            };
            return Ok(Decision { outcome, rule: Some(rule), reason, mailbox_id: None, case: Some(case), acknowledged: false });
        }
        let case = self.new_case(message, mailbox, &sender, Some(&case.id), work).await?;
        let (acknowledged, why) = self.acknowledgement(&case, message, mailbox, &sender, sender_address, settings, work).await?;
        Ok(Decision {
            outcome: InboundOutcome::NewLinked,
            rule: Some(rule),
            reason: format!("reply to a closed case opened a new case linked to it (mailbox policy){why}"),
            mailbox_id: None,
            case: Some(case),
            acknowledged,
        })
    }

    /// F22: a reply reopens a waiting or final case, in the message's transaction (conditional
    /// on the version read: a concurrent change makes the message be decided again).
    async fn reopen(&self, case: &Case, author: &Author, work: &mut Work) -> DomainResult<Case> {
        let cases = self.docket.cases();
        let mut fields = crate::cases::case_fields(case);
        fields.status = Some(CaseStatus::Reopened);
        let new = cases.with_fields(case, fields, author).await?;
        let (txn, entries) = crate::cases::change_ops(case, &new, author)?;
        work.txn.append(txn);
        cases.notify_effect(&mut work.effects, &entries);
        cases.announce_effect(&mut work.effects, crate::events::Trigger::CaseUpdated, &new.id, None, crate::cases::changed_fields(case, &new));
        Ok(new)
    }

    /// The sender as a user or contact; unknown senders become contacts when the mailbox says
    /// so. A staff address counts as staff only when the mail is authenticated.
    async fn sender(&self, message: &InboundMessage, mailbox: &Mailbox, address: &str, authenticated: bool, work: &mut Work) -> DomainResult<Option<Sender>> {
        let directory = self.docket.directory();
        if let Some(id) = directory.owner_of(&directory_keys::user_email(address)).await?
            && let Some(user) = directory.get::<User>(&id).await?
            && user.active
        {
            return Ok(Some(if authenticated { Sender::Staff(user) } else { Sender::UnverifiedStaff }));
        }
        Ok(self.contact_sender(message, mailbox, address, work).await?.map(Sender::Contact))
    }

    /// The contact of the sender; unknown senders become contacts when the mailbox says so.
    async fn contact_sender(&self, message: &InboundMessage, mailbox: &Mailbox, address: &str, work: &mut Work) -> DomainResult<Option<Contact>> {
        if let Some(contact) = self.docket.directory().contact_by_email(address).await? {
            return Ok(Some(contact));
        }
        if mailbox.unknown_senders == UnknownSenders::Reject {
            return Ok(None);
        }
        let name = message.from.as_ref().and_then(|a| a.name.clone()).filter(|n| !n.trim().is_empty());
        self.contact_for(address, name, work).await
    }

    /// Finds the contact of an address, or creates it (in the message's transaction) linked to
    /// the account owning its domain.
    async fn contact_for(&self, address: &str, name: Option<String>, work: &mut Work) -> DomainResult<Option<Contact>> {
        if let Some(contact) = work.new_contacts.iter().find(|c| c.emails.iter().any(|e| e.eq_ignore_ascii_case(address.trim()))) {
            return Ok(Some(contact.clone()));
        }
        let directory = self.docket.directory();
        match directory.contact_for(address, name.as_deref(), self.docket.clock().now()).await? {
            None => Ok(None),
            Some(ContactFor::Existing(contact)) => Ok(Some(contact)),
            Some(ContactFor::New(contact)) => {
                // Created by a concurrent message from the same sender meanwhile: the unique
                // address lookup fails the transaction, and the message is decided again.
                work.txn.append(directory.insert_ops(&contact)?);
                work.new_contacts.push(contact.clone());
                Ok(Some(contact))
            }
        }
    }

    async fn new_case(&self, message: &InboundMessage, mailbox: &Mailbox, sender: &Sender, parent: Option<&str>, work: &mut Work) -> DomainResult<Case> {
        let mut contact_ids = Vec::new();
        let mut account_id = None;
        if let Sender::Contact(c) = sender {
            contact_ids.push(c.id.clone());
            account_id = c.account_id.clone();
        }
        // F23: addresses in Cc (and other To addresses) collaborate; the sender stays primary.
        for address in message.cc.iter().chain(message.to.iter()).map(|a| a.email.to_lowercase()) {
            if contact_ids.len() >= crate::cases::MAX_CONTACTS || self.is_our_address(&address).await? || docket_mail::inbound::plus_token(&address).is_some() {
                continue;
            }
            if let Some(contact) = self.contact_for(&address, None, work).await?
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
            account_id,
            contact_ids,
            lead_id: None,
            assignee_id: None,
            collaborator_ids: Vec::new(),
            team_ids: mailbox.team_id.iter().cloned().collect(),
            internal: false,
            parent_id: parent.map(|p| CaseId::from_trusted(p.to_owned())),
            mailbox_id: (mailbox.id != SYSTEM_MAILBOX).then(|| mailbox.id.clone()),
        };
        let case = self.open(&sender.author(), fields, None, work).await?;
        self.append(&case, message, &sender.author(), Visibility::Public, work, None, false).await?;
        Ok(case)
    }

    /// Opens a case in the message's transaction, numbered from the process's case numbers (see
    /// [`crate::numbers`]: concurrent messages never conflict over the counter), announced unless
    /// it is junk (`status` set: opened directly in that status).
    async fn open(&self, author: &Author, fields: CaseFields, status: Option<CaseStatus>, work: &mut Work) -> DomainResult<Case> {
        let cases = self.docket.cases();
        let mut opening = cases.prepare_open(author, fields, None).await?;
        let number = cases.numbers.take(self.docket.store()).await?;
        if let Some(status) = status {
            opening.case.status = status;
            // The clocks start from the status the case is written with.
            if let Some(timeline) = &mut opening.case.sla_timeline {
                timeline.status = status;
            }
        }
        work.txn.append(opening.txn(number)?);
        if status.is_none() {
            cases.opened_effects(&opening, &mut work.effects);
            work.auto_follows.extend(opening.auto_follows.iter().cloned());
        }
        Ok(opening.case)
    }

    /// Junk kept as a Cancelled internal case: no assignment, no rules, no notifications.
    async fn junk_case(&self, message: &InboundMessage, mailbox: &Mailbox, work: &mut Work) -> DomainResult<Case> {
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
        let case = self.open(&Author::system(), fields, Some(CaseStatus::Cancelled), work).await?;
        self.append(&case, message, &Author::system(), Visibility::Internal, work, None, false).await?;
        Ok(case)
    }

    /// Writes the message as an `email_received` entry with its attachments (their bytes go to
    /// the blob store now; their records with the entry). Its Message-ID threads replies for
    /// people on the case, followers are notified, and mail from people starts workflow rules.
    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        case: &Case,
        message: &InboundMessage,
        author: &Author,
        visibility: Visibility,
        work: &mut Work,
        note: Option<String>,
        unverified: bool,
    ) -> DomainResult<StreamEntry> {
        let blobs = self.docket.blobs()?;
        let transient = |e: docket_ports::PortError| DomainError::Transient(e.to_string());
        let entry_id = new_id();
        let mut refs = Vec::new();
        for attachment in message.attachments.iter().take(MAX_ATTACHMENTS) {
            let id = new_id();
            let blob_key = crate::stream::attachment_blob_key(&case.id, &id);
            let content_type = if docket_ports::validate_content_type(&attachment.content_type).is_ok() {
                attachment.content_type.clone()
            } else {
                "application/octet-stream".to_owned()
            };
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
            work.txn.plain(WriteOp::put(CASES, keyed_item(case_keys::attachment(&case.id, &id), &stored)?));
            refs.push(AttachmentRef { id, name: stored.name, content_type, size: stored.size });
        }
        let html_blob_key = match &message.html_sanitized {
            Some(html) => {
                let key = crate::schema::blob_keys::entry_html(&case.id, &entry_id);
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
                raw_blob_key: Some(work.raw_key.clone()),
                html_blob_key,
                quoted_text: message.quoted_text.as_deref().map(|q| truncated_to(q, MAX_QUOTED_CHARS)),
                note,
                unverified,
            }),
            created_at: self.docket.clock().now(),
        };
        work.txn.plain(entry_put(&entry)?);
        // Never over one we issued (a sender may copy our Message-IDs into theirs).
        if let Some(message_id) = &message.message_id
            && MessageIdRecord::find(self.docket.store(), message_id).await?.is_none()
        {
            let record = MessageIdRecord {
                case_id: entry.case_id.clone(),
                entry_id: entry.id.clone(),
                recipient_id: None,
                ours: Some(false),
                internal: Some(entry.is_internal()),
            };
            work.txn.plain(WriteOp::put_if(CASES, keyed_item(case_keys::message_id(message_id), &record)?, Condition::NotExists));
        }
        // Junk is nobody's business; bounces (by the system) are told but start no rules.
        let junk = case.status == CaseStatus::Cancelled && author.kind == AuthorKind::System && case.category.as_deref() == Some("junk");
        if !junk {
            let cases = self.docket.cases();
            cases.notify_effect(&mut work.effects, std::slice::from_ref(&entry));
            if author.kind != AuthorKind::System {
                cases.announce_effect(&mut work.effects, crate::events::Trigger::EmailReceived, &entry.case_id, Some(&entry.id), Vec::new());
            }
        }
        Ok(entry)
    }

    fn flag_bounced(&self, address: &str, work: &mut Work) -> DomainResult<()> {
        let item = keyed_item(case_keys::bounced(address), crate::schema::Bounced { at: self.docket.clock().now().unix_timestamp() })?;
        work.txn.plain(WriteOp::put(CASES, item));
        Ok(())
    }

    /// F27: whether a new email case is acknowledged to its sender, and why not (a `; …`
    /// suffix for the inbound log). The acknowledgement itself is an outbox item of the
    /// message's transaction, sent once per case by [`send_ack`].
    #[allow(clippy::too_many_arguments)]
    async fn acknowledgement(
        &self,
        case: &Case,
        message: &InboundMessage,
        mailbox: &Mailbox,
        sender: &Sender,
        sender_address: &str,
        settings: &Settings,
        work: &mut Work,
    ) -> DomainResult<(bool, String)> {
        let no = |why: &str| Ok((false, format!("; no acknowledgement: {why}")));
        let deliverable = self.mailer.is_some() || self.docket.cases().notify_queue.is_some();
        if !mailbox.auto_ack || !deliverable {
            return Ok((false, String::new()));
        }
        if blacklisted(&settings.blacklist, sender_address).is_some() {
            return no("the sender is blacklisted");
        }
        if forged_by_verdicts(&message.auto.ses) {
            return no("the receiving system's checks show the sender forged (SPF and DKIM failed, or DMARC failed)");
        }
        if self.docket.store().get(CASES, &case_keys::bounced(sender_address)).await?.is_some() {
            return no("mail to the sender bounced before");
        }
        let Sender::Contact(contact) = sender else { return no("the sender is no contact") };
        let request = AckRequest {
            log_id: work.log_id.clone(),
            contact_id: contact.id.clone(),
            email: EmailAddress::parse("from", sender_address)?,
            mailbox_id: mailbox.id.clone(),
            in_reply_to: message.message_id.clone(),
        };
        work.effects.notify_message(&crate::notify::NotifyMessage {
            case_id: case.id.clone(),
            entry_id: ACK_ENTRY.into(),
            to: Vec::new(),
            confirm: None,
            ack: Some(request),
        });
        Ok((true, String::new()))
    }
}

/// The entry id of an acknowledgement in notify messages and Message-ID records.
const ACK_ENTRY: &str = "ack";

/// How often one message is decided again after racing concurrent changes.
const MAX_CONFLICTS: usize = 5;

/// The item marking a source as delivered: the log line it became.
#[derive(Serialize)]
struct InboundSource {
    log_id: String,
}

/// The claim of a Message-ID by the source that brought it first.
#[derive(Serialize)]
struct MessageClaim<'a> {
    source_id: &'a str,
    log_id: &'a str,
}

/// What became of an acknowledgement.
enum AckOutcome {
    Sent,
    /// Not sent, by a rule (a rate limit, a mailbox gone): logged.
    Skipped(String),
    /// Not sent, for good (refused by the provider): logged and noted on the case.
    Failed(String),
}

/// Sends the acknowledgement of a new email case (the notify worker, or the pipeline right
/// after its commit): at most once per case — the claim is taken before the send, so neither a
/// redelivered outbox item nor a crash after the send makes a second one. A transient failure
/// frees the claim (nothing went out) for the retry; anything else is reported in the inbound
/// log, and a refusal by the provider also on the case, and never undoes the case.
pub(crate) async fn send_ack(
    notifier: &crate::notify::Notifier<'_>,
    case_id: &str,
    request: &AckRequest,
) -> Result<crate::notify::Handled, crate::error::WorkError> {
    let store = notifier.docket.store();
    let claim = keyed_item(case_keys::ack_claim(case_id), crate::schema::SendClaim::Sending)?;
    match store.write(WriteOp::put_if(CASES, claim, Condition::NotExists)).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failure() => return Ok(crate::notify::Handled { sent: 0, already_sent: 1 }),
        Err(e) => return Err(DomainError::from(e).into()),
    }
    let outcome = match compose_and_send_ack(notifier, case_id, request).await {
        Ok(outcome) => outcome,
        Err(e) => {
            // Nothing went out: free the claim so the retry acknowledges.
            let _ = store.write(WriteOp::delete(CASES, case_keys::ack_claim(case_id))).await;
            return Err(e.into());
        }
    };
    let (claim, failed, why) = match outcome {
        // `sending` already reads as sent (a crash after the send must not resend).
        AckOutcome::Sent => return Ok(crate::notify::Handled { sent: 1, already_sent: 0 }),
        AckOutcome::Skipped(why) => (crate::schema::SendClaim::Skipped { reason: why.clone() }, false, why),
        AckOutcome::Failed(why) => (crate::schema::SendClaim::Failed { reason: why.clone() }, true, why),
    };
    store.write(WriteOp::put(CASES, keyed_item(case_keys::ack_claim(case_id), claim)?)).await.map_err(DomainError::from)?;
    if failed {
        let now = notifier.docket.clock().now();
        let entry = StreamEntry {
            id: new_id(),
            case_id: CaseId::from_trusted(case_id.to_owned()),
            kind: EntryKind::Post,
            visibility: Visibility::Internal,
            author: Author::system(),
            body: format!("The acknowledgement to {} was not sent: {why}", request.email),
            system: None,
            attachments: Vec::new(),
            email_customer: false,
            email: None,
            created_at: now,
        };
        store.write(entry_put(&entry)?).await.map_err(DomainError::from)?;
    }
    let log_key = case_keys::inbound_log(&request.log_id);
    if let Some(item) = store.get(CASES, &log_key).await.map_err(DomainError::from)? {
        let mut line: InboundLogEntry = from_item(item)?;
        line.acknowledged = false;
        line.reason.push_str(&format!("; no acknowledgement: {why}"));
        store.write(WriteOp::put(CASES, keyed_item(log_key, &line)?)).await.map_err(DomainError::from)?;
    }
    Ok(crate::notify::Handled::default())
}

/// Composes and sends one acknowledgement. Rate limits are counted here, after the claim, so a
/// redelivery does not count twice.
async fn compose_and_send_ack(notifier: &crate::notify::Notifier<'_>, case_id: &str, request: &AckRequest) -> DomainResult<AckOutcome> {
    let (docket, settings) = (notifier.docket, notifier.settings);
    let (store, clock) = (docket.store(), docket.clock());
    let Some(case) = docket.cases().find(case_id).await? else { return Ok(AckOutcome::Skipped("the case no longer exists".into())) };
    let directory = docket.directory();
    let Some(mailbox) = directory.get::<Mailbox>(&request.mailbox_id).await? else { return Ok(AckOutcome::Skipped("the mailbox no longer exists".into())) };
    let Some(contact) = directory.get::<Contact>(&request.contact_id).await? else { return Ok(AckOutcome::Skipped("the contact no longer exists".into())) };
    let limits = directory.settings().await?;
    let per_sender = FixedWindow {
        name: format!("ack#{}", request.email),
        limit: limits.ack_limit_count,
        window_secs: i64::from(limits.ack_limit_window_minutes.max(1)) * 60,
    };
    let per_mailbox = FixedWindow { name: format!("ackmailbox#{}", mailbox.id), limit: limits.ack_limit_per_mailbox_per_hour, window_secs: 3600 };
    for (window, what) in [(per_sender, "to this sender"), (per_mailbox, "from this mailbox")] {
        match window.hit(store, clock, what).await {
            Ok(()) => {}
            Err(DomainError::RateLimited { reason, .. }) => {
                tracing::info!(case = case.number, %reason, "acknowledgement skipped: rate limit");
                return Ok(AckOutcome::Skipped(format!("rate limit: {reason}")));
            }
            Err(e) => return Err(e),
        }
    }
    let number = docket.cases().mask().await?.format(case.number);
    let issue = TokenIssue { internal: false, valid_days: limits.reply_token_days, now: clock.now().unix_timestamp() };
    let token = reply_token(store, &case.id, &contact.id, &request.email, issue).await?;
    let reply_base = mailbox.addresses.first().cloned().unwrap_or_else(|| settings.reply_to.clone());
    let text = mailbox
        .ack_text
        .clone()
        .unwrap_or_else(|| {
            "Thank you for your message. We opened case {number} and will answer as soon as we can.\n\nReply to this email to add to the case.".into()
        })
        .replace("{number}", &number)
        .replace("{subject}", &case.subject);
    let message_id = format!("ack.{}@{}", case.id.to_lowercase(), settings.message_id_domain);
    let outgoing = OutgoingMessage {
        from: settings.from.clone(),
        to: vec![Address { name: Some(contact.name.clone()), email: request.email.to_string() }],
        reply_to: Some(Address { name: Some(mailbox.name.clone()), email: crate::notify::plus_address_of(&reply_base, &token) }),
        subject: format!("{number} {}", case.subject),
        text,
        html: None,
        message_id: message_id.clone(),
        in_reply_to: request.in_reply_to.clone(),
        references: request.in_reply_to.iter().cloned().collect(),
        auto_submitted: AutoSubmitted::AutoReplied,
        extra_headers: Vec::new(),
    };
    // Some clients' Message-IDs hold characters we never put in a header; the acknowledgement
    // then goes out without In-Reply-To rather than not at all.
    let composed = match compose(&outgoing) {
        Err(docket_mail::compose::ComposeError::InvalidMessageId(_)) => compose(&OutgoingMessage { in_reply_to: None, references: Vec::new(), ..outgoing }),
        other => other,
    };
    let raw = match composed {
        Ok(raw) => raw,
        Err(e) => {
            tracing::warn!(case = case.number, error = %e, "acknowledgement not composed");
            return Ok(AckOutcome::Skipped(format!("it could not be composed: {e}")));
        }
    };
    let provider_id = match notifier.mailer.send(OutboundMail { from: settings.from.email.clone(), to: vec![request.email.to_string()], raw }).await {
        Ok(id) => id,
        // Refused for good (SES MessageRejected, an invalid address): recorded, not retried.
        Err(PortError::Invalid(m)) => {
            tracing::warn!(case = case.number, error = %m, "acknowledgement refused by the mail provider");
            return Ok(AckOutcome::Failed(format!("the mail provider refused it: {m}")));
        }
        Err(e) => return Err(DomainError::Transient(format!("acknowledgement not sent: {e}"))),
    };
    // It went out: from here on nothing may make a retry send it again.
    let record = MessageIdRecord {
        case_id: case.id.clone(),
        entry_id: ACK_ENTRY.into(),
        recipient_id: Some(contact.id.to_string()),
        ours: Some(true),
        internal: Some(false),
    };
    let mut ids = vec![message_id];
    if let Some(domain) = &settings.provider_message_id_domain {
        ids.push(format!("{provider_id}@{domain}"));
    }
    for id in ids {
        if let Err(error) = record.record(store, &id).await {
            tracing::warn!(case = case.number, %error, "the acknowledgement's Message-ID was not recorded; replies thread by token");
        }
    }
    Ok(AckOutcome::Sent)
}

/// Which lines of the inbound log a read returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundLogFilter {
    /// Only lines of this outcome.
    pub outcome: Option<InboundOutcome>,
}

/// Most log lines one filtered read examines, and how many it asks the store for at a time.
///
/// Why a bounded scan and not an index: the log is an admin's troubleshooting view, read now and
/// then, while an index by outcome (another GSI of the cases table) would be written with every
/// inbound message and would need the lines logged before it backfilled. A filtered read stops
/// after this many lines even when it found fewer than its limit, and its cursor continues from
/// the last line it examined: a page may be short, or empty, with a `next_cursor`.
pub const MAX_LOG_LINES_SCANNED: usize = 500;
const LOG_SCAN_CHUNK: usize = 100;

/// Where a filtered read of the log continues: before the line with sort key `before`. Sealed
/// with the outcome asked for, so a cursor serves only the filter that gave it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogScanPosition {
    before: String,
}

/// What the cursor of a filtered read is bound to: the log, and the outcome by its variant name.
fn log_scope(outcome: InboundOutcome) -> [String; 3] {
    ["inbound_log".into(), "outcome".into(), format!("{outcome:?}")]
}

impl InboundOutcome {
    /// The outcome of its API name (`created`, `new_linked`, …), as the log's JSON spells it.
    pub fn parse(name: &str) -> Option<InboundOutcome> {
        serde_json::from_value(Value::String(name.to_owned())).ok()
    }
}

impl Docket {
    /// The inbound log, newest first (admins), all of it or the lines of one outcome.
    pub async fn inbound_log(
        &self,
        principal: &crate::Principal,
        filter: InboundLogFilter,
        limit: usize,
        after: Option<Cursor>,
    ) -> DomainResult<(Vec<InboundLogEntry>, Option<Cursor>)> {
        principal.require_admin()?;
        let log = Query::table(CASES, case_keys::INBOUND_LOG_PARTITION).descending();
        let Some(outcome) = filter.outcome else {
            let page = self.store().query(log.limit(limit).after(after)).await?;
            return Ok((page.items.into_iter().map(from_item).collect::<DomainResult<_>>()?, page.next));
        };
        let scope = log_scope(outcome);
        let scope = scope.each_ref().map(String::as_str);
        let before = match &after {
            Some(cursor) => Some(open_scoped::<LogScanPosition>(&scope, cursor)?.before),
            None => None,
        };
        // Newest first from the line the previous page stopped at (that line included, skipped).
        let scan = match &before {
            Some(sk) => log.clone().range(SortKeyRange::AtMost(sk.clone())),
            None => log.clone(),
        };
        let (mut found, mut scanned, mut last_examined, mut chunk_after) = (Vec::new(), 0, before.clone(), None);
        loop {
            let page = self.store().query(scan.clone().limit(LOG_SCAN_CHUNK).after(chunk_after)).await?;
            let in_chunk = page.items.len();
            let mut used = 0;
            for item in page.items {
                used += 1;
                let sk = Key::of(&item).map(|key| key.sk).unwrap_or_default();
                if before.as_ref() == Some(&sk) {
                    continue;
                }
                let line: InboundLogEntry = from_item(item)?;
                scanned += 1;
                last_examined = Some(sk);
                if line.outcome == outcome {
                    found.push(line);
                }
                if found.len() == limit || scanned >= MAX_LOG_LINES_SCANNED {
                    break;
                }
            }
            let stopped = found.len() == limit || scanned >= MAX_LOG_LINES_SCANNED;
            if stopped || page.next.is_none() {
                let more = used < in_chunk || page.next.is_some();
                let next = match last_examined {
                    Some(sk) if more => Some(seal_scoped(&scope, LogScanPosition { before: sk })?),
                    _ => None,
                };
                return Ok((found, next));
            }
            chunk_after = page.next;
        }
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
        id: MailboxId::from_trusted(SYSTEM_MAILBOX.into()),
        name: "System address".into(),
        addresses: vec![address.to_owned()],
        team_id: None,
        assignment_rule: None,
        closed_case_policy: ClosedCasePolicy::Reopen,
        auto_ack: false,
        ack_text: None,
        unknown_senders: UnknownSenders::CreateContact,
        audit: Audit::created("system", now),
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
    use docket_mail::inbound::SesVerdicts;

    fn verdicts(spf: Verdict, dkim: Verdict, dmarc: Verdict) -> SesVerdicts {
        SesVerdicts { spf, dkim, dmarc, received_by_ses: true, ..SesVerdicts::default() }
    }

    #[test]
    fn replies_inherit_the_visibility_of_what_they_answer() {
        use ReplyContext::*;
        use SenderTrust::*;
        assert_eq!(reply_visibility(Staff, Public), Visibility::Public);
        assert_eq!(reply_visibility(Staff, Internal), Visibility::Internal);
        assert_eq!(reply_visibility(Staff, Unknown), Visibility::Internal, "staff mail of unknown context stays internal");
        assert_eq!(reply_visibility(Customer, Public), Visibility::Public);
        assert_eq!(reply_visibility(Customer, Unknown), Visibility::Public);
        assert_eq!(reply_visibility(Customer, Internal), Visibility::Internal);
        for context in [Public, Internal, Unknown] {
            assert_eq!(reply_visibility(UnverifiedStaff, context), Visibility::Internal, "{context:?}");
        }
    }

    #[test]
    fn threading_hints_are_judged_by_who_they_vouch_for() {
        use HintVerdict::*;
        use ReplyContext::{Internal, Public, Unknown};
        use SenderTrust::*;
        let hint = |rule, sender, vouched, participant| HintFacts { rule, sender, vouched, participant, expired: false, context: Internal };
        // A reply token: for its address or anyone on the case; never once expired.
        assert_eq!(judge_hint(hint(ThreadRule::ReplyToken, Customer, true, false)), Thread(Internal), "the token's context is kept");
        assert_eq!(judge_hint(hint(ThreadRule::ReplyToken, Customer, false, true)), Thread(Internal));
        assert!(matches!(judge_hint(hint(ThreadRule::ReplyToken, Customer, false, false)), Ignore(Some(_))), "a token forwarded to a stranger");
        let expired = HintFacts { expired: true, ..hint(ThreadRule::ReplyToken, Staff, true, true) };
        assert!(matches!(judge_hint(expired), Ignore(Some(why)) if why.contains("expired")));
        assert!(!needs_participation(&expired), "an expired token needs no further reads");
        // A Message-ID: ours keeps what it answered; a customer's counts only for people on the case.
        assert_eq!(judge_hint(HintFacts { context: Public, ..hint(ThreadRule::MessageId, Customer, true, false) }), Thread(Public));
        assert_eq!(judge_hint(hint(ThreadRule::MessageId, Customer, false, true)), Thread(Unknown), "a quoted customer id says nothing of visibility");
        assert!(matches!(judge_hint(hint(ThreadRule::MessageId, Customer, false, false)), Ignore(Some(_))));
        // A case number: the ticket trick is closed; unauthenticated staff mail lands internal.
        assert_eq!(judge_hint(hint(ThreadRule::SubjectNumber, Customer, false, true)), Thread(Unknown));
        assert_eq!(judge_hint(hint(ThreadRule::BodyNumber, Customer, false, false)), Ignore(None));
        assert_eq!(judge_hint(hint(ThreadRule::SubjectNumber, UnverifiedStaff, false, false)), Thread(Unknown));
        assert_eq!(judge_hint(hint(ThreadRule::SubjectNumber, Staff, false, false)), Ignore(None), "staff who may not see the case");
        // Unauthenticated staff are never "on the case", whatever the reads said.
        assert!(matches!(judge_hint(hint(ThreadRule::ReplyToken, UnverifiedStaff, false, true)), Ignore(Some(_))));
        assert!(!needs_participation(&hint(ThreadRule::MessageId, UnverifiedStaff, false, false)));
        assert!(needs_participation(&hint(ThreadRule::MessageId, Customer, false, false)));
        assert!(!needs_participation(&hint(ThreadRule::ReplyToken, Customer, true, false)), "a vouching hint needs no reads");
    }

    #[test]
    fn only_authenticated_mail_vouches_for_its_sender() {
        let plain = InboundMail::default();
        let ses = InboundMail { received_by_ses: true, ..InboundMail::default() };
        let local_trusted = InboundMail { trusted_sender: true, ..InboundMail::default() };
        let pass = verdicts(Verdict::Pass, Verdict::Pass, Verdict::Pass);
        // From alone proves nothing; verdicts count only where SES received the mail.
        assert!(!sender_authenticated(&plain, &SesVerdicts::default()));
        assert!(!sender_authenticated(&plain, &pass));
        assert!(sender_authenticated(&local_trusted, &SesVerdicts::default()));
        assert!(sender_authenticated(&ses, &pass));
        assert!(sender_authenticated(&ses, &verdicts(Verdict::Pass, Verdict::Fail, Verdict::Gray)), "SPF alone, DMARC not failing");
        assert!(sender_authenticated(&ses, &verdicts(Verdict::Gray, Verdict::Pass, Verdict::Unknown)), "DKIM alone");
        assert!(!sender_authenticated(&ses, &verdicts(Verdict::Pass, Verdict::Pass, Verdict::Fail)), "DMARC failing");
        assert!(!sender_authenticated(&ses, &verdicts(Verdict::Gray, Verdict::ProcessingFailed, Verdict::Gray)), "nothing passed");
    }

    #[test]
    fn forged_senders_are_those_the_checks_refute() {
        assert!(forged_by_verdicts(&verdicts(Verdict::Pass, Verdict::Pass, Verdict::Fail)));
        assert!(forged_by_verdicts(&verdicts(Verdict::Fail, Verdict::Fail, Verdict::Gray)));
        assert!(!forged_by_verdicts(&verdicts(Verdict::Fail, Verdict::Pass, Verdict::Gray)));
        assert!(!forged_by_verdicts(&SesVerdicts::default()), "no verdicts is no proof of forgery");
    }

    #[test]
    fn replies_append_reopen_or_open_a_linked_case_by_status_and_policy() {
        use ClosedCasePolicy::{NewAfterDays, NewLinked};
        use ReplyEffect::{Append, NewLinkedCase, Reopen};
        let days = time::Duration::days;
        // Open cases take the reply whatever the policy.
        for status in [CaseStatus::New, CaseStatus::Assigned, CaseStatus::InProgress, CaseStatus::Reopened] {
            assert_eq!(reply_effect(status, NewLinked, days(400)), Append, "{status:?}");
        }
        // Waiting cases reopen whatever the policy.
        assert_eq!(reply_effect(CaseStatus::Pending, NewLinked, days(400)), Reopen);
        assert_eq!(reply_effect(CaseStatus::Resolved, NewLinked, days(400)), Reopen);
        // Final cases: reopen, always a new linked case, or one after the window.
        assert_eq!(reply_effect(CaseStatus::Closed, ClosedCasePolicy::Reopen, days(400)), Reopen);
        assert_eq!(reply_effect(CaseStatus::Closed, NewLinked, days(0)), NewLinkedCase);
        assert_eq!(reply_effect(CaseStatus::Rejected, NewAfterDays { days: 7 }, days(6)), Reopen);
        assert_eq!(reply_effect(CaseStatus::Closed, NewAfterDays { days: 7 }, days(7)), NewLinkedCase);
    }

    #[test]
    fn plus_addresses_belong_to_their_mailbox() {
        let of = |address: &str| mailbox_address(address);
        assert_eq!(of("Support@X.example"), ("support@x.example".into(), false));
        assert_eq!(of("<support+orders@x.example>"), ("support@x.example".into(), true));
        assert_eq!(of("help+desk+abcdefghijklmnop@x.example"), ("help@x.example".into(), true));
        assert_eq!(of("+only@x.example"), ("+only@x.example".into(), false));
        assert_eq!(of("no-at-sign"), ("no-at-sign".into(), false));
    }

    #[test]
    fn blacklist_matches_addresses_local_parts_and_domains() {
        let list: Vec<String> = ["mailer-daemon", "spam@x.example", "@junk.example"].map(String::from).to_vec();
        assert_eq!(blacklisted(&list, "mailer-daemon@anywhere.example"), Some("mailer-daemon"));
        assert_eq!(blacklisted(&list, "SPAM@x.example"), Some("spam@x.example"));
        assert_eq!(blacklisted(&list, "a@mail.junk.example"), Some("@junk.example"));
        assert_eq!(blacklisted(&list, "ada@example.com"), None);
        assert_eq!(blacklisted(&list, "a@notjunk.example"), None);
    }

    #[test]
    fn outcomes_parse_from_their_api_names_only() {
        use InboundOutcome::*;
        for outcome in [Created, NewLinked, Appended, Reopened, Duplicate, Suppressed, Dropped, Junk, Rejected, Quarantined] {
            let name = serde_json::to_value(outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            assert_eq!(InboundOutcome::parse(&name), Some(outcome), "{name}");
        }
        for other in ["", "Created", "new-linked", "created ", "bogus"] {
            assert_eq!(InboundOutcome::parse(other), None, "{other:?}");
        }
    }
}
