//! The key design: logical tables, their indexes and the key of every item kind.
//!
//! `infra/tables.md` documents each access pattern these keys serve; `template.yaml` declares the
//! same tables and indexes for DynamoDB. Both storage engines are built from [`tables`].

use docket_store::{IndexSpec, Item, Key, TableSpec};
use serde::Serialize;
use serde_json::Value;

use crate::cases::CaseSort;
use crate::error::{DomainError, DomainResult};

pub const CASES: &str = "cases";
pub const DIRECTORY: &str = "directory";
pub const COUNTERS: &str = "counters";

/// One partitioning of the case lists, as three indexes over the same partition attribute: by
/// creation (the case id), by last change ([`UPDATED_SORT`]) and by priority ([`PRIORITY_SORT`]).
/// A list picks the partitioning from its filters and the index from its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseListIndex {
    pub partition_attribute: &'static str,
    /// The index sorted by case id (creation order) and its sort attribute.
    pub by_created: (&'static str, &'static str),
    pub by_updated: &'static str,
    pub by_priority: &'static str,
}

impl CaseListIndex {
    /// The index of this partitioning in the given order.
    pub fn name(&self, sort: CaseSort) -> &'static str {
        match sort {
            CaseSort::Created => self.by_created.0,
            CaseSort::Updated => self.by_updated,
            CaseSort::Priority => self.by_priority,
        }
    }

    fn specs(&self) -> [IndexSpec; 3] {
        let spec = |name, sort_attribute| IndexSpec { name, partition_attribute: self.partition_attribute, sort_attribute };
        [spec(self.by_created.0, self.by_created.1), spec(self.by_updated, UPDATED_SORT), spec(self.by_priority, PRIORITY_SORT)]
    }
}

/// Cases by status (`STATUS#<status>`).
pub const CASES_BY_STATUS: CaseListIndex = CaseListIndex {
    partition_attribute: "status_pk",
    by_created: ("by_status", "status_sk"),
    by_updated: "by_status_updated",
    by_priority: "by_status_priority",
};
/// Cases by assignee (`ASSIGNEE#<user id>`), and unassigned cases ([`case_keys::UNASSIGNED_PARTITION`]).
pub const CASES_BY_ASSIGNEE: CaseListIndex = CaseListIndex {
    partition_attribute: "assignee_pk",
    by_created: ("by_assignee", "assignee_sk"),
    by_updated: "by_assignee_updated",
    by_priority: "by_assignee_priority",
};
/// Cases by account (`ACCOUNT#<account id>`).
pub const CASES_BY_ACCOUNT: CaseListIndex = CaseListIndex {
    partition_attribute: "account_pk",
    by_created: ("by_account", "account_sk"),
    by_updated: "by_account_updated",
    by_priority: "by_account_priority",
};
/// Every case (`CASES`).
pub const CASES_ALL: CaseListIndex =
    CaseListIndex { partition_attribute: "all_pk", by_created: ("all_cases", "all_sk"), by_updated: "all_cases_updated", by_priority: "all_cases_priority" };
/// Sort attribute of the case indexes by last change: [`case_keys::updated_sort`].
pub const UPDATED_SORT: &str = "updated_sk";
/// Sort attribute of the case indexes by priority: [`case_keys::priority_sort`].
pub const PRIORITY_SORT: &str = "priority_sk";
/// Cases with a running SLA clock (watch items, [`case_keys::SLA_DUE_PARTITION`]), soonest due first.
pub const CASES_BY_SLA_DUE: &str = "by_sla_due";
/// Cases with a breached SLA clock still owed ([`case_keys::SLA_BREACHED_PARTITION`]), longest breached first.
pub const CASES_BY_SLA_BREACHED: &str = "by_sla_breached";
/// Cases whose SLA watcher must look again ([`case_keys::SLA_ALARM_PARTITION`]), by when.
pub const CASES_BY_SLA_ALARM: &str = "by_sla_alarm";
/// The attributes of the three SLA indexes on a case's watch item (partition, sort).
pub const SLA_DUE_ATTRIBUTES: (&str, &str) = ("sla_due_pk", "sla_due_sk");
pub const SLA_BREACHED_ATTRIBUTES: (&str, &str) = ("sla_breached_pk", "sla_breached_sk");
pub const SLA_ALARM_ATTRIBUTES: (&str, &str) = ("sla_alarm_pk", "sla_alarm_sk");
/// Directory entities of one kind sorted by name (`<kind>`, `<lower-case name>#<id>`).
pub const DIRECTORY_BY_KIND: &str = "by_kind";
/// Knowledge-base articles the portal may read, by title (`PORTAL_ARTICLES`, `<lower-case title>#<id>`).
pub const DIRECTORY_PORTAL_ARTICLES: &str = "portal_articles";

pub fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec {
            name: CASES,
            indexes: [CASES_BY_STATUS, CASES_BY_ASSIGNEE, CASES_BY_ACCOUNT, CASES_ALL]
                .iter()
                .flat_map(CaseListIndex::specs)
                .chain(
                    [(CASES_BY_SLA_DUE, SLA_DUE_ATTRIBUTES), (CASES_BY_SLA_BREACHED, SLA_BREACHED_ATTRIBUTES), (CASES_BY_SLA_ALARM, SLA_ALARM_ATTRIBUTES)]
                        .map(|(name, (partition_attribute, sort_attribute))| IndexSpec { name, partition_attribute, sort_attribute }),
                )
                .collect(),
        },
        TableSpec {
            name: DIRECTORY,
            indexes: vec![
                IndexSpec { name: DIRECTORY_BY_KIND, partition_attribute: "kind_pk", sort_attribute: "kind_sk" },
                IndexSpec { name: DIRECTORY_PORTAL_ARTICLES, partition_attribute: "portal_pk", sort_attribute: "portal_sk" },
            ],
        },
        TableSpec { name: COUNTERS, indexes: vec![] },
    ]
}

/// Keys of the items in the `cases` table.
pub mod case_keys {
    use super::Key;

    pub fn case(id: &str) -> Key {
        Key::new(format!("CASE#{id}"), "CASE")
    }
    /// Maps a case number to its id; written with the case so numbers can never be shared.
    pub fn number(n: u64) -> Key {
        Key::new(format!("CASENO#{n}"), "CASENO")
    }
    /// The partition of the by-status list index.
    pub fn status_partition(status: &str) -> String {
        format!("STATUS#{status}")
    }
    /// The partition of the by-assignee list index.
    pub fn assignee_partition(user_id: &str) -> String {
        format!("ASSIGNEE#{user_id}")
    }
    /// The partition of the by-assignee list indexes that holds the cases without an assignee.
    pub const UNASSIGNED_PARTITION: &str = "UNASSIGNED";
    /// Sort key of the case indexes by last change: the time in epoch milliseconds, zero-padded
    /// so that string order is time order, then the id (unique, and newest created first on a tie).
    pub fn updated_sort(updated_at: time::OffsetDateTime, case_id: &str) -> String {
        let millis = (updated_at.unix_timestamp_nanos() / 1_000_000).max(0);
        format!("{millis:015}#{case_id}")
    }
    /// Sort key of the case indexes by priority: its rank (1 Low … 4 Urgent), then the id.
    pub fn priority_sort(priority: crate::model::Priority, case_id: &str) -> String {
        format!("{}#{case_id}", priority.rank())
    }
    /// The partition of the by-account list index.
    pub fn account_partition(account_id: &str) -> String {
        format!("ACCOUNT#{account_id}")
    }
    pub fn team_partition(team_id: &str) -> String {
        format!("TEAM#{team_id}")
    }
    pub fn contact_partition(contact_id: &str) -> String {
        format!("CONTACT#{contact_id}")
    }
    /// Sort key of a link item (team or contact partition → case).
    pub fn link_sort(case_id: &str) -> String {
        format!("CASE#{case_id}")
    }
    pub fn idempotency(caller: &str, key: &str) -> Key {
        Key::new(format!("IDEMPOTENCY#{caller}#{key}"), "IDEMPOTENCY")
    }
    /// The sort keys of a case's child pointers.
    pub const CHILD_PREFIX: &str = "CHILD#";

    /// A child case (its `parent_id` is this case), in the parent's partition.
    pub fn child(parent_id: &str, child_id: &str) -> Key {
        Key::new(case(parent_id).pk, format!("{CHILD_PREFIX}{child_id}"))
    }
    /// Claims one step of a workflow run (`step` is `RUN` or an action's index), so that a
    /// redelivered event does not repeat it.
    pub fn rule_step(event_id: &str, rule_id: &str, step: &str) -> Key {
        Key::new(format!("RULERUN#{event_id}"), format!("RULE#{rule_id}#{step}"))
    }
    /// An upload announced for a case (`POST …/attachments/uploads`) and not completed yet, in
    /// the case's partition; completing it replaces it by the attachment of the same id.
    pub fn upload(case_id: &str, upload_id: &str) -> Key {
        Key::new(case(case_id).pk, format!("UPLOAD#{upload_id}"))
    }
    /// A web-form sender's confirmation token (`CONFIRM#<token>`).
    pub fn confirm_token(token: &str) -> Key {
        Key::new(format!("CONFIRM#{token}"), "CONFIRM")
    }
    /// The claim that the confirmation mail of a case is being or was sent (one per case).
    pub fn confirm_mail_claim(case_id: &str) -> Key {
        Key::new(case(case_id).pk, "CONFIRMMAIL")
    }
    /// A follower of a case, in the case's partition.
    pub fn follower(case_id: &str, follower_id: &str) -> Key {
        Key::new(case(case_id).pk, format!("FOLLOWER#{follower_id}"))
    }
    /// The inverse of a follow: the cases a user or contact follows.
    pub fn follows(follower_id: &str, case_id: &str) -> Key {
        Key::new(follows_partition(follower_id), link_sort(case_id))
    }
    /// The partition of everything a user or contact follows.
    pub fn follows_partition(follower_id: &str) -> String {
        format!("FOLLOWS#{follower_id}")
    }
    /// A stream entry, in the case's partition.
    pub fn entry(case_id: &str, entry_id: &str) -> Key {
        Key::new(case(case_id).pk, format!("ENTRY#{entry_id}"))
    }
    /// The public replies of a case as far as its SLA clocks care (see `case_clocks`), in the
    /// case's partition: kept apart from the case so that a reply does not change the case's
    /// version.
    pub fn sla_replies(case_id: &str) -> Key {
        Key::new(case(case_id).pk, "SLA#REPLIES")
    }
    /// What the SLA watcher last saw of a case (alerts announced, next due, breach, alarm), in
    /// the case's partition; the only item of the three SLA indexes.
    pub fn sla_watch(case_id: &str) -> Key {
        Key::new(case(case_id).pk, "SLA#WATCH")
    }
    /// Asks the SLA sweep to file every case of the due index again: an agreement or a
    /// calendar changed, which may move due times the index holds.
    pub fn sla_refile() -> Key {
        Key::new("SLA#REFILE", "SLA#REFILE")
    }
    /// The partitions of the SLA indexes: one each. Only governed cases with something owed
    /// are in them, and their items change with the clocks, not with every case change.
    pub const SLA_DUE_PARTITION: &str = "SLA#DUE";
    pub const SLA_BREACHED_PARTITION: &str = "SLA#BREACHED";
    pub const SLA_ALARM_PARTITION: &str = "SLA#ALARM";
    /// Sort key of the SLA indexes: the instant in epoch seconds, zero-padded so that string
    /// order is time order, then the case id.
    pub fn sla_sort(at: time::OffsetDateTime, case_id: &str) -> String {
        format!("{:012}#{case_id}", at.unix_timestamp().max(0))
    }
    /// The highest SLA sort key at `at`: every case's key of that instant or earlier is below it.
    pub fn sla_sort_through(at: time::OffsetDateTime) -> String {
        format!("{:012}#~", at.unix_timestamp().max(0))
    }
    /// An attachment's record, in the case's partition.
    pub fn attachment(case_id: &str, attachment_id: &str) -> Key {
        Key::new(case(case_id).pk, format!("ATTACHMENT#{attachment_id}"))
    }
    /// A link item of a case in a team's or a contact's partition.
    pub fn link(partition: String, case_id: &str) -> Key {
        Key::new(partition, link_sort(case_id))
    }
    /// One inbound delivery (its source: the S3 object key or the SMTP session id) → its log line.
    pub fn inbound_source(source_id: &str) -> Key {
        Key::new(format!("INBOUNDSRC#{source_id}"), "INBOUND")
    }
    /// The claim of a received Message-ID (one case per message, across mailboxes).
    pub fn inbound_message_claim(message_id: &str) -> Key {
        Key::new(format!("INBOUNDMSG#{message_id}"), "INBOUND")
    }
    /// A line of the inbound log (newest last in [`INBOUND_LOG_PARTITION`]).
    pub fn inbound_log(log_id: &str) -> Key {
        Key::new(INBOUND_LOG_PARTITION, log_id)
    }
    /// An address our mail bounced from.
    pub fn bounced(address: &str) -> Key {
        Key::new(format!("BOUNCED#{}", address.to_lowercase()), "BOUNCED")
    }
    /// Claims the acknowledgement of a case (`state`: sending, sent, skipped, failed).
    pub fn ack_claim(case_id: &str) -> Key {
        Key::new(format!("ACK#{case_id}"), "ACK")
    }
    /// That one recipient was mailed about one entry (sent at most once).
    pub fn notified(entry_id: &str, recipient_id: &str) -> Key {
        Key::new(format!("NOTIFIED#{entry_id}"), format!("TO#{recipient_id}"))
    }
    /// The reply token of one recipient on one case, for public or internal entries.
    pub fn reply_token(case_id: &str, recipient_id: &str, internal: bool) -> Key {
        let kind = if internal { "#internal" } else { "" };
        Key::new(case(case_id).pk, format!("REPLYTOKEN#{recipient_id}{kind}"))
    }
    /// The lookup of a reply token by its value.
    pub fn reply_token_lookup(token: &str) -> Key {
        Key::new(format!("REPLYTOKEN#{token}"), "REPLYTOKEN")
    }
    /// What a Message-ID we know of belongs to (without its angle brackets).
    pub fn message_id(message_id: &str) -> Key {
        Key::new(format!("MSGID#{}", message_id.trim_matches(['<', '>'])), "MSGID")
    }
    /// The inbound log's partition.
    pub const INBOUND_LOG_PARTITION: &str = "INBOUNDLOG";
    /// A knowledge-base article linked to a case, in the case's partition.
    pub fn article_link(case_id: &str, article_id: &str) -> Key {
        Key::new(case(case_id).pk, format!("ARTICLE#{article_id}"))
    }
}

/// Keys of the items in the `directory` table.
pub mod directory_keys {
    use super::Key;

    pub fn entity(kind: &str, id: &str) -> Key {
        Key::new(format!("{}#{id}", kind.to_ascii_uppercase()), kind.to_ascii_uppercase())
    }
    /// Sort key of an entity in the `by_kind` index: its lower-case name, then its id.
    pub fn kind_sort(name: &str, id: &str) -> String {
        format!("{}#{id}", kind_sort_prefix(name))
    }
    /// The `by_kind` sort-key prefix shared by every entity whose name starts with `text`
    /// (case-insensitively, as far as lower-casing makes it so).
    pub fn kind_sort_prefix(text: &str) -> String {
        text.to_lowercase()
    }
    /// Unique lookup of a contact by one of its email addresses.
    pub fn contact_email(address: &str) -> Key {
        Key::new(format!("EMAIL#{address}"), "CONTACT")
    }
    /// Unique lookup of a user by email address.
    pub fn user_email(address: &str) -> Key {
        Key::new(format!("USEREMAIL#{address}"), "USER")
    }
    /// Unique lookup of an account by one of its email domains.
    pub fn account_domain(domain: &str) -> Key {
        Key::new(format!("DOMAIN#{domain}"), "ACCOUNT")
    }
    pub fn team_member(team_id: &str, user_id: &str) -> Key {
        Key::new(team_members_partition(team_id), format!("{TEAM_MEMBER_PREFIX}{user_id}"))
    }
    /// The partition of a team's member items (sort keys start with [`TEAM_MEMBER_PREFIX`]).
    pub fn team_members_partition(team_id: &str) -> String {
        format!("TEAM#{team_id}")
    }
    pub const TEAM_MEMBER_PREFIX: &str = "MEMBER#";
    /// A user who follows every new case, in the auto-follow partition.
    pub fn auto_follower(user_id: &str) -> Key {
        Key::new(AUTO_FOLLOW_PARTITION, format!("USER#{user_id}"))
    }
    /// Partition of the directory listing users who follow every new case.
    pub const AUTO_FOLLOW_PARTITION: &str = "AUTOFOLLOW";
    /// Unique lookup of a group mailbox by one of its inbound addresses.
    pub fn mailbox_address(address: &str) -> Key {
        Key::new(format!("MAILBOXADDR#{address}"), "MAILBOX")
    }
    pub fn settings() -> Key {
        Key::new("SETTINGS", "SETTINGS")
    }
    /// Word index of article titles: one item per lower-cased title word and article.
    pub fn article_word(word: &str, article_id: &str) -> Key {
        Key::new(article_word_partition(word), format!("ARTICLE#{article_id}"))
    }
    pub fn article_word_partition(word: &str) -> String {
        format!("KBWORD#{word}")
    }
    /// The inverse of a case's article link, in the article's partition.
    pub fn article_case_link(article_id: &str, case_id: &str) -> Key {
        Key::new(entity("article", article_id).pk, format!("CASE#{case_id}"))
    }
}

pub fn case_number_counter() -> Key {
    Key::new("COUNTER#case_number", "COUNTER")
}

/// How many open cases a user is assignee of (attribute `value`), kept in the transactions that
/// change a case's assignee or status: Least-Busy reads it instead of counting cases.
/// The stored form of a counter written whole (a counter read and then written conditionally
/// on the value read: the case-number counter, a team's Round-Robin pointer).
#[derive(serde::Serialize)]
pub struct Counter {
    pub value: i64,
}

/// A claim that one mail (a notification copy, an acknowledgement, a confirmation request) goes
/// out at most once: taken before the send, and kept whatever happens after the provider
/// accepted it (a crash then must not send it again).
#[derive(serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendClaim {
    Sending,
    Sent {
        message_id: String,
        provider_id: String,
    },
    /// Not sent, by a rule (a rate limit, a mailbox gone).
    Skipped {
        reason: String,
    },
    /// Refused by the provider for good.
    Failed {
        reason: String,
    },
}

/// When an address was flagged as bouncing.
#[derive(serde::Serialize)]
pub struct Bounced {
    pub at: i64,
}

/// The body of an item that only marks something done, kept until the TTL attribute says.
#[derive(serde::Serialize)]
pub struct Expiring {
    pub expires_at: i64,
}

pub fn open_cases_counter(user_id: &str) -> Key {
    Key::new(format!("OPENCASES#{user_id}"), "COUNTER")
}

/// How many cases a team's Round-Robin has handed out (attribute `value`); the next goes to
/// member `value mod members`.
pub fn round_robin_pointer(team_id: &str) -> Key {
    Key::new(format!("ROUNDROBIN#{team_id}"), "COUNTER")
}

/// A fixed-window rate counter: `name` says what is counted, `window_start` (epoch seconds)
/// which window. Each window is its own item, so a new window starts at zero without a reset.
pub fn rate_counter(name: &str, window_start: i64) -> Key {
    Key::new(format!("RATE#{name}#{window_start}"), "RATE")
}

/// Queue messages kept because their queue refused them, oldest first (`OUTBOX`, ulid).
pub const OUTBOX_PARTITION: &str = "OUTBOX";

pub fn outbox_item(id: &str) -> Key {
    Key::new(OUTBOX_PARTITION, id)
}

/// What happened to the submissions of one web form (accepted, honeypot, rate-limited).
pub fn form_stats(form_id: &str) -> Key {
    Key::new(format!("FORMSTATS#{form_id}"), "FORMSTATS")
}

/// The stored form of a record: its JSON object with the item's `pk` and `sk` added.
pub(crate) fn keyed_item(key: Key, record: impl Serialize) -> DomainResult<Item> {
    let Value::Object(mut item) = serde_json::to_value(record).map_err(|e| DomainError::Internal(e.to_string()))? else {
        return Err(DomainError::Internal("a stored record must be a JSON object".into()));
    };
    item.insert(docket_store::PK.into(), key.pk.into());
    item.insert(docket_store::SK.into(), key.sk.into());
    Ok(item)
}

/// Keys of the console's sign-in links and sessions (in the `directory` table), by the SHA-256
/// of their token: the store never holds a token that works.
pub mod signin_keys {
    use super::Key;

    pub fn link(digest: &str) -> Key {
        Key::new(format!("SIGNIN#{digest}"), "SIGNIN")
    }
    pub fn session(digest: &str) -> Key {
        Key::new(format!("SESSION#{digest}"), "SESSION")
    }
}

/// Keys of blobs Docket writes itself (uploads are keyed where they are announced).
pub mod blob_keys {
    /// The raw copy of an inbound message, kept for its log line.
    pub fn inbound_raw(log_id: &str) -> String {
        format!("inbound/{log_id}.eml")
    }
    /// The sanitised HTML body of a received mail's entry.
    pub fn entry_html(case_id: &str, entry_id: &str) -> String {
        format!("cases/{case_id}/mail/{entry_id}.html")
    }
}
