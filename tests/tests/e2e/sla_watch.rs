//! SLA breach detection (SPEC F51, issue 15) on both engines, on a manual clock, with the real
//! assign handler working the assign queue: the worker files each changed case in the SLA
//! indexes, the sweep (the assign function's scheduled invocation) announces warnings and
//! breaches once per clock run however often it runs, workflow rules on `sla_warning` and
//! `sla_breached` escalate, and the case lists filter by "due within" and "breached".

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use docket_domain::clock::ManualClock;
use docket_e2e::{Automated, Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

on_both_engines!(
    a_breach_fires_the_escalation_rule_once,
    overlapping_sweeps_announce_each_alert_once,
    lists_filter_by_due_within_and_breached,
    a_pending_case_leaves_the_due_list_and_a_met_clock_owes_nothing,
    sla_list_parameters_are_checked,
    an_assignment_by_rule_keeps_the_clocks_running,
    a_shortened_target_is_announced_at_the_next_sweep,
);

struct World {
    auto: Automated,
    api: TestApi,
    clock: Arc<ManualClock>,
    admin: String,
    calendar: String,
}

/// Friday 4 December 2026, 16:30 in Berlin (CET, UTC+1), with the office hours:
/// Mon–Fri 09–17 Europe/Berlin.
async fn world(engine: Engine) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-04 15:30 UTC)));
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await;
    let auto = Automated::with_docket(engine, docket).await;
    let api = TestApi::with_docket(auto.docket.clone()).await;
    let admin = api.admin_token();
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
    let calendar = id_of(&api.create(&admin, "/calendars", json!({"name": "Berlin office", "time_zone": "Europe/Berlin", "hours": hours})).await);
    World { auto, api, clock, admin, calendar }
}

impl World {
    /// A default agreement with these targets per priority; its id.
    async fn agreement(&self, targets: Value) -> String {
        let body = json!({"name": "Gold", "calendar_id": self.calendar, "targets": targets, "applies_to": {"kind": "default"}});
        id_of(&self.api.create(&self.admin, "/service-agreements", body).await)
    }

    async fn case(&self, body: Value) -> Value {
        self.api.create(&self.admin, "/cases", body).await
    }

    /// Works the assign queue until it is empty, as the assign function would.
    async fn work(&self) -> usize {
        self.auto.work_assign_queue().await
    }

    /// One scheduled invocation of the assign function with the SLA sweep schedule's input
    /// (`events/schedule-assign-sla-sweep.json`, the `Input` of `SlaSweep` in template.yaml);
    /// its answer.
    async fn sweep(&self) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schedule-assign-sla-sweep.json");
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the sample event")).expect("JSON");
        self.auto.handler.handle_event(event).await.expect("the sweep runs")
    }

    /// The ids of a case list as the admin reads it, in its order.
    async fn list(&self, query: &str) -> Vec<String> {
        self.list_rows(query).await.iter().map(id_of).collect()
    }

    async fn list_rows(&self, query: &str) -> Vec<Value> {
        let reply = self.api.call(Method::GET, &format!("/cases?{query}"), Some(&self.admin), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        reply.body["items"].as_array().expect("items").clone()
    }

    async fn get(&self, id: &str) -> Value {
        let reply = self.api.call(Method::GET, &format!("/cases/{id}"), Some(&self.admin), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    async fn set_status(&self, id: &str, status: &str) {
        let version = self.get(id).await["version"].clone();
        let etag = format!("\"{version}\"");
        let reply = self
            .api
            .send(Method::PATCH, &format!("/cases/{id}"), Some(&self.admin), &[("If-Match", etag.as_str())], Some(json!({"status": status}).to_string()))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    async fn post(&self, id: &str, body: &str) {
        let reply = self.api.call(Method::POST, &format!("/cases/{id}/stream"), Some(&self.admin), Some(json!({"body": body}))).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }

    /// The rule runs logged on a case, oldest first: (trigger, steps).
    async fn rule_runs(&self, id: &str) -> Vec<(String, Vec<String>)> {
        let reply = self.api.call(Method::GET, &format!("/cases/{id}/stream?limit=100"), Some(&self.admin), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let mut runs: Vec<(String, Vec<String>)> = reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["system"]["event"] == "rule_ran")
            .map(|e| {
                let steps = e["system"]["steps"].as_array().expect("steps").iter().map(|s| s.as_str().expect("a step").to_owned()).collect();
                (e["system"]["trigger"].as_str().expect("trigger").to_owned(), steps)
            })
            .collect();
        runs.reverse();
        runs
    }

    /// The notices waiting on the notify queue that are addressed to users (rule notices).
    async fn notices(&self) -> Vec<Value> {
        self.auto.take_notifications().await.into_iter().filter(|m| m.get("to").is_some()).collect()
    }
}

async fn a_breach_fires_the_escalation_rule_once(engine: Engine) {
    // GIVEN the Gold agreement (first response 1 business hour) and a team lead
    let w = world(engine).await;
    w.agreement(json!({"Normal": {"first_response_minutes": 60, "resolution_minutes": 480}})).await;
    let lead = id_of(&w.api.create(&w.admin, "/users", json!({"name": "Lena Lead", "email": "lena@agents.test", "role": "agent"})).await);
    // AND rules: a breach of first response notifies the lead; a warning posts an internal note
    let breach_rule = json!({
        "name": "Escalate breaches",
        "trigger": "sla_breached",
        "conditions": [{"field": "sla_clock", "op": "is", "value": "first_response"}],
        "actions": [{"action": "notify_users", "user_ids": [lead], "message": "SLA breached"}],
    });
    let wrong_clock = json!({"name": "Bad", "trigger": "sla_breached", "conditions": [{"field": "sla_clock", "op": "is", "value": "soon"}], "actions": [{"action": "post_internal_note", "body": "x"}]});
    w.api.call(Method::POST, "/workflow-rules", Some(&w.admin), Some(wrong_clock)).await.assert_problem(422, Some("conditions[0].value"));
    w.api.create(&w.admin, "/workflow-rules", breach_rule).await;
    let warning_rule = json!({
        "name": "Warn the desk",
        "trigger": "sla_warning",
        "actions": [{"action": "post_internal_note", "body": "80% of the SLA target is used"}],
    });
    w.api.create(&w.admin, "/workflow-rules", warning_rule).await;

    // WHEN a case is created on Friday 16:30 Berlin time and the worker files it
    let id = id_of(&w.case(json!({"subject": "Printer on fire"})).await);
    w.work().await;
    w.notices().await;
    // THEN the list of cases due shows it with its first response due Monday 09:30 Berlin
    let rows = w.list_rows("sla=due").await;
    assert_eq!(rows.iter().map(id_of).collect::<Vec<_>>(), vec![id.clone()]);
    assert_eq!(rows[0]["sla_summary"], json!({"next_due_at": "2026-12-07T08:30:00Z", "next_due_clock": "first_response"}));
    // AND a sweep on Friday evening finds nothing owed
    w.clock.set(datetime!(2026-12-04 18:00 UTC));
    assert_eq!(w.sweep().await["announced"], 0);

    // WHEN Monday 09:18 Berlin comes (48 of the 60 minutes used: 30 on Friday, 18 today)
    w.clock.set(datetime!(2026-12-07 08:18 UTC));
    let swept = w.sweep().await;
    // THEN the warning is announced and the warning rule runs once
    assert_eq!((swept["watched"].as_u64(), swept["announced"].as_u64()), (Some(1), Some(1)), "{swept}");
    w.work().await;
    assert_eq!(w.rule_runs(&id).await, vec![("sla_warning".to_owned(), vec!["post_internal_note: internal note posted".to_owned()])]);
    assert!(w.list("sla=breached").await.is_empty(), "not breached yet");
    // AND the case view says the clock is at risk (12 business minutes left)
    let first = w.get(&id).await["sla"]["first_response"].clone();
    assert_eq!((first["warning"].as_bool(), first["remaining_business_minutes"].as_i64()), (Some(true), Some(12)), "{first}");

    // WHEN 09:30 passes with no reply, and the sweep runs twice (a late schedule repeated)
    w.clock.set(datetime!(2026-12-07 08:31 UTC));
    assert_eq!(w.sweep().await["announced"], 1);
    assert_eq!(w.sweep().await["announced"], 0, "the breach was announced already");
    w.work().await;
    // THEN the breach rule ran once and the lead got one notice
    let runs = w.rule_runs(&id).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].0, "sla_breached");
    let notices = w.notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["to"], json!([lead]));
    assert_eq!(notices[0]["case_id"], id.as_str());
    // AND the case is on the breached list, with when it breached
    let breached = w.list_rows("sla=breached").await;
    assert_eq!(breached.iter().map(id_of).collect::<Vec<_>>(), vec![id.clone()]);
    assert_eq!(breached[0]["sla_summary"]["breached_since"], "2026-12-07T08:30:00Z");
    // AND the case view says so (breached, no longer merely at risk)
    let first = w.get(&id).await["sla"]["first_response"].clone();
    assert_eq!((first["breached"].as_bool(), first["warning"].as_bool()), (Some(true), Some(false)), "{first}");

    // WHEN the sweeps go on every few minutes until 16:00 Berlin
    let mut at = datetime!(2026-12-07 08:31 UTC);
    while at < datetime!(2026-12-07 15:00 UTC) {
        at += Duration::minutes(7);
        w.clock.set(at);
        w.sweep().await;
    }
    w.work().await;
    // THEN only resolution's own warning (384 of 480 minutes: Monday 14:54 Berlin) was added;
    // first response's breach was never announced again
    let triggers: Vec<String> = w.rule_runs(&id).await.into_iter().map(|(trigger, _)| trigger).collect();
    assert_eq!(triggers, ["sla_warning", "sla_breached", "sla_warning"]);
    assert!(w.notices().await.is_empty());
    // AND resolution's breach (due Monday 16:30 Berlin) is announced once it has passed, but
    // the breach rule is for first response only: it does not run, and the lead hears nothing
    w.clock.set(datetime!(2026-12-07 15:31 UTC));
    assert_eq!(w.sweep().await["announced"], 1);
    w.work().await;
    assert_eq!(w.rule_runs(&id).await.len(), 3);
    assert!(w.notices().await.is_empty());
}

async fn overlapping_sweeps_announce_each_alert_once(engine: Engine) {
    // GIVEN an Urgent target of 15 business minutes, a rule on breaches, and five cases
    let w = world(engine).await;
    w.agreement(json!({"Urgent": {"first_response_minutes": 15}})).await;
    w.api
        .create(
            &w.admin,
            "/workflow-rules",
            json!({"name": "Note breaches", "trigger": "sla_breached", "actions": [{"action": "post_internal_note", "body": "Breached"}]}),
        )
        .await;
    w.clock.set(datetime!(2026-12-07 09:00 UTC));
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(id_of(&w.case(json!({"subject": format!("Down {n}"), "priority": "Urgent"})).await));
    }
    w.work().await;
    // WHEN they are all overdue and eight sweeps run at once (overlapping schedules)
    w.clock.set(datetime!(2026-12-07 10:00 UTC));
    let sweeps = futures_util::future::join_all((0..8).map(|_| w.sweep())).await;
    // THEN five breaches were announced in all, one per case, whoever announced them
    let announced: u64 = sweeps.iter().map(|s| s["announced"].as_u64().expect("announced")).sum();
    assert_eq!(announced, 5, "{sweeps:?}");
    w.work().await;
    for id in &ids {
        let runs = w.rule_runs(id).await;
        assert_eq!(runs, vec![("sla_breached".to_owned(), vec!["post_internal_note: internal note posted".to_owned()])], "{id}");
    }
    // AND a redelivered filing (the worker seeing the same case event again) announces nothing
    for id in &ids {
        assert!(w.auto.docket.cases().watch_sla(id).await.expect("watch").is_empty());
    }
}

async fn lists_filter_by_due_within_and_breached(engine: Engine) {
    // GIVEN targets by priority: Urgent 15 minutes, High 60, Normal 240; Low has none
    let w = world(engine).await;
    w.agreement(json!({
        "Urgent": {"first_response_minutes": 15},
        "High": {"first_response_minutes": 60},
        "Normal": {"first_response_minutes": 240},
    }))
    .await;
    w.clock.set(datetime!(2026-12-07 09:00 UTC)); // Monday 10:00 Berlin
    let normal = id_of(&w.case(json!({"subject": "Normal", "priority": "Normal"})).await);
    let urgent = id_of(&w.case(json!({"subject": "Urgent", "priority": "Urgent"})).await);
    let high = id_of(&w.case(json!({"subject": "High", "priority": "High"})).await);
    w.set_status(&high, "InProgress").await;
    let low = id_of(&w.case(json!({"subject": "Low", "priority": "Low"})).await);
    w.work().await;
    // THEN the due list runs soonest first and leaves out the case without a target
    assert_eq!(w.list("sla=due").await, vec![urgent.clone(), high.clone(), normal.clone()]);
    assert!(!w.list("sla=due").await.contains(&low));
    // AND "due within" cuts it at now plus the minutes
    assert_eq!(w.list("sla=due&due_within=15").await, vec![urgent.clone()]);
    assert_eq!(w.list("sla=due&due_within=60").await, vec![urgent.clone(), high.clone()]);
    // AND the other filters narrow it
    assert_eq!(w.list("sla=due&status=InProgress").await, vec![high.clone()]);
    // AND it pages by cursor in the same order
    let first = w.api.call(Method::GET, "/cases?sla=due&limit=2", Some(&w.admin), None).await;
    assert_eq!(first.body["items"].as_array().expect("items").iter().map(id_of).collect::<Vec<_>>(), vec![urgent.clone(), high.clone()]);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = w.api.call(Method::GET, &format!("/cases?sla=due&limit=2&cursor={cursor}"), Some(&w.admin), None).await;
    assert_eq!(second.body["items"].as_array().expect("items").iter().map(id_of).collect::<Vec<_>>(), vec![normal.clone()]);
    // AND a cursor of the due list does not page the breached list
    let other = w.api.call(Method::GET, &format!("/cases?sla=breached&cursor={cursor}"), Some(&w.admin), None).await;
    other.assert_problem(422, Some("cursor"));

    // WHEN 90 minutes pass and the sweep runs
    w.clock.set(datetime!(2026-12-07 10:30 UTC));
    w.sweep().await;
    // THEN the two that ran out are breached, longest breached first; overdue cases still
    // lead the due list (due within 0 minutes: every overdue case)
    assert_eq!(w.list("sla=breached").await, vec![urgent.clone(), high.clone()]);
    assert_eq!(w.list("sla=due&due_within=0").await, vec![urgent.clone(), high.clone()]);
    // AND counts follow the same lists
    let counts = w.api.call(Method::GET, "/cases/counts?sla=breached", Some(&w.admin), None).await;
    assert_eq!(counts.status, StatusCode::OK, "{}", counts.body);
    assert_eq!(counts.body["total"], 2, "{}", counts.body);
}

async fn a_pending_case_leaves_the_due_list_and_a_met_clock_owes_nothing(engine: Engine) {
    // GIVEN a first response of 60 and a resolution of 480 business minutes
    let w = world(engine).await;
    w.agreement(json!({"Normal": {"first_response_minutes": 60, "resolution_minutes": 480}})).await;
    w.clock.set(datetime!(2026-12-07 09:00 UTC));
    let waiting = id_of(&w.case(json!({"subject": "Waiting"})).await);
    let answered = id_of(&w.case(json!({"subject": "Answered"})).await);
    w.work().await;
    // WHEN one waits on the customer and the other gets a public answer
    w.set_status(&waiting, "Pending").await;
    w.post(&answered, "We are on it").await;
    w.work().await;
    // THEN the waiting one has nothing due; the answered one is due for resolution only
    let rows = w.list_rows("sla=due").await;
    assert_eq!(rows.iter().map(id_of).collect::<Vec<_>>(), vec![answered.clone()]);
    assert_eq!(rows[0]["sla_summary"]["next_due_clock"], "resolution");
    // AND sweeps on Monday 16:30 and Tuesday 10:30 Berlin announce only the answered case's
    // resolution: its warning (384 of 480 minutes, Monday 16:24) and its breach (due
    // Tuesday 10:00: 420 minutes on Monday, 60 on Tuesday); nothing of first response
    w.clock.set(datetime!(2026-12-07 15:30 UTC));
    assert_eq!(w.sweep().await["announced"], 1);
    w.clock.set(datetime!(2026-12-08 09:30 UTC));
    let swept = w.sweep().await;
    assert_eq!(swept["announced"], 1, "{swept}");
    assert_eq!(w.get(&answered).await["sla"]["resolution"]["breached_at"], "2026-12-08T09:00:00Z");
    assert_eq!(w.list("sla=breached").await, vec![answered.clone()]);
    // WHEN it is resolved
    w.set_status(&answered, "Resolved").await;
    w.work().await;
    // THEN it leaves the SLA lists: nothing is owed any more
    assert!(w.list("sla=breached").await.is_empty());
    assert!(w.list("sla=due").await.is_empty());
}

async fn sla_list_parameters_are_checked(engine: Engine) {
    let w = world(engine).await;
    for (query, field) in [
        ("sla=soon", "sla"),
        ("sla=due&due_within=-5", "due_within"),
        ("sla=due&due_within=ten", "due_within"),
        ("sla=due&due_within=999999999", "due_within"),
        ("due_within=10", "due_within"),
        ("sla=breached&due_within=10", "due_within"),
        ("sla=due&q=printer", "q"),
    ] {
        let reply = w.api.call(Method::GET, &format!("/cases?{query}"), Some(&w.admin), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.body);
    }
    // AND portal users have no SLA lists
    let (_, portal) = w.api.portal_contact("Olive", "olive@example.com", None, json!({"role": "own_cases"})).await;
    let reply = w.api.call(Method::GET, "/cases?sla=due", Some(&portal), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.body["field"], "sla");
}

async fn an_assignment_by_rule_keeps_the_clocks_running(engine: Engine) {
    // GIVEN a first response of 60 business minutes and a team assigning by Round-Robin
    let w = world(engine).await;
    w.agreement(json!({"Normal": {"first_response_minutes": 60}})).await;
    let team = id_of(&w.api.create(&w.admin, "/teams", json!({"name": "Desk", "assignment_rule": "round_robin"})).await);
    let member = id_of(&w.api.create(&w.admin, "/users", json!({"name": "Mo", "email": "mo@agents.test", "role": "agent", "team_ids": [team]})).await);
    // WHEN a case of the team comes in on Monday 10:00 Berlin and the worker assigns it
    w.clock.set(datetime!(2026-12-07 09:00 UTC));
    let id = id_of(&w.case(json!({"subject": "Help", "team_ids": [team]})).await);
    w.work().await;
    // THEN the assignment (New to Assigned, written by the assignment rule) kept the clocks
    let case = w.get(&id).await;
    assert_eq!((case["status"].as_str(), case["assignee_id"].as_str()), (Some("Assigned"), Some(member.as_str())));
    assert_eq!(case["sla"]["first_response"]["state"], "running", "{}", case["sla"]);
    assert_eq!(case["sla"]["first_response"]["due_at"], "2026-12-07T10:00:00Z");
    assert_eq!(w.list("sla=due").await, vec![id.clone()]);
    // AND its breach is announced once the hour has passed
    w.clock.set(datetime!(2026-12-07 10:01 UTC));
    assert_eq!(w.sweep().await["announced"], 1);
}

async fn a_shortened_target_is_announced_at_the_next_sweep(engine: Engine) {
    // GIVEN a first response of 4 business hours and a case filed by it on Monday 10:00 Berlin
    let w = world(engine).await;
    let agreement = w.agreement(json!({"Normal": {"first_response_minutes": 240}})).await;
    w.clock.set(datetime!(2026-12-07 09:00 UTC));
    let id = id_of(&w.case(json!({"subject": "Slow"})).await);
    w.work().await;
    assert_eq!(w.list("sla=due&due_within=60").await, Vec::<String>::new());
    // WHEN at 10:30 an admin cuts the target to 15 minutes
    w.clock.set(datetime!(2026-12-07 09:30 UTC));
    let reply = w
        .api
        .call(Method::PATCH, &format!("/service-agreements/{agreement}"), Some(&w.admin), Some(json!({"targets": {"Normal": {"first_response_minutes": 15}}})))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // THEN the next sweep files the running case again and announces its breach (due 10:15),
    // instead of waiting for the alarm the old target had set (13:12)
    let swept = w.sweep().await;
    assert_eq!((swept["refiled"].as_u64(), swept["announced"].as_u64()), (Some(1), Some(1)), "{swept}");
    assert_eq!(w.list("sla=breached").await, vec![id.clone()]);
    assert_eq!(w.list("sla=due&due_within=0").await, vec![id.clone()]);
    // AND the request is done: the following sweep files nothing again
    assert_eq!(w.sweep().await["refiled"], 0);
}
