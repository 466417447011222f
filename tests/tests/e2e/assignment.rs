//! Assignment rules (SPEC F40) end to end on both engines: cases created through the API, their
//! events on the assign queue (SQLite table / SQS FIFO on the emulator), the assign function's
//! handler working them, and the open-case counts Least-Busy relies on.

use std::collections::HashMap;

use axum::http::Method;
use docket_domain::events::CaseEvent;
use docket_e2e::{Automated, Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(
    round_robin_spreads_cases_evenly_over_the_active_members,
    round_robin_stays_even_with_two_workers_at_once,
    least_busy_picks_the_member_with_fewest_open_cases_and_stays_right_when_cases_close,
    an_assignee_set_by_hand_between_enqueue_and_work_is_kept,
    inactive_members_are_never_chosen,
    the_assignee_follows_the_case_and_is_notified,
    open_case_counts_follow_every_change_of_assignee_and_status,
    a_mailbox_rule_assigns_the_cases_of_its_mailbox,
    cases_without_a_rule_stay_unassigned,
);

/// Cases per Round-Robin run: enough for the 1,000 on SQLite; on the emulator (which
/// works one request at a time) four full rounds of a team of seven.
fn round_robin_cases(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 1000,
        Engine::Dynamo => 28,
    }
}

struct World {
    auto: Automated,
    api: TestApi,
    admin: String,
}

async fn world(engine: Engine) -> World {
    let (auto, api, admin) = docket_e2e::automated_api(engine).await;
    World { auto, api, admin }
}

impl World {
    async fn team(&self, rule: &str) -> String {
        id_of(&self.api.create(&self.admin, "/teams", json!({"name": format!("Team {}", ulid::Ulid::new()), "assignment_rule": rule})).await)
    }

    async fn agent(&self, name: &str, team: &str) -> String {
        let email = format!("{}.{}@agents.example", name.to_lowercase(), ulid::Ulid::new().to_string().to_lowercase());
        id_of(&self.api.create(&self.admin, "/users", json!({"name": name, "email": email, "role": "agent", "team_ids": [team]})).await)
    }

    async fn agents(&self, team: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(self.agent(&format!("Agent{i}"), team).await);
        }
        ids
    }

    async fn case(&self, body: Value) -> Value {
        self.api.create(&self.admin, "/cases", body).await
    }

    async fn get(&self, case: &Value) -> Value {
        let reply = self.api.call(Method::GET, &format!("/cases/{}", id_of(case)), Some(&self.admin), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    async fn patch(&self, case: &Value, body: Value) -> Value {
        let current = self.api.call(Method::GET, &format!("/cases/{}", id_of(case)), Some(&self.admin), None).await;
        let reply =
            self.api.send(Method::PATCH, &format!("/cases/{}", id_of(case)), Some(&self.admin), &[("if-match", &current.etag())], Some(body.to_string())).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    async fn open_count(&self, user: &str) -> i64 {
        self.auto.docket.cases().open_case_count(user).await.expect("open-case count")
    }

    /// How many of the listed cases each user was given.
    async fn assignees(&self, cases: &[Value]) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for case in cases {
            let stored = self.auto.docket.cases().find(&id_of(case)).await.expect("read case").expect("case exists");
            let assignee = stored.assignee_id.unwrap_or_else(|| panic!("case {} was not assigned", stored.number));
            *counts.entry(assignee.to_string()).or_insert(0) += 1;
        }
        counts
    }
}

/// GIVEN/THEN helper: every member got within one case of every other, and all cases went out.
fn assert_even(counts: &HashMap<String, usize>, members: &[String], total: usize) {
    let per_member: Vec<usize> = members.iter().map(|m| counts.get(m).copied().unwrap_or(0)).collect();
    assert_eq!(per_member.iter().sum::<usize>(), total, "every case went to a member: {per_member:?}");
    let (min, max) = (per_member.iter().min().copied().unwrap_or(0), per_member.iter().max().copied().unwrap_or(0));
    assert!(max - min <= 1, "Round-Robin is uneven: {per_member:?}");
}

async fn create_cases(w: &World, team: &str, n: usize) -> Vec<Value> {
    let mut cases = Vec::new();
    for i in 0..n {
        cases.push(w.case(json!({"subject": format!("Printer {i} is on fire"), "team_ids": [team]})).await);
    }
    cases
}

async fn round_robin_spreads_cases_evenly_over_the_active_members(engine: Engine) {
    // GIVEN a Round-Robin team of seven and many new cases for it
    let w = world(engine).await;
    let team = w.team("round_robin").await;
    let members = w.agents(&team, 7).await;
    let n = round_robin_cases(engine);
    let cases = create_cases(&w, &team, n).await;
    // WHEN the assign worker works the queue
    let worked = w.auto.work_assign_queue().await;
    // THEN every case is assigned (status Assigned), the members are within one of each other,
    // and each member's open-case count is what they were given
    assert!(worked >= n, "one event per case at least, worked {worked}");
    let counts = w.assignees(&cases).await;
    assert_even(&counts, &members, n);
    let sample = w.get(&cases[n - 1]).await;
    assert_eq!(sample["status"], "Assigned");
    for member in &members {
        assert_eq!(w.open_count(member).await, counts[member] as i64);
    }
    // ... and in the stable order of member ids, turn by turn
    let mut sorted = members.clone();
    sorted.sort();
    let first_round: Vec<String> = {
        let mut ids = Vec::new();
        for case in &cases[..7] {
            ids.push(w.auto.docket.cases().find(&id_of(case)).await.unwrap().unwrap().assignee_id.unwrap().to_string());
        }
        ids
    };
    assert_eq!(first_round, sorted);
}

async fn round_robin_stays_even_with_two_workers_at_once(engine: Engine) {
    // GIVEN a Round-Robin team of seven and many queued new cases
    let w = world(engine).await;
    let team = w.team("round_robin").await;
    let members = w.agents(&team, 7).await;
    let n = round_robin_cases(engine);
    let cases = create_cases(&w, &team, n).await;
    // WHEN two workers work the queue at the same time
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, handler) = (w.auto.assign.clone(), w.auto.handler.clone());
            tokio::spawn(async move { docket_e2e::work_queue(queue.as_ref(), &handler).await })
        })
        .collect();
    let mut worked = Vec::new();
    for worker in workers {
        worked.push(worker.await.expect("worker"));
    }
    w.auto.work_assign_queue().await;
    // THEN both took part, and the spread is still within one (the pointer moves atomically)
    assert!(worked.iter().all(|&n| n > 0), "both workers worked events: {worked:?}");
    assert_even(&w.assignees(&cases).await, &members, n);
}

async fn least_busy_picks_the_member_with_fewest_open_cases_and_stays_right_when_cases_close(engine: Engine) {
    // GIVEN a Least-Busy team where A has two open cases and B and C one each
    let w = world(engine).await;
    let team = w.team("least_busy").await;
    let mut members = w.agents(&team, 3).await;
    members.sort();
    let (a, b, c) = (members[0].clone(), members[1].clone(), members[2].clone());
    let mut a_cases = Vec::new();
    for _ in 0..2 {
        a_cases.push(w.case(json!({"subject": "A's", "assignee_id": a})).await);
    }
    w.case(json!({"subject": "B's", "assignee_id": b})).await;
    w.case(json!({"subject": "C's", "assignee_id": c})).await;
    w.auto.work_assign_queue().await;
    assert_eq!((w.open_count(&a).await, w.open_count(&b).await, w.open_count(&c).await), (2, 1, 1));
    // WHEN a new case comes to the team
    let first = w.case(json!({"subject": "new one", "team_ids": [team]})).await;
    w.auto.work_assign_queue().await;
    // THEN it goes to the first of the least busy (B, by the stable order)
    assert_eq!(w.get(&first).await["assignee_id"], b);
    // WHEN A closes both cases and another case comes
    for case in &a_cases {
        w.patch(case, json!({"status": "Closed"})).await;
    }
    assert_eq!(w.open_count(&a).await, 0);
    let second = w.case(json!({"subject": "another", "team_ids": [team]})).await;
    w.auto.work_assign_queue().await;
    // THEN A, now the least busy, gets it
    assert_eq!(w.get(&second).await["assignee_id"], a);
    assert_eq!((w.open_count(&a).await, w.open_count(&b).await, w.open_count(&c).await), (1, 2, 1));
}

async fn an_assignee_set_by_hand_between_enqueue_and_work_is_kept(engine: Engine) {
    // GIVEN a Round-Robin team, a new case for it whose event is queued, and an agent outside it
    let w = world(engine).await;
    let team = w.team("round_robin").await;
    w.agents(&team, 3).await;
    let outsider = w.agent("Outsider", &w.team("round_robin").await).await;
    let case = w.case(json!({"subject": "urgent", "team_ids": [team]})).await;
    // WHEN an agent assigns it by hand before the worker runs
    w.patch(&case, json!({"assignee_id": outsider})).await;
    w.auto.work_assign_queue().await;
    // THEN the hand-set assignee is kept, and the team's pointer did not move
    let stored = w.get(&case).await;
    assert_eq!(stored["assignee_id"], outsider);
    assert_eq!(stored["status"], "Assigned");
    let pointer = w.auto.docket.store().get("counters", &docket_domain::schema::round_robin_pointer(&team)).await.expect("read pointer");
    assert!(pointer.is_none(), "the pointer moved: {pointer:?}");
}

async fn inactive_members_are_never_chosen(engine: Engine) {
    // GIVEN a Round-Robin team of three of whom one is deactivated
    let w = world(engine).await;
    let team = w.team("round_robin").await;
    let members = w.agents(&team, 3).await;
    let inactive = members[1].clone();
    let reply = w.api.call(Method::GET, &format!("/users/{inactive}"), Some(&w.admin), None).await;
    let reply = w
        .api
        .send(Method::PATCH, &format!("/users/{inactive}"), Some(&w.admin), &[("if-match", &reply.etag())], Some(json!({"active": false}).to_string()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // WHEN six cases come
    let cases = create_cases(&w, &team, 6).await;
    w.auto.work_assign_queue().await;
    // THEN they alternate over the two active members only
    let counts = w.assignees(&cases).await;
    assert!(!counts.contains_key(&inactive), "an inactive user got cases: {counts:?}");
    let active: Vec<String> = members.iter().filter(|m| **m != inactive).cloned().collect();
    assert_eq!(active.iter().map(|m| counts.get(m).copied().unwrap_or(0)).collect::<Vec<_>>(), vec![3, 3]);
}

async fn the_assignee_follows_the_case_and_is_notified(engine: Engine) {
    // GIVEN a Round-Robin team of one and a new case for it
    let w = world(engine).await;
    let team = w.team("round_robin").await;
    let agent = w.agent("Solo", &team).await;
    let case = w.case(json!({"subject": "help", "team_ids": [team]})).await;
    w.auto.take_notifications().await;
    // WHEN the worker assigns it
    w.auto.work_assign_queue().await;
    // THEN the agent follows it, and the assignment entry is queued for notification
    let followers = w.api.call(Method::GET, &format!("/cases/{}/followers", id_of(&case)), Some(&w.admin), None).await;
    assert!(followers.body["items"].as_array().is_some_and(|f| f.iter().any(|f| f["follower_id"] == agent)), "{}", followers.body);
    let notified = w.auto.take_notifications().await;
    let stream = w.api.call(Method::GET, &format!("/cases/{}/stream", id_of(&case)), Some(&w.admin), None).await;
    let assigned = stream.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["system"]["event"] == "assigned"))
        .unwrap_or_else(|| panic!("no assignment entry: {}", stream.body))
        .clone();
    assert_eq!(assigned["system"]["to"], agent);
    assert!(notified.iter().any(|m| m["entry_id"] == assigned["id"]), "assignment not queued for notification: {notified:?}");
    // ... and the notify handler mails it to the agent
    let (mailer, sent) = docket_e2e::mailer(engine).await;
    let notifier = docket_domain::notify::Notifier { docket: &w.auto.docket, mailer: mailer.as_ref(), settings: &mail_settings() };
    let body = json!({"case_id": id_of(&case), "entry_id": assigned["id"]}).to_string();
    let handled = notifier.handle(&body).await.expect("notify the assignment");
    assert_eq!(handled.sent, 2, "the creator (a follower) and the new assignee");
    let mails = sent.messages_with(&format!("{}.{}", assigned["id"].as_str().unwrap().to_lowercase(), agent.to_lowercase())).await;
    assert_eq!(mails.len(), 1, "one mail to the assignee");
    assert!(mails[0].contains("was assigned"), "{}", mails[0]);
}

fn mail_settings() -> docket_domain::notify::MailSettings {
    docket_domain::notify::MailSettings {
        from: docket_mail::compose::Address { name: Some("Docket".into()), email: docket_e2e::TEST_MAIL_FROM.into() },
        reply_to: docket_e2e::TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    }
}

async fn open_case_counts_follow_every_change_of_assignee_and_status(engine: Engine) {
    // GIVEN two agents and a case assigned to the first
    let w = world(engine).await;
    let team = w.team("least_busy").await;
    let (one, two) = (w.agent("One", &team).await, w.agent("Two", &team).await);
    let case = w.case(json!({"subject": "counted", "assignee_id": one})).await;
    assert_eq!((w.open_count(&one).await, w.open_count(&two).await), (1, 0));
    // WHEN it moves to the second agent, waits on the customer, closes and reopens
    w.patch(&case, json!({"assignee_id": two})).await;
    assert_eq!((w.open_count(&one).await, w.open_count(&two).await), (0, 1));
    w.patch(&case, json!({"status": "Pending"})).await;
    assert_eq!(w.open_count(&two).await, 1, "a waiting case is still the agent's load");
    w.patch(&case, json!({"status": "Closed"})).await;
    assert_eq!(w.open_count(&two).await, 0);
    w.patch(&case, json!({"status": "Reopened"})).await;
    // THEN the counts follow each step; unassigning takes it off
    assert_eq!(w.open_count(&two).await, 1);
    w.patch(&case, json!({"assignee_id": null, "status": "InProgress"})).await;
    assert_eq!((w.open_count(&one).await, w.open_count(&two).await), (0, 0));
}

async fn a_mailbox_rule_assigns_the_cases_of_its_mailbox(engine: Engine) {
    // GIVEN a team without a rule of its own, and a mailbox bound to it with Round-Robin
    let w = world(engine).await;
    let team = id_of(&w.api.create(&w.admin, "/teams", json!({"name": "Mail team"})).await);
    let members = w.agents(&team, 2).await;
    let address = format!("help-{}@support.example", ulid::Ulid::new().to_string().to_lowercase());
    let mailbox =
        w.api.create(&w.admin, "/mailboxes", json!({"name": "Help", "addresses": [address], "team_id": team, "assignment_rule": "round_robin"})).await;
    // WHEN four cases are opened for the mailbox (as mail would open them)
    let mut cases = Vec::new();
    for i in 0..4 {
        cases.push(w.case(json!({"subject": format!("mail {i}"), "team_ids": [team], "mailbox_id": id_of(&mailbox)})).await);
    }
    w.auto.work_assign_queue().await;
    // THEN they alternate over the team's members
    let counts = w.assignees(&cases).await;
    assert_even(&counts, &members, 4);
}

async fn cases_without_a_rule_stay_unassigned(engine: Engine) {
    // GIVEN a team without an assignment rule
    let w = world(engine).await;
    let team = id_of(&w.api.create(&w.admin, "/teams", json!({"name": "Plain team"})).await);
    w.agents(&team, 2).await;
    // WHEN a case for it is worked
    let case = w.case(json!({"subject": "nobody's", "team_ids": [team]})).await;
    let queued: Vec<CaseEvent> = {
        let deliveries = w.auto.assign.receive(10, std::time::Duration::from_secs(1)).await.expect("receive");
        for d in &deliveries {
            w.auto.assign.release(&d.receipt).await.expect("release");
        }
        deliveries.iter().map(|d| serde_json::from_str(&d.body).expect("a case event")).collect()
    };
    w.auto.work_assign_queue().await;
    // THEN its creation was announced, and it is still New without an assignee
    assert!(queued.iter().any(|e| e.case_id == id_of(&case) && e.trigger == docket_domain::events::Trigger::CaseCreated), "{queued:?}");
    let stored = w.get(&case).await;
    assert_eq!(stored["status"], "New");
    assert!(stored["assignee_id"].is_null());
}
