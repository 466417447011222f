//! Workflow rules (SPEC F14, F41) end to end on both engines: rules managed through the API,
//! cases created and changed through the API, the assign queue (SQLite table / SQS FIFO) worked
//! by the real assign handler (mail through the inbound pipeline for `email_received`), what
//! each action does to the case, the run logged on the stream, the depth limit, redelivery, and
//! a rule's notice mailed through the notify handler.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use docket_domain::events::MAX_RULE_DEPTH;
use docket_domain::inbound::Inbound;
use docket_domain::notify::MailSettings;
use docket_e2e::{Automated, Engine, TEST_MAIL_FROM, TestApi, id_of, on_both_engines};
use docket_mail::compose::Address;
use docket_notify::{NotifyHandler, Outcome};
use mail_parser::MessageParser;
use serde_json::{Value, json};

on_both_engines!(
    rules_are_managed_by_admins,
    urgent_case_from_a_mailbox_notifies_a_user_and_sets_a_team,
    assign_by_rule_gives_the_case_to_the_least_busy_member,
    assign_to_user_never_replaces_an_assignee,
    assign_to_team_adds_the_team_whose_rule_assigns_the_case,
    set_fields_changes_priority_and_category,
    link_mailbox_makes_the_mailbox_the_cases,
    add_followers_adds_the_active_users,
    notify_users_queues_a_notice_for_the_named_users,
    post_internal_note_is_hidden_from_the_portal,
    create_case_opens_a_child_case,
    share_child_records_opens_child_cases_to_the_parents_assignee,
    match_all_needs_every_condition_and_any_needs_one,
    in_compares_with_a_list_of_values,
    a_disabled_rule_does_not_run,
    rules_run_in_position_order,
    a_rule_that_would_loop_stops_at_the_depth_limit,
    a_redelivered_event_repeats_no_action,
    rule_runs_are_visible_to_agents_but_not_to_portal_users,
    email_received_rules_look_at_the_mail,
    an_action_that_cannot_be_done_is_logged_and_the_others_run,
    the_run_log_does_not_claim_changes_an_action_did_not_make,
    add_followers_adds_no_one_who_cannot_see_the_case,
);

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
    /// Creates a record as the admin (201 required); returns the body.
    async fn create(&self, path: &str, body: Value) -> Value {
        self.api.create(&self.admin, path, body).await
    }

    /// An agent named `name` (email `<name>@agents.test`) with `extra` fields; its id and token.
    async fn agent(&self, name: &str, extra: Value) -> (String, String) {
        let mut body = json!({"name": name, "email": format!("{}@agents.test", name.to_lowercase()), "role": "agent"});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let id = id_of(&self.create("/users", body).await);
        let token = self.api.token(&id);
        (id, token)
    }

    /// Creates a workflow rule; returns its id.
    async fn rule(&self, body: Value) -> String {
        id_of(&self.create("/workflow-rules", body).await)
    }

    async fn case(&self, body: Value) -> Value {
        self.create("/cases", body).await
    }

    /// A case as the admin reads it now.
    async fn case_now(&self, case_id: &str) -> Value {
        let reply = self.api.call(Method::GET, &format!("/cases/{case_id}"), Some(&self.admin), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// A merge patch of a rule or a case at the version it has (admin).
    async fn patch(&self, path: &str, version: u64, body: Value) -> Value {
        let etag = format!("\"{version}\"");
        let reply = self.api.send(Method::PATCH, path, Some(&self.admin), &[("if-match", &etag)], Some(body.to_string())).await;
        assert_eq!(reply.status, StatusCode::OK, "PATCH {path}: {}", reply.body);
        reply.body
    }

    /// The stream of a case (newest first) as the holder of `token` sees it.
    async fn stream_as(&self, token: &str, case_id: &str) -> Vec<Value> {
        let reply = self.api.call(Method::GET, &format!("/cases/{case_id}/stream?limit=100"), Some(token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"].as_array().expect("items").clone()
    }

    async fn stream(&self, case_id: &str) -> Vec<Value> {
        self.stream_as(&self.admin, case_id).await
    }

    /// The system entries of one event (`rule_ran`, …) on a case, newest first.
    async fn system_entries(&self, case_id: &str, event: &str) -> Vec<Value> {
        self.stream(case_id).await.into_iter().filter(|e| e["system"]["event"] == event).collect()
    }

    /// Ids of the rules whose runs are logged on a case, newest first.
    async fn rules_run_on(&self, case_id: &str) -> Vec<String> {
        self.system_entries(case_id, "rule_ran").await.iter().map(|e| e["system"]["rule_id"].as_str().expect("rule_id").to_owned()).collect()
    }

    /// Empties the notify queue (of what came before the step under test).
    async fn take_and_forget_notifications(&self) {
        self.auto.take_notifications().await;
    }

    /// Works the assign queue until it is empty; returns how many events were worked.
    async fn work(&self) -> usize {
        self.auto.work_assign_queue().await
    }
}

fn ids(values: &[Value]) -> Vec<String> {
    values.iter().map(id_of).collect()
}

fn steps(rule_ran: &Value) -> Vec<String> {
    rule_ran["system"]["steps"].as_array().expect("steps").iter().map(|s| s.as_str().expect("step").to_owned()).collect()
}

fn mail_settings() -> MailSettings {
    MailSettings {
        from: Address { name: Some("Docket Support".into()), email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    }
}

async fn rules_are_managed_by_admins(engine: Engine) {
    // GIVEN an admin, an agent and a team
    let w = world(engine).await;
    let (_, agent) = w.agent("Ada", json!({})).await;
    let team = id_of(&w.create("/teams", json!({"name": "Billing"})).await);
    let body = json!({
        "name": "Billing words",
        "trigger": "case_created",
        "conditions": [{"field": "subject", "op": "contains", "value": "invoice"}],
        "actions": [{"action": "assign_to_team", "team_id": team}],
    });
    // WHEN the admin creates a rule
    let created = w.api.call(Method::POST, "/workflow-rules", Some(&w.admin), Some(body.clone())).await;
    // THEN it is stored with defaults and versioned
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.etag(), "\"1\"");
    assert_eq!(created.body["enabled"], true);
    assert_eq!(created.body["match"], "all");
    assert_eq!(created.body["position"], 0);
    let rule = id_of(&created.body);
    let path = format!("/workflow-rules/{rule}");
    // AND it is listed and read back
    let listed = w.api.call(Method::GET, "/workflow-rules", Some(&w.admin), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(ids(listed.body["items"].as_array().expect("items")), vec![rule.clone()]);
    let read = w.api.call(Method::GET, &path, Some(&w.admin), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag(), "\"1\"");
    assert_eq!(read.body["actions"], json!([{"action": "assign_to_team", "team_id": team}]));
    // WHEN the admin disables it with a merge patch THEN only `enabled` and the version change
    let disabled = w.patch(&path, 1, json!({"enabled": false})).await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["version"], 2);
    assert_eq!(disabled["conditions"], read.body["conditions"]);
    assert_eq!(disabled["actions"], read.body["actions"]);
    // AND a patch at a version it no longer has is refused
    let stale = w.api.send(Method::PATCH, &path, Some(&w.admin), &[("if-match", "\"1\"")], Some(json!({"enabled": true}).to_string())).await;
    stale.assert_problem(412, None);
    // AND agents and portal users may neither create, list, read, change nor delete rules
    w.api.call(Method::POST, "/workflow-rules", Some(&agent), Some(body.clone())).await.assert_problem(403, None);
    w.api.call(Method::GET, "/workflow-rules", Some(&agent), None).await.assert_problem(403, None);
    w.api.call(Method::GET, &path, Some(&agent), None).await.assert_problem(403, None);
    w.api.call(Method::PATCH, &path, Some(&agent), Some(json!({"enabled": true}))).await.assert_problem(403, None);
    w.api.call(Method::DELETE, &path, Some(&agent), None).await.assert_problem(403, None);
    let (_, portal) = w.api.portal_contact("Pat", "pat@customer.test", None, json!({"role": "own_cases"})).await;
    w.api.call(Method::GET, "/workflow-rules", Some(&portal), None).await.assert_problem(403, None);
    w.api.call(Method::POST, "/workflow-rules", Some(&portal), Some(body.clone())).await.assert_problem(403, None);
    assert_eq!(w.api.call(Method::GET, &path, Some(&w.admin), None).await.body["enabled"], false);
    // AND invalid rules are refused naming the field
    let invalid = |conditions: Value, actions: Value| json!({"name": "Bad", "trigger": "case_created", "conditions": conditions, "actions": actions});
    let refusals = [
        (invalid(json!([]), json!([{"action": "explode"}])), "actions[0].action"),
        (invalid(json!([]), json!([])), "actions"),
        (invalid(json!([]), json!([{"action": "set_fields", "fields": {"subject": "Hacked"}}])), "actions[0].fields"),
        (invalid(json!([]), json!([{"action": "add_followers", "user_ids": []}])), "actions[0].user_ids"),
        (
            invalid(
                json!([{"field": "status", "op": "is", "value": "New"}, {"field": "priority", "op": "in", "value": "Urgent"}]),
                json!([{"action": "post_internal_note", "body": "x"}]),
            ),
            "conditions[1].value",
        ),
        (
            invalid(json!([{"field": "priority", "op": "is", "value": "Critical"}]), json!([{"action": "post_internal_note", "body": "x"}])),
            "conditions[0].value",
        ),
        (invalid(json!([]), json!([{"action": "notify_users", "user_ids": ["nobody-01"], "message": "hi"}])), "actions"),
        (invalid(json!([]), json!([{"action": "assign_to_team", "team_id": "no-such-team"}])), "actions"),
    ];
    for (body, field) in refusals {
        let reply = w.api.call(Method::POST, "/workflow-rules", Some(&w.admin), Some(body.clone())).await;
        assert!(reply.status == StatusCode::UNPROCESSABLE_ENTITY, "{body}: {} {}", reply.status, reply.body);
        reply.assert_problem(422, Some(field));
    }
    // AND a patch making a rule invalid is refused too, leaving it as it was
    let bad_patch = w.api.send(Method::PATCH, &path, Some(&w.admin), &[], Some(json!({"actions": []}).to_string())).await;
    bad_patch.assert_problem(422, Some("actions"));
    // WHEN the admin deletes it THEN it is gone
    let deleted = w.api.call(Method::DELETE, &path, Some(&w.admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    w.api.call(Method::GET, &path, Some(&w.admin), None).await.assert_problem(404, None);
    w.api.call(Method::DELETE, &path, Some(&w.admin), None).await.assert_problem(404, None);
    let listed = w.api.call(Method::GET, "/workflow-rules", Some(&w.admin), None).await;
    assert_eq!(listed.body["items"], json!([]));
}

async fn urgent_case_from_a_mailbox_notifies_a_user_and_sets_a_team(engine: Engine) {
    // GIVEN mailbox X, another mailbox, team Z and user Y
    let w = world(engine).await;
    let x = id_of(&w.create("/mailboxes", json!({"name": "VIP", "addresses": ["vip@docket.test"]})).await);
    let other = id_of(&w.create("/mailboxes", json!({"name": "General", "addresses": ["general@docket.test"]})).await);
    let z = id_of(&w.create("/teams", json!({"name": "Escalations"})).await);
    let (y, _) = w.agent("Yara", json!({})).await;
    // AND the rule "priority Urgent on a case created from mailbox X: notify Y, set team Z"
    let rule = w
        .rule(json!({
            "name": "Urgent VIP cases",
            "trigger": "case_created",
            "match": "all",
            "conditions": [
                {"field": "priority", "op": "is", "value": "Urgent"},
                {"field": "mailbox_id", "op": "is", "value": x},
            ],
            "actions": [
                {"action": "notify_users", "user_ids": [y], "message": "A VIP customer is down, please call them"},
                {"action": "assign_to_team", "team_id": z},
            ],
        }))
        .await;
    // WHEN an Urgent case comes from X and the worker runs
    let case = w.case(json!({"subject": "Server down", "priority": "Urgent", "mailbox_id": x})).await;
    let case_id = id_of(&case);
    w.work().await;
    // THEN the case is Z's
    assert_eq!(w.case_now(&case_id).await["team_ids"], json!([z]));
    // AND the run is logged as an internal system entry of the rule the admin sees
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["system"]["rule_id"], rule.as_str());
    assert_eq!(run["system"]["rule_name"], "Urgent VIP cases");
    assert_eq!(run["system"]["trigger"], "case_created");
    assert_eq!(run["visibility"], "internal");
    assert_eq!(run["author"], json!({"kind": "workflow", "id": rule}));
    let done = steps(run);
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done[0].starts_with("notify_users: "), "{done:?}");
    assert!(done[1].starts_with("assign_to_team: "), "{done:?}");
    // AND the notify queue holds a notice addressed to Y alone
    let notices: Vec<Value> = w.auto.take_notifications().await.into_iter().filter(|m| m.get("to").is_some()).collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["to"], json!([y]));
    assert_eq!(notices[0]["case_id"], case_id.as_str());
    // WHEN the notify handler works that message
    let (mailer, sent) = docket_e2e::mailer(engine).await;
    let notifier = NotifyHandler { docket: w.auto.docket.clone(), mailer, settings: mail_settings() };
    assert_eq!(notifier.handle_message("notice-1", &notices[0].to_string()).await, Outcome::Done);
    // THEN Y got one mail about the case with the rule's message
    let entry_id = notices[0]["entry_id"].as_str().expect("entry_id");
    let mail = sent.messages_with(&format!("<{}.", entry_id.to_lowercase())).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let parsed = MessageParser::default().parse(mail[0].as_bytes()).expect("parses");
    let to: Vec<&str> = parsed.to().expect("To").iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["yara@agents.test"]);
    let number = format!("[#{}]", case["number"]);
    assert_eq!(parsed.subject(), Some(format!("{number} Server down").as_str()));
    let text = parsed.body_text(0).expect("text body");
    assert!(text.contains("Urgent VIP cases") && text.contains(&number), "{text}");
    assert!(text.contains("A VIP customer is down, please call them"), "{text}");
    // WHEN a Normal case comes from X and an Urgent one from another mailbox
    let normal = id_of(&w.case(json!({"subject": "Question", "priority": "Normal", "mailbox_id": x})).await);
    let elsewhere = id_of(&w.case(json!({"subject": "Down too", "priority": "Urgent", "mailbox_id": other})).await);
    w.work().await;
    // THEN the rule did nothing to them
    for id in [&normal, &elsewhere] {
        assert_eq!(w.rules_run_on(id).await, Vec::<String>::new());
        assert_eq!(w.case_now(id).await["team_ids"], json!([]));
    }
    assert!(w.auto.take_notifications().await.iter().all(|m| m.get("to").is_none()));
}

async fn assign_by_rule_gives_the_case_to_the_least_busy_member(engine: Engine) {
    // GIVEN a team without an assignment rule of its own, whose first member has an open case
    let w = world(engine).await;
    let team = id_of(&w.create("/teams", json!({"name": "Support"})).await);
    let (first, _) = w.agent("Abel", json!({"team_ids": [team]})).await;
    let (second, _) = w.agent("Bria", json!({"team_ids": [team]})).await;
    let (busy, idle) = if first < second { (first, second) } else { (second, first) };
    w.case(json!({"subject": "Already working", "assignee_id": busy})).await;
    w.work().await;
    // AND a rule assigning new cases of that team by Least-Busy
    let rule = w
        .rule(json!({
            "name": "Least busy",
            "trigger": "case_created",
            "conditions": [{"field": "assignee_id", "op": "is_empty"}],
            "actions": [{"action": "assign_by_rule", "team_id": team, "rule": "least_busy"}],
        }))
        .await;
    // WHEN a new unassigned case is created
    let case_id = id_of(&w.case(json!({"subject": "Help"})).await);
    w.work().await;
    // THEN the idle member has it
    let case = w.case_now(&case_id).await;
    assert_eq!(case["assignee_id"], idle.as_str());
    assert_eq!(case["status"], "Assigned");
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["system"]["rule_id"], rule.as_str());
    assert_eq!(steps(&runs[0]), vec![format!("assign_by_rule: assigned to {idle} by least-busy")]);
    // AND the assignee follows the case
    let followers = w.api.call(Method::GET, &format!("/cases/{case_id}/followers"), Some(&w.admin), None).await;
    assert!(followers.body["items"].as_array().unwrap().iter().any(|f| f["follower_id"] == idle.as_str()), "{}", followers.body);
}

async fn assign_to_user_never_replaces_an_assignee(engine: Engine) {
    // GIVEN a rule giving new cases to U, and another agent V
    let w = world(engine).await;
    let (u, _) = w.agent("Uma", json!({})).await;
    let (v, _) = w.agent("Vic", json!({})).await;
    w.rule(json!({"name": "To Uma", "trigger": "case_created", "actions": [{"action": "assign_to_user", "user_id": u}]})).await;
    // WHEN an unassigned case and a case assigned to V are created
    let free = id_of(&w.case(json!({"subject": "Nobody's"})).await);
    let taken = id_of(&w.case(json!({"subject": "Vic's", "assignee_id": v})).await);
    w.work().await;
    // THEN U has the first, V keeps the second
    let case = w.case_now(&free).await;
    assert_eq!((&case["assignee_id"], &case["status"]), (&json!(u), &json!("Assigned")));
    let case = w.case_now(&taken).await;
    assert_eq!((&case["assignee_id"], &case["status"]), (&json!(v), &json!("Assigned")));
    assert_eq!(case["version"], 1, "the assigned case was not rewritten");
    let runs = w.system_entries(&taken, "rule_ran").await;
    assert_eq!(steps(&runs[0]), vec!["assign_to_user: kept the assignee the case has".to_owned()]);
    // AND the assignment by the rule is on the stream, by the rule
    let assigned = w.system_entries(&free, "assigned").await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["author"]["kind"], "workflow");
}

async fn assign_to_team_adds_the_team_whose_rule_assigns_the_case(engine: Engine) {
    // GIVEN team Z assigning by Round-Robin with one member M, and a rule adding Z to new cases
    let w = world(engine).await;
    let z = id_of(&w.create("/teams", json!({"name": "Night shift", "assignment_rule": "round_robin"})).await);
    let other = id_of(&w.create("/teams", json!({"name": "Day shift"})).await);
    let (m, _) = w.agent("Mo", json!({"team_ids": [z]})).await;
    w.rule(json!({
        "name": "Night",
        "trigger": "case_created",
        "conditions": [{"field": "subject", "op": "contains", "value": "night"}],
        "actions": [{"action": "assign_to_team", "team_id": z}],
    }))
    .await;
    // WHEN a matching case of another team is created
    let case_id = id_of(&w.case(json!({"subject": "Night outage", "team_ids": [other]})).await);
    w.work().await;
    // THEN it has both teams, and Z's rule gave it to M
    let case = w.case_now(&case_id).await;
    assert_eq!(case["team_ids"], json!([other, z]));
    assert_eq!(case["assignee_id"], m.as_str());
    assert_eq!(case["status"], "Assigned");
    // AND team Z lists the case
    let listed = w.api.call(Method::GET, &format!("/cases?team_id={z}"), Some(&w.admin), None).await;
    assert_eq!(ids(listed.body["items"].as_array().expect("items")), vec![case_id]);
}

async fn set_fields_changes_priority_and_category(engine: Engine) {
    // GIVEN a rule setting priority and category of cases about refunds
    let w = world(engine).await;
    w.rule(json!({
        "name": "Refunds",
        "trigger": "case_created",
        "conditions": [{"field": "description", "op": "contains", "value": "refund"}],
        "actions": [{"action": "set_fields", "fields": {"priority": "High", "category": "Billing", "type": "Request"}}],
    }))
    .await;
    // WHEN such a case is created, and one about something else
    let refund = id_of(&w.case(json!({"subject": "Money", "description": "I want a Refund now"})).await);
    let other = id_of(&w.case(json!({"subject": "Hello", "description": "Just saying hi"})).await);
    w.work().await;
    // THEN only the first changed, and the priority change is on its stream
    let case = w.case_now(&refund).await;
    assert_eq!((&case["priority"], &case["category"], &case["type"]), (&json!("High"), &json!("Billing"), &json!("Request")));
    assert_eq!(case["updated_by"].as_str().map(|s| s.starts_with("workflow:")), Some(true), "{case}");
    let changed = w.system_entries(&refund, "priority_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!((&changed[0]["system"]["from"], &changed[0]["system"]["to"]), (&json!("Normal"), &json!("High")));
    let case = w.case_now(&other).await;
    assert_eq!((&case["priority"], &case["category"]), (&json!("Normal"), &Value::Null));
}

async fn link_mailbox_makes_the_mailbox_the_cases(engine: Engine) {
    // GIVEN a mailbox whose team assigns by Round-Robin, and a rule linking invoices to it
    let w = world(engine).await;
    let team = id_of(&w.create("/teams", json!({"name": "Accounts"})).await);
    let (member, _) = w.agent("Ines", json!({"team_ids": [team]})).await;
    let mailbox = id_of(
        &w.create("/mailboxes", json!({"name": "Billing", "addresses": ["billing@docket.test"], "team_id": team, "assignment_rule": "round_robin"})).await,
    );
    w.rule(json!({
        "name": "Invoices to billing",
        "trigger": "case_created",
        "conditions": [{"field": "subject", "op": "contains", "value": "invoice"}],
        "actions": [{"action": "link_mailbox", "mailbox_id": mailbox}],
    }))
    .await;
    // WHEN an invoice case is created without a mailbox
    let case_id = id_of(&w.case(json!({"subject": "Invoice 42 is wrong"})).await);
    w.work().await;
    // THEN it is the mailbox's case, and the mailbox's rule assigned it
    let case = w.case_now(&case_id).await;
    assert_eq!(case["mailbox_id"], mailbox.as_str());
    assert_eq!(case["assignee_id"], member.as_str());
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(steps(&runs[0]), vec![format!("link_mailbox: mailbox {mailbox} linked")]);
}

async fn add_followers_adds_the_active_users(engine: Engine) {
    // GIVEN a rule adding two users as followers, one of whom is then deactivated
    let w = world(engine).await;
    let (active, _) = w.agent("Fay", json!({})).await;
    let (gone, _) = w.agent("Gus", json!({})).await;
    w.rule(json!({"name": "Watchers", "trigger": "case_created", "actions": [{"action": "add_followers", "user_ids": [active, gone]}]})).await;
    w.patch(&format!("/users/{gone}"), 1, json!({"active": false})).await;
    // WHEN a case is created
    let case_id = id_of(&w.case(json!({"subject": "Watch me"})).await);
    w.work().await;
    // THEN the active user follows it, the inactive one does not
    let followers = w.api.call(Method::GET, &format!("/cases/{case_id}/followers"), Some(&w.admin), None).await;
    let mut following: Vec<String> = followers.body["items"].as_array().unwrap().iter().map(|f| f["follower_id"].as_str().unwrap().to_owned()).collect();
    following.sort();
    let mut expected = vec![w.api.admin.id.to_string(), active.clone()];
    expected.sort();
    assert_eq!(following, expected);
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(steps(&runs[0]), vec![format!("add_followers: 1 followers added; not {gone} (inactive, missing or unable to see the case)")]);
    // AND the follower finds the case among what they follow
    let mine = w.api.call(Method::GET, "/me/follows", Some(&w.api.token(&active)), None).await;
    assert_eq!(ids(mine.body["items"].as_array().expect("items")), vec![case_id]);
}

async fn notify_users_queues_a_notice_for_the_named_users(engine: Engine) {
    // GIVEN a rule telling two users about new cases
    let w = world(engine).await;
    let (n1, _) = w.agent("Nia", json!({})).await;
    let (n2, _) = w.agent("Ned", json!({})).await;
    let rule = w
        .rule(json!({"name": "Heads up", "trigger": "case_created", "actions": [{"action": "notify_users", "user_ids": [n1, n2], "message": "Have a look"}]}))
        .await;
    // WHEN a case is created
    let case_id = id_of(&w.case(json!({"subject": "Look"})).await);
    w.take_and_forget_notifications().await;
    w.work().await;
    // THEN its stream holds the rule's internal notice
    let notices = w.system_entries(&case_id, "rule_notice").await;
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice["system"]["rule_id"], rule.as_str());
    assert_eq!(notice["system"]["user_ids"], json!([n1, n2]));
    assert_eq!(notice["system"]["message"], "Have a look");
    assert_eq!(notice["visibility"], "internal");
    // AND one notify message for the notice, to exactly those users
    let queued = w.auto.take_notifications().await;
    assert_eq!(queued, vec![json!({"case_id": case_id, "entry_id": notice["id"], "to": [n1, n2]})]);
    // AND they were not made followers
    let followers = w.api.call(Method::GET, &format!("/cases/{case_id}/followers"), Some(&w.admin), None).await;
    assert!(followers.body["items"].as_array().unwrap().iter().all(|f| f["follower_id"] != n1.as_str() && f["follower_id"] != n2.as_str()));
}

async fn post_internal_note_is_hidden_from_the_portal(engine: Engine) {
    // GIVEN a rule posting a note on new cases, and a portal customer's case
    let w = world(engine).await;
    let rule = w.rule(json!({"name": "Checklist", "trigger": "case_created", "actions": [{"action": "post_internal_note", "body": "Check the contract before answering"}]})).await;
    let (contact, portal) = w.api.portal_contact("Pat", "pat@customer.test", None, json!({"role": "own_cases"})).await;
    let case_id = id_of(&w.case(json!({"subject": "Contract question", "contact_ids": [id_of(&contact)]})).await);
    // WHEN the worker runs
    w.work().await;
    // THEN staff see the note, internal and by the rule
    let notes: Vec<Value> = w.stream(&case_id).await.into_iter().filter(|e| e["kind"] == "post").collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["body"], "Check the contract before answering");
    assert_eq!(notes[0]["visibility"], "internal");
    assert_eq!(notes[0]["author"], json!({"kind": "workflow", "id": rule}));
    // AND the portal customer sees neither the note nor the run
    let seen = w.stream_as(&portal, &case_id).await;
    assert!(seen.iter().all(|e| e["kind"] != "post" && e["visibility"] == "public"), "{seen:?}");
    assert!(seen.iter().all(|e| e["system"]["event"] != "rule_ran"), "{seen:?}");
}

async fn create_case_opens_a_child_case(engine: Engine) {
    // GIVEN a team assigning by Round-Robin, a contact, and a rule opening a follow-up case for
    // cases created through the API
    let w = world(engine).await;
    let team = id_of(&w.create("/teams", json!({"name": "Legal", "assignment_rule": "round_robin"})).await);
    let (lawyer, _) = w.agent("Lena", json!({"team_ids": [team]})).await;
    let contact = id_of(&w.create("/contacts", json!({"name": "Cy", "emails": ["cy@customer.test"]})).await);
    w.rule(json!({
        "name": "Legal review",
        "trigger": "case_created",
        "conditions": [{"field": "source", "op": "is", "value": "api"}],
        "actions": [{"action": "create_case", "subject": "Legal review", "description": "Review the terms", "team_ids": [team], "priority": "High"}],
    }))
    .await;
    // WHEN a case is created through the API
    let parent = id_of(&w.case(json!({"subject": "Terms dispute", "contact_ids": [contact]})).await);
    w.work().await;
    // THEN one child case is opened by the workflow, with the parent's contacts
    let listed = w.api.call(Method::GET, "/cases?limit=100", Some(&w.admin), None).await;
    let cases = listed.body["items"].as_array().expect("items").clone();
    assert_eq!(cases.len(), 2, "{cases:?}");
    let child = cases.iter().find(|c| c["id"] != parent.as_str()).expect("child");
    assert_eq!(child["parent_id"], parent.as_str());
    assert_eq!(child["source"], "workflow");
    assert_eq!(child["subject"], "Legal review");
    assert_eq!(child["description"], "Review the terms");
    assert_eq!(child["priority"], "High");
    assert_eq!(child["team_ids"], json!([team]));
    assert_eq!(child["contact_ids"], json!([contact]));
    // AND its team's rule assigned it, as for any new case
    assert_eq!(child["assignee_id"], lawyer.as_str());
    // AND the rule ran once, on the parent only (the child does not match)
    assert_eq!(w.rules_run_on(&parent).await.len(), 1);
    assert_eq!(w.rules_run_on(&id_of(child)).await.len(), 0);
}

async fn share_child_records_opens_child_cases_to_the_parents_assignee(engine: Engine) {
    // GIVEN an agent who sees only their own cases, assignee of a parent case of team T
    let w = world(engine).await;
    let team = id_of(&w.create("/teams", json!({"name": "Projects"})).await);
    let (owner, owner_token) = w.agent("Olga", json!({"scope": "own"})).await;
    let parent = w.case(json!({"subject": "Roll-out", "assignee_id": owner, "team_ids": [team]})).await;
    let parent_id = id_of(&parent);
    // AND a child case created by hand, which the agent cannot see
    let child_id = id_of(&w.case(json!({"subject": "Roll-out, site 2", "parent_id": parent_id})).await);
    w.api.call(Method::GET, &format!("/cases/{child_id}"), Some(&owner_token), None).await.assert_problem(404, None);
    // AND a rule sharing child records of escalated cases
    w.rule(json!({
        "name": "Share children",
        "trigger": "case_updated",
        "conditions": [{"field": "category", "op": "is", "value": "Escalated"}],
        "actions": [{"action": "share_child_records"}],
    }))
    .await;
    w.work().await;
    // WHEN the parent is escalated
    w.patch(&format!("/cases/{parent_id}"), parent["version"].as_u64().unwrap(), json!({"category": "Escalated"})).await;
    w.work().await;
    // THEN the agent can read the child, which has the parent's teams
    let read = w.api.call(Method::GET, &format!("/cases/{child_id}"), Some(&owner_token), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["team_ids"], json!([team]));
    assert_eq!(read.body["collaborator_ids"], json!([owner]));
    // AND follows it
    let mine = w.api.call(Method::GET, "/me/follows?limit=100", Some(&owner_token), None).await;
    assert!(ids(mine.body["items"].as_array().expect("items")).contains(&child_id), "{}", mine.body);
    let runs = w.system_entries(&parent_id, "rule_ran").await;
    assert_eq!(steps(&runs[0]), vec!["share_child_records: 1 child cases shared with the case's assignee and teams".to_owned()]);
}

async fn match_all_needs_every_condition_and_any_needs_one(engine: Engine) {
    // GIVEN two rules with the same conditions, one matching all, one any; "contains" is given
    // in capitals
    let w = world(engine).await;
    let conditions = json!([
        {"field": "subject", "op": "contains", "value": "OUTAGE"},
        {"field": "priority", "op": "is", "value": "Urgent"},
    ]);
    let action = json!([{"action": "add_followers", "user_ids": [w.api.admin.id]}]);
    let all = w.rule(json!({"name": "All", "trigger": "case_created", "match": "all", "conditions": conditions, "actions": action})).await;
    let any = w.rule(json!({"name": "Any", "trigger": "case_created", "match": "any", "conditions": conditions, "actions": action})).await;
    // WHEN cases match both conditions, one, or none
    let both = id_of(&w.case(json!({"subject": "Total Outage", "priority": "Urgent"})).await);
    let one = id_of(&w.case(json!({"subject": "Partial outage in EU", "priority": "High"})).await);
    let none = id_of(&w.case(json!({"subject": "Question", "priority": "High", "description": "an outage, but not in the subject"})).await);
    w.work().await;
    // THEN "all" ran only where both hold, "any" where one does
    let mut ran = w.rules_run_on(&both).await;
    ran.sort();
    let mut expected = vec![all.clone(), any.clone()];
    expected.sort();
    assert_eq!(ran, expected);
    assert_eq!(w.rules_run_on(&one).await, vec![any.clone()]);
    assert_eq!(w.rules_run_on(&none).await, Vec::<String>::new());
}

async fn in_compares_with_a_list_of_values(engine: Engine) {
    // GIVEN a rule for cases whose source is phone or email, and not Low
    let w = world(engine).await;
    let rule = w
        .rule(json!({
            "name": "Phone and mail",
            "trigger": "case_created",
            "conditions": [
                {"field": "source", "op": "in", "value": ["phone", "email"]},
                {"field": "priority", "op": "not_in", "value": ["Low"]},
            ],
            "actions": [{"action": "set_fields", "fields": {"category": "Voice"}}],
        }))
        .await;
    // WHEN cases come by phone, by API, and by phone with Low priority
    let phone = id_of(&w.case(json!({"subject": "Called", "source": "phone"})).await);
    let api = id_of(&w.case(json!({"subject": "Posted", "source": "api"})).await);
    let low = id_of(&w.case(json!({"subject": "Called, no rush", "source": "phone", "priority": "Low"})).await);
    w.work().await;
    // THEN only the first matched
    assert_eq!(w.rules_run_on(&phone).await, vec![rule]);
    assert_eq!(w.case_now(&phone).await["category"], "Voice");
    for id in [&api, &low] {
        assert_eq!(w.rules_run_on(id).await, Vec::<String>::new());
        assert_eq!(w.case_now(id).await["category"], Value::Null);
    }
}

async fn a_disabled_rule_does_not_run(engine: Engine) {
    // GIVEN a rule created disabled, and one disabled after creation
    let w = world(engine).await;
    let note = |name: &str, enabled: bool| json!({"name": name, "enabled": enabled, "trigger": "case_created", "actions": [{"action": "post_internal_note", "body": name}]});
    w.rule(note("Off from the start", false)).await;
    let later = w.rule(note("Switched off", true)).await;
    let path = format!("/workflow-rules/{later}");
    w.patch(&path, 1, json!({"enabled": false})).await;
    // WHEN a case is created THEN neither runs
    let quiet = id_of(&w.case(json!({"subject": "Quiet"})).await);
    w.work().await;
    assert_eq!(w.rules_run_on(&quiet).await, Vec::<String>::new());
    assert!(w.stream(&quiet).await.iter().all(|e| e["kind"] != "post"));
    // WHEN the second is enabled again THEN it runs on the next case
    w.patch(&path, 2, json!({"enabled": true})).await;
    let loud = id_of(&w.case(json!({"subject": "Loud"})).await);
    w.work().await;
    assert_eq!(w.rules_run_on(&loud).await, vec![later]);
    assert_eq!(w.rules_run_on(&quiet).await, Vec::<String>::new());
}

async fn rules_run_in_position_order(engine: Engine) {
    // GIVEN two rules setting the category: the one created first, named first, runs later
    let w = world(engine).await;
    let set = |name: &str, position: u32, category: &str| json!({"name": name, "position": position, "trigger": "case_created", "actions": [{"action": "set_fields", "fields": {"category": category}}]});
    let later = w.rule(set("A later", 2, "second")).await;
    let earlier = w.rule(set("B earlier", 1, "first")).await;
    // WHEN a case is created
    let case_id = id_of(&w.case(json!({"subject": "Ordered"})).await);
    w.work().await;
    // THEN the later position wins, and the runs are logged in that order (newest first)
    assert_eq!(w.case_now(&case_id).await["category"], "second");
    assert_eq!(w.rules_run_on(&case_id).await, vec![later.clone(), earlier.clone()]);
    // WHEN a third rule, last in order, asks for the category the second one set
    let last = w
        .rule(json!({
            "name": "C last",
            "position": 3,
            "trigger": "case_created",
            "conditions": [{"field": "category", "op": "is", "value": "second"}],
            "actions": [{"action": "post_internal_note", "body": "saw second"}],
        }))
        .await;
    let again = id_of(&w.case(json!({"subject": "Ordered again"})).await);
    w.work().await;
    // THEN it sees the case as the earlier rules left it, and runs
    assert_eq!(w.rules_run_on(&again).await, vec![last, later, earlier]);
}

async fn a_rule_that_would_loop_stops_at_the_depth_limit(engine: Engine) {
    // GIVEN a rule answering every new entry with a note (which is a new entry)
    let w = world(engine).await;
    let rule = w.rule(json!({"name": "Echo", "trigger": "entry_added", "actions": [{"action": "post_internal_note", "body": "echo"}]})).await;
    let case_id = id_of(&w.case(json!({"subject": "Loop"})).await);
    assert_eq!(w.work().await, 1);
    // WHEN an agent posts once
    w.api.create(&w.admin, &format!("/cases/{case_id}/stream"), json!({"body": "hello"})).await;
    let worked = w.work().await;
    // THEN the rule ran MAX_RULE_DEPTH times, then stopped and said so
    let depth = usize::from(MAX_RULE_DEPTH);
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(runs.len(), depth, "{runs:?}");
    let mut depths: Vec<u64> = runs.iter().map(|r| r["system"]["depth"].as_u64().unwrap()).collect();
    depths.sort();
    assert_eq!(depths, (0..u64::from(MAX_RULE_DEPTH)).collect::<Vec<_>>());
    let stopped = w.system_entries(&case_id, "rules_stopped").await;
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0]["system"]["depth"], MAX_RULE_DEPTH);
    assert_eq!(stopped[0]["system"]["rule_ids"], json!([rule]));
    assert_eq!(stopped[0]["visibility"], "internal");
    let echoes = w.stream(&case_id).await.into_iter().filter(|e| e["body"] == "echo").count();
    assert_eq!(echoes, depth);
    // AND the queue is empty: the post's event and one per note were worked
    assert_eq!(worked, 1 + depth);
    assert!(w.auto.assign.receive(10, Duration::from_secs(1)).await.expect("receive").is_empty());
}

async fn a_redelivered_event_repeats_no_action(engine: Engine) {
    // GIVEN a rule posting a note and notifying a user, and a new case's event on the queue
    let w = world(engine).await;
    let (user, _) = w.agent("Rae", json!({})).await;
    w.rule(json!({
        "name": "Once",
        "trigger": "case_created",
        "actions": [
            {"action": "post_internal_note", "body": "only once"},
            {"action": "notify_users", "user_ids": [user], "message": "once"},
        ],
    }))
    .await;
    let case_id = id_of(&w.case(json!({"subject": "Redelivered"})).await);
    w.take_and_forget_notifications().await;
    let mut deliveries = w.auto.assign.receive(10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(deliveries.len(), 1);
    let delivery = deliveries.pop().unwrap();
    // WHEN the same message is handled twice (a redelivery)
    assert_eq!(w.auto.handler.handle_message(&delivery.message_id, &delivery.body).await, docket_assign::Outcome::Done);
    assert_eq!(w.auto.handler.handle_message(&delivery.message_id, &delivery.body).await, docket_assign::Outcome::Done);
    w.auto.assign.ack(&delivery.receipt).await.expect("ack");
    // THEN one note, one notice and one logged run; one event queued for the one note
    let stream = w.stream(&case_id).await;
    assert_eq!(stream.iter().filter(|e| e["body"] == "only once").count(), 1, "{stream:?}");
    assert_eq!(stream.iter().filter(|e| e["system"]["event"] == "rule_notice").count(), 1, "{stream:?}");
    assert_eq!(stream.iter().filter(|e| e["system"]["event"] == "rule_ran").count(), 1, "{stream:?}");
    assert_eq!(w.work().await, 1);
    // AND one notification to the user
    let to_user = w.auto.take_notifications().await.into_iter().filter(|m| m["to"] == json!([user])).count();
    assert_eq!(to_user, 1);
}

async fn rule_runs_are_visible_to_agents_but_not_to_portal_users(engine: Engine) {
    // GIVEN a rule raising the priority of a portal customer's cases and telling an agent
    let w = world(engine).await;
    let (agent, agent_token) = w.agent("Al", json!({})).await;
    let (contact, portal) = w.api.portal_contact("Pia", "pia@customer.test", None, json!({"role": "own_cases", "can_create_cases": true})).await;
    w.rule(json!({
        "name": "Portal cases first",
        "trigger": "case_created",
        "conditions": [{"field": "source", "op": "is", "value": "portal"}],
        "actions": [
            {"action": "set_fields", "fields": {"priority": "High"}},
            {"action": "notify_users", "user_ids": [agent], "message": "portal case"},
        ],
    }))
    .await;
    // WHEN the customer opens a case in the portal
    let created = w.api.create(&portal, "/cases", json!({"subject": "Broken login"})).await;
    let case_id = id_of(&created);
    assert!(created.get("contact_ids").is_none(), "portal view: {created}");
    assert_eq!(w.case_now(&case_id).await["contact_ids"], json!([id_of(&contact)]));
    w.work().await;
    // THEN the agent sees the run, the notice and the priority change
    let seen = w.stream_as(&agent_token, &case_id).await;
    for event in ["rule_ran", "rule_notice", "priority_changed", "created"] {
        assert_eq!(seen.iter().filter(|e| e["system"]["event"] == event).count(), 1, "{event}: {seen:?}");
    }
    // AND the customer sees the new priority, but only the public "created" entry
    let portal_case = w.api.call(Method::GET, &format!("/cases/{case_id}"), Some(&portal), None).await;
    assert_eq!(portal_case.body["priority"], "High");
    let seen = w.stream_as(&portal, &case_id).await;
    let events: Vec<&Value> = seen.iter().map(|e| &e["system"]["event"]).collect();
    assert_eq!(events, vec![&json!("created")], "{seen:?}");
}

async fn email_received_rules_look_at_the_mail(engine: Engine) {
    // GIVEN a mailbox and a rule for mail into its cases that asks for a refund
    let w = world(engine).await;
    let address = format!("support-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    let mailbox = id_of(&w.create("/mailboxes", json!({"name": "Support", "addresses": [address]})).await);
    let rule = w
        .rule(json!({
            "name": "Refund mail",
            "trigger": "email_received",
            "conditions": [
                {"field": "body", "op": "contains", "value": "refund"},
                {"field": "mailbox_id", "op": "is", "value": mailbox},
            ],
            "actions": [{"action": "set_fields", "fields": {"category": "Refunds"}}],
        }))
        .await;
    let docket = w.auto.docket.clone().with_blobs(docket_e2e::blobs(engine).await);
    let settings = mail_settings();
    let pipeline = Inbound { docket: &docket, mailer: None, settings: &settings };
    let receive = |subject: &str, message_id: &str, body: &str| {
        let raw = format!(
            "From: Kim <kim@customer.test>\r\nTo: {address}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        );
        docket_e2e::plain_delivery(&address, raw)
    };
    // WHEN a mail opens a case without the word, and the customer then asks for a Refund
    let first = pipeline.receive(receive("Order 7", "m1", "Where is my order?")).await.expect("pipeline");
    let case_id = first.case_id.expect("a new case");
    w.work().await;
    assert_eq!(w.rules_run_on(&case_id).await, Vec::<String>::new());
    let number = first.case_number.expect("number");
    let reply = pipeline.receive(receive(&format!("Re: [#{number}] Order 7"), "m2", "Too late. I want a Refund.")).await.expect("pipeline");
    assert_eq!(reply.case_id.as_deref(), Some(case_id.as_str()), "the reply threads into the case");
    w.work().await;
    // THEN the rule ran once, on the mail that asked, as an email_received run
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["system"]["rule_id"], rule.as_str());
    assert_eq!(runs[0]["system"]["trigger"], "email_received");
    assert_eq!(w.case_now(&case_id).await["category"], "Refunds");
}

async fn an_action_that_cannot_be_done_is_logged_and_the_others_run(engine: Engine) {
    // GIVEN a rule whose first action is invalid for an unassigned case (Assigned needs an
    // assignee), followed by two that are fine
    let w = world(engine).await;
    w.rule(json!({
        "name": "Half good",
        "trigger": "case_created",
        "actions": [
            {"action": "set_fields", "fields": {"status": "Assigned"}},
            {"action": "set_fields", "fields": {"category": null}},
            {"action": "post_internal_note", "body": "still here"},
        ],
    }))
    .await;
    // WHEN a case is created
    let case_id = id_of(&w.case(json!({"subject": "Partly", "category": "Old"})).await);
    w.work().await;
    // THEN the run says what was not done, and did the rest
    let runs = w.system_entries(&case_id, "rule_ran").await;
    assert_eq!(runs.len(), 1);
    let done = steps(&runs[0]);
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(done[0].starts_with("set_fields: not done: "), "{done:?}");
    assert_eq!(done[1..], ["set_fields: set category".to_owned(), "post_internal_note: internal note posted".to_owned()]);
    let case = w.case_now(&case_id).await;
    assert_eq!((&case["status"], &case["category"]), (&json!("New"), &Value::Null));
    assert_eq!(w.stream(&case_id).await.iter().filter(|e| e["body"] == "still here").count(), 1);
}

async fn the_run_log_does_not_claim_changes_an_action_did_not_make(engine: Engine) {
    // GIVEN a rule adding team Z and linking mailbox X, and a case that has both already
    let w = world(engine).await;
    let z = id_of(&w.create("/teams", json!({"name": "Zeta"})).await);
    let x = id_of(&w.create("/mailboxes", json!({"name": "Xray", "addresses": ["xray@docket.test"]})).await);
    w.rule(json!({
        "name": "Already so",
        "trigger": "case_created",
        "actions": [{"action": "assign_to_team", "team_id": z}, {"action": "link_mailbox", "mailbox_id": x}],
    }))
    .await;
    let case_id = id_of(&w.case(json!({"subject": "Set up by hand", "team_ids": [z], "mailbox_id": x})).await);
    // WHEN the rule runs
    w.work().await;
    // THEN the case is unchanged
    assert_eq!(w.case_now(&case_id).await["version"], 1);
    // AND its run log does not say the team was added nor the mailbox linked (as
    // assign_to_user says it kept the assignee)
    let runs = w.system_entries(&case_id, "rule_ran").await;
    let done = steps(&runs[0]);
    assert_eq!(done.len(), 2, "{done:?}");
    let (added, linked) = (format!("team {z} added"), format!("mailbox {x} linked"));
    let claimed: Vec<&String> = done.iter().filter(|s| s.ends_with(&added) || s.ends_with(&linked)).collect();
    assert!(claimed.is_empty(), "the team and mailbox were the case's already, yet the log says: {claimed:?}");
}

async fn add_followers_adds_no_one_who_cannot_see_the_case(engine: Engine) {
    // GIVEN an agent who sees only their own cases, whom the API refuses as follower of a case
    // not theirs
    let w = world(engine).await;
    let (own, own_token) = w.agent("Otto", json!({"scope": "own"})).await;
    let probe = id_of(&w.case(json!({"subject": "Not Otto's"})).await);
    let refused = w.api.call(Method::PUT, &format!("/cases/{probe}/followers/{own}"), Some(&w.admin), None).await;
    refused.assert_problem(422, Some("follower_id"));
    // AND a rule adding that agent as follower of every new case
    w.rule(json!({"name": "Otto watches", "trigger": "case_created", "actions": [{"action": "add_followers", "user_ids": [own]}]})).await;
    // WHEN a case that is not theirs is created
    let case_id = id_of(&w.case(json!({"subject": "Still not Otto's"})).await);
    w.work().await;
    // THEN the agent still cannot read it
    w.api.call(Method::GET, &format!("/cases/{case_id}"), Some(&own_token), None).await.assert_problem(404, None);
    // AND, as through the API, is not made a follower of a case they cannot see
    let followers = w.api.call(Method::GET, &format!("/cases/{case_id}/followers"), Some(&w.admin), None).await;
    let following: Vec<&str> = followers.body["items"].as_array().unwrap().iter().filter_map(|f| f["follower_id"].as_str()).collect();
    assert!(!following.contains(&own.as_str()), "a user who cannot see the case follows it: {}", followers.body);
}
