//! Cases: creation with sequential numbers, the status lifecycle, validated links, access-aware
//! reads and lists, and optimistic-concurrency updates (SPEC F1, F2, F10, F11).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Duration;

use docket_store::{Condition, Cursor, Item, ItemStore, Query, SortKeyRange, WriteOp};

use crate::access::Principal;
use crate::clock::Clock;
use crate::directory::{Directory, Entity, Reference, from_item, push_reference_check};
use crate::error::{DomainError, DomainResult};
use crate::events::Trigger;
use crate::fields::{self, MergePatch};
use crate::follows::{Follow, follow_ops};
use crate::ids::*;
use crate::mask::CaseNumberMask;
use crate::model::*;
use crate::outbox::Effects;
use crate::schema::{self, CASES, COUNTERS, case_keys};
use crate::stream::{Author, StreamEntry, SystemEvent, change_entries, entry_put};
use crate::txn::{Label, Txn};
use crate::validate::{self, MAX_LONG_TEXT, MAX_NAME, MAX_SUBJECT};

/// Bounded so that the largest case update (every link replaced at once) fits in one transaction.
pub const MAX_CONTACTS: usize = 15;
pub const MAX_TEAMS: usize = 10;
pub const MAX_COLLABORATORS: usize = 10;
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// Pages of an index a filtered list may read before it answers with what it found.
const MAX_PAGES_PER_LIST: usize = 10;
/// Items a count reads per query.
const COUNT_PAGE: usize = 500;

/// The editable fields of a case: the body of a create, and what a merge patch applies to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFields {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    pub status: Option<CaseStatus>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(rename = "type")]
    pub case_type: Option<String>,
    pub category: Option<String>,
    pub source: Option<Source>,
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub contact_ids: Vec<ContactId>,
    pub lead_id: Option<LeadId>,
    pub assignee_id: Option<UserId>,
    #[serde(default)]
    pub collaborator_ids: Vec<UserId>,
    #[serde(default)]
    pub team_ids: Vec<TeamId>,
    #[serde(default)]
    pub internal: bool,
    pub parent_id: Option<CaseId>,
    /// The group mailbox the case belongs to (its address is the Reply-To of its mail).
    pub mailbox_id: Option<MailboxId>,
}

/// What a portal user may send when opening a case; everything else is decided for them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalCaseFields {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: Priority,
    #[serde(rename = "type")]
    pub case_type: Option<String>,
    pub category: Option<String>,
}

/// Filters of the case list; the most selective one picks the index.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub assignee: Option<AssigneeFilter>,
    pub team_id: Option<TeamId>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    /// The children of this case.
    pub parent_id: Option<CaseId>,
    pub search: Option<CaseSearch>,
    /// Only cases in an SLA index (staff only); read through it, the other filters narrowing.
    pub sla: Option<SlaFilter>,
}

/// The SLA lists: read through their own sparse indexes, so their cost grows with the cases in
/// them (those owing something), never with all open cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// Cases with a running clock, soonest due first (overdue ones first of all); with
    /// `within_minutes`, only those due by then.
    Due { within_minutes: Option<u32> },
    /// Cases with a clock that breached and is still owed (running or paused), longest breached
    /// first. Filed by the watcher: up to one sweep late.
    Breached,
}

impl SlaFilter {
    /// The longest "due within" there is: a year.
    pub const MAX_WITHIN_MINUTES: u32 = 525_600;

    fn scope(&self) -> String {
        match self {
            SlaFilter::Due { within_minutes: None } => "due".into(),
            SlaFilter::Due { within_minutes: Some(m) } => format!("due:{m}"),
            SlaFilter::Breached => "breached".into(),
        }
    }
}

/// Whose cases a list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(UserId),
    /// Cases without an assignee.
    Unassigned,
}

impl CaseFilter {
    fn matches(&self, case: &Case) -> bool {
        self.status.is_none_or(|s| case.status == s)
            && self.assignee.as_ref().is_none_or(|a| match a {
                AssigneeFilter::User(user) => case.assignee_id.as_ref() == Some(user),
                AssigneeFilter::Unassigned => case.assignee_id.is_none(),
            })
            && self.team_id.as_ref().is_none_or(|t| case.team_ids.contains(t))
            && self.account_id.as_ref().is_none_or(|a| case.account_id.as_ref() == Some(a))
            && self.contact_id.as_ref().is_none_or(|c| case.contact_ids.contains(c))
            && self.parent_id.as_ref().is_none_or(|p| case.parent_id.as_ref() == Some(p))
    }

    /// What a cursor of this list is bound to: every filter, the search and the order, so a
    /// cursor of one list cannot page another.
    fn scope(&self, sort: CaseSort) -> Vec<String> {
        let assignee = match &self.assignee {
            Some(AssigneeFilter::User(user)) => format!("user:{user}"),
            Some(AssigneeFilter::Unassigned) => "unassigned".into(),
            None => String::new(),
        };
        vec![
            "cases".into(),
            sort.as_str().into(),
            self.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            assignee,
            self.team_id.as_deref().unwrap_or_default().to_owned(),
            self.account_id.as_deref().unwrap_or_default().to_owned(),
            self.contact_id.as_deref().unwrap_or_default().to_owned(),
            self.parent_id.as_deref().unwrap_or_default().to_owned(),
            self.search.as_ref().map(|q| q.text.clone()).unwrap_or_default(),
            self.sla.map(|sla| sla.scope()).unwrap_or_default(),
        ]
    }
}

/// The order of a case list, newest or highest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseSort {
    /// Newest created first (ties cannot happen: ids are unique and sort by creation).
    #[default]
    Created,
    /// Most recently changed first, then newest created.
    Updated,
    /// Urgent first, down to Low; within a priority newest created first.
    Priority,
}

impl CaseSort {
    pub const ALL: [CaseSort; 3] = [CaseSort::Created, CaseSort::Updated, CaseSort::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseSort::Created => "created",
            CaseSort::Updated => "updated",
            CaseSort::Priority => "priority",
        }
    }

    pub fn parse(value: &str) -> Option<CaseSort> {
        CaseSort::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The case's sort key in this order: the value the index of the order sorts it by.
    fn key(self, case: &Case) -> String {
        match self {
            CaseSort::Created => case.id.to_string(),
            CaseSort::Updated => case_keys::updated_sort(case.audit.updated_at, &case.id),
            CaseSort::Priority => case_keys::priority_sort(case.priority, &case.id),
        }
    }
}

/// A text search of the case list: the case number (`42`, or masked: `[#42]`, `SR-42`) or a
/// part of the subject, whatever its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSearch {
    /// As sent, trimmed.
    text: String,
    /// Lower-cased, for the subject.
    folded: String,
}

impl CaseSearch {
    pub const MAX_CHARS: usize = 200;

    /// The search of a query text; `None` when there is nothing to search for (blank).
    pub fn parse(text: &str) -> DomainResult<Option<CaseSearch>> {
        let text = text.trim();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid("q", format!("a search has at most {} characters", Self::MAX_CHARS)));
        }
        if text.chars().any(char::is_control) {
            return Err(DomainError::invalid("q", "a search is one line of text"));
        }
        Ok((!text.is_empty()).then(|| CaseSearch { text: text.to_owned(), folded: text.to_lowercase() }))
    }

    /// The case number the text names, plain or through the mask.
    fn number(&self, mask: &CaseNumberMask) -> Option<u64> {
        if self.text.bytes().all(|b| b.is_ascii_digit()) { self.text.parse().ok() } else { mask.read(&self.text) }
    }

    fn in_subject(&self, case: &Case) -> bool {
        case.subject.to_lowercase().contains(&self.folded)
    }
}

/// How many cases a caller may see under a filter, by status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseCounts {
    /// Cases that match every filter, the status included.
    pub total: u64,
    /// Cases that match every filter but the status, for each status (every status is named,
    /// 0 included).
    pub by_status: std::collections::BTreeMap<String, u64>,
    /// `false` when more cases than a count reads (5000) were in the way: the counts are then
    /// those of the newest 5000, lower bounds.
    pub complete: bool,
}

/// Most cases a count reads before it answers with what it has.
/// (Named as 5000 in `CaseCounts` and the route's summary: keep them together.)
pub const MAX_COUNTED: usize = 5000;
/// Most links of a team or contact partition read to sort a list of them by something other
/// than creation.
pub const MAX_SORTED_CANDIDATES: usize = 1000;

/// Where a list reads its cases: a case index partition, or the link items of a team or contact
/// (each naming a case, read in one batch per page).
#[derive(Debug, Clone)]
enum ListSource {
    Index(Query),
    Links(Query),
}

impl ListSource {
    fn query(&self) -> &Query {
        match self {
            ListSource::Index(q) | ListSource::Links(q) => q,
        }
    }
}

/// Where the next page of a list starts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ListPosition {
    /// At the store's cursor of the list's query (none: at its start).
    Store(Option<String>),
    /// After the case of this sort key, in a list sorted in memory (none: at its start).
    After(Option<String>),
}

/// A created case, and whether it was created earlier under the same idempotency key.
pub struct Created {
    pub case: Case,
    pub replayed: bool,
}

/// A new case built and checked, not yet numbered or written.
pub(crate) struct Opening {
    pub(crate) case: Case,
    /// Its `created` system entry.
    pub(crate) created: StreamEntry,
    /// Follows written with the case.
    core_follows: Vec<Follow>,
    /// Follows of users who follow every new case, written after it.
    pub(crate) auto_follows: Vec<Follow>,
}

impl Opening {
    /// The writes of the case under `number`: the case, its number, its created entry, links,
    /// reference checks and follows, each labelled.
    pub(crate) fn txn(&mut self, number: u64) -> DomainResult<Txn> {
        self.case.number = number;
        let mut txn = Txn::new();
        txn.plain(WriteOp::put_if(CASES, case_item(&self.case)?, Condition::NotExists));
        txn.push(WriteOp::put_if(CASES, number_item(&self.case), Condition::NotExists), Label::Number);
        txn.plain(entry_put(&self.created)?);
        add_link_ops(&self.case, None, &mut txn);
        for follow in &self.core_follows {
            txn.plain_all(follow_ops(follow));
        }
        Ok(txn)
    }
}

/// A new case as its creator sends it: staff send [`CaseFields`], portal users
/// [`PortalCaseFields`] (their contact, account and source are theirs).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NewCase {
    Staff(CaseFields),
    Portal(PortalCaseFields),
}

pub struct Cases<'a> {
    pub(crate) store: &'a dyn ItemStore,
    pub(crate) clock: &'a dyn Clock,
    /// Where new stream entries are announced for notification; none in storage-only setups.
    pub(crate) notify_queue: Option<&'a dyn docket_ports::Queue>,
    /// Where case events are announced for assignment and workflow rules.
    pub(crate) assign_queue: Option<&'a dyn docket_ports::Queue>,
    /// How the outbox items of committed changes reach those queues.
    pub(crate) delivery: &'a crate::outbox::OutboxDelivery,
    /// Where new cases take their numbers.
    pub(crate) numbers: &'a crate::numbers::CaseNumbers,
    /// How many workflow-rule runs in a row led to the changes made through this handle: 0 for
    /// people and channels; the events they cause carry it, so rules cannot loop.
    pub(crate) depth: u8,
}

impl<'a> Cases<'a> {
    fn directory(&self) -> Directory<'a> {
        Directory::new(self.store)
    }

    pub async fn mask(&self) -> DomainResult<CaseNumberMask> {
        CaseNumberMask::parse(&self.directory().settings().await?.case_number_mask)
    }

    /// Parses a new case's body as the caller sends it: staff send [`CaseFields`], portal users
    /// [`PortalCaseFields`] (the HTTP edge calls it, so the domain takes typed input).
    pub fn parse_new(principal: &Principal, body: Value) -> DomainResult<NewCase> {
        Ok(match principal {
            Principal::Staff(_) => NewCase::Staff(fields::parse(body)?),
            Principal::Portal(_) => NewCase::Portal(fields::parse(body)?),
        })
    }

    /// Opens a case for the caller.
    pub async fn create(&self, principal: &Principal, new: NewCase, idempotency_key: Option<&str>) -> DomainResult<Created> {
        let fields = match (principal, new) {
            (Principal::Staff(_), NewCase::Staff(fields)) => {
                if fields.status.is_some() {
                    return Err(DomainError::invalid("status", "a new case starts as New (or Assigned when it has an assignee)"));
                }
                if !matches!(fields.source, None | Some(Source::Api) | Some(Source::Phone)) {
                    return Err(DomainError::invalid("source", "cases created through the API come from api or phone"));
                }
                fields
            }
            (Principal::Portal(contact), NewCase::Portal(p)) => {
                if !contact.portal.as_ref().is_some_and(|p| p.can_create_cases) {
                    return Err(DomainError::Forbidden("this portal account may not open cases".into()));
                }
                CaseFields {
                    subject: p.subject,
                    description: p.description,
                    status: None,
                    priority: p.priority,
                    case_type: p.case_type,
                    category: p.category,
                    source: Some(Source::Portal),
                    account_id: contact.account_id.clone(),
                    contact_ids: vec![contact.id.clone()],
                    lead_id: None,
                    assignee_id: None,
                    collaborator_ids: Vec::new(),
                    team_ids: Vec::new(),
                    internal: false,
                    parent_id: None,
                    mailbox_id: None,
                }
            }
            (Principal::Staff(_), NewCase::Portal(_)) => return Err(DomainError::invalid("subject", "staff open cases with the full case fields")),
            (Principal::Portal(_), NewCase::Staff(_)) => return Err(DomainError::Forbidden("portal users open cases with the portal fields".into())),
        };
        self.open(&Author::of(principal), fields, idempotency_key).await
    }

    /// Opens a case on behalf of `author` (a user, a contact or a system channel).
    pub async fn open(&self, author: &Author, fields: CaseFields, idempotency_key: Option<&str>) -> DomainResult<Created> {
        self.open_case(author, fields, idempotency_key, None).await
    }

    /// Opens a case whose sender has yet to confirm their address (a web-form submission): it
    /// carries `sender` as its `pending_sender`, and the sender is asked to confirm.
    pub(crate) async fn open_unverified(&self, author: &Author, fields: CaseFields, sender: PendingSender) -> DomainResult<Created> {
        self.open_case(author, fields, None, Some(sender)).await
    }

    async fn open_case(
        &self,
        author: &Author,
        fields: CaseFields,
        idempotency_key: Option<&str>,
        pending_sender: Option<PendingSender>,
    ) -> DomainResult<Created> {
        let actor = &author.audit_name();
        let idempotency = match idempotency_key {
            Some(key) => {
                let key = validate::line("Idempotency-Key", key, 200)?;
                if let Some(case) = self.replay(actor, &key).await? {
                    return Ok(Created { case, replayed: true });
                }
                Some(key)
            }
            None => None,
        };
        let mut opening = self.prepare_open(author, fields, pending_sender).await?;
        let mut effects = Effects::default();
        self.opened_effects(&opening, &mut effects);
        for _ in 0..3 {
            let number = self.numbers.take(self.store).await?;
            let mut txn = opening.txn(number)?;
            if let Some(key) = &idempotency {
                let item = idempotency_item(actor, key, &opening.case, opening.case.audit.created_at);
                txn.push(WriteOp::put_if(CASES, item, Condition::NotExists), Label::Idempotency);
            }
            let outcome = self.transact_with(txn, &effects).await;
            if let Err(e) = &outcome
                && e.is_condition_failure()
                && self.by_id(&opening.case.id).await?.is_some_and(|stored| stored.number == opening.case.number)
            {
                // A retried attempt whose first try had committed: the case is ours (its id is
                // new to this call), so the creation succeeded.
                self.after_open(&opening, effects).await?;
                return Ok(Created { case: opening.case, replayed: false });
            }
            match outcome {
                Ok(()) => {
                    self.after_open(&opening, effects).await?;
                    return Ok(Created { case: opening.case, replayed: false });
                }
                // Another creation holds this number (only after a counter restore): take the next.
                Err(e) if e.is(&Label::Number) => continue,
                Err(e) if e.is(&Label::Idempotency) => {
                    let key = idempotency.as_deref().unwrap_or_default();
                    return match self.replay(actor, key).await? {
                        Some(case) => Ok(Created { case, replayed: true }),
                        None => Err(DomainError::Conflict { field: "Idempotency-Key".into(), reason: "a request with this key is in progress".into() }),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Transient("could not allocate a case number".into()))
    }

    /// A new case built and checked, its follows chosen, ready to be given a number and written.
    pub(crate) async fn prepare_open(&self, author: &Author, mut fields: CaseFields, pending_sender: Option<PendingSender>) -> DomainResult<Opening> {
        let actor = author.audit_name();
        if fields.account_id.is_none()
            && let Some(primary) = fields.contact_ids.first()
            && let Some(contact) = self.directory().get::<Contact>(primary).await?
        {
            fields.account_id = contact.account_id;
        }
        let now = self.clock.now();
        let audit = Audit::created(&actor, now);
        let status = if fields.assignee_id.is_some() { CaseStatus::Assigned } else { CaseStatus::New };
        let source = fields.source.unwrap_or_default();
        let mut case = build(CaseId::generate(), 0, status, source, fields, audit)?;
        case.pending_sender = pending_sender;
        self.check_users(&case, None).await?;
        // Chosen before the transaction from the agreements as read now; an agreement edited
        // meanwhile is a race the next change of the case's parties corrects.
        case.sla_timeline = Some(self.initial_timeline(&case).await?);
        let (core_follows, auto_follows) = self.initial_follows(&case, author).await?;
        let created = StreamEntry::system(&case.id, SystemEvent::Created, author.clone(), now);
        Ok(Opening { case, created, core_follows, auto_follows })
    }

    /// What a new case announces: its creation entry to followers, the confirmation request of
    /// an unconfirmed sender, and `case_created` to the workflow.
    pub(crate) fn opened_effects(&self, opening: &Opening, effects: &mut Effects) {
        self.notify_effect(effects, std::slice::from_ref(&opening.created));
        if let Some(sender) = &opening.case.pending_sender {
            crate::confirm::request(self, effects, &opening.case.id, &opening.created.id, &sender.email);
        }
        self.announce_effect(effects, Trigger::CaseCreated, &opening.case.id, None, Vec::new());
    }

    /// What follows a committed creation: automatic follows, then its announcements.
    pub(crate) async fn after_open(&self, opening: &Opening, effects: Effects) -> DomainResult<()> {
        tracing::info!(case = opening.case.number, case_id = %opening.case.id, "case created");
        self.add_follows(&opening.auto_follows).await?;
        self.deliver(effects).await;
        Ok(())
    }

    async fn replay(&self, actor: &str, key: &str) -> DomainResult<Option<Case>> {
        let record_key = case_keys::idempotency(actor, key);
        let Some(record) = self.store.get(CASES, &record_key).await? else { return Ok(None) };
        let expires = record.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
        if expires <= self.clock.now().unix_timestamp() {
            // TTL deletion is lazy on DynamoDB; an expired record must not replay.
            self.store
                .write(WriteOp::Delete { table: CASES.into(), key: record_key, condition: Some(Condition::equals("expires_at", expires)) })
                .await
                .or_else(|e| if e.is_condition_failure() { Ok(()) } else { Err(e) })?;
            return Ok(None);
        }
        match record.get("case_id").and_then(Value::as_str) {
            Some(id) => self.by_id(id).await,
            None => Ok(None),
        }
    }

    pub(crate) async fn by_id(&self, id: &str) -> DomainResult<Option<Case>> {
        if validate::id("id", id).is_err() {
            return Ok(None);
        }
        self.store.get(CASES, &case_keys::case(id)).await?.map(from_item).transpose()
    }

    /// Finds a case by id, by number (`42`) or by its masked number (`[#42]`).
    pub async fn find(&self, reference: &str) -> DomainResult<Option<Case>> {
        let number = if reference.bytes().all(|b| b.is_ascii_digit()) { reference.parse::<u64>().ok() } else { self.mask().await?.read(reference) };
        match number {
            Some(n) => {
                let Some(item) = self.store.get(CASES, &case_keys::number(n)).await? else { return Ok(None) };
                match item.get("case_id").and_then(Value::as_str) {
                    Some(id) => self.by_id(id).await,
                    None => Ok(None),
                }
            }
            None => self.by_id(reference).await,
        }
    }

    /// The case as the caller may see it; "not found" also when they may not see it.
    pub async fn get(&self, principal: &Principal, reference: &str) -> DomainResult<Case> {
        match self.find(reference).await? {
            Some(case) if principal.can_see(&case) => Ok(case),
            _ => Err(DomainError::not_found(format!("case {reference}"))),
        }
    }

    /// Where the caller's list under `filter` reads, in the order `sort`.
    fn list_source(&self, principal: &Principal, filter: &CaseFilter, sort: CaseSort) -> DomainResult<ListSource> {
        match principal {
            Principal::Staff(_) => Ok(list_source(filter, sort, self.clock.now())),
            Principal::Portal(_) if filter.sla.is_some() => Err(DomainError::invalid("sla", "SLA lists are for staff")),
            // Portal users read through their own partition, never through the global ones; the
            // filters they send can only narrow that further.
            Principal::Portal(contact) => {
                let own = match contact.portal.as_ref().map(|p| p.role) {
                    Some(PortalRole::AccountCases) if contact.account_id.is_some() => {
                        CaseFilter { account_id: contact.account_id.clone(), ..CaseFilter::default() }
                    }
                    Some(_) => CaseFilter { contact_id: Some(contact.id.clone()), ..CaseFilter::default() },
                    None => return Err(DomainError::Forbidden("portal access is not enabled".into())),
                };
                Ok(list_source(&own, sort, self.clock.now()))
            }
        }
    }

    /// The cases of one page of a list source, in its order (missing cases left out).
    async fn page_cases(&self, source: &ListSource, items: Vec<Item>) -> DomainResult<Vec<Case>> {
        match source {
            ListSource::Index(_) => items.into_iter().map(from_item::<Case>).collect(),
            ListSource::Links(_) => {
                // One batch read for the page's cases, not one read per link.
                let ids = items.iter().filter_map(|item| item.get("case_id").and_then(Value::as_str)).filter(|id| validate::id("id", id).is_ok());
                let keys: Vec<_> = ids.map(case_keys::case).collect();
                let cases = self.store.get_many(CASES, &keys).await?;
                cases.into_iter().flatten().map(from_item::<Case>).collect()
            }
        }
    }

    /// Lists the cases the caller may see that match `filter`, in the order `sort`. A search
    /// that names a case number puts that case first on the first page; the rest are the cases
    /// whose subject holds the text.
    pub async fn list(
        &self,
        principal: &Principal,
        filter: CaseFilter,
        sort: CaseSort,
        limit: usize,
        after: Option<Cursor>,
    ) -> DomainResult<(Vec<Case>, Option<Cursor>)> {
        let source = self.list_source(principal, &filter, sort)?;
        let scope = filter.scope(sort);
        let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
        let position = match &after {
            Some(cursor) => Some(docket_store::open_scoped::<ListPosition>(&scope, cursor)?),
            None => None,
        };
        let mut found = Vec::new();
        let mut exact_number = None;
        if let Some(search) = &filter.search {
            exact_number = search.number(&self.mask().await?);
            // Only the first page leads with it; later pages continue the subject matches.
            if position.is_none()
                && let Some(number) = exact_number
                && let Some(case) = self.find(&number.to_string()).await?
                && filter.matches(&case)
                && principal.can_see(&case)
            {
                found.push(case);
            }
        }
        let keep = |case: &Case| {
            filter.matches(case)
                && principal.can_see(case)
                && filter.search.as_ref().is_none_or(|search| search.in_subject(case) && Some(case.number) != exact_number)
        };
        let next = match (&source, sort) {
            (ListSource::Links(query), CaseSort::Updated | CaseSort::Priority) => {
                let start = match position {
                    None => None,
                    Some(ListPosition::After(key)) => key,
                    Some(ListPosition::Store(_)) => return Err(DomainError::invalid("cursor", "not a cursor returned by this list")),
                };
                self.sorted_in_memory(&source, query, sort, &keep, start, limit, &mut found).await?.map(ListPosition::After)
            }
            _ => {
                let mut at = match position {
                    None => None,
                    Some(ListPosition::Store(at)) => at.map(Cursor),
                    Some(ListPosition::After(_)) => return Err(DomainError::invalid("cursor", "not a cursor returned by this list")),
                };
                let mut read_all = false;
                for _ in 0..MAX_PAGES_PER_LIST {
                    if found.len() == limit {
                        break;
                    }
                    // Asking only for what is still missing means every item of a page is
                    // consumed, so the store's cursor is exactly where the next page must start.
                    let page = self.store.query(source.query().clone().limit(limit - found.len()).after(at.take())).await?;
                    found.extend(self.page_cases(&source, page.items).await?.into_iter().filter(|c| keep(c)));
                    at = page.next;
                    if at.is_none() {
                        read_all = true;
                        break;
                    }
                }
                (!read_all).then(|| ListPosition::Store(at.map(|c| c.0)))
            }
        };
        let next = next.map(|position| docket_store::seal_scoped(&scope, position)).transpose()?;
        Ok((found, next))
    }

    /// Fills `found` up to `limit` from a link partition sorted by something else than creation.
    /// Why in memory: a team's or contact's cases are link items sorted by case id, and they
    /// carry no copy of what changes on the case (its last change, its priority), which would
    /// have to be rewritten in every case update. Such a list reads the newest
    /// [`MAX_SORTED_CANDIDATES`] links of the partition (one batch read of cases per page), sorts
    /// what the caller may see, and pages by the sort key of the last case shown; older cases of a
    /// larger team or contact are not in it. Returns where the next page starts when more follow.
    #[allow(clippy::too_many_arguments)]
    async fn sorted_in_memory(
        &self,
        source: &ListSource,
        query: &Query,
        sort: CaseSort,
        keep: &impl Fn(&Case) -> bool,
        start: Option<String>,
        limit: usize,
        found: &mut Vec<Case>,
    ) -> DomainResult<Option<Option<String>>> {
        let mut candidates = Vec::new();
        let mut at = None;
        let mut read = 0;
        loop {
            let page = self.store.query(query.clone().limit(MAX_SORTED_CANDIDATES - read).after(at.take())).await?;
            read += page.items.len();
            candidates.extend(self.page_cases(source, page.items).await?.into_iter().filter(|c| keep(c)).map(|c| (sort.key(&c), c)));
            at = page.next;
            if at.is_none() || read >= MAX_SORTED_CANDIDATES {
                break;
            }
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        let mut rest = candidates.into_iter().filter(|(key, _)| start.as_ref().is_none_or(|s| key < s)).peekable();
        let mut last = None;
        while found.len() < limit {
            let Some((key, case)) = rest.next() else { break };
            found.push(case);
            last = Some(key);
        }
        if rest.peek().is_none() {
            return Ok(None);
        }
        // A first page filled by the exact number match alone continues at the start.
        Ok(Some(last.or(start)))
    }

    /// How many cases the caller may see under `filter`, in all and by status (the status
    /// filter left out of the breakdown). There is no count in the store to read: a count reads
    /// the cases of the filter's partition, newest first, and stops at [`MAX_COUNTED`] (then it
    /// says it is not complete).
    pub async fn counts(&self, principal: &Principal, filter: CaseFilter) -> DomainResult<CaseCounts> {
        let status = filter.status;
        let filter = CaseFilter { status: None, ..filter };
        let source = self.list_source(principal, &filter, CaseSort::Created)?;
        let number = match &filter.search {
            Some(search) => search.number(&self.mask().await?),
            None => None,
        };
        let mut by_status: std::collections::BTreeMap<String, u64> = CaseStatus::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
        let (mut read, mut at, mut complete) = (0, None, false);
        // Bounded in queries as well: DynamoDB cuts pages at 1 MB, before the limit.
        for _ in 0..2 * MAX_COUNTED / COUNT_PAGE {
            let page = self.store.query(source.query().clone().limit(COUNT_PAGE.min(MAX_COUNTED - read)).after(at.take())).await?;
            read += page.items.len();
            for case in self.page_cases(&source, page.items).await? {
                let searched = filter.search.as_ref().is_none_or(|search| Some(case.number) == number || search.in_subject(&case));
                if searched && filter.matches(&case) && principal.can_see(&case) {
                    *by_status.entry(case.status.as_str().to_owned()).or_default() += 1;
                }
            }
            at = page.next;
            if at.is_none() {
                complete = true;
                break;
            }
            if read >= MAX_COUNTED {
                break;
            }
        }
        let total = match status {
            Some(status) => by_status.get(status.as_str()).copied().unwrap_or_default(),
            None => by_status.values().sum(),
        };
        Ok(CaseCounts { total, by_status, complete })
    }

    /// Applies a merge patch to a case at the version the caller read (SPEC F2, F10).
    pub async fn update(&self, principal: &Principal, reference: &str, patch: MergePatch<CaseFields>, if_match: Option<u64>) -> DomainResult<Case> {
        principal.require_staff()?;
        let expected = if_match.ok_or(DomainError::VersionRequired)?;
        let old = self.get(principal, reference).await?;
        if old.audit.version != expected {
            return Err(DomainError::StaleVersion { expected });
        }
        let author = Author::of(principal);
        let new = self.patched(&old, patch, &author).await?;
        self.commit(&old, &new, &author).await?;
        Ok(new)
    }

    /// Closes a case the caller may see: the customer's "this is solved" in the portal, or
    /// staff's. A case already in a final state stays as it is (closing twice is one effect).
    /// Every other field stays; the status change is recorded like any other.
    pub async fn close(&self, principal: &Principal, reference: &str) -> DomainResult<Case> {
        // Visibility, portal access included, is the read's (`Principal::can_see`).
        let case = self.get(principal, reference).await?;
        // A final state changed under us (Rejected, Duplicate, …) stays what it is.
        self.change_by(&case, &Author::of(principal), |current, fields| {
            fields.status = Some(CaseStatus::Closed);
            Ok(current.status.phase() != Phase::Final)
        })
        .await
    }

    /// The next version of a case after a merge patch of its editable fields, validated.
    pub(crate) async fn patched(&self, old: &Case, patch: MergePatch<CaseFields>, author: &Author) -> DomainResult<Case> {
        let fields = patch.apply(&case_fields(old))?;
        self.with_fields(old, fields, author).await
    }

    /// The next version of a case with these editable fields, validated like a person's edit.
    pub(crate) async fn with_fields(&self, old: &Case, fields: CaseFields, author: &Author) -> DomainResult<Case> {
        if fields.source != Some(old.source) {
            return Err(DomainError::invalid("source", "the source of a case cannot change"));
        }
        let requested = fields.status.unwrap_or(old.status);
        let mut new = build(old.id.clone(), old.number, requested, old.source, fields, next_audit(old, author, self.clock.now()))?;
        new.status = next_status(old, &new, requested)?;
        // Only the sender's confirmation clears it, never an edit.
        new.pending_sender = old.pending_sender.clone();
        // Every status and priority change, by people, channels or workflows, passes here and is
        // written by the one transaction that writes the case, so the clocks' facts change with it.
        new.sla_timeline = self.next_timeline(old, &new).await?;
        if let Some(parent) = &new.parent_id
            && *parent == new.id
        {
            return Err(DomainError::invalid("parent_id", "a case cannot be its own parent"));
        }
        self.check_users(&new, Some(old)).await?;
        Ok(new)
    }

    /// Writes `new` over `old` in one transaction (conditional on `old`'s version) with its link
    /// items, its assignee's open-case count and the system entries describing the change; then
    /// the follow-ups: follows, notifications and the `case_updated` event.
    pub(crate) async fn commit(&self, old: &Case, new: &Case, author: &Author) -> DomainResult<()> {
        let (txn, entries) = change_ops(old, new, author)?;
        let mut effects = Effects::default();
        self.notify_effect(&mut effects, &entries);
        self.announce_effect(&mut effects, Trigger::CaseUpdated, &new.id, None, changed_fields(old, new));
        if let Err(e) = self.transact_with(txn, &effects).await {
            // A retried attempt whose first try had committed finds exactly our version stored.
            let ours = e.is_condition_failure() && self.by_id(&new.id).await?.is_some_and(|stored| stored == *new);
            if !ours {
                return Err(e.into());
            }
        }
        tracing::info!(case = new.number, case_id = %new.id, version = new.audit.version, "case updated");
        self.follow_changes(old, new).await?;
        self.deliver(effects).await;
        Ok(())
    }

    /// Changes a case on behalf of a channel or a workflow rather than a person editing it: no
    /// If-Match, but still conditional on the version, re-read and redone on a race. `edit`
    /// changes the editable fields of the version it is shown and says whether there is
    /// anything to do; the result is validated like a person's edit.
    pub(crate) async fn change_by(&self, start: &Case, author: &Author, edit: impl Fn(&Case, &mut CaseFields) -> DomainResult<bool>) -> DomainResult<Case> {
        let mut current = start.clone();
        for _ in 0..5 {
            let mut fields = case_fields(&current);
            if !edit(&current, &mut fields)? {
                return Ok(current);
            }
            let new = self.with_fields(&current, fields, author).await?;
            if changed_fields(&current, &new).is_empty() {
                return Ok(current);
            }
            match self.commit(&current, &new, author).await {
                Ok(()) => return Ok(new),
                Err(DomainError::StaleVersion { .. }) => {
                    current = self.by_id(&start.id).await?.ok_or_else(|| DomainError::not_found(format!("case {}", start.id)))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Transient(format!("case {} keeps changing", start.number)))
    }

    /// Changes a case's status on behalf of a channel (mail, workflows), not a person editing it.
    pub async fn set_status_by(&self, case: &Case, status: CaseStatus, author: &Author) -> DomainResult<Case> {
        self.change_by(case, author, |current, fields| {
            fields.status = Some(status);
            Ok(current.status != status)
        })
        .await
    }

    /// A reply to a waiting or final case reopens it (F22).
    pub async fn reopen(&self, case: &Case, author: &Author) -> DomainResult<Case> {
        self.set_status_by(case, CaseStatus::Reopened, author).await
    }

    pub async fn set_status_as_system(&self, case: &Case, status: CaseStatus) -> DomainResult<Case> {
        self.set_status_by(case, status, &Author::system()).await
    }

    /// Only active users can be given a case or share it; checked before the transaction,
    /// which checks again that they still exist.
    async fn check_users(&self, case: &Case, old: Option<&Case>) -> DomainResult<()> {
        let mut users: Vec<(&str, &UserId)> = Vec::new();
        if let Some(assignee) = &case.assignee_id
            && old.is_none_or(|o| o.assignee_id.as_ref() != Some(assignee))
        {
            users.push(("assignee_id", assignee));
        }
        for collaborator in case.collaborator_ids.iter().filter(|c| old.is_none_or(|o| !o.collaborator_ids.contains(c))) {
            users.push(("collaborator_ids", collaborator));
        }
        for (field, id) in users {
            match self.directory().get::<User>(id).await? {
                Some(user) if user.active => {}
                Some(_) => return Err(DomainError::invalid(field, format!("user {id} is not active"))),
                None => return Err(DomainError::invalid(field, format!("user {id} does not exist"))),
            }
        }
        Ok(())
    }
}

/// The status a change leads to, after the lifecycle's own rules (SPEC F2).
pub(crate) fn next_status(old: &Case, new: &Case, requested: CaseStatus) -> DomainResult<CaseStatus> {
    let invalid = |reason: String| Err(DomainError::invalid("status", reason));
    let assigned_now = new.assignee_id.is_some() && old.assignee_id.is_none();
    let unassigned_now = new.assignee_id.is_none() && old.assignee_id.is_some();
    let status = if requested == old.status {
        match old.status {
            CaseStatus::New if assigned_now => CaseStatus::Assigned,
            CaseStatus::Assigned if unassigned_now => CaseStatus::New,
            s => s,
        }
    } else {
        if old.status.phase() == Phase::Final && !matches!(requested.phase(), Phase::Final) && requested != CaseStatus::Reopened {
            return invalid(format!("a {} case can only be reopened", old.status.as_str()));
        }
        if requested == CaseStatus::Reopened && old.status.phase() == Phase::Open {
            return invalid("only waiting or final cases can be reopened".into());
        }
        requested
    };
    match status {
        CaseStatus::New if new.assignee_id.is_some() => invalid("a New case has no assignee; use Assigned".into()),
        CaseStatus::Assigned if new.assignee_id.is_none() => invalid("an Assigned case needs an assignee_id".into()),
        s => Ok(s),
    }
}

pub(crate) fn case_fields(case: &Case) -> CaseFields {
    CaseFields {
        subject: case.subject.clone(),
        description: case.description.clone(),
        status: Some(case.status),
        priority: case.priority,
        case_type: case.case_type.clone(),
        category: case.category.clone(),
        source: Some(case.source),
        account_id: case.account_id.clone(),
        contact_ids: case.contact_ids.clone(),
        lead_id: case.lead_id.clone(),
        assignee_id: case.assignee_id.clone(),
        collaborator_ids: case.collaborator_ids.clone(),
        team_ids: case.team_ids.clone(),
        internal: case.internal,
        parent_id: case.parent_id.clone(),
        mailbox_id: case.mailbox_id.clone(),
    }
}

/// Validates fields into a case.
pub(crate) fn build(id: CaseId, number: u64, status: CaseStatus, source: Source, f: CaseFields, audit: Audit) -> DomainResult<Case> {
    Ok(Case {
        id,
        number,
        subject: validate::line("subject", &f.subject, MAX_SUBJECT)?,
        description: validate::long_text("description", &f.description, MAX_LONG_TEXT)?,
        status,
        priority: f.priority,
        case_type: validate::optional_line("type", f.case_type.as_deref(), 50)?,
        category: validate::optional_line("category", f.category.as_deref(), MAX_NAME)?,
        source,
        account_id: checked("account_id", f.account_id)?,
        contact_ids: validate::list("contact_ids", &f.contact_ids, MAX_CONTACTS, ContactId::parse)?,
        lead_id: checked("lead_id", f.lead_id)?,
        assignee_id: checked("assignee_id", f.assignee_id)?,
        collaborator_ids: validate::list("collaborator_ids", &f.collaborator_ids, MAX_COLLABORATORS, UserId::parse)?,
        team_ids: validate::list("team_ids", &f.team_ids, MAX_TEAMS, TeamId::parse)?,
        mailbox_id: checked("mailbox_id", f.mailbox_id)?,
        internal: f.internal,
        parent_id: checked("parent_id", f.parent_id)?,
        pending_sender: None,
        sla_timeline: None,
        audit,
    })
}

/// The stored case: its JSON, its key, and the attributes of each list index it belongs to.
fn case_item(case: &Case) -> DomainResult<Item> {
    let mut item = schema::keyed_item(case_keys::case(&case.id), case)?;
    let mut set = |name: &str, value: String| {
        item.insert(name.to_owned(), Value::from(value));
    };
    set(schema::CASES_BY_STATUS.partition_attribute, case_keys::status_partition(case.status.as_str()));
    set(schema::CASES_BY_STATUS.by_created.1, case.id.to_string());
    set(schema::CASES_ALL.partition_attribute, "CASES".into());
    set(schema::CASES_ALL.by_created.1, case.id.to_string());
    // Unassigned cases have a partition of their own, so that "unassigned" is a partition read
    // rather than a filter over every case.
    let assignee = case.assignee_id.as_deref().map_or_else(|| case_keys::UNASSIGNED_PARTITION.to_owned(), case_keys::assignee_partition);
    set(schema::CASES_BY_ASSIGNEE.partition_attribute, assignee);
    set(schema::CASES_BY_ASSIGNEE.by_created.1, case.id.to_string());
    if let Some(account) = &case.account_id {
        set(schema::CASES_BY_ACCOUNT.partition_attribute, case_keys::account_partition(account));
        set(schema::CASES_BY_ACCOUNT.by_created.1, case.id.to_string());
    }
    // The indexes by last change and by priority share these with every partitioning above.
    set(schema::UPDATED_SORT, case_keys::updated_sort(case.audit.updated_at, &case.id));
    set(schema::PRIORITY_SORT, case_keys::priority_sort(case.priority, &case.id));
    Ok(item)
}

fn pointer(key: docket_store::Key, case_id: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key.pk.into());
    item.insert("sk".into(), key.sk.into());
    item.insert("case_id".into(), case_id.into());
    item
}

fn number_item(case: &Case) -> Item {
    pointer(case_keys::number(case.number), &case.id)
}

fn idempotency_item(actor: &str, key: &str, case: &Case, now: time::OffsetDateTime) -> Item {
    let mut item = pointer(case_keys::idempotency(actor, key), &case.id);
    item.insert("expires_at".into(), (now + IDEMPOTENCY_WINDOW).unix_timestamp().into());
    item
}

/// Link items the case gains, existence checks of the records it newly refers to, and the moves
/// of its assignee's open-case count.
fn add_link_ops(case: &Case, old: Option<&Case>, txn: &mut Txn) {
    let had_team = |t: &TeamId| old.is_some_and(|o| o.team_ids.contains(t));
    let had_contact = |c: &ContactId| old.is_some_and(|o| o.contact_ids.contains(c));
    for team in case.team_ids.iter().filter(|t| !had_team(t)) {
        let key = docket_store::Key::new(case_keys::team_partition(team), case_keys::link_sort(&case.id));
        txn.plain(WriteOp::put(CASES, pointer(key, &case.id)));
    }
    for contact in case.contact_ids.iter().filter(|c| !had_contact(c)) {
        let key = docket_store::Key::new(case_keys::contact_partition(contact), case_keys::link_sort(&case.id));
        txn.plain(WriteOp::put(CASES, pointer(key, &case.id)));
    }
    fn changed<T: PartialEq>(new: &Option<T>, old: Option<&Option<T>>) -> bool {
        new.is_some() && Some(new) != old
    }
    fn id_of<T: ToString>(id: &Option<T>) -> String {
        id.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    let mut references: Vec<Reference> = Vec::new();
    if changed(&case.account_id, old.map(|o| &o.account_id)) {
        references.push(Reference { field: "account_id", kind: Account::KIND, id: id_of(&case.account_id) });
    }
    if changed(&case.mailbox_id, old.map(|o| &o.mailbox_id)) {
        references.push(Reference { field: "mailbox_id", kind: Mailbox::KIND, id: id_of(&case.mailbox_id) });
    }
    if changed(&case.lead_id, old.map(|o| &o.lead_id)) {
        references.push(Reference { field: "lead_id", kind: Lead::KIND, id: id_of(&case.lead_id) });
    }
    for contact in case.contact_ids.iter().filter(|c| !had_contact(c)) {
        references.push(Reference { field: "contact_ids", kind: Contact::KIND, id: contact.to_string() });
    }
    for team in case.team_ids.iter().filter(|t| !had_team(t)) {
        references.push(Reference { field: "team_ids", kind: Team::KIND, id: team.to_string() });
    }
    // The assignee is checked before the transaction (it must also be active); here only that
    // it still exists when the case is written.
    if changed(&case.assignee_id, old.map(|o| &o.assignee_id)) {
        references.push(Reference { field: "assignee_id", kind: User::KIND, id: id_of(&case.assignee_id) });
    }
    for reference in references {
        push_reference_check(txn, reference);
    }
    if let Some(parent) = &case.parent_id
        && old.is_none_or(|o| o.parent_id.as_ref() != Some(parent))
    {
        txn.push(
            WriteOp::check(CASES, case_keys::case(parent), Condition::Exists),
            Label::Reference { field: "parent_id", kind: "case", id: parent.to_string() },
        );
        txn.plain(WriteOp::put(CASES, pointer(case_keys::child(parent, &case.id), &case.id)));
    }
    txn.plain_all(load_ops(old, case));
}

/// Moves a case in its assignee's open-case count when its assignee or openness changes.
fn load_ops(old: Option<&Case>, new: &Case) -> Vec<WriteOp> {
    let holder = |c: &Case| c.assignee_id.clone().filter(|_| c.status.counts_as_open());
    let (before, after) = (old.and_then(holder), holder(new));
    if before == after {
        return Vec::new();
    }
    let count = |user: UserId, by: i64| WriteOp::Update {
        table: COUNTERS.into(),
        key: schema::open_cases_counter(&user),
        update: docket_store::Update { add: vec![("value".into(), by)], ..Default::default() },
        condition: None,
    };
    before.map(|u| count(u, -1)).into_iter().chain(after.map(|u| count(u, 1))).collect()
}

/// The audit of the next version of a case changed by `author` at `now`.
pub(crate) fn next_audit(old: &Case, author: &Author, now: time::OffsetDateTime) -> Audit {
    Audit { updated_at: now, updated_by: author.audit_name(), version: old.audit.version + 1, ..old.audit.clone() }
}

/// The operations writing `new` over `old`, what each stands for, and the system entries.
pub(crate) fn change_ops(old: &Case, new: &Case, author: &Author) -> DomainResult<(Txn, Vec<StreamEntry>)> {
    let expected = old.audit.version;
    let mut txn = Txn::new();
    txn.push(WriteOp::put_if(CASES, case_item(new)?, Condition::equals("version", expected)), Label::Version { expected });
    let link = |partition: String| docket_store::Key::new(partition, case_keys::link_sort(&new.id));
    for team in old.team_ids.iter().filter(|t| !new.team_ids.contains(t)) {
        txn.plain(WriteOp::delete(CASES, link(case_keys::team_partition(team))));
    }
    for contact in old.contact_ids.iter().filter(|c| !new.contact_ids.contains(c)) {
        txn.plain(WriteOp::delete(CASES, link(case_keys::contact_partition(contact))));
    }
    if let Some(parent) = &old.parent_id
        && new.parent_id.as_ref() != Some(parent)
    {
        txn.plain(WriteOp::delete(CASES, case_keys::child(parent, &new.id)));
    }
    add_link_ops(new, Some(old), &mut txn);
    let entries = change_entries(old, new, author, new.audit.updated_at);
    for entry in &entries {
        txn.plain(entry_put(entry)?);
    }
    Ok((txn, entries))
}

/// Names of the fields that differ between two versions of a case (as the API spells them).
pub(crate) fn changed_fields(old: &Case, new: &Case) -> Vec<String> {
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) = (serde_json::to_value(old), serde_json::to_value(new)) else {
        return Vec::new();
    };
    // The SLA timeline only follows the fields that did change; it is no change of its own.
    const BOOKKEEPING: [&str; 4] = ["version", "updated_at", "updated_by", "sla_timeline"];
    after.iter().filter(|(name, value)| !BOOKKEEPING.contains(&name.as_str()) && before.get(*name) != Some(*value)).map(|(name, _)| name.clone()).collect()
}

/// The partition that serves a filter, in the order `sort`: the most selective filter picks it.
fn list_source(filter: &CaseFilter, sort: CaseSort, now: time::OffsetDateTime) -> ListSource {
    let index = |index: schema::CaseListIndex, partition: String| ListSource::Index(Query::index(CASES, index.name(sort), partition).descending());
    let links = |partition: String| ListSource::Links(Query::table(CASES, partition).descending());
    // The SLA indexes hold watch items that point at their case, soonest first.
    if let Some(sla) = filter.sla {
        let (index, partition, range) = match sla {
            SlaFilter::Due { within_minutes } => (
                schema::CASES_BY_SLA_DUE,
                case_keys::SLA_DUE_PARTITION,
                within_minutes.map_or(SortKeyRange::All, |m| SortKeyRange::AtMost(case_keys::sla_sort_through(now + Duration::minutes(m.into())))),
            ),
            SlaFilter::Breached => (schema::CASES_BY_SLA_BREACHED, case_keys::SLA_BREACHED_PARTITION, SortKeyRange::All),
        };
        return ListSource::Links(Query::index(CASES, index, partition).range(range));
    }
    // A case's children are few and pointed at from its own partition: read there first.
    if let Some(parent) = &filter.parent_id {
        return ListSource::Links(Query::table(CASES, case_keys::case(parent).pk).range(SortKeyRange::BeginsWith(case_keys::CHILD_PREFIX.into())).descending());
    }
    match (&filter.assignee, &filter.contact_id, &filter.account_id, &filter.team_id, filter.status) {
        (Some(AssigneeFilter::User(assignee)), ..) => index(schema::CASES_BY_ASSIGNEE, case_keys::assignee_partition(assignee)),
        (Some(AssigneeFilter::Unassigned), ..) => index(schema::CASES_BY_ASSIGNEE, case_keys::UNASSIGNED_PARTITION.into()),
        (None, Some(contact), ..) => links(case_keys::contact_partition(contact)),
        (None, None, Some(account), ..) => index(schema::CASES_BY_ACCOUNT, case_keys::account_partition(account)),
        (None, None, None, Some(team), _) => links(case_keys::team_partition(team)),
        (None, None, None, None, Some(status)) => index(schema::CASES_BY_STATUS, case_keys::status_partition(status.as_str())),
        (None, None, None, None, None) => index(schema::CASES_ALL, "CASES".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(status: CaseStatus, assignee: Option<&str>) -> Case {
        let audit = Audit::created("u1", time::OffsetDateTime::UNIX_EPOCH);
        let fields = CaseFields { subject: "Printer".into(), assignee_id: assignee.map(|a| UserId::from_trusted(a.to_owned())), ..CaseFields::default() };
        let mut case = build(CaseId::from_trusted("c1".into()), 1, status, Source::Api, fields, audit).expect("a valid case");
        case.status = status;
        case
    }

    #[test]
    fn assigning_and_unassigning_moves_between_new_and_assigned() {
        let new = case(CaseStatus::New, None);
        assert_eq!(next_status(&new, &case(CaseStatus::New, Some("u2")), CaseStatus::New).unwrap(), CaseStatus::Assigned);
        let assigned = case(CaseStatus::Assigned, Some("u2"));
        assert_eq!(next_status(&assigned, &case(CaseStatus::Assigned, None), CaseStatus::Assigned).unwrap(), CaseStatus::New);
        // Other statuses keep their own meaning when the assignee changes.
        let pending = case(CaseStatus::Pending, Some("u2"));
        assert_eq!(next_status(&pending, &case(CaseStatus::Pending, None), CaseStatus::Pending).unwrap(), CaseStatus::Pending);
    }

    #[test]
    fn final_cases_only_reopen_and_open_cases_cannot_be_reopened() {
        for status in [CaseStatus::Closed, CaseStatus::Rejected, CaseStatus::Duplicate, CaseStatus::Cancelled] {
            let old = case(status, Some("u2"));
            let new = case(status, Some("u2"));
            assert!(next_status(&old, &new, CaseStatus::InProgress).is_err(), "{status:?} to InProgress");
            assert_eq!(next_status(&old, &new, CaseStatus::Reopened).unwrap(), CaseStatus::Reopened);
            assert_eq!(next_status(&old, &new, CaseStatus::Closed).unwrap(), CaseStatus::Closed, "final to final is a correction");
        }
        let open = case(CaseStatus::InProgress, Some("u2"));
        assert!(next_status(&open, &open, CaseStatus::Reopened).is_err());
        let resolved = case(CaseStatus::Resolved, Some("u2"));
        assert_eq!(next_status(&resolved, &resolved, CaseStatus::Reopened).unwrap(), CaseStatus::Reopened);
        assert_eq!(next_status(&resolved, &resolved, CaseStatus::InProgress).unwrap(), CaseStatus::InProgress, "waiting cases resume");
    }

    #[test]
    fn a_search_is_trimmed_bounded_and_reads_numbers_through_the_mask() {
        assert_eq!(CaseSearch::parse("   ").unwrap(), None, "blank is no search");
        let search = CaseSearch::parse("  Printer ON  ").unwrap().unwrap();
        let mut printer = case(CaseStatus::New, None);
        printer.subject = "The printer on fire".into();
        assert!(search.in_subject(&printer), "whatever the case");
        assert!(!CaseSearch::parse("printer  on").unwrap().unwrap().in_subject(&printer), "inner spaces are kept");
        assert!(CaseSearch::parse(&"é".repeat(CaseSearch::MAX_CHARS)).unwrap().is_some(), "characters, not bytes");
        for bad in ["x".repeat(CaseSearch::MAX_CHARS + 1), "a\nb".into(), "tab\there".into()] {
            assert!(matches!(CaseSearch::parse(&bad), Err(DomainError::Validation { ref field, .. }) if field == "q"), "{bad:?}");
        }
        let number = |text: &str, mask: &str| CaseSearch::parse(text).unwrap().unwrap().number(&CaseNumberMask::parse(mask).unwrap());
        assert_eq!(number("42", "[#{n}]"), Some(42));
        assert_eq!(number("[#42]", "[#{n}]"), Some(42));
        assert_eq!(number("SR-42", "SR-{n}"), Some(42));
        assert_eq!(number("SR-42", "[#{n}]"), None);
        assert_eq!(number("#42", "[#{n}]"), None);
        assert_eq!(number("99999999999999999999999", "[#{n}]"), None, "too large for a number");
    }

    #[test]
    fn sort_keys_order_as_their_lists_promise() {
        let at = |ms: i64, id: &str, priority: Priority| {
            let mut c = case(CaseStatus::New, None);
            c.id = CaseId::from_trusted(id.into());
            c.priority = priority;
            c.audit.updated_at = time::OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms);
            c
        };
        let (old, recent, newer_id_same_time) = (at(9_000, "01A", Priority::Urgent), at(10_000, "01B", Priority::Low), at(10_000, "01C", Priority::Normal));
        let updated = |c: &Case| CaseSort::Updated.key(c);
        assert!(updated(&old) < updated(&recent) && updated(&recent) < updated(&newer_id_same_time), "time, then id");
        let far = at(100_000_000_000_000, "01A", Priority::Low);
        assert!(updated(&far) > updated(&recent), "zero-padded: string order is time order");
        let priority = |c: &Case| CaseSort::Priority.key(c);
        assert!(priority(&recent) < priority(&newer_id_same_time) && priority(&newer_id_same_time) < priority(&old));
        assert_eq!(CaseSort::parse("updated"), Some(CaseSort::Updated));
        assert_eq!(CaseSort::parse("Updated"), None);
    }

    #[test]
    fn new_and_assigned_agree_with_the_assignee() {
        let open = case(CaseStatus::InProgress, Some("u2"));
        assert!(next_status(&open, &open, CaseStatus::New).is_err(), "a New case has no assignee");
        let unassigned = case(CaseStatus::InProgress, None);
        assert!(next_status(&unassigned, &unassigned, CaseStatus::Assigned).is_err(), "Assigned needs an assignee");
        assert_eq!(next_status(&open, &unassigned, CaseStatus::New).unwrap(), CaseStatus::New);
    }
}
