//! Docket's domain: cases, the directory and access rules, with repositories written once on
//! the item-store port. Free of AWS and HTTP types; the edges (Lambda functions, the local
//! process) wire a store and a clock into [`Docket`] and call it.

pub mod access;
pub mod agreements;
pub mod assignment;
pub mod automation;
pub mod calendar;
mod case_clocks;
pub mod cases;
pub mod clock;
pub mod confirm;
pub mod directory;
pub mod error;
pub mod events;
pub mod fields;
pub mod follows;
pub mod ids;
pub mod inbound;
pub mod knowledge;
pub mod mask;
pub mod model;
pub mod notify;
pub mod numbers;
pub mod outbox;
pub mod ratelimit;
pub mod rules;
pub mod schema;
pub mod signin;
pub mod sla;
pub mod sla_watch;
pub mod spawn;
pub use case_clocks::{SlaSummary, Sweep};
pub mod stream;
mod txn;
pub mod validate;
pub mod webform;

use std::sync::Arc;

use docket_ports::{BlobStore, Queue};
use docket_store::ItemStore;

pub use access::Principal;
pub use error::{DomainError, DomainResult};

use crate::cases::Cases;
use crate::clock::Clock;
use crate::directory::{Directory, DirectoryService, Entity};
use crate::model::{Audit, Contact, Role, Scope, Settings, User};

/// The application: one store and one clock, shared by every request.
#[derive(Clone)]
pub struct Docket {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    notify_queue: Option<Arc<dyn Queue>>,
    assign_queue: Option<Arc<dyn Queue>>,
    blobs: Option<Arc<dyn BlobStore>>,
    delivery: outbox::OutboxDelivery,
    numbers: Arc<numbers::CaseNumbers>,
}

impl Docket {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            notify_queue: None,
            assign_queue: None,
            blobs: None,
            delivery: outbox::OutboxDelivery::Immediate,
            numbers: Arc::new(numbers::CaseNumbers::new(1)),
        }
    }

    /// Takes case numbers `block` at a time from the store's counter (see [`numbers`]): one a
    /// case by default; a long-running process takes more, so that new cases neither wait for a
    /// commit of their own nor conflict over the counter.
    pub fn with_case_number_block(mut self, block: u64) -> Self {
        self.numbers = Arc::new(numbers::CaseNumbers::new(block));
        self
    }

    /// Returns the case numbers this process holds, for an orderly stop (see
    /// [`numbers::CaseNumbers::give_back`]); how many went back.
    pub async fn give_back_case_numbers(&self) -> DomainResult<u64> {
        self.numbers.give_back(self.store.as_ref()).await
    }

    /// Announces every new stream entry on this queue (the notify worker reads it).
    pub fn with_notify_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.notify_queue = Some(queue);
        self
    }

    /// Announces case events on this queue (the assign worker reads it: assignment rules and
    /// workflow rules).
    pub fn with_assign_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.assign_queue = Some(queue);
        self
    }

    /// How committed outbox items reach their queues (see [`outbox`]): sent at once by default.
    pub fn with_outbox_delivery(mut self, delivery: outbox::OutboxDelivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Keeps attachments in this blob store.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    pub fn blobs(&self) -> DomainResult<&dyn BlobStore> {
        self.blobs.as_deref().ok_or_else(|| DomainError::Internal("no blob store is configured".into()))
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn store(&self) -> &dyn ItemStore {
        self.store.as_ref()
    }

    pub fn cases(&self) -> Cases<'_> {
        self.cases_at_depth(0)
    }

    /// Cases changed by workflow rules: the events of their changes carry `depth`.
    pub(crate) fn cases_at_depth(&self, depth: u8) -> Cases<'_> {
        Cases {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            notify_queue: self.notify_queue.as_deref(),
            assign_queue: self.assign_queue.as_deref(),
            delivery: &self.delivery,
            numbers: &self.numbers,
            depth,
        }
    }

    pub fn directory(&self) -> Directory<'_> {
        Directory::new(self.store.as_ref())
    }

    pub fn directory_service(&self) -> DirectoryService<'_> {
        DirectoryService { directory: self.directory(), clock: self.clock.as_ref() }
    }

    pub fn knowledge(&self) -> knowledge::Knowledge<'_> {
        knowledge::Knowledge { store: self.store.as_ref(), clock: self.clock.as_ref() }
    }

    pub fn web_forms(&self) -> webform::WebForms<'_> {
        webform::WebForms { cases: self.cases() }
    }

    /// Resolves an authenticated identity (a user id or a portal contact id) to a principal.
    /// Inactive users and contacts without portal access are refused.
    pub async fn principal(&self, id: &str) -> DomainResult<Principal> {
        let directory = self.directory();
        if let Some(user) = directory.get::<User>(id).await? {
            return if user.active { Ok(Principal::Staff(user)) } else { Err(DomainError::Unauthenticated("this user is deactivated".into())) };
        }
        match directory.get::<Contact>(id).await? {
            Some(contact) if contact.portal.is_some() => Ok(Principal::Portal(contact)),
            _ => Err(DomainError::Unauthenticated("the token names no active user or portal contact".into())),
        }
    }

    pub async fn settings(&self, principal: &Principal) -> DomainResult<Settings> {
        principal.require_staff()?;
        self.directory().settings().await
    }

    /// The portal's brand: public, so the sign-in page can show it to anyone.
    pub async fn brand(&self) -> DomainResult<model::Brand> {
        Ok(self.directory().settings().await?.brand)
    }

    pub async fn update_settings(&self, principal: &Principal, patch: fields::MergePatch<Settings>) -> DomainResult<Settings> {
        principal.require_admin()?;
        let mut settings = patch.apply(&self.directory().settings().await?)?;
        settings.brand = settings.brand.validated()?;
        mask::CaseNumberMask::parse(&settings.case_number_mask)?;
        validate::list("blacklist", &settings.blacklist, 500, |field, entry| {
            let entry = entry.trim().to_lowercase();
            if entry.is_empty() || entry.len() > 254 || entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(DomainError::invalid(field, format!("{entry:?} is not an address, local part or @domain")));
            }
            Ok(entry)
        })?;
        if !(1024..=model::DEFAULT_MAX_MESSAGE_BYTES).contains(&settings.max_message_bytes) {
            return Err(DomainError::invalid("max_message_bytes", "must be between 1 KiB and 40 MiB (the SES maximum)"));
        }
        if settings.ack_limit_count > 1000 || !(1..=10_080).contains(&settings.ack_limit_window_minutes) {
            return Err(DomainError::invalid("ack_limit_count", "at most 1000 acknowledgements per window of 1 minute to 7 days"));
        }
        if !(1..=100_000).contains(&settings.ack_limit_per_mailbox_per_hour) {
            return Err(DomainError::invalid("ack_limit_per_mailbox_per_hour", "between 1 and 100000 acknowledgements per mailbox and hour"));
        }
        if !(1..=3650).contains(&settings.reply_token_days) {
            return Err(DomainError::invalid("reply_token_days", "reply tokens live between 1 and 3650 days"));
        }
        self.directory().save_settings(&settings).await?;
        Ok(settings)
    }

    /// Creates the first admin when the directory has no user yet; returns it either way.
    pub async fn ensure_admin(&self, name: &str, email: &str) -> DomainResult<(User, bool)> {
        let directory = self.directory();
        let (users, _) = directory.list::<User>(50, None).await?;
        if let Some(admin) = users.into_iter().find(|u| u.role == Role::Admin && u.active) {
            return Ok((admin, false));
        }
        let user = self.create_user_unchecked(name, email, Role::Admin).await?;
        Ok((user, true))
    }

    /// Writes a user without a calling principal: for bootstrapping and test fixtures.
    pub async fn create_user_unchecked(&self, name: &str, email: &str, role: Role) -> DomainResult<User> {
        let audit = Audit::created("system", self.clock.now());
        let fields = directory::UserFields {
            name: name.into(),
            email: email.into(),
            role,
            scope: Scope::All,
            team_ids: vec![],
            active: true,
            preferences: Default::default(),
        };
        let user = User::build(clock::new_id(), fields, audit)?;
        self.directory().insert(&user).await?;
        Ok(user)
    }
}
