//! Notifications (SPEC F31): the work behind the notify queue.
//!
//! For one new stream entry, every follower who may see it (and, for an agent's public reply
//! marked "email the customer", the case's contacts) gets one email — never its author. Each
//! email carries the case number in the subject, a Reply-To with a per-recipient reply token so
//! the answer threads back, our own Message-ID and References to the case thread, and
//! `Auto-Submitted: auto-generated`. An idempotency record per (entry, recipient) makes a
//! redelivered queue message send nothing twice.

use crate::ids::*;
use futures_util::StreamExt;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use docket_mail::compose::{Address, AutoSubmitted, OutgoingMessage, compose};
use docket_ports::{Mailer, OutboundMail, PortError};
use docket_store::{Condition, Item, Key, WriteOp};

use crate::Docket;
use crate::access::Principal;
use crate::directory::Directory;
use crate::error::DomainResult;
use crate::follows::FollowerKind;
use crate::model::{Case, Contact, User};
use crate::schema::{CASES, case_keys};
use crate::stream::{AuthorKind, EntryKind, StreamEntry, SystemEvent};

/// Where notification mail comes from and how its identifiers are formed.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub from: Address,
    /// The address replies go to; each recipient gets `local+<token>@domain` of it.
    pub reply_to: String,
    /// Right-hand side of our Message-IDs.
    pub message_id_domain: String,
    /// Domain of the Message-ID the provider assigns (SES: `<region>.amazonses.com`), if any.
    pub provider_message_id_domain: Option<String>,
    /// Base URL of the public API (`https://api.example.com`): links in mail point there.
    pub public_url: Option<String>,
}

/// The body of a notify-queue message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyMessage {
    pub case_id: CaseId,
    pub entry_id: String,
    /// Users to tell instead of the followers (a workflow rule's notice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<UserId>,
    /// Instead of notifying the entry (the case's creation), ask a web-form sender to confirm
    /// their address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<crate::confirm::ConfirmRequest>,
    /// Instead of notifying the entry, acknowledge the new email case to its sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<crate::inbound::AckRequest>,
}

/// One person to email about an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: String,
    pub kind: FollowerKind,
    pub name: String,
    pub email: String,
}

/// What handling one queue message did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub sent: usize,
    /// Recipients already mailed by an earlier delivery of the same message.
    pub already_sent: usize,
}

/// Why a notify message could not be handled.
pub type NotifyError = crate::error::WorkError;

pub struct Notifier<'a> {
    pub docket: &'a Docket,
    pub mailer: &'a dyn Mailer,
    pub settings: &'a MailSettings,
}

/// A stored item of `record` under `key`, for the paths here that answer in the store's errors.
fn keyed(key: Key, record: impl Serialize) -> Result<Item, docket_store::StoreError> {
    crate::schema::keyed_item(key, record).map_err(|e| docket_store::StoreError::Validation(e.to_string()))
}

/// How many copies of one entry are in flight at once: enough to overlap the writes of each
/// copy (claim, reply token, mail, thread records), few enough to stay polite to the mailer.
const FANOUT_CONCURRENCY: usize = 16;

/// What every recipient's copy of one entry shares.
struct Letter {
    reply_token_days: u32,
    /// The address replies go to, before its reply token is added.
    reply_base: String,
    subject: String,
    text: String,
    /// The Message-ID of the case's thread, for In-Reply-To and References.
    thread: String,
}

/// An unguessable token: 120 random bits in lower-case base32 (safe in a mail local part).
pub(crate) fn new_token() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[(*b & 31) as usize] as char).collect()
}

fn plus_address(base: &str, token: &str) -> String {
    match base.split_once('@') {
        Some((local, domain)) => format!("{local}+{token}@{domain}"),
        None => base.to_owned(),
    }
}

impl Notifier<'_> {
    /// Handles one notify-queue message body.
    pub async fn handle(&self, body: &str) -> Result<Handled, NotifyError> {
        let message: NotifyMessage = serde_json::from_str(body).map_err(|e| NotifyError::Poison(format!("not a notify message: {e}")))?;
        if let Some(request) = &message.confirm {
            return crate::confirm::send(self, &message.case_id, request).await;
        }
        if let Some(request) = &message.ack {
            return crate::inbound::send_ack(self, &message.case_id, request).await;
        }
        let cases = self.docket.cases();
        let Some(case) = cases.find(&message.case_id).await? else {
            return Err(NotifyError::Poison(format!("case {} does not exist", message.case_id)));
        };
        let Some(entry) = cases.entry(&case.id, &message.entry_id).await? else {
            return Err(NotifyError::Poison(format!("entry {} does not exist", message.entry_id)));
        };
        let recipients = self.recipients(&case, &entry, &message.to).await?;
        let mut handled = Handled::default();
        if recipients.is_empty() {
            return Ok(handled);
        }
        let letter = self.letter(&case, &entry).await?;
        // Each recipient's copy is claimed, composed and sent on its own, so many go out at once;
        // a failure leaves the others sent and claimed, and the redelivery retries only it.
        let mut waiting = recipients.iter();
        let mut sending = futures_util::stream::FuturesUnordered::new();
        let mut failure = None;
        loop {
            while sending.len() < FANOUT_CONCURRENCY
                && let Some(recipient) = waiting.next()
            {
                sending.push(self.send_once(&case, &entry, &letter, recipient));
            }
            let Some(outcome) = sending.next().await else { break };
            match outcome {
                Ok(true) => handled.sent += 1,
                Ok(false) => handled.already_sent += 1,
                // A poisoned copy (one that can never be sent) outranks a retryable failure.
                Err(error) => {
                    if !matches!(failure, Some(NotifyError::Poison(_))) {
                        failure = Some(error);
                    }
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        tracing::info!(case = case.number, entry = %entry.id, sent = handled.sent, already_sent = handled.already_sent, "entry notified");
        Ok(handled)
    }

    /// Followers who may see the entry, plus the case's contacts for a reply marked
    /// "email the customer"; never the author, never twice. A message naming users (`to`)
    /// goes to those of them who are active and may see the case instead.
    pub async fn recipients(&self, case: &Case, entry: &StreamEntry, to: &[UserId]) -> DomainResult<Vec<Recipient>> {
        if !worth_mailing(entry) {
            return Ok(Vec::new());
        }
        let directory = self.docket.directory();
        let mut recipients: Vec<Recipient> = Vec::new();
        if !to.is_empty() {
            for user_id in to {
                if let Some(r) = staff_recipient(&directory, case, user_id).await?
                    && !recipients.iter().any(|x| x.id == r.id)
                {
                    recipients.push(r);
                }
            }
            return Ok(recipients);
        }
        for follow in self.docket.cases().follows_of(&case.id).await? {
            if entry.is_by(&follow.follower_id) {
                continue;
            }
            let recipient = match follow.kind {
                FollowerKind::User => staff_recipient(&directory, case, &follow.follower_id).await?,
                FollowerKind::Contact => portal_recipient(&directory, case, entry, &follow.follower_id).await?,
            };
            if let Some(r) = recipient
                && !recipients.iter().any(|x| x.id == r.id)
            {
                recipients.push(r);
            }
        }
        if entry.email_customer && !entry.is_internal() && !case.internal {
            for contact_id in &case.contact_ids {
                if entry.is_by(contact_id) || recipients.iter().any(|r| &r.id == contact_id) {
                    continue;
                }
                if let Some(contact) = directory.get::<Contact>(contact_id).await?
                    && let Some(email) = contact.emails.first()
                {
                    recipients.push(Recipient {
                        id: contact.id.to_string(),
                        kind: FollowerKind::Contact,
                        name: contact.name.clone(),
                        email: email.to_string(),
                    });
                }
            }
        }
        Ok(recipients)
    }

    /// What every recipient's copy of an entry shares, read once per entry.
    async fn letter(&self, case: &Case, entry: &StreamEntry) -> Result<Letter, NotifyError> {
        let directory = self.docket.directory();
        let settings = directory.settings().await?;
        let mask = crate::mask::CaseNumberMask::parse(&settings.case_number_mask)?;
        // Replies go to the case's group mailbox; cases without one use the system address.
        let reply_base = match &case.mailbox_id {
            Some(id) => directory.get::<crate::model::Mailbox>(id).await?.and_then(|m| m.addresses.first().map(ToString::to_string)),
            None => None,
        }
        .unwrap_or_else(|| self.settings.reply_to.clone());
        let author = self.author_name(entry).await?;
        let number = mask.format(case.number);
        Ok(Letter {
            reply_token_days: settings.reply_token_days,
            reply_base,
            subject: format!("{number} {}", case.subject),
            text: body_text(case, entry, &author, &number),
            thread: format!("case-{}@{}", case.id.to_lowercase(), self.settings.message_id_domain),
        })
    }

    /// Sends the entry to one recipient unless an earlier delivery did. Returns whether it sent.
    async fn send_once(&self, case: &Case, entry: &StreamEntry, letter: &Letter, recipient: &Recipient) -> Result<bool, NotifyError> {
        let store = self.docket.store();
        let claim = keyed(case_keys::notified(&entry.id, &recipient.id), crate::schema::SendClaim::Sending).map_err(|e| NotifyError::Poison(e.to_string()))?;
        match store.write(WriteOp::put_if(CASES, claim, Condition::NotExists)).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failure() => return Ok(false),
            Err(e) => return Err(NotifyError::Retry(e.to_string())),
        }
        match self.deliver(case, entry, letter, recipient).await {
            Ok((message_id, provider_id)) => {
                // The provider accepted it: from here on nothing may free the claim, or a
                // redelivery would send it twice. The claim is marked sent and the Message-IDs
                // recorded (so replies quoting them thread back) in one commit; bookkeeping that
                // fails is logged instead: replies still thread by their reply token.
                if let Err(error) = self.record_sent(case, entry, recipient, message_id, provider_id).await {
                    tracing::warn!(entry = %entry.id, recipient = %recipient.id, %error, "notification sent, but not marked sent (the claim still holds)");
                }
                Ok(true)
            }
            Err(error) => {
                // Nothing went out: free the claim so the redelivery tries again.
                let _ = store.write(WriteOp::delete(CASES, case_keys::notified(&entry.id, &recipient.id))).await;
                Err(error)
            }
        }
    }

    async fn deliver(&self, case: &Case, entry: &StreamEntry, letter: &Letter, recipient: &Recipient) -> Result<(String, String), NotifyError> {
        let issue = TokenIssue { internal: entry.is_internal(), valid_days: letter.reply_token_days, now: self.docket.clock().now().unix_timestamp() };
        let token = reply_token(self.docket.store(), &case.id, &recipient.id, &recipient.email, issue).await.map_err(|e| NotifyError::Retry(e.to_string()))?;
        let message_id = format!("{}.{}@{}", entry.id.to_lowercase(), recipient.id.to_lowercase(), self.settings.message_id_domain);
        let message = OutgoingMessage {
            from: self.settings.from.clone(),
            to: vec![Address { name: Some(recipient.name.clone()), email: recipient.email.clone() }],
            reply_to: Some(Address { name: self.settings.from.name.clone(), email: plus_address(&letter.reply_base, &token) }),
            subject: letter.subject.clone(),
            text: letter.text.clone(),
            html: None,
            message_id: message_id.clone(),
            in_reply_to: Some(letter.thread.clone()),
            references: vec![letter.thread.clone()],
            auto_submitted: AutoSubmitted::AutoGenerated,
            extra_headers: Vec::new(),
        };
        let raw = compose(&message).map_err(|e| NotifyError::Poison(format!("cannot compose mail to {}: {e}", recipient.id)))?;
        let provider_id =
            self.mailer.send(OutboundMail { from: self.settings.from.email.clone(), to: vec![recipient.email.clone()], raw }).await.map_err(|e| match e {
                PortError::Invalid(m) => NotifyError::Poison(m),
                other => NotifyError::Retry(other.to_string()),
            })?;
        Ok((message_id, provider_id))
    }

    /// Marks a copy sent and records its Message-IDs so replies quoting them thread back: ours
    /// and the one the provider rewrote it to (SES does). One transaction.
    async fn record_sent(
        &self,
        case: &Case,
        entry: &StreamEntry,
        recipient: &Recipient,
        message_id: String,
        provider_id: String,
    ) -> Result<(), docket_store::StoreError> {
        let mut ids = vec![message_id.clone()];
        if let Some(domain) = &self.settings.provider_message_id_domain {
            ids.push(format!("{provider_id}@{domain}"));
        }
        // One operation per item in a transaction, should the provider keep our id.
        ids.dedup();
        let record = MessageIdRecord {
            case_id: case.id.clone(),
            entry_id: entry.id.clone(),
            recipient_id: Some(recipient.id.clone()),
            ours: Some(true),
            internal: Some(entry.is_internal()),
        };
        let mut ops =
            vec![WriteOp::put(CASES, keyed(case_keys::notified(&entry.id, &recipient.id), crate::schema::SendClaim::Sent { message_id, provider_id })?)];
        for id in ids {
            ops.push(WriteOp::put(CASES, keyed(case_keys::message_id(&id), &record)?));
        }
        self.docket.store().transact(ops).await
    }

    async fn author_name(&self, entry: &StreamEntry) -> DomainResult<String> {
        let directory = self.docket.directory();
        Ok(match (entry.author.kind, &entry.author.id) {
            (AuthorKind::User, Some(id)) => directory.get::<User>(id).await?.map_or_else(|| "An agent".into(), |u| u.name),
            (AuthorKind::Contact, Some(id)) => directory.get::<Contact>(id).await?.map_or_else(|| "The customer".into(), |c| c.name),
            (AuthorKind::Workflow, Some(id)) => {
                directory.get::<crate::rules::WorkflowRule>(id).await?.map_or_else(|| "A workflow rule".into(), |r| format!("Workflow rule \"{}\"", r.name))
            }
            _ => "Docket".into(),
        })
    }
}

/// A reply token: mail to `local+<token>@domain` threads back into the case (F21 rule 1), but
/// only mail from the address it was issued to or from someone on the case — a token is not a
/// bearer capability. A token issued with an internal entry makes the reply internal too.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplyToken {
    pub token: String,
    pub case_id: CaseId,
    pub recipient_id: String,
    /// The address the token was mailed to.
    pub email: String,
    #[serde(default)]
    pub internal: bool,
    /// When it stops threading (epoch seconds; DynamoDB's TTL attribute too). Tokens issued
    /// before tokens expired have none and keep working.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl ReplyToken {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The token of a lookup item, if it is one.
    pub async fn find(store: &dyn docket_store::ItemStore, token: &str) -> Result<Option<ReplyToken>, docket_store::StoreError> {
        Ok(store.get(CASES, &case_keys::reply_token_lookup(token)).await?.and_then(|item| serde_json::from_value(Value::Object(item)).ok()))
    }
}

/// How reply tokens are issued: for which visibility, how long they live, from when.
#[derive(Debug, Clone, Copy)]
pub struct TokenIssue {
    pub internal: bool,
    pub valid_days: u32,
    pub now: i64,
}

/// The reply token of one recipient on one case (one for public, one for internal entries),
/// created on first use and kept while it is valid and still goes to the same address.
pub async fn reply_token(
    store: &dyn docket_store::ItemStore,
    case_id: &str,
    recipient_id: &str,
    email: &str,
    issue: TokenIssue,
) -> Result<String, docket_store::StoreError> {
    let per_recipient = case_keys::reply_token(case_id, recipient_id, issue.internal);
    let current = store.get(CASES, &per_recipient).await?.and_then(|item| serde_json::from_value::<ReplyToken>(Value::Object(item)).ok());
    if let Some(current) = &current
        && !current.expired(issue.now + 86_400)
        && current.email.eq_ignore_ascii_case(email)
    {
        return Ok(current.token.clone());
    }
    let record = ReplyToken {
        token: new_token(),
        case_id: CaseId::from_trusted(case_id.to_owned()),
        recipient_id: recipient_id.to_owned(),
        email: email.to_owned(),
        internal: issue.internal,
        expires_at: Some(issue.now + i64::from(issue.valid_days.max(1)) * 86_400),
    };
    // A first token is written only if none exists, so concurrent deliveries agree on one; a
    // replaced (expired, or re-addressed) token's lookup item is left to its TTL.
    let first = if current.is_some() { None } else { Some(Condition::NotExists) };
    let ops = vec![
        WriteOp::Put { table: CASES.into(), item: keyed(per_recipient.clone(), &record)?, condition: first },
        WriteOp::put_if(CASES, keyed(case_keys::reply_token_lookup(&record.token), &record)?, Condition::NotExists),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(record.token),
        // A concurrent delivery created one first: use it.
        Err(e) if e.is_condition_failure() => store
            .get(CASES, &per_recipient)
            .await?
            .and_then(|i| i.get("token").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| docket_store::StoreError::Transient("reply token vanished".into())),
        Err(e) => Err(e),
    }
}

/// What a Message-ID we know of belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageIdRecord {
    pub case_id: CaseId,
    /// The entry the message carried (`ack` for acknowledgements).
    pub entry_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    /// Whether we issued it. Only our own Message-IDs thread mail from anyone; a customer's
    /// Message-ID in References threads only mail from people on the case.
    #[serde(default)]
    pub ours: Option<bool>,
    /// Whether the entry it carried is internal (a reply to it is internal too).
    #[serde(default)]
    pub internal: Option<bool>,
}

impl MessageIdRecord {
    pub fn is_ours(&self) -> bool {
        // Records written before `ours` existed: ours are those we sent to someone, and acks.
        self.ours.unwrap_or(self.recipient_id.is_some() || self.entry_id == "ack")
    }

    pub async fn find(store: &dyn docket_store::ItemStore, message_id: &str) -> Result<Option<MessageIdRecord>, docket_store::StoreError> {
        Ok(store.get(CASES, &case_keys::message_id(message_id)).await?.and_then(|item| serde_json::from_value(Value::Object(item)).ok()))
    }

    /// Records the Message-ID unless it is known already; a known one is kept as it is.
    pub async fn record_new(&self, store: &dyn docket_store::ItemStore, message_id: &str) -> Result<(), docket_store::StoreError> {
        let item = keyed(case_keys::message_id(message_id), self)?;
        match store.write(WriteOp::put_if(CASES, item, Condition::NotExists)).await {
            Err(e) if e.is_condition_failure() => Ok(()),
            other => other,
        }
    }

    /// Records that mail with this Message-ID belongs to a case, so replies quoting it thread back.
    pub async fn record(&self, store: &dyn docket_store::ItemStore, message_id: &str) -> Result<(), docket_store::StoreError> {
        store.write(WriteOp::put(CASES, keyed(case_keys::message_id(message_id), self)?)).await
    }
}

pub(crate) fn plus_address_of(base: &str, token: &str) -> String {
    plus_address(base, token)
}

/// Entries people want mail about: posts and mail, a case opened, assigned or moved on.
fn worth_mailing(entry: &StreamEntry) -> bool {
    match entry.kind {
        EntryKind::Post | EntryKind::EmailReceived | EntryKind::EmailSent => true,
        EntryKind::System => matches!(
            entry.system,
            Some(SystemEvent::Created) | Some(SystemEvent::Assigned { .. }) | Some(SystemEvent::StatusChanged { .. }) | Some(SystemEvent::RuleNotice { .. })
        ),
    }
}

async fn staff_recipient(directory: &Directory<'_>, case: &Case, user_id: &str) -> DomainResult<Option<Recipient>> {
    let Some(user) = directory.get::<User>(user_id).await? else { return Ok(None) };
    let (id, name, email) = (user.id.to_string(), user.name.clone(), user.email.to_string());
    let principal = Principal::Staff(user);
    let may = matches!(&principal, Principal::Staff(u) if u.active) && principal.can_see(case);
    Ok(may.then_some(Recipient { id, kind: FollowerKind::User, name, email }))
}

async fn portal_recipient(directory: &Directory<'_>, case: &Case, entry: &StreamEntry, contact_id: &str) -> DomainResult<Option<Recipient>> {
    if case.internal {
        return Ok(None);
    }
    // Assignment news is staff business even where the entry is not internal.
    if matches!(entry.system, Some(SystemEvent::Assigned { .. })) {
        return Ok(None);
    }
    let Some(contact) = directory.get::<Contact>(contact_id).await? else { return Ok(None) };
    let Some(email) = contact.emails.first().map(ToString::to_string) else { return Ok(None) };
    let (id, name) = (contact.id.to_string(), contact.name.clone());
    let principal = Principal::Portal(contact);
    // The customer is mailed what the portal would show them, or nothing.
    Ok((principal.can_see(case) && entry.projected_for(&principal).is_some()).then_some(Recipient { id, kind: FollowerKind::Contact, name, email }))
}

fn body_text(case: &Case, entry: &StreamEntry, author: &str, number: &str) -> String {
    let headline = match (&entry.kind, &entry.system) {
        (EntryKind::System, Some(SystemEvent::Created)) => format!("{author} opened case {number}: {}", case.subject),
        (EntryKind::System, Some(SystemEvent::Assigned { to: Some(_), .. })) => format!("Case {number} ({}) was assigned.", case.subject),
        (EntryKind::System, Some(SystemEvent::Assigned { to: None, .. })) => format!("Case {number} ({}) was unassigned.", case.subject),
        (EntryKind::System, Some(SystemEvent::StatusChanged { to, .. })) => format!("Case {number} ({}) is now {}.", case.subject, to.as_str()),
        (EntryKind::System, Some(SystemEvent::RuleNotice { rule_name, message, .. })) => {
            let mut text = format!("The workflow rule \"{rule_name}\" asks you to look at case {number} ({}).", case.subject);
            if !message.is_empty() {
                text.push_str("\n\n");
                text.push_str(message);
            }
            text
        }
        (_, _) if entry.email.as_ref().is_some_and(|e| e.unverified) => format!(
            "Unauthenticated mail claiming to come from {} was added to case {number} ({}) as an internal note. Treat it with suspicion:",
            entry.email.as_ref().and_then(|e| e.from.as_deref()).unwrap_or("a staff address"),
            case.subject
        ),
        (_, _) if entry.is_internal() => format!("{author} added an internal note to case {number} ({}):", case.subject),
        _ => format!("{author} wrote on case {number} ({}):", case.subject),
    };
    let mut text = headline;
    if !entry.body.is_empty() {
        text.push_str("\n\n");
        text.push_str(&entry.body);
    }
    if !entry.attachments.is_empty() {
        text.push_str("\n\nAttachments:");
        for a in &entry.attachments {
            text.push_str(&format!("\n- {} ({} bytes)", a.name, a.size));
        }
    }
    text.push_str("\n\n-- \nReply to this email to add your answer to the case.\n");
    text
}
