//! The knowledge base (SPEC F7, F50): articles with a sanitised HTML body, a draft/published
//! status and a portal-visible flag; links between articles and cases; search by title words.
//!
//! Articles are directory entities (`ARTICLE#<id>` / `ARTICLE`), so creation, merge-patch updates
//! and deletion go through the same repository as users and contacts. Each article owns one
//! word-index item per distinct lower-cased title word (`KBWORD#<word>` / `ARTICLE#<id>`), written
//! in the article's own transaction, so a search never finds an article by a word its title lost.
//! Published portal-visible articles also carry the attributes of the sparse `portal_articles`
//! index: the portal lists exactly those, without reading (and dropping) drafts.
//!
//! A link is two items written together: `CASE#<case>` / `ARTICLE#<article>` in `cases` (the
//! articles of a case, one query) and `ARTICLE#<article>` / `CASE#<case>` in `directory` (the cases
//! of an article, read when the article is deleted), with an internal stream entry on the case.

use crate::fields::MergePatch;
use crate::ids::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use docket_store::{Condition, Cursor, ItemStore, Query, SortKeyRange, WriteOp};

use crate::access::Principal;
use crate::cases::Cases;
use crate::clock::Clock;
use crate::directory::{Directory, DirectoryService, Entity, OwnedKey, Reference, WritePolicy, from_item, push_reference_check};
use crate::error::{DomainError, DomainResult};
use crate::model::{Audit, Case};
use crate::schema::{CASES, DIRECTORY, DIRECTORY_PORTAL_ARTICLES, case_keys, directory_keys};
use crate::stream::{Author, StreamEntry, SystemEvent};
use crate::txn::{Label, Txn};
use crate::validate::{self, MAX_LONG_TEXT, MAX_SUBJECT};

/// Title words shorter than this are not indexed nor searched ("a", "I", …).
pub const MIN_WORD_CHARS: usize = 2;
/// Longer "words" (hashes, pasted URLs) are not indexed.
pub const MAX_WORD_CHARS: usize = 40;
/// Distinct title words indexed per article; keeps an update (delete old + put new word items +
/// the article) within one transaction of at most 100 operations.
pub const MAX_INDEXED_WORDS: usize = 40;
/// Words a search may combine.
pub const MAX_QUERY_WORDS: usize = 8;
/// Articles read from one word's index partition during a search, newest first (see
/// `infra/tables.md`).
pub const MAX_MATCHES_PER_WORD: usize = 1000;
/// Partition of the `portal_articles` index.
pub const PORTAL_ARTICLES_PARTITION: &str = "PORTAL_ARTICLES";
/// Pages of links a case-article list reads before it answers with what it found.
const MAX_PAGES_PER_LIST: usize = 10;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    #[default]
    Draft,
    Published,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Article {
    pub id: ArticleId,
    pub title: String,
    /// HTML, sanitised when written: safe to display as is.
    pub body: String,
    pub status: ArticleStatus,
    /// Whether portal users may read it once published.
    pub portal_visible: bool,
    #[serde(flatten)]
    pub audit: Audit,
}

impl Article {
    /// Staff read every article; portal users only published, portal-visible ones.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        match principal {
            Principal::Staff(_) => true,
            Principal::Portal(_) => self.is_public(),
        }
    }

    fn is_public(&self) -> bool {
        self.status == ArticleStatus::Published && self.portal_visible
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleFields {
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: ArticleStatus,
    #[serde(default)]
    pub portal_visible: bool,
}

impl Entity for Article {
    const KIND: &'static str = "article";
    const WRITE_POLICY: WritePolicy = WritePolicy::Staff;
    type Fields = ArticleFields;

    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.title
    }
    fn audit(&self) -> &Audit {
        &self.audit
    }
    fn fields(&self) -> ArticleFields {
        ArticleFields { title: self.title.clone(), body: self.body.clone(), status: self.status, portal_visible: self.portal_visible }
    }
    fn build(id: String, f: ArticleFields, audit: Audit) -> DomainResult<Self> {
        let body = validate::long_text("body", &f.body, MAX_LONG_TEXT)?;
        Ok(Article {
            id: ArticleId::from_trusted(id),
            title: validate::line("title", &f.title, MAX_SUBJECT)?,
            // Sanitised once on the way in, so every reader (agent console, portal, mail) gets
            // markup without scripts, event handlers or dangerous URLs.
            body: ammonia::clean(&body),
            status: f.status,
            portal_visible: f.portal_visible,
            audit,
        })
    }
    fn owned_keys(&self) -> Vec<OwnedKey> {
        title_words(&self.title)
            .into_iter()
            .take(MAX_INDEXED_WORDS)
            .map(|word| OwnedKey { key: directory_keys::article_word(&word, &self.id), unique_field: None })
            .collect()
    }
    fn index_attributes(&self) -> Vec<(&'static str, String)> {
        if !self.is_public() {
            return Vec::new();
        }
        vec![("portal_pk", PORTAL_ARTICLES_PARTITION.to_owned()), ("portal_sk", format!("{}#{}", self.title.to_lowercase(), self.id))]
    }
}

/// The distinct searchable words of a text, lower-cased, in order of appearance: runs of
/// letters and digits of [`MIN_WORD_CHARS`]..=[`MAX_WORD_CHARS`] characters.
pub fn title_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let length = word.chars().count();
        if !(MIN_WORD_CHARS..=MAX_WORD_CHARS).contains(&length) {
            continue;
        }
        let word = word.to_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// A case ↔ article link as stored (both sides carry the same attributes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ArticleLink {
    pub case_id: CaseId,
    pub article_id: ArticleId,
    pub linked_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

/// Knowledge-base operations as callers see them: access rules on top of the directory.
pub struct Knowledge<'a> {
    pub(crate) store: &'a dyn ItemStore,
    pub(crate) clock: &'a dyn Clock,
}

impl<'a> Knowledge<'a> {
    fn directory(&self) -> Directory<'a> {
        Directory::new(self.store)
    }

    fn service(&self) -> DirectoryService<'a> {
        DirectoryService { directory: self.directory(), clock: self.clock }
    }

    /// Writes a new article (staff).
    pub async fn create(&self, principal: &Principal, fields: ArticleFields) -> DomainResult<Article> {
        self.service().create(principal, fields).await
    }

    /// The article if the caller may read it; "not found" otherwise, so drafts cannot be probed.
    pub async fn get(&self, principal: &Principal, id: &str) -> DomainResult<Article> {
        match self.directory().get::<Article>(id).await? {
            Some(article) if article.visible_to(principal) => Ok(article),
            _ => Err(DomainError::not_found(format!("article {id}"))),
        }
    }

    /// Articles by title: every one for staff, published portal-visible ones for portal users.
    pub async fn list(&self, principal: &Principal, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<Article>, Option<Cursor>)> {
        match principal {
            Principal::Staff(_) => self.directory().list::<Article>(limit, after).await,
            Principal::Portal(_) => {
                let page = self.store.query(Query::index(DIRECTORY, DIRECTORY_PORTAL_ARTICLES, PORTAL_ARTICLES_PARTITION).limit(limit).after(after)).await?;
                let articles = page.items.into_iter().map(from_item::<Article>).collect::<DomainResult<Vec<_>>>()?;
                // The index is eventually consistent on DynamoDB: check each item once more.
                Ok((articles.into_iter().filter(|a| a.visible_to(principal)).collect(), page.next))
            }
        }
    }

    /// Applies a merge patch (staff); `if_match` is the version read, when the caller sent one.
    pub async fn update(&self, principal: &Principal, id: &str, patch: MergePatch<ArticleFields>, if_match: Option<u64>) -> DomainResult<Article> {
        self.service().update(principal, id, patch, if_match).await
    }

    /// Deletes an article with its word index, then its case links (staff). The article goes
    /// first: a link written meanwhile would fail its existence check, and a link left behind by
    /// an interrupted cleanup is skipped by every reader.
    pub async fn delete(&self, principal: &Principal, id: &str, if_match: Option<u64>) -> DomainResult<()> {
        principal.require_staff()?;
        let article: Article = self.directory().require(id).await?;
        if let Some(expected) = if_match
            && expected != article.audit.version
        {
            return Err(DomainError::StaleVersion { expected });
        }
        self.directory().remove(&article).await?;
        let links = Query::table(DIRECTORY, directory_keys::entity(Article::KIND, &article.id).pk).range(SortKeyRange::BeginsWith("CASE#".into()));
        let mut after = None;
        loop {
            // Two deletes per link: 40 links keep a transaction within its 100 operations.
            let page = self.store.query(links.clone().limit(40).after(after)).await?;
            let mut ops = Vec::new();
            for item in page.items {
                let link: ArticleLink = from_item(item)?;
                ops.push(WriteOp::delete(CASES, case_keys::article_link(&link.case_id, &link.article_id)));
                ops.push(WriteOp::delete(DIRECTORY, directory_keys::article_case_link(&link.article_id, &link.case_id)));
            }
            if !ops.is_empty() {
                self.store.transact(ops).await?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        tracing::info!(article = %article.id, "article deleted");
        Ok(())
    }

    /// Articles whose title holds every word of `text`, newest first, that the caller may read.
    /// The cursor is the id of the last article of the previous page.
    pub async fn search(&self, principal: &Principal, text: &str, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<Article>, Option<Cursor>)> {
        let words = title_words(text);
        if words.is_empty() {
            return Err(DomainError::invalid("q", format!("give at least one word of {MIN_WORD_CHARS} or more letters or digits")));
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(DomainError::invalid("q", format!("a search combines at most {MAX_QUERY_WORDS} words")));
        }
        let after =
            after.map(|c| validate::id("cursor", &c.0).map_err(|_| DomainError::invalid("cursor", "not a cursor returned by this search"))).transpose()?;
        let mut matches: Option<Vec<String>> = None;
        for word in &words {
            let ids = self.directory().owner_ids(&directory_keys::article_word_partition(word), "ARTICLE#", false, MAX_MATCHES_PER_WORD).await?;
            let narrowed = match matches {
                None => ids,
                Some(previous) => {
                    let with_word: std::collections::HashSet<String> = ids.into_iter().collect();
                    previous.into_iter().filter(|id| with_word.contains(id)).collect()
                }
            };
            if narrowed.is_empty() {
                return Ok((Vec::new(), None));
            }
            matches = Some(narrowed);
        }
        let mut candidates = matches.unwrap_or_default();
        // ULIDs sort by creation time: descending is newest first.
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        let mut found = Vec::new();
        let mut remaining = candidates.into_iter().filter(|id| after.as_ref().is_none_or(|last| id < last)).peekable();
        while found.len() < limit {
            let Some(id) = remaining.next() else { break };
            if let Some(article) = self.directory().get::<Article>(&id).await?
                && article.visible_to(principal)
            {
                found.push(article);
            }
        }
        let next = match (remaining.peek(), found.last()) {
            (Some(_), Some(last)) => Some(Cursor(last.id.to_string())),
            _ => None,
        };
        Ok((found, next))
    }
}

impl Cases<'_> {
    /// Links an article to a case (staff who may see the case). Linking again is a no-op that
    /// answers `false`; a new link answers `true` and adds an internal stream entry.
    pub async fn link_article(&self, principal: &Principal, reference: &str, article_id: &str) -> DomainResult<(ArticleLink, bool)> {
        principal.require_staff()?;
        let case = self.get(principal, reference).await?;
        let article: Article = Directory::new(self.store).require(article_id).await?;
        let now = self.clock.now();
        let link = ArticleLink { case_id: case.id.clone(), article_id: article.id.clone(), linked_by: principal.id().to_owned(), linked_at: now };
        let entry = StreamEntry::system(&case.id, SystemEvent::ArticleLinked { article_id: article.id.clone() }, Author::of(principal), now);
        let mut txn = Txn::new();
        txn.push(WriteOp::put_if(CASES, crate::schema::keyed_item(case_keys::article_link(&case.id, &article.id), &link)?, Condition::NotExists), Label::Claim);
        txn.plain(WriteOp::put(DIRECTORY, crate::schema::keyed_item(directory_keys::article_case_link(&article.id, &case.id), &link)?));
        push_reference_check(&mut txn, Reference { field: "article_id", kind: Article::KIND, id: article.id.to_string() });
        match self.append_entry(&entry, txn).await {
            Ok(()) => {
                tracing::info!(case = case.number, article = %article.id, "article linked");
                Ok((link, true))
            }
            Err(e) if e.is(&Label::Claim) => Ok((self.article_link(&case, &article.id).await?.unwrap_or(link), false)),
            Err(e) if e.is_reference() => Err(DomainError::not_found(format!("article {article_id}"))),
            Err(e) => Err(e.into()),
        }
    }

    async fn article_link(&self, case: &Case, article_id: &str) -> DomainResult<Option<ArticleLink>> {
        self.store.get(CASES, &case_keys::article_link(&case.id, article_id)).await?.map(from_item).transpose()
    }

    /// Removes the link between a case and an article (staff who may see the case).
    pub async fn unlink_article(&self, principal: &Principal, reference: &str, article_id: &str) -> DomainResult<()> {
        principal.require_staff()?;
        let case = self.get(principal, reference).await?;
        let not_linked = || DomainError::not_found(format!("article {article_id} on case {reference}"));
        if validate::id("article_id", article_id).is_err() {
            return Err(not_linked());
        }
        let entry = StreamEntry::system(
            &case.id,
            SystemEvent::ArticleUnlinked { article_id: ArticleId::from_trusted(article_id.to_owned()) },
            Author::of(principal),
            self.clock.now(),
        );
        let mut txn = Txn::new();
        txn.push(WriteOp::Delete { table: CASES.into(), key: case_keys::article_link(&case.id, article_id), condition: Some(Condition::Exists) }, Label::Claim);
        txn.plain(WriteOp::delete(DIRECTORY, directory_keys::article_case_link(article_id, &case.id)));
        match self.append_entry(&entry, txn).await {
            Ok(()) => {
                tracing::info!(case = case.number, article = %article_id, "article unlinked");
                Ok(())
            }
            Err(e) if e.is(&Label::Claim) => Err(not_linked()),
            Err(e) => Err(e.into()),
        }
    }

    /// The articles linked to a case the caller may see, in link order of article id, keeping
    /// only those the caller may read (portal users: published, portal-visible).
    pub async fn articles(
        &self,
        principal: &Principal,
        reference: &str,
        limit: usize,
        mut after: Option<Cursor>,
    ) -> DomainResult<(Vec<Article>, Option<Cursor>)> {
        let case = self.get(principal, reference).await?;
        let query = Query::table(CASES, case_keys::case(&case.id).pk).range(SortKeyRange::BeginsWith("ARTICLE#".into()));
        let directory = Directory::new(self.store);
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES_PER_LIST {
            let page = self.store.query(query.clone().limit(limit - found.len()).after(after.take())).await?;
            for item in page.items {
                let link: ArticleLink = from_item(item)?;
                if let Some(article) = directory.get::<Article>(&link.article_id).await?
                    && article.visible_to(principal)
                {
                    found.push(article);
                }
            }
            after = page.next;
            if found.len() == limit || after.is_none() {
                break;
            }
        }
        Ok((found, after))
    }
}

impl crate::directory::IdFor<Article> for ArticleId {
    fn id_str(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_words_are_distinct_lower_case_and_long_enough() {
        assert_eq!(title_words("Reset your VPN password — VPN, a how-to"), vec!["reset", "your", "vpn", "password", "how", "to"]);
        assert!(title_words("a b c").is_empty());
        assert_eq!(title_words("Ünïcode Straße"), vec!["ünïcode", "straße"]);
    }

    #[test]
    fn bodies_are_sanitised_and_titles_indexed() {
        let audit = Audit {
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: "u".into(),
            updated_at: OffsetDateTime::UNIX_EPOCH,
            updated_by: "u".into(),
            version: 1,
        };
        let fields = ArticleFields {
            title: "Printer jams".into(),
            body: r#"<p onclick="steal()">Open the tray</p><script>alert(1)</script><a href="javascript:x()">x</a>"#.into(),
            status: ArticleStatus::Published,
            portal_visible: true,
        };
        let article = Article::build("A1".into(), fields, audit).expect("valid");
        assert!(!article.body.contains("script") && !article.body.contains("onclick") && !article.body.contains("javascript"), "{}", article.body);
        assert!(article.body.contains("<p>Open the tray</p>"), "{}", article.body);
        let words: Vec<String> = article.owned_keys().into_iter().map(|k| k.key.pk).collect();
        assert_eq!(words, vec!["KBWORD#printer", "KBWORD#jams"]);
        assert_eq!(article.index_attributes().len(), 2);
    }
}
