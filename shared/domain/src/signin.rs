//! Signing people in to the web app of a local installation with one-time links: staff to the
//! agent console, contacts with portal access to the customer portal (on AWS the Cognito user
//! pool does both, and none of it runs).
//!
//! A link is asked for by address and sent by mail; its token is worth one session. Neither the
//! link nor the session is stored as itself: the store holds the SHA-256 of each token, so a copy
//! of the database signs nobody in. The session token lives in an HttpOnly cookie, so a script
//! on the page never sees it; ending the session deletes its record, so a copied cookie dies
//! with it. Asking for a link answers the same whether or not the address is a user's, so the
//! form tells nobody who works here.
//!
//! The link's token travels in the URL fragment (`/#/signin/<token>`), which browsers never send
//! to a server, and is only redeemed by the page's explicit POST: a mail scanner fetching the
//! link spends nothing.

use docket_mail::compose::{Address, AutoSubmitted, OutgoingMessage, compose};
use docket_ports::{Mailer, OutboundMail};
use docket_store::{Condition, WriteOp};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::Docket;
use crate::Principal;
use crate::error::{DomainError, DomainResult};
use crate::ids::EmailAddress;
use crate::model::User;
use crate::notify::MailSettings;
use crate::ratelimit::FixedWindow;
use crate::schema::{DIRECTORY, directory_keys, keyed_item, signin_keys};

/// How long a sign-in link works.
pub const LINK_VALIDITY: Duration = Duration::minutes(15);
/// How long a session lasts (a working day and some).
pub const SESSION_VALIDITY: Duration = Duration::hours(12);
/// Where the console takes a link's token, under the public base URL.
pub const SIGNIN_PATH: &str = "/#/signin/";
/// Where the customer portal takes a link's token, under the public base URL.
pub const PORTAL_SIGNIN_PATH: &str = "/portal/#/signin/";
/// Links asked for one address per hour; more would make the form a mail cannon.
const LINKS_PER_ADDRESS_PER_HOUR: u32 = 5;
/// Characters of a token (lower-case base32, 5 bits each: 250 bits).
const TOKEN_CHARS: usize = 50;

/// A link or session record: whose (a user's or a portal contact's id), until when (epoch
/// seconds; also the TTL attribute).
#[derive(Debug, Serialize, Deserialize)]
struct Grant {
    #[serde(alias = "user_id")]
    subject: String,
    expires_at: i64,
}

/// A session just opened: the token for the cookie and whose it is.
pub struct Session {
    pub token: String,
    pub principal: Principal,
    pub expires_in: Duration,
}

/// Who a sign-in link is for, and so where it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Staff, to the agent console.
    Staff,
    /// Contacts with portal access, to the customer portal.
    Portal,
}

impl Audience {
    /// Where this audience's link takes its token, under the public base URL.
    pub fn signin_path(self) -> &'static str {
        match self {
            Audience::Staff => SIGNIN_PATH,
            Audience::Portal => PORTAL_SIGNIN_PATH,
        }
    }
}

pub struct SignIn<'a> {
    docket: &'a Docket,
}

impl Docket {
    pub fn signin(&self) -> SignIn<'_> {
        SignIn { docket: self }
    }
}

/// A fresh unguessable token in lower-case base32.
fn new_secret() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; TOKEN_CHARS];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[(*b & 31) as usize] as char).collect()
}

/// Whether a string could be a token at all; anything else is refused unread.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// What the store knows a token by.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a grant is still good at `now` (epoch seconds): expiry is checked on every read,
/// because TTL deletion is lazy.
fn live(grant: &Grant, now: i64) -> bool {
    now < grant.expires_at
}

impl SignIn<'_> {
    /// Takes an ask for a sign-in link: refuses a malformed address or too many asks for one
    /// address, and says nothing about whether it is anyone's. The caller then hands the address
    /// to [`SignIn::send_link`], off the request's path, so the answer takes as long either way.
    pub async fn accept_ask(&self, email: &str) -> DomainResult<EmailAddress> {
        let address = EmailAddress::parse("email", email)?;
        let docket = self.docket;
        let limit = FixedWindow { name: format!("signin#{address}"), limit: LINKS_PER_ADDRESS_PER_HOUR, window_secs: 3600 };
        limit.hit(docket.store(), docket.clock(), "sign-in links for this address").await?;
        Ok(address)
    }

    /// Sends a one-time sign-in link to `address` when it is the address of someone of
    /// `audience` (an active staff user; a contact with portal access) and does nothing otherwise.
    pub async fn send_link(&self, audience: Audience, address: &EmailAddress, mailer: &dyn Mailer, settings: &MailSettings) -> DomainResult<()> {
        let Some((subject, name)) = self.recipient(audience, address).await? else {
            tracing::info!(?audience, "sign-in link asked for an address that is nobody's who may sign in there");
            return Ok(());
        };
        let Some(public_url) = settings.public_url.as_deref() else {
            return Err(DomainError::Internal("no public URL is configured: cannot link the web app".into()));
        };
        let token = self.issue_link(&subject).await?;
        let link = format!("{}{}{token}", public_url.trim_end_matches('/'), audience.signin_path());
        let (title, place) = match audience {
            Audience::Staff => ("Your Docket sign-in link".to_owned(), "Docket".to_owned()),
            Audience::Portal => {
                let brand = self.docket.brand().await?;
                (format!("Your sign-in link for {}", brand.company_name), format!("the {} support portal", brand.company_name))
            }
        };
        let message = OutgoingMessage {
            from: settings.from.clone(),
            // The address asked for, which is one of theirs: a contact may have several.
            to: vec![Address { name: Some(name.clone()), email: address.to_string() }],
            reply_to: None,
            subject: title,
            text: link_text(&name, &place, &link),
            html: None,
            message_id: format!("signin.{}@{}", ulid::Ulid::new().to_string().to_lowercase(), settings.message_id_domain),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: AutoSubmitted::AutoGenerated,
            extra_headers: Vec::new(),
        };
        let raw = compose(&message).map_err(|e| DomainError::Internal(format!("cannot compose the sign-in mail: {e}")))?;
        mailer.send(OutboundMail { from: settings.from.email.clone(), to: vec![address.to_string()], raw }).await?;
        tracing::info!(subject = %subject, ?audience, "sign-in link sent");
        Ok(())
    }

    /// Whose `address` is among those who may sign in as `audience`: their id and name.
    async fn recipient(&self, audience: Audience, address: &EmailAddress) -> DomainResult<Option<(String, String)>> {
        let directory = self.docket.directory();
        Ok(match audience {
            Audience::Staff => {
                let Some(owner) = directory.owner_of(&directory_keys::user_email(address)).await? else { return Ok(None) };
                directory.get::<User>(&owner).await?.filter(|u| u.active).map(|u| (u.id.to_string(), u.name))
            }
            Audience::Portal => directory.contact_by_email(address).await?.filter(|c| c.portal.is_some()).map(|c| (c.id.to_string(), c.name)),
        })
    }

    /// Stores a new one-time link for the user or portal contact `subject` and returns its
    /// token (the first admin's link that `docket serve` prints comes from here too).
    pub async fn issue_link(&self, subject: &str) -> DomainResult<String> {
        let token = new_secret();
        let expires_at = (self.docket.clock().now() + LINK_VALIDITY).unix_timestamp();
        let record = keyed_item(signin_keys::link(&digest(&token)), Grant { subject: subject.to_owned(), expires_at })?;
        self.docket.store().write(WriteOp::put_if(DIRECTORY, record, Condition::NotExists)).await?;
        Ok(token)
    }

    /// Spends a link's token on a new session. A token works once: spending it and opening the
    /// session are one transaction, conditional on the link still being there.
    pub async fn redeem(&self, token: &str) -> DomainResult<Session> {
        let refused = || DomainError::Unauthenticated("this sign-in link is not valid (used, expired or mistyped): ask for a new one".into());
        if !well_formed(token) {
            return Err(refused());
        }
        let store = self.docket.store();
        let key = signin_keys::link(&digest(token));
        let Some(item) = store.get(DIRECTORY, &key).await? else { return Err(refused()) };
        let grant: Grant =
            serde_json::from_value(serde_json::Value::Object(item)).map_err(|e| DomainError::Internal(format!("unreadable sign-in link: {e}")))?;
        let now = self.docket.clock().now();
        if !live(&grant, now.unix_timestamp()) {
            let _ = store.write(WriteOp::delete(DIRECTORY, key)).await;
            return Err(refused());
        }
        // Deactivated since, or portal access withdrawn: the link is worth nothing.
        let principal = self.docket.principal(&grant.subject).await.map_err(|_| refused())?;
        let session = new_secret();
        let record = keyed_item(
            signin_keys::session(&digest(&session)),
            Grant { subject: principal.id().to_owned(), expires_at: (now + SESSION_VALIDITY).unix_timestamp() },
        )?;
        let spend = WriteOp::Delete { table: DIRECTORY.into(), key, condition: Some(Condition::Exists) };
        match store.transact(vec![spend, WriteOp::put_if(DIRECTORY, record, Condition::NotExists)]).await {
            Ok(()) => {}
            // Another tab spent it first.
            Err(e) if e.failed_operation() == Some(0) || e.is_condition_failure() => return Err(refused()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(subject = principal.id(), "session opened");
        Ok(Session { token: session, principal, expires_in: SESSION_VALIDITY })
    }

    /// The user or portal contact a live session token names, or `None` (unknown, ended or
    /// expired). Whether they may still sign in is checked by resolving the id, on every request.
    pub async fn session_subject(&self, token: &str) -> DomainResult<Option<String>> {
        if !well_formed(token) {
            return Ok(None);
        }
        let Some(item) = self.docket.store().get(DIRECTORY, &signin_keys::session(&digest(token))).await? else { return Ok(None) };
        let grant: Grant = serde_json::from_value(serde_json::Value::Object(item)).map_err(|e| DomainError::Internal(format!("unreadable session: {e}")))?;
        Ok(live(&grant, self.docket.clock().now().unix_timestamp()).then_some(grant.subject))
    }

    /// Ends a session: its token signs nobody in any more. Ending an unknown one is no error.
    pub async fn end(&self, token: &str) -> DomainResult<()> {
        if well_formed(token) {
            self.docket.store().write(WriteOp::delete(DIRECTORY, signin_keys::session(&digest(token)))).await?;
        }
        Ok(())
    }
}

fn link_text(name: &str, place: &str, link: &str) -> String {
    let minutes = LINK_VALIDITY.whole_minutes();
    format!(
        "Hello {name},\n\n\
         someone (hopefully you) asked to sign in to {place} with this address. Open this link to sign in:\n\n\
         {link}\n\n\
         It works once, for {minutes} minutes. If you did not ask for it, ignore this message: nobody \
         can sign in without the link.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unguessable_and_checked_before_any_read() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert!(!well_formed(&a[1..]), "a short token is refused");
        assert!(!well_formed(&a.to_uppercase()), "upper case is not our alphabet");
        assert!(!well_formed("../../etc/passwd"));
    }

    #[test]
    fn the_store_keeps_a_digest_not_the_token() {
        let token = new_secret();
        let stored = digest(&token);
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains(&token));
        assert_eq!(stored, digest(&token), "the same token finds the same record");
    }

    #[test]
    fn a_grant_is_dead_at_its_expiry() {
        let grant = Grant { subject: "U1".to_owned(), expires_at: 1000 };
        assert!(live(&grant, 999));
        assert!(!live(&grant, 1000));
        assert!(!live(&grant, 5000));
    }
}
