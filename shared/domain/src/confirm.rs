//! Confirming the sender of a web-form submission (SPEC F12).
//!
//! Anyone can type anyone's address into a public form, so a submission proves nothing about
//! who sent it. Its case is opened without a contact and carries the submitted name and address
//! as its `pending_sender`: agents see and work it as usual, but nobody outside the staff follows
//! it, it is in nobody's portal, it is linked to no account, and no mail about it goes to the
//! address. The address gets one mail instead, carrying none of the submitted text: someone used
//! this address on our form, confirm to have the request handled. The link in it leads to a page
//! whose button confirms (a GET never does: mail scanners fetch links). Confirming finds or makes
//! the contact of the address — only a new contact is linked to the account owning its domain —
//! makes it the case's primary contact, and lets it follow the case like any portal customer.
//!
//! The mail is sent by the notify worker (the API has no mailer): the case's creation queues a
//! notify message with [`ConfirmRequest`]. A claim per case makes a redelivered message send
//! nothing twice. The confirmation token is 120 random bits, bound to the case and the address,
//! valid for [`CONFIRM_VALIDITY`] and used once.

use crate::ids::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Duration;

use docket_mail::compose::{Address, AutoSubmitted, OutgoingMessage, compose};
use docket_ports::{OutboundMail, PortError};
use docket_store::{Condition, Item, Update, WriteOp};

use crate::cases::{Cases, MAX_CONTACTS, next_audit};
use crate::directory::{ContactFor, Directory};
use crate::error::{DomainError, DomainResult};
use crate::follows::{Follow, FollowerKind};
use crate::model::{Case, Contact, PendingSender};
use crate::notify::{Handled, Notifier, NotifyError, NotifyMessage, new_token};
use crate::schema::{CASES, case_keys, keyed_item};
use crate::stream::{Author, AuthorKind};
use crate::webform::{WebForm, WebForms};

/// How long a confirmation link works.
pub const CONFIRM_VALIDITY: Duration = Duration::days(7);
/// Where the confirmation page is, under the public base URL.
pub const CONFIRM_PATH: &str = "/web-forms/confirm";
/// Length of a confirmation token (base32, 5 bits a character).
const TOKEN_CHARS: usize = 24;

/// The part of a notify message asking for a sender's confirmation: the address it goes to,
/// which must still be the case's pending sender when the worker takes the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub email: String,
}

/// A confirmation token as stored: the case and the address it confirms, until when.
#[derive(Serialize)]
struct TokenRecord<'a> {
    token: &'a str,
    case_id: &'a CaseId,
    email: &'a EmailAddress,
    expires_at: i64,
}

/// What a confirmation link is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// It confirms when posted.
    Open,
    /// It has confirmed already.
    Used,
    /// It is too old.
    Expired,
}

/// What posting a confirmation link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The case now has the contact of the address as its primary contact.
    Confirmed { case_id: CaseId, contact_id: ContactId },
    /// The link had confirmed before: nothing changed.
    Used,
    /// The link is too old: nothing changed.
    Expired,
}

/// Whether a string could be a token at all (anything else is answered "not found" unread).
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// The confirmation mail of a new case whose sender is unconfirmed, as an outbox item of the
/// case's own transaction.
pub(crate) fn request(cases: &Cases<'_>, effects: &mut crate::outbox::Effects, case_id: &str, entry_id: &str, email: &str) {
    if cases.notify_queue.is_none() {
        tracing::warn!(case_id, "no notify queue: the web-form sender is not asked to confirm");
        return;
    }
    effects.notify_message(&NotifyMessage {
        case_id: CaseId::from_trusted(case_id.to_owned()),
        entry_id: entry_id.to_owned(),
        to: Vec::new(),
        confirm: Some(ConfirmRequest { email: email.to_owned() }),
        ack: None,
    });
}

/// Sends the confirmation mail of a case (the notify worker), once however often the message is
/// delivered, and only while the case still waits for that address.
pub(crate) async fn send(notifier: &Notifier<'_>, case_id: &str, request: &ConfirmRequest) -> Result<Handled, NotifyError> {
    let docket = notifier.docket;
    let Some(case) = docket.cases().find(case_id).await? else {
        return Err(NotifyError::Poison(format!("case {case_id} does not exist")));
    };
    let Some(sender) = case.pending_sender.as_ref().filter(|s| s.email == request.email) else {
        tracing::info!(case = case.number, "the case no longer waits for this sender: no confirmation mail");
        return Ok(Handled::default());
    };
    let Some(public_url) = notifier.settings.public_url.as_deref() else {
        return Err(NotifyError::Poison("no public URL is configured (DOCKET_PUBLIC_URL): cannot link a confirmation".into()));
    };
    let store = docket.store();
    let claim = keyed_item(case_keys::confirm_mail_claim(&case.id), crate::schema::SendClaim::Sending)?;
    match store.write(WriteOp::put_if(CASES, claim, Condition::NotExists)).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failure() => {
            return Ok(Handled { sent: 0, already_sent: 1 });
        }
        Err(e) => return Err(NotifyError::Retry(e.to_string())),
    }
    let token = new_token();
    let outcome = async {
        let expires_at = (docket.clock().now() + CONFIRM_VALIDITY).unix_timestamp();
        let record = TokenRecord { token: &token, case_id: &case.id, email: &sender.email, expires_at };
        store
            .write(WriteOp::put_if(CASES, keyed_item(case_keys::confirm_token(&token), record)?, Condition::NotExists))
            .await
            .map_err(|e| NotifyError::Retry(e.to_string()))?;
        deliver(notifier, &case, sender, &token, public_url).await
    }
    .await;
    match outcome {
        Ok((message_id, provider_id)) => {
            let done = keyed_item(case_keys::confirm_mail_claim(&case.id), crate::schema::SendClaim::Sent { message_id, provider_id })?;
            store.write(WriteOp::put(CASES, done)).await.map_err(|e| NotifyError::Retry(e.to_string()))?;
            tracing::info!(case = case.number, "web-form sender asked to confirm");
            Ok(Handled { sent: 1, already_sent: 0 })
        }
        Err(error) => {
            // Nothing went out: the token is void and the redelivery tries again.
            let _ = store.write(WriteOp::delete(CASES, case_keys::confirm_token(&token))).await;
            let _ = store.write(WriteOp::delete(CASES, case_keys::confirm_mail_claim(&case.id))).await;
            Err(error)
        }
    }
}

async fn deliver(notifier: &Notifier<'_>, case: &Case, sender: &PendingSender, token: &str, public_url: &str) -> Result<(String, String), NotifyError> {
    let settings = notifier.settings;
    // The form's name is the admins' text; everything the sender typed stays out of the mail.
    let form_name = match notifier.docket.directory().get::<WebForm>(&sender.form_id).await? {
        Some(form) => form.name,
        None => "our contact form".into(),
    };
    let link = format!("{}{CONFIRM_PATH}/{token}", public_url.trim_end_matches('/'));
    let message_id = format!("confirm.{}@{}", case.id.to_lowercase(), settings.message_id_domain);
    let message = OutgoingMessage {
        from: settings.from.clone(),
        to: vec![Address { name: None, email: sender.email.to_string() }],
        reply_to: None,
        subject: format!("Please confirm your request to {form_name}"),
        text: confirmation_text(&form_name, &sender.email, &link),
        html: None,
        message_id: message_id.clone(),
        in_reply_to: None,
        references: Vec::new(),
        auto_submitted: AutoSubmitted::AutoGenerated,
        extra_headers: Vec::new(),
    };
    let raw = compose(&message).map_err(|e| NotifyError::Poison(format!("cannot compose the confirmation of case {}: {e}", case.id)))?;
    let provider_id =
        notifier.mailer.send(OutboundMail { from: settings.from.email.clone(), to: vec![sender.email.to_string()], raw }).await.map_err(|e| match e {
            PortError::Invalid(m) => NotifyError::Poison(m),
            other => NotifyError::Retry(other.to_string()),
        })?;
    Ok((message_id, provider_id))
}

/// The text of the confirmation mail: no word of what was submitted.
fn confirmation_text(form_name: &str, email: &str, link: &str) -> String {
    let days = CONFIRM_VALIDITY.whole_days();
    format!(
        "Someone submitted a request on \"{form_name}\" giving this email address ({email}).\n\n\
         If it was you, please confirm your address to have the request handled:\n\n\
         {link}\n\n\
         The link works for {days} days. If it was not you, ignore this message: nothing more will \
         be sent to you about it.\n"
    )
}

impl WebForms<'_> {
    async fn token_record(&self, token: &str) -> DomainResult<Item> {
        let not_found = || DomainError::not_found("confirmation");
        if !well_formed(token) {
            return Err(not_found());
        }
        self.cases.store.get(CASES, &case_keys::confirm_token(token)).await?.ok_or_else(not_found)
    }

    fn state(&self, record: &Item) -> TokenState {
        let expires_at = record.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
        if record.contains_key("used_at") {
            TokenState::Used
        } else if expires_at <= self.cases.clock.now().unix_timestamp() {
            TokenState::Expired
        } else {
            TokenState::Open
        }
    }

    /// What a confirmation link is worth, without using it (the page behind the link).
    pub async fn confirmation(&self, token: &str) -> DomainResult<TokenState> {
        let record = self.token_record(token).await?;
        Ok(self.state(&record))
    }

    /// Confirms the sender of a web-form case with the token mailed to them: the contact of the
    /// address (found, or made and linked to the account of its domain) becomes the case's
    /// primary contact and follows it when it has portal access. Safe to repeat: a link that
    /// confirmed answers [`ConfirmOutcome::Used`] and changes nothing.
    pub async fn confirm(&self, token: &str) -> DomainResult<ConfirmOutcome> {
        let record = self.token_record(token).await?;
        match self.state(&record) {
            TokenState::Used => return Ok(ConfirmOutcome::Used),
            TokenState::Expired => return Ok(ConfirmOutcome::Expired),
            TokenState::Open => {}
        }
        let text = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (case_id, email) = (text("case_id"), text("email"));
        let case = self.cases.by_id(&case_id).await?.ok_or_else(|| DomainError::not_found("confirmation"))?;
        let (case, contact) = match &case.pending_sender {
            Some(sender) if sender.email == email => {
                let contact = self.confirmed_contact(&sender.name, &email).await?;
                (self.link_sender(case.clone(), &contact).await?, contact)
            }
            // Confirmed by an earlier attempt that stopped before it marked the token used.
            _ => {
                let contact = Directory::new(self.cases.store).contact_by_email(&email).await?;
                (case, contact.ok_or_else(|| DomainError::not_found("confirmation"))?)
            }
        };
        // The customer the case is for follows it, as on a case they opened in the portal.
        if contact.portal.is_some() && !case.internal && case.contact_ids.contains(&contact.id) {
            let follow = Follow { case_id: case.id.clone(), follower_id: contact.id.to_string(), kind: FollowerKind::Contact };
            self.cases.add_follows(&[follow]).await?;
        }
        let used = Update { set: vec![("used_at".into(), Value::from(self.cases.clock.now().unix_timestamp()))], ..Update::default() };
        let mark = WriteOp::Update {
            table: CASES.into(),
            key: case_keys::confirm_token(token),
            update: used,
            condition: Some(Condition::AttributeNotExists("used_at".into())),
        };
        match self.cases.store.write(mark).await {
            // A concurrent post of the same link marked it first; both confirmed the same thing.
            Err(e) if !e.is_condition_failure() => return Err(e.into()),
            _ => {}
        }
        tracing::info!(case_id = %case.id, contact = %contact.id, "web-form sender confirmed");
        Ok(ConfirmOutcome::Confirmed { case_id: case.id, contact_id: contact.id })
    }

    /// The contact owning the address, or a new one linked to the account of its domain. The
    /// owner of the address has confirmed it, so the domain is theirs to claim; an existing
    /// contact is left as it is.
    async fn confirmed_contact(&self, name: &str, email: &str) -> DomainResult<Contact> {
        let directory = Directory::new(self.cases.store);
        let contact = match directory.contact_for(email, Some(name), self.cases.clock.now()).await? {
            Some(ContactFor::Existing(contact)) => return Ok(contact),
            Some(ContactFor::New(contact)) => contact,
            None => return Err(DomainError::invalid("email", "not an email address")),
        };
        match directory.insert(&contact).await {
            Ok(()) => {
                tracing::info!(contact = %contact.id, "contact created from a confirmed web-form sender");
                Ok(contact)
            }
            // A concurrent confirmation (or mail from the same address) created it first.
            Err(DomainError::Conflict { .. }) => {
                directory.contact_by_email(email).await?.ok_or_else(|| DomainError::Transient("the sender's contact is being written".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes the contact the case's primary contact (and its account the case's, when the case
    /// has none) and clears the pending sender, at the version read, re-read on a race.
    async fn link_sender(&self, start: Case, contact: &Contact) -> DomainResult<Case> {
        let cases = &self.cases;
        let author = Author { kind: AuthorKind::Contact, id: Some(contact.id.to_string()) };
        let mut current = start;
        for _ in 0..5 {
            if current.pending_sender.is_none() {
                return Ok(current);
            }
            let mut new = current.clone();
            new.pending_sender = None;
            new.contact_ids.retain(|c| *c != contact.id);
            new.contact_ids.insert(0, contact.id.clone());
            if new.contact_ids.len() > MAX_CONTACTS {
                return Err(DomainError::Conflict { field: "contact_ids".into(), reason: "the case has as many contacts as it may".into() });
            }
            if new.account_id.is_none() {
                new.account_id = contact.account_id.clone();
            }
            new.audit = next_audit(&current, &author, cases.clock.now());
            // The confirmed sender's contact (and perhaps account) may bring an agreement.
            new.sla_timeline = cases.next_timeline(&current, &new).await?;
            match cases.commit(&current, &new, &author).await {
                Ok(()) => return Ok(new),
                Err(DomainError::StaleVersion { .. }) => {
                    current = cases.by_id(&current.id).await?.ok_or_else(|| DomainError::not_found(format!("case {}", current.id)))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Transient(format!("case {} keeps changing", current.number)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_and_other_strings_are_not() {
        assert!(well_formed(&new_token()));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"A".repeat(TOKEN_CHARS)));
        assert!(!well_formed(&"1".repeat(TOKEN_CHARS)));
    }

    #[test]
    fn the_mail_names_the_form_and_the_link_only() {
        let text = confirmation_text("Contact us", "nina@example.com", "https://api.example/web-forms/confirm/abc");
        assert!(text.contains("\"Contact us\"") && text.contains("https://api.example/web-forms/confirm/abc") && text.contains("7 days"), "{text}");
    }
}
