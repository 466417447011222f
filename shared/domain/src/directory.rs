//! The directory: users, teams, accounts, contacts and leads, written once for every kind.
//!
//! Each kind says which fields callers may edit, how they are validated, which records they
//! refer to and which lookup items it owns (unique email addresses, account domains, team
//! memberships). The repository keeps an entity and its lookup items in one transaction, so a
//! lookup never points at a record that says otherwise.

use crate::ids::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use docket_store::{Condition, Cursor, Item, ItemStore, Key, Page, Query, SortKeyRange, WriteOp, open_cursor, seal_cursor};

use crate::access::Principal;
use crate::error::{DomainError, DomainResult};
use crate::fields::MergePatch;
use crate::model::*;
use crate::schema::{DIRECTORY, DIRECTORY_BY_KIND, directory_keys, keyed_item};
use crate::txn::{Label, Txn};
use crate::validate::{self, MAX_NAME};

/// The accessors of an entity whose record has `id`, `name` and `audit` fields.
macro_rules! entity_accessors {
    () => {
        fn id(&self) -> &str {
            &self.id
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn audit(&self) -> &Audit {
            &self.audit
        }
    };
}
pub(crate) use entity_accessors;

/// Who may create and change records of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    AdminOnly,
    Staff,
}

/// A reference from one record to another, checked to exist when written.
pub struct Reference {
    pub field: &'static str,
    pub kind: &'static str,
    pub id: String,
}

/// A lookup item owned by a record: unique ones refuse a second owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedKey {
    pub key: Key,
    pub unique_field: Option<&'static str>,
}

pub trait Entity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: &'static str;
    const WRITE_POLICY: WritePolicy;
    /// Kinds whose configuration only admins may read (agents read every other kind).
    const ADMIN_ONLY_READS: bool = false;
    /// Fields that decide what a customer sees (a contact's account, addresses and portal
    /// grant, an account's email domains): only admins change them.
    const ADMIN_ONLY_FIELDS: &'static [&'static str] = &[];
    /// Of those, the ones only admins may set on a new record. A new contact owns no cases
    /// yet, so agents may give it addresses and an account; a portal grant stays an admin's.
    const ADMIN_ONLY_ON_CREATE: &'static [&'static str] = &[];
    /// The fields a caller sends on create and patches on update.
    type Fields: Serialize + DeserializeOwned + Send;

    fn id(&self) -> &str;
    fn name(&self) -> &str;
    fn audit(&self) -> &Audit;
    fn fields(&self) -> Self::Fields;
    /// Validates the fields and builds the record.
    fn build(id: String, fields: Self::Fields, audit: Audit) -> DomainResult<Self>;
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        Vec::new()
    }
    /// Attributes of secondary indexes beyond `by_kind` the stored item carries (all strings;
    /// an attribute left out keeps the item out of that sparse index).
    fn index_attributes(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Whether a change of such a record can move due times of cases (agreements, calendars):
    /// its update and deletion ask the SLA sweep to file the running cases again.
    const MOVES_SLA_DUE_TIMES: bool = false;
}

fn references<'i, I: std::fmt::Display + 'i>(field: &'static str, kind: &'static str, ids: impl IntoIterator<Item = &'i I>) -> Vec<Reference> {
    ids.into_iter().map(|id| Reference { field, kind, id: id.to_string() }).collect()
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFields {
    pub name: String,
    pub email: String,
    pub role: Role,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub team_ids: Vec<TeamId>,
    #[serde(default = "active")]
    pub active: bool,
    #[serde(default)]
    pub preferences: Preferences,
}

fn active() -> bool {
    true
}

impl Entity for User {
    const KIND: &'static str = "user";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    type Fields = UserFields;

    entity_accessors!();
    fn fields(&self) -> UserFields {
        UserFields {
            name: self.name.clone(),
            email: self.email.to_string(),
            role: self.role,
            scope: self.scope,
            team_ids: self.team_ids.clone(),
            active: self.active,
            preferences: self.preferences.clone(),
        }
    }
    fn build(id: String, f: UserFields, audit: Audit) -> DomainResult<Self> {
        Ok(User {
            id: UserId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            email: EmailAddress::parse("email", &f.email)?,
            role: f.role,
            scope: f.scope,
            team_ids: validate::list("team_ids", &f.team_ids, 20, TeamId::parse)?,
            active: f.active,
            preferences: f.preferences,
            audit,
        })
    }
    fn references(&self) -> Vec<Reference> {
        references("team_ids", Team::KIND, &self.team_ids)
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        let mut keys = vec![OwnedKey { key: directory_keys::user_email(&self.email), unique_field: Some("email") }];
        keys.extend(self.team_ids.iter().map(|t| OwnedKey { key: directory_keys::team_member(t, &self.id), unique_field: None }));
        if self.preferences.auto_follow && self.active {
            keys.push(OwnedKey { key: directory_keys::auto_follower(&self.id), unique_field: None });
        }
        keys
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamFields {
    pub name: String,
    pub description: Option<String>,
    pub assignment_rule: Option<AssignmentRule>,
}

impl Entity for Team {
    const KIND: &'static str = "team";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    type Fields = TeamFields;

    entity_accessors!();
    fn fields(&self) -> TeamFields {
        TeamFields { name: self.name.clone(), description: self.description.clone(), assignment_rule: self.assignment_rule }
    }
    fn build(id: String, f: TeamFields, audit: Audit) -> DomainResult<Self> {
        Ok(Team {
            id: TeamId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            description: f.description.map(|d| validate::long_text("description", &d, 4000)).transpose()?,
            assignment_rule: f.assignment_rule,
            audit,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountFields {
    pub name: String,
    #[serde(default)]
    pub email_domains: Vec<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
}

impl Entity for Account {
    const KIND: &'static str = "account";
    const WRITE_POLICY: WritePolicy = WritePolicy::Staff;
    // A domain pulls every new contact writing from it into the account, and so into the view
    // of the account's portal users.
    const ADMIN_ONLY_FIELDS: &'static [&'static str] = &["email_domains"];
    const ADMIN_ONLY_ON_CREATE: &'static [&'static str] = &["email_domains"];
    type Fields = AccountFields;

    entity_accessors!();
    fn fields(&self) -> AccountFields {
        AccountFields { name: self.name.clone(), email_domains: self.email_domains.clone(), website: self.website.clone(), phone: self.phone.clone() }
    }
    fn build(id: String, f: AccountFields, audit: Audit) -> DomainResult<Self> {
        Ok(Account {
            id: AccountId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            email_domains: validate::list("email_domains", &f.email_domains, 20, validate::domain_name)?,
            website: validate::optional_line("website", f.website.as_deref(), 500)?,
            phone: validate::optional_line("phone", f.phone.as_deref(), 50)?,
            audit,
        })
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        self.email_domains.iter().map(|d| OwnedKey { key: directory_keys::account_domain(d), unique_field: Some("email_domains") }).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    pub name: String,
    #[serde(default)]
    pub emails: Vec<String>,
    pub phone: Option<String>,
    pub account_id: Option<AccountId>,
    pub portal: Option<PortalAccess>,
}

impl Entity for Contact {
    const KIND: &'static str = "contact";
    const WRITE_POLICY: WritePolicy = WritePolicy::Staff;
    const ADMIN_ONLY_FIELDS: &'static [&'static str] = &["account_id", "emails", "portal"];
    const ADMIN_ONLY_ON_CREATE: &'static [&'static str] = &["portal"];
    type Fields = ContactFields;

    entity_accessors!();
    fn fields(&self) -> ContactFields {
        ContactFields {
            name: self.name.clone(),
            emails: self.emails.iter().map(ToString::to_string).collect(),
            phone: self.phone.clone(),
            account_id: self.account_id.clone(),
            portal: self.portal.clone(),
        }
    }
    fn build(id: String, f: ContactFields, audit: Audit) -> DomainResult<Self> {
        Ok(Contact {
            id: ContactId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            emails: validate::list("emails", &f.emails, 10, EmailAddress::parse)?,
            phone: validate::optional_line("phone", f.phone.as_deref(), 50)?,
            account_id: checked("account_id", f.account_id)?,
            portal: f.portal,
            audit,
        })
    }
    fn references(&self) -> Vec<Reference> {
        references("account_id", Account::KIND, &self.account_id)
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        self.emails.iter().map(|e| OwnedKey { key: directory_keys::contact_email(e), unique_field: Some("emails") }).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadFields {
    pub name: String,
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub status: LeadStatus,
}

impl Entity for Lead {
    const KIND: &'static str = "lead";
    const WRITE_POLICY: WritePolicy = WritePolicy::Staff;
    type Fields = LeadFields;

    entity_accessors!();
    fn fields(&self) -> LeadFields {
        LeadFields {
            name: self.name.clone(),
            email: self.email.as_ref().map(ToString::to_string),
            company: self.company.clone(),
            phone: self.phone.clone(),
            status: self.status,
        }
    }
    fn build(id: String, f: LeadFields, audit: Audit) -> DomainResult<Self> {
        Ok(Lead {
            id: LeadId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            email: f.email.as_deref().map(|e| EmailAddress::parse("email", e)).transpose()?,
            company: validate::optional_line("company", f.company.as_deref(), MAX_NAME)?,
            phone: validate::optional_line("phone", f.phone.as_deref(), 50)?,
            status: f.status,
            audit,
        })
    }
}

/// What a directory search looks for, as typed into a picker: trimmed, one line, 1 to
/// [`SearchText::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    pub const MAX_CHARS: usize = 100;

    /// The search text of `raw`, refused (naming `field`) when it is empty once trimmed, too
    /// long or not one line.
    pub fn parse(field: &str, raw: &str) -> DomainResult<Self> {
        validate::line(field, raw, Self::MAX_CHARS).map(SearchText)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Kinds the directory search finds (contacts, accounts): by a prefix of their name, and by one
/// of their unique addresses written out whole.
///
/// Why this and nothing more: both come from items the directory keeps anyway, on both engines,
/// at the cost of one index query and two reads. The `by_kind` index sorts a kind by lower-case
/// name, so a prefix of the name is one range of it (paged like the plain list); an address or
/// domain is the partition key of its unique lookup item, so only the whole of it can be looked
/// up. A word inside the name ("lovelace" for "Ada Lovelace") or part of an address would need
/// a word index kept with every write (as articles keep for their titles) and a backfill of the
/// records written before it; a scan of the kind would read the whole directory per keystroke.
pub trait Searchable: Entity {
    /// The unique lookup item `text` names when it is a whole address of this kind.
    fn address_key(text: &str) -> Option<Key>;
}

impl Searchable for Contact {
    /// An email address, as contacts' addresses are stored (lower case).
    fn address_key(text: &str) -> Option<Key> {
        validate::email("q", text).ok().map(|address| directory_keys::contact_email(&address))
    }
}

impl Searchable for Account {
    /// An email domain, or an address at one (`ada@example.com` finds the account of
    /// `example.com`, which is where mail from that address goes).
    fn address_key(text: &str) -> Option<Key> {
        let domain = text.rsplit_once('@').map_or(text, |(_, domain)| domain);
        validate::domain_name("q", domain).ok().map(|domain| directory_keys::account_domain(&domain))
    }
}

/// Where a search continues: after this position of its name query (`None`: from the start of
/// it, when the first page held only the whole-address match). Sealed with the name query, so a
/// cursor works only for the search and the text that gave it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchPosition {
    names_after: Option<String>,
}

/// Stored form of an entity: its JSON plus keys and the by-kind index attributes.
fn to_item<E: Entity>(entity: &E) -> DomainResult<Item> {
    let mut item = keyed_item(directory_keys::entity(E::KIND, entity.id()), entity)?;
    item.insert("kind_pk".into(), E::KIND.into());
    item.insert("kind_sk".into(), directory_keys::kind_sort(entity.name(), entity.id()).into());
    for (attribute, value) in entity.index_attributes() {
        item.insert(attribute.into(), value.into());
    }
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> DomainResult<T> {
    serde_json::from_value(Value::Object(item)).map_err(|e| DomainError::Internal(format!("stored record unreadable: {e}")))
}

fn owned_item(owned: &OwnedKey, kind: &str, owner: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), owned.key.pk.clone().into());
    item.insert("sk".into(), owned.key.sk.clone().into());
    item.insert("owner_kind".into(), kind.into());
    item.insert("owner_id".into(), owner.into());
    item
}

/// A check, inside a write transaction, that a referenced record exists.
pub(crate) fn push_reference_check(txn: &mut Txn, reference: Reference) {
    let check = WriteOp::check(DIRECTORY, directory_keys::entity(reference.kind, &reference.id), Condition::Exists);
    txn.push(check, Label::Reference { field: reference.field, kind: reference.kind, id: reference.id });
}

/// The contact of an address: the stored one, or a new one the caller is to store.
pub(crate) enum ContactFor {
    Existing(Contact),
    New(Contact),
}

/// What may name a record of kind `E` in a lookup: the kind's own id type, or a string from
/// outside Docket's types (a path parameter, a stream author's id), which the lookup checks.
/// Another kind's id is refused by the compiler:
///
/// ```compile_fail
/// # use docket_domain::{directory::Directory, ids::ContactId, model::User};
/// async fn mixed_up(directory: &Directory<'_>, contact: &ContactId) {
///     let _ = directory.get::<User>(contact).await; // a contact's id does not name a user
/// }
/// ```
///
/// ```no_run
/// # use docket_domain::{directory::Directory, ids::ContactId, model::Contact};
/// async fn matched(directory: &Directory<'_>, contact: &ContactId, from_a_path: &str) {
///     let _ = directory.get::<Contact>(contact).await;
///     let _ = directory.get::<Contact>(from_a_path).await;
/// }
/// ```
pub trait IdFor<E> {
    fn id_str(&self) -> &str;
}

impl<E> IdFor<E> for str {
    fn id_str(&self) -> &str {
        self
    }
}

impl<E> IdFor<E> for String {
    fn id_str(&self) -> &str {
        self
    }
}

macro_rules! ids_of {
    ($($entity:ty => $id:ty),* $(,)?) => {$(
        impl IdFor<$entity> for $id {
            fn id_str(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}

ids_of!(User => UserId, Team => TeamId, Account => AccountId, Contact => ContactId, Lead => LeadId, Mailbox => MailboxId);

/// The directory repository and its rules, written once for every kind of entity.
pub struct Directory<'a> {
    store: &'a dyn ItemStore,
}

impl<'a> Directory<'a> {
    pub(crate) fn store(&self) -> &'a dyn ItemStore {
        self.store
    }

    pub fn new(store: &'a dyn ItemStore) -> Self {
        Self { store }
    }

    /// The record of kind `E` with this id: named by its own id type (a `UserId` finds a user,
    /// never a contact) or by a string from outside, which is checked here.
    pub async fn get<E: Entity>(&self, id: &(impl IdFor<E> + ?Sized)) -> DomainResult<Option<E>> {
        let id = id.id_str();
        if validate::id("id", id).is_err() {
            return Ok(None);
        }
        let item = self.store.get(DIRECTORY, &directory_keys::entity(E::KIND, id)).await?;
        item.map(from_item).transpose()
    }

    pub async fn require<E: Entity>(&self, id: &(impl IdFor<E> + ?Sized)) -> DomainResult<E> {
        let found = self.get(id).await?;
        found.ok_or_else(|| DomainError::not_found(format!("{} {}", E::KIND, id.id_str())))
    }

    /// Lists records of a kind sorted by name.
    pub async fn list<E: Entity>(&self, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<E>, Option<Cursor>)> {
        let Page { items, next } = self.store.query(Query::index(DIRECTORY, DIRECTORY_BY_KIND, E::KIND).limit(limit).after(after)).await?;
        Ok((items.into_iter().map(from_item).collect::<DomainResult<_>>()?, next))
    }

    /// Records of a kind found by `text` (see [`Searchable`]): on the first page the record owning
    /// `text` as a whole address, if any, then those whose name starts with `text`, sorted by
    /// name (the address match is not repeated among them).
    pub async fn search<E: Searchable>(&self, text: &SearchText, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<E>, Option<Cursor>)> {
        let names = Query::index(DIRECTORY, DIRECTORY_BY_KIND, E::KIND).range(SortKeyRange::BeginsWith(directory_keys::kind_sort_prefix(text.as_str())));
        let address_owner = match E::address_key(text.as_str()) {
            Some(key) => self.owner_of(&key).await?,
            None => None,
        };
        let mut found: Vec<E> = Vec::new();
        let names_after = match &after {
            Some(cursor) => open_cursor::<SearchPosition>(&names, cursor)?.names_after.map(Cursor),
            None => {
                if let Some(id) = &address_owner
                    && let Some(owner) = self.get::<E>(id.as_str()).await?
                {
                    found.push(owner);
                }
                None
            }
        };
        let room = limit.saturating_sub(found.len());
        if room == 0 {
            // The page is full with the address match alone: the names follow on the next page.
            return Ok((found, Some(seal_cursor(&names, SearchPosition { names_after: None })?)));
        }
        let page = self.store.query(names.clone().limit(room).after(names_after)).await?;
        for item in page.items {
            let entity: E = from_item(item)?;
            if address_owner.as_deref() != Some(entity.id()) {
                found.push(entity);
            }
        }
        let next = page.next.map(|c| seal_cursor(&names, SearchPosition { names_after: Some(c.0) })).transpose()?;
        Ok((found, next))
    }

    /// The owner id of a lookup item (contact by email, account by domain, user by email).
    pub async fn owner_of(&self, key: &Key) -> DomainResult<Option<String>> {
        let item = self.store.get(DIRECTORY, key).await?;
        Ok(item.and_then(|i| i.get("owner_id").and_then(Value::as_str).map(str::to_owned)))
    }

    pub async fn contact_by_email(&self, address: &str) -> DomainResult<Option<Contact>> {
        let Ok(address) = validate::email("email", address) else { return Ok(None) };
        match self.owner_of(&directory_keys::contact_email(&address)).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    /// The contact owning `address`, or a new contact for it that is not stored yet: named
    /// `name` (control characters removed, at most [`MAX_NAME`] characters) or else by the
    /// address's local part, and linked to the account owning the address's domain. `None` when
    /// the address is not one. The caller stores a new contact, alone ([`Directory::insert`]) or
    /// in a larger transaction ([`Directory::insert_ops`]); its address lookup is unique, so a
    /// contact created meanwhile for the same address fails that write.
    pub(crate) async fn contact_for(&self, address: &str, name: Option<&str>, now: time::OffsetDateTime) -> DomainResult<Option<ContactFor>> {
        if let Some(contact) = self.contact_by_email(address).await? {
            return Ok(Some(ContactFor::Existing(contact)));
        }
        let Ok(address) = validate::email("email", address) else { return Ok(None) };
        let (local, domain) = address.rsplit_once('@').unwrap_or((address.as_str(), ""));
        let account = self.account_by_domain(domain).await?;
        let name = name
            .map(|n| n.chars().filter(|c| !c.is_control()).take(MAX_NAME).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| local.to_owned());
        let fields = ContactFields { name, emails: vec![address.clone()], phone: None, account_id: account.map(|a| a.id), portal: None };
        Ok(Some(ContactFor::New(Contact::build(crate::clock::new_id(), fields, Audit::created("system", now))?)))
    }

    pub async fn account_by_domain(&self, domain: &str) -> DomainResult<Option<Account>> {
        let Ok(domain) = validate::domain_name("domain", domain) else { return Ok(None) };
        match self.owner_of(&directory_keys::account_domain(&domain)).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    /// Ids of the members of a team, in a stable order.
    pub async fn team_member_ids(&self, team_id: &str) -> DomainResult<Vec<String>> {
        self.owner_ids(&directory_keys::team_members_partition(team_id), directory_keys::TEAM_MEMBER_PREFIX, true, usize::MAX).await
    }

    /// The owners of the lookup items of one partition whose sort key starts with `prefix`, in
    /// sort-key order (or its reverse), at most `max` of them.
    pub(crate) async fn owner_ids(&self, partition: &str, prefix: &str, ascending: bool, max: usize) -> DomainResult<Vec<String>> {
        let mut ids = Vec::new();
        let mut after = None;
        while ids.len() < max {
            let mut query =
                Query::table(DIRECTORY, partition).range(docket_store::SortKeyRange::BeginsWith(prefix.into())).limit(500.min(max - ids.len())).after(after);
            if !ascending {
                query = query.descending();
            }
            let page = self.store.query(query).await?;
            ids.extend(page.items.iter().filter_map(|i| i.get("owner_id").and_then(Value::as_str).map(str::to_owned)));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(ids)
    }

    /// Stores a new record with its lookup items, checking references and uniqueness atomically.
    pub async fn insert<E: Entity>(&self, entity: &E) -> DomainResult<()> {
        Ok(self.insert_ops(entity)?.commit(self.store).await?)
    }

    /// The writes inserting a new record (its item, its unique lookups, checks of what it
    /// refers to), for a transaction of a larger change.
    pub(crate) fn insert_ops<E: Entity>(&self, entity: &E) -> DomainResult<Txn> {
        let mut txn = Txn::new();
        txn.push(WriteOp::put_if(DIRECTORY, to_item(entity)?, Condition::NotExists), Label::Unique { field: "id", value: entity.id().to_owned() });
        self.add_links(entity, &[], &[], &mut txn);
        Ok(txn)
    }

    /// Replaces `old` by `new` if `old` is still the stored version.
    pub async fn replace<E: Entity>(&self, old: &E, new: &E) -> DomainResult<()> {
        let expected = old.audit().version;
        let mut txn = Txn::new();
        txn.push(WriteOp::put_if(DIRECTORY, to_item(new)?, Condition::equals("version", expected)), Label::Version { expected });
        let old_keys = old.owned_keys();
        for gone in old_keys.iter().filter(|k| !new.owned_keys().contains(k)) {
            txn.plain(WriteOp::delete(DIRECTORY, gone.key.clone()));
        }
        let old_refs: Vec<String> = old.references().into_iter().map(|r| r.id).collect();
        self.add_links(new, &old_keys, &old_refs, &mut txn);
        Ok(txn.commit(self.store).await?)
    }

    /// Adds lookup items the record gains and existence checks for references it gains.
    fn add_links<E: Entity>(&self, entity: &E, existing_keys: &[OwnedKey], existing_refs: &[String], txn: &mut Txn) {
        for owned in entity.owned_keys().iter().filter(|k| !existing_keys.contains(k)) {
            let item = owned_item(owned, E::KIND, entity.id());
            match owned.unique_field {
                Some(field) => {
                    let value = owned.key.pk.split_once('#').map_or(owned.key.pk.as_str(), |(_, v)| v);
                    txn.push(WriteOp::put_if(DIRECTORY, item, Condition::NotExists), Label::Unique { field, value: value.to_owned() });
                }
                None => txn.plain(WriteOp::put(DIRECTORY, item)),
            }
        }
        for reference in entity.references().into_iter().filter(|r| !existing_refs.contains(&r.id)) {
            push_reference_check(txn, reference);
        }
    }

    /// Deletes `entity` with its lookup items if it is still the stored version.
    pub async fn remove<E: Entity>(&self, entity: &E) -> DomainResult<()> {
        let expected = entity.audit().version;
        let key = directory_keys::entity(E::KIND, entity.id());
        let mut txn = Txn::new();
        txn.push(WriteOp::Delete { table: DIRECTORY.into(), key, condition: Some(Condition::equals("version", expected)) }, Label::Version { expected });
        txn.plain_all(entity.owned_keys().into_iter().map(|owned| WriteOp::delete(DIRECTORY, owned.key)));
        Ok(txn.commit(self.store).await?)
    }

    pub async fn settings(&self) -> DomainResult<Settings> {
        match self.store.get(DIRECTORY, &directory_keys::settings()).await? {
            Some(mut item) => {
                item.remove("pk");
                item.remove("sk");
                from_item(item)
            }
            None => Ok(Settings::default()),
        }
    }

    pub async fn save_settings(&self, settings: &Settings) -> DomainResult<()> {
        let item = keyed_item(directory_keys::settings(), settings)?;
        self.store.write(WriteOp::put(DIRECTORY, item)).await?;
        Ok(())
    }
}

/// Directory operations as callers see them: access rules, validation, audit fields.
pub struct DirectoryService<'a> {
    pub(crate) directory: Directory<'a>,
    pub(crate) clock: &'a dyn crate::clock::Clock,
}

impl<'a> DirectoryService<'a> {
    fn may_read<E: Entity>(principal: &Principal) -> DomainResult<()> {
        if E::ADMIN_ONLY_READS { principal.require_admin() } else { principal.require_staff().map(|_| ()) }
    }

    /// Whether the caller may create and change records of this kind.
    pub fn authorize_write<E: Entity>(principal: &Principal) -> DomainResult<()> {
        match E::WRITE_POLICY {
            WritePolicy::AdminOnly => principal.require_admin(),
            WritePolicy::Staff => principal.require_staff().map(|_| ()),
        }
    }

    pub async fn create<E: Entity>(&self, principal: &Principal, fields: E::Fields) -> DomainResult<E> {
        Self::authorize_write::<E>(principal)?;
        let now = self.clock.now();
        let audit = Audit::created(principal.id(), now);
        let entity = E::build(crate::clock::new_id(), fields, audit)?;
        guard_admin_only_fields::<E>(principal, None, &entity)?;
        self.directory.insert(&entity).await?;
        Ok(entity)
    }

    pub async fn get<E: Entity>(&self, principal: &Principal, id: &str) -> DomainResult<E> {
        Self::may_read::<E>(principal)?;
        self.directory.require(id).await
    }

    pub async fn list<E: Entity>(&self, principal: &Principal, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<E>, Option<Cursor>)> {
        Self::may_read::<E>(principal)?;
        self.directory.list(limit, after).await
    }

    /// Searches a kind (see [`Directory::search`]), for whoever may list it.
    pub async fn search<E: Searchable>(
        &self,
        principal: &Principal,
        text: &SearchText,
        limit: usize,
        after: Option<Cursor>,
    ) -> DomainResult<(Vec<E>, Option<Cursor>)> {
        Self::may_read::<E>(principal)?;
        self.directory.search(text, limit, after).await
    }

    /// Applies a merge patch; `if_match` is the version the caller read, when it sent one.
    pub async fn update<E: Entity>(&self, principal: &Principal, id: &str, patch: MergePatch<E::Fields>, if_match: Option<u64>) -> DomainResult<E> {
        Self::authorize_write::<E>(principal)?;
        let old: E = self.directory.require(id).await?;
        if let Some(expected) = if_match
            && expected != old.audit().version
        {
            return Err(DomainError::StaleVersion { expected });
        }
        let fields = patch.apply(&old.fields())?;
        let mut audit = old.audit().clone();
        audit.updated_at = self.clock.now();
        audit.updated_by = principal.id().to_owned();
        audit.version += 1;
        let new = E::build(old.id().to_owned(), fields, audit)?;
        guard_admin_only_fields::<E>(principal, Some(&old), &new)?;
        self.directory.replace(&old, &new).await?;
        if E::MOVES_SLA_DUE_TIMES {
            crate::case_clocks::request_sla_refile(self.directory.store(), self.clock.now()).await?;
        }
        Ok(new)
    }

    /// Deletes a record with its lookup items, for kinds nothing else refers to (a record others
    /// refer to would leave them pointing at nothing); `if_match` is the version the caller
    /// read, when it sent one.
    pub async fn delete<E: Entity>(&self, principal: &Principal, id: &str, if_match: Option<u64>) -> DomainResult<()> {
        Self::authorize_write::<E>(principal)?;
        let old: E = self.directory.require(id).await?;
        if let Some(expected) = if_match
            && expected != old.audit().version
        {
            return Err(DomainError::StaleVersion { expected });
        }
        self.directory.remove(&old).await?;
        if E::MOVES_SLA_DUE_TIMES {
            crate::case_clocks::request_sla_refile(self.directory.store(), self.clock.now()).await?;
        }
        Ok(())
    }
}

/// Refuses a change by a non-admin to a field that decides what customers see (SPEC §4).
fn guard_admin_only_fields<E: Entity>(principal: &Principal, old: Option<&E>, new: &E) -> DomainResult<()> {
    if principal.is_admin() {
        return Ok(());
    }
    let guarded = if old.is_some() { E::ADMIN_ONLY_FIELDS } else { E::ADMIN_ONLY_ON_CREATE };
    let value = |e: &E, field: &str| serde_json::to_value(e).ok().and_then(|v| v.get(field).cloned()).filter(|v| !is_empty_value(v)).unwrap_or(Value::Null);
    for field in guarded {
        let before = old.map(|o| value(o, field)).unwrap_or(Value::Null);
        if value(new, field) != before {
            return Err(DomainError::Forbidden(format!("only admins may change {field}: it decides what customers see")));
        }
    }
    Ok(())
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxFields {
    pub name: String,
    pub addresses: Vec<String>,
    pub team_id: Option<TeamId>,
    pub assignment_rule: Option<AssignmentRule>,
    #[serde(default)]
    pub closed_case_policy: ClosedCasePolicy,
    #[serde(default)]
    pub auto_ack: bool,
    pub ack_text: Option<String>,
    #[serde(default)]
    pub unknown_senders: UnknownSenders,
}

impl Entity for Mailbox {
    const KIND: &'static str = "mailbox";
    const WRITE_POLICY: WritePolicy = WritePolicy::AdminOnly;
    type Fields = MailboxFields;

    entity_accessors!();
    fn fields(&self) -> MailboxFields {
        MailboxFields {
            name: self.name.clone(),
            addresses: self.addresses.clone(),
            team_id: self.team_id.clone(),
            assignment_rule: self.assignment_rule,
            closed_case_policy: self.closed_case_policy,
            auto_ack: self.auto_ack,
            ack_text: self.ack_text.clone(),
            unknown_senders: self.unknown_senders,
        }
    }
    fn build(id: String, f: MailboxFields, audit: Audit) -> DomainResult<Self> {
        let addresses = validate::list("addresses", &f.addresses, 10, validate::email)?;
        if addresses.is_empty() {
            return Err(DomainError::invalid("addresses", "a mailbox needs at least one address"));
        }
        if addresses.iter().any(|a| a.split_once('@').is_some_and(|(local, _)| local.contains('+'))) {
            return Err(DomainError::invalid("addresses", "mailbox addresses cannot contain '+' (it carries reply tokens)"));
        }
        if let ClosedCasePolicy::NewAfterDays { days } = f.closed_case_policy
            && !(1..=3650).contains(&days)
        {
            return Err(DomainError::invalid("closed_case_policy", "days must be between 1 and 3650"));
        }
        Ok(Mailbox {
            id: MailboxId::from_trusted(id),
            name: validate::line("name", &f.name, MAX_NAME)?,
            addresses,
            team_id: checked("team_id", f.team_id)?,
            assignment_rule: f.assignment_rule,
            closed_case_policy: f.closed_case_policy,
            auto_ack: f.auto_ack,
            ack_text: f.ack_text.map(|t| validate::long_text("ack_text", &t, 10_000)).transpose()?,
            unknown_senders: f.unknown_senders,
            audit,
        })
    }
    fn references(&self) -> Vec<Reference> {
        references("team_id", Team::KIND, &self.team_id)
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        self.addresses.iter().map(|a| OwnedKey { key: directory_keys::mailbox_address(a), unique_field: Some("addresses") }).collect()
    }
}

impl Directory<'_> {
    /// The mailbox receiving at an address (plus-address tokens already removed).
    pub async fn mailbox_by_address(&self, address: &str) -> DomainResult<Option<Mailbox>> {
        let Ok(address) = validate::email("address", address) else { return Ok(None) };
        match self.owner_of(&directory_keys::mailbox_address(&address)).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_one_trimmed_line_of_1_to_100_characters() {
        assert_eq!(SearchText::parse("q", "  Ada L \t").map(|t| t.as_str().to_owned()).ok(), Some("Ada L".to_owned()));
        assert!(SearchText::parse("q", &"é".repeat(100)).is_ok());
        for bad in ["", "   ", "\t", "a\nb", "a\u{7}"] {
            assert!(matches!(SearchText::parse("q", bad), Err(DomainError::Validation { field, .. }) if field == "q"), "{bad:?}");
        }
        assert!(SearchText::parse("q", &"é".repeat(101)).is_err());
    }

    #[test]
    fn a_whole_address_names_its_lookup_item_and_anything_else_none() {
        assert_eq!(Contact::address_key("Ada@Example.COM"), Some(directory_keys::contact_email("ada@example.com")));
        assert_eq!(Contact::address_key("ada@example"), None);
        assert_eq!(Contact::address_key("ada"), None);
        assert_eq!(Account::address_key("Example.com"), Some(directory_keys::account_domain("example.com")));
        assert_eq!(Account::address_key("fred@example.com"), Some(directory_keys::account_domain("example.com")));
        assert_eq!(Account::address_key("example"), None);
    }

    #[test]
    fn a_search_prefix_is_a_prefix_of_the_sort_key_of_every_name_it_starts() {
        for (name, typed) in [("Ada Lovelace", "ADA l"), ("Émile Zola", "émi"), ("Straße AG", "STRASSE"), ("o'Brien", "O'B")] {
            let starts = name.to_lowercase().starts_with(&typed.to_lowercase());
            assert_eq!(directory_keys::kind_sort(name, "01X").starts_with(&directory_keys::kind_sort_prefix(typed)), starts, "{name} / {typed}");
        }
    }
}
