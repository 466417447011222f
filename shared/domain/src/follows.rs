//! Follows (SPEC F5, F33): who hears about a case.
//!
//! A follow is two items written together: `CASE#<case>` / `FOLLOWER#<id>` (the case's
//! followers, one query) and its inverse `FOLLOWS#<id>` / `CASE#<case>` (what someone follows,
//! one query). Creators, assignees and portal owners follow automatically; users whose
//! preference says so follow every new case; making a case internal unfollows its portal users.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use docket_store::{Cursor, Item, Key, Query, SortKeyRange, WriteOp};

use crate::access::Principal;
use crate::cases::Cases;
use crate::directory::{Directory, from_item};
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::model::{Case, Contact, User};
use crate::schema::{CASES, DIRECTORY, case_keys, directory_keys};
use crate::stream::{Author, AuthorKind};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowerKind {
    User,
    Contact,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Follow {
    pub case_id: CaseId,
    pub follower_id: String,
    pub kind: FollowerKind,
}

fn item(follow: &Follow, key: Key) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key.pk.into());
    item.insert("sk".into(), key.sk.into());
    item.insert("case_id".into(), follow.case_id.clone().into());
    item.insert("follower_id".into(), follow.follower_id.clone().into());
    item.insert("kind".into(), serde_json::to_value(follow.kind).unwrap_or(Value::Null));
    item
}

pub(crate) fn follow_ops(follow: &Follow) -> Vec<WriteOp> {
    vec![
        WriteOp::put(CASES, item(follow, case_keys::follower(&follow.case_id, &follow.follower_id))),
        WriteOp::put(CASES, item(follow, case_keys::follows(&follow.follower_id, &follow.case_id))),
    ]
}

fn unfollow_ops(case_id: &str, follower_id: &str) -> Vec<WriteOp> {
    vec![WriteOp::delete(CASES, case_keys::follower(case_id, follower_id)), WriteOp::delete(CASES, case_keys::follows(follower_id, case_id))]
}

impl Cases<'_> {
    /// Every follower of a case (no access check: for the domain's own use).
    pub async fn follows_of(&self, case_id: &str) -> DomainResult<Vec<Follow>> {
        let mut follows = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .query(Query::table(CASES, case_keys::case(case_id).pk).range(SortKeyRange::BeginsWith("FOLLOWER#".into())).limit(500).after(after))
                .await?;
            for item in page.items {
                follows.push(from_item::<Follow>(item)?);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(follows),
            }
        }
    }

    pub(crate) async fn add_follows(&self, follows: &[Follow]) -> DomainResult<()> {
        // Two items per follow; kept well under the 100 operations of a transaction.
        for chunk in follows.chunks(40) {
            self.store.transact(chunk.iter().flat_map(follow_ops).collect()).await?;
        }
        Ok(())
    }

    /// The automatic follows of a new case: its creator, its assignee and its portal customer
    /// (written with the case), then every user whose preference is to follow all new cases.
    pub(crate) async fn initial_follows(&self, case: &Case, creator: &Author) -> DomainResult<(Vec<Follow>, Vec<Follow>)> {
        let follow = |id: &str, kind: FollowerKind| Follow { case_id: case.id.clone(), follower_id: id.to_owned(), kind };
        let mut core: Vec<Follow> = Vec::new();
        match (creator.kind, &creator.id) {
            (AuthorKind::User, Some(id)) => core.push(follow(id, FollowerKind::User)),
            (AuthorKind::Contact, Some(id)) => core.push(follow(id, FollowerKind::Contact)),
            _ => {}
        }
        if let Some(assignee) = &case.assignee_id {
            core.push(follow(assignee, FollowerKind::User));
        }
        // The customer the case is for follows it when they can read it in the portal.
        if let Some(primary) = case.contact_ids.first()
            && !case.internal
            && Directory::new(self.store).get::<Contact>(primary).await?.is_some_and(|c| c.portal.is_some())
        {
            core.push(follow(primary, FollowerKind::Contact));
        }
        core.dedup_by(|a, b| a.follower_id == b.follower_id);
        let auto = self
            .auto_followers()
            .await?
            .into_iter()
            .filter(|id| !core.iter().any(|f| &f.follower_id == id))
            .map(|id| follow(&id, FollowerKind::User))
            .collect();
        Ok((core, auto))
    }

    async fn auto_followers(&self) -> DomainResult<Vec<String>> {
        let page = self.store.query(Query::table(DIRECTORY, directory_keys::AUTO_FOLLOW_PARTITION).limit(1000)).await?;
        Ok(page.items.iter().filter_map(|i| i.get("owner_id").and_then(Value::as_str).map(str::to_owned)).collect())
    }

    /// Follow-ups of a committed change: a new assignee follows; an internal case loses its
    /// portal followers.
    pub(crate) async fn follow_changes(&self, old: &Case, new: &Case) -> DomainResult<()> {
        if let Some(assignee) = &new.assignee_id
            && old.assignee_id.as_ref() != Some(assignee)
        {
            self.add_follows(&[Follow { case_id: new.id.clone(), follower_id: assignee.to_string(), kind: FollowerKind::User }]).await?;
        }
        if new.internal && !old.internal {
            for follow in self.follows_of(&new.id).await?.into_iter().filter(|f| f.kind == FollowerKind::Contact) {
                self.store.transact(unfollow_ops(&new.id, &follow.follower_id)).await?;
            }
        }
        Ok(())
    }

    /// Makes `who` (the caller when `None`) follow a case. Staff may add users and contacts who
    /// can see the case; portal users only themselves.
    pub async fn follow(&self, principal: &Principal, reference: &str, who: Option<&str>) -> DomainResult<Follow> {
        let case = self.get(principal, reference).await?;
        let target = self.target(principal, who).await?;
        if !target.can_see(&case) {
            return Err(DomainError::invalid("follower_id", format!("{} cannot see this case", target.id())));
        }
        let kind = match target {
            Principal::Staff(_) => FollowerKind::User,
            Principal::Portal(_) => FollowerKind::Contact,
        };
        let follow = Follow { case_id: case.id.clone(), follower_id: target.id().to_owned(), kind };
        self.add_follows(std::slice::from_ref(&follow)).await?;
        Ok(follow)
    }

    pub async fn unfollow(&self, principal: &Principal, reference: &str, who: Option<&str>) -> DomainResult<()> {
        let case = self.get(principal, reference).await?;
        let target_id = match who {
            Some(id) if id != principal.id() => {
                principal.require_staff()?;
                id.to_owned()
            }
            _ => principal.id().to_owned(),
        };
        self.store.transact(unfollow_ops(&case.id, &target_id)).await?;
        Ok(())
    }

    /// The followers of a case, for staff.
    pub async fn followers(&self, principal: &Principal, reference: &str) -> DomainResult<Vec<Follow>> {
        principal.require_staff()?;
        let case = self.get(principal, reference).await?;
        self.follows_of(&case.id).await
    }

    /// Cases the caller follows (and may still see), most recently created first.
    pub async fn followed(&self, principal: &Principal, limit: usize, after: Option<Cursor>) -> DomainResult<(Vec<Case>, Option<Cursor>)> {
        let page = self.store.query(Query::table(CASES, case_keys::follows_partition(principal.id())).descending().limit(limit).after(after)).await?;
        let mut cases = Vec::new();
        for item in page.items {
            if let Some(id) = item.get("case_id").and_then(Value::as_str)
                && let Some(case) = self.find(id).await?
                && principal.can_see(&case)
            {
                cases.push(case);
            }
        }
        Ok((cases, page.next))
    }

    async fn target(&self, principal: &Principal, who: Option<&str>) -> DomainResult<Principal> {
        match who {
            None => Ok(principal.clone()),
            Some(id) if id == principal.id() => Ok(principal.clone()),
            Some(id) => {
                principal.require_staff()?;
                let directory = Directory::new(self.store);
                if let Some(user) = directory.get::<User>(id).await? {
                    return if user.active { Ok(Principal::Staff(user)) } else { Err(DomainError::invalid("follower_id", "the user is deactivated")) };
                }
                match directory.get::<Contact>(id).await? {
                    Some(contact) if contact.portal.is_some() => Ok(Principal::Portal(contact)),
                    Some(_) => Err(DomainError::invalid("follower_id", "the contact has no portal access")),
                    None => Err(DomainError::invalid("follower_id", format!("{id} is no user or contact"))),
                }
            }
        }
    }
}
