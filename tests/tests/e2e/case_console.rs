//! What the agent console asks of the case API, on both engines: the case list's unassigned and
//! `me` filters, search by number and subject, sorting by last change and priority with stable
//! cursor paging, counts by status, and the sandboxed HTML body of received mail — each under
//! the same visibility rules as every other case read.

use axum::http::Method;
use docket_domain::inbound::Inbound;
use docket_e2e::{Engine, Reply, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(
    lists_sort_by_last_change_and_priority_and_page_without_gaps_or_repeats,
    team_lists_sorted_in_memory_page_the_same_way,
    cursors_only_page_the_list_that_gave_them,
    unassigned_and_me_select_the_assignee,
    search_finds_numbers_plain_and_masked_and_subjects_whatever_their_case,
    counts_follow_the_filters_and_break_down_by_status,
    an_agent_with_scope_own_never_sees_nor_counts_other_cases,
    counts_do_not_shadow_cases_and_cases_do_not_shadow_counts,
    the_html_of_a_mail_is_served_sanitised_and_sandboxed_to_staff_only,
    a_case_lists_its_children_and_only_those_the_caller_may_see,
);

const GET: Method = Method::GET;
const PATCH: Method = Method::PATCH;

async fn get(api: &TestApi, token: &str, path: &str) -> Reply {
    api.call(GET, path, Some(token), None).await
}

/// The ids of a list answer, in order.
fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap_or_else(|| panic!("no items in {}", reply.body)).iter().map(id_of).collect()
}

/// Every id of a list, read `page` at a time by following `next_cursor`.
async fn all_pages(api: &TestApi, token: &str, path: &str, page: usize) -> Vec<String> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let url = match &cursor {
            Some(c) => format!("{path}{separator}limit={page}&cursor={c}"),
            None => format!("{path}{separator}limit={page}"),
        };
        let reply = get(api, token, &url).await;
        seen.extend(ids(&reply));
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("{path} did not end")
}

async fn agent(api: &TestApi, name: &str, scope: &str, team_ids: Value) -> (Value, String) {
    let email = format!("{}@agents.example", name.to_lowercase());
    let user = api.create(&api.admin_token(), "/users", json!({"name": name, "email": email, "role": "agent", "scope": scope, "team_ids": team_ids})).await;
    let token = api.token(&id_of(&user));
    (user, token)
}

/// Changes a case (as the admin) at its current version.
async fn change(api: &TestApi, id: &str, patch: Value) -> Value {
    let admin = api.admin_token();
    let path = format!("/cases/{id}");
    let etag = get(api, &admin, &path).await.etag();
    let reply = api.send(PATCH, &path, Some(&admin), &[("if-match", &etag)], Some(patch.to_string())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The store keeps the time of a change to the millisecond: let one pass, so that "changed
/// later" is a later time.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

/// Four cases created in order with these priorities; the first is then changed last.
async fn four_cases(api: &TestApi, extra: Value) -> Vec<String> {
    let admin = api.admin_token();
    let mut ids = Vec::new();
    for (subject, priority) in [("Low one", "Low"), ("Urgent one", "Urgent"), ("Normal one", "Normal"), ("High one", "High")] {
        let mut body = json!({"subject": subject, "priority": priority});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        ids.push(id_of(&api.create(&admin, "/cases", body).await));
        tick().await;
    }
    change(api, &ids[0], json!({"subject": "Low one, changed"})).await;
    ids
}

async fn lists_sort_by_last_change_and_priority_and_page_without_gaps_or_repeats(engine: Engine) {
    // GIVEN cases created Low, Urgent, Normal, High, the Low one changed after them all
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let c = four_cases(&api, json!({})).await;
    let (low, urgent, normal, high) = (c[0].as_str(), c[1].as_str(), c[2].as_str(), c[3].as_str());
    // THEN each order holds, on one page and page by page, for every partitioning
    let created = vec![high, normal, urgent, low];
    let updated = vec![low, high, normal, urgent];
    let priority = vec![urgent, high, normal, low];
    for (filter, expected_created) in [("", created.clone()), ("status=New", created.clone()), ("unassigned=true", created.clone())] {
        let separator = if filter.is_empty() { "" } else { "&" };
        for (sort, expected) in [("created", &expected_created), ("updated", &updated), ("priority", &priority)] {
            let path = format!("/cases?{filter}{separator}sort={sort}");
            assert_eq!(ids(&get(&api, &admin, &path).await), *expected, "{path}");
            for page in [1, 3] {
                assert_eq!(all_pages(&api, &admin, &path, page).await, *expected, "{path} by {page}");
            }
        }
    }
    // AND without sort the list is the creation order, as before
    assert_eq!(ids(&get(&api, &admin, "/cases").await), created);
    // AND a change moves a case in the orders it is sorted by
    tick().await;
    change(&api, normal, json!({"priority": "Urgent"})).await;
    assert_eq!(ids(&get(&api, &admin, "/cases?sort=updated").await), vec![normal, low, high, urgent]);
    assert_eq!(ids(&get(&api, &admin, "/cases?sort=priority").await), vec![normal, urgent, high, low], "ties newest created first");
    // AND assigning moves a case out of the unassigned partition into its assignee's, in order
    tick().await;
    change(&api, urgent, json!({"assignee_id": api.admin.id})).await;
    assert_eq!(ids(&get(&api, &admin, "/cases?unassigned=true&sort=priority").await), vec![normal, high, low]);
    assert_eq!(ids(&get(&api, &admin, "/cases?assignee_id=me&sort=updated").await), vec![urgent]);
    // AND an unknown order is refused by name
    get(&api, &admin, "/cases?sort=oldest").await.assert_problem(400, Some("sort"));
}

async fn team_lists_sorted_in_memory_page_the_same_way(engine: Engine) {
    // GIVEN a team with the four cases, and a case of no team
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let team = api.create(&admin, "/teams", json!({"name": "Tier 1"})).await;
    let c = four_cases(&api, json!({"team_ids": [id_of(&team)]})).await;
    api.create(&admin, "/cases", json!({"subject": "Elsewhere", "priority": "Urgent"})).await;
    let (low, urgent, normal, high) = (c[0].as_str(), c[1].as_str(), c[2].as_str(), c[3].as_str());
    // THEN the team's list in each order holds its cases only, whole, page by page
    let team_path = format!("/cases?team_id={}", id_of(&team));
    for (sort, expected) in
        [("created", vec![high, normal, urgent, low]), ("updated", vec![low, high, normal, urgent]), ("priority", vec![urgent, high, normal, low])]
    {
        let path = format!("{team_path}&sort={sort}");
        assert_eq!(ids(&get(&api, &admin, &path).await), expected, "{path}");
        for page in [1, 2, 3] {
            assert_eq!(all_pages(&api, &admin, &path, page).await, expected, "{path} by {page}");
        }
    }
    // AND a search on a sorted team list leads with the number it names
    let number = get(&api, &admin, &format!("/cases/{normal}")).await.body["number"].as_u64().unwrap();
    let path = format!("{team_path}&sort=priority&q={number}");
    assert_eq!(all_pages(&api, &admin, &path, 1).await, vec![normal], "only the number matches");
    let path = format!("{team_path}&sort=updated&q=one");
    assert_eq!(all_pages(&api, &admin, &path, 1).await, vec![low, high, normal, urgent]);
}

async fn cursors_only_page_the_list_that_gave_them(engine: Engine) {
    // GIVEN a cursor of the list sorted by last change
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    four_cases(&api, json!({})).await;
    let first = get(&api, &admin, "/cases?sort=updated&limit=1").await;
    let cursor = first.body["next_cursor"].as_str().expect("more pages").to_owned();
    assert_eq!(get(&api, &admin, &format!("/cases?sort=updated&limit=1&cursor={cursor}")).await.status, 200);
    // THEN another order, another filter or another search refuse it by name
    for other in ["sort=priority", "sort=created", "", "sort=updated&status=New", "sort=updated&q=one", "sort=updated&unassigned=true"] {
        let reply = get(&api, &admin, &format!("/cases?{other}&limit=1&cursor={cursor}")).await;
        reply.assert_problem(422, Some("cursor"));
    }
    // AND so does a cursor that is not one
    get(&api, &admin, "/cases?sort=updated&cursor=bogus").await.assert_problem(422, Some("cursor"));
}

async fn unassigned_and_me_select_the_assignee(engine: Engine) {
    // GIVEN an agent with a case, another agent's case and an unassigned case
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let (ada, ada_token) = agent(&api, "Ada", "all", json!([])).await;
    let (bob, _) = agent(&api, "Bob", "all", json!([])).await;
    let adas = id_of(&api.create(&admin, "/cases", json!({"subject": "For Ada", "assignee_id": id_of(&ada)})).await);
    let bobs = id_of(&api.create(&admin, "/cases", json!({"subject": "For Bob", "assignee_id": id_of(&bob)})).await);
    let nobodys = id_of(&api.create(&admin, "/cases", json!({"subject": "For nobody"})).await);
    // THEN me is the caller, and unassigned the case without an assignee
    assert_eq!(ids(&get(&api, &ada_token, "/cases?assignee_id=me").await), vec![adas]);
    assert_eq!(ids(&get(&api, &ada_token, &format!("/cases?assignee_id={}", id_of(&bob))).await), vec![bobs]);
    assert_eq!(ids(&get(&api, &ada_token, "/cases?unassigned=true").await), vec![nobodys.clone()]);
    assert_eq!(ids(&get(&api, &ada_token, "/cases?unassigned=true&sort=updated").await), vec![nobodys]);
    let counts = get(&api, &ada_token, "/cases/counts?assignee_id=me").await;
    assert_eq!(counts.body["total"], 1, "{}", counts.body);
    // AND the two cannot be combined, nor unassigned be anything but true
    get(&api, &ada_token, "/cases?unassigned=true&assignee_id=me").await.assert_problem(400, Some("unassigned"));
    get(&api, &ada_token, &format!("/cases/counts?unassigned=true&assignee_id={}", id_of(&ada))).await.assert_problem(400, Some("unassigned"));
    get(&api, &ada_token, "/cases?unassigned=false").await.assert_problem(400, Some("unassigned"));
    get(&api, &ada_token, "/cases?assignee_id=not%20an%20id").await.assert_problem(400, Some("assignee_id"));
    // AND a portal user has no "me" to be assigned
    let (_, portal) = api.portal_contact("Cy", "cy@customer.example", None, json!({"role": "own_cases"})).await;
    get(&api, &portal, "/cases?assignee_id=me").await.assert_problem(400, Some("assignee_id"));
    assert_eq!(ids(&get(&api, &portal, "/cases?unassigned=true").await), Vec::<String>::new());
}

async fn search_finds_numbers_plain_and_masked_and_subjects_whatever_their_case(engine: Engine) {
    // GIVEN three cases
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let fire = api.create(&admin, "/cases", json!({"subject": "Printer on fire"})).await;
    let jam = api.create(&admin, "/cases", json!({"subject": "printer JAMMED again"})).await;
    let vpn = api.create(&admin, "/cases", json!({"subject": "VPN down since 1 pm"})).await;
    let (fire, jam, vpn_number, vpn) = (id_of(&fire), id_of(&jam), vpn["number"].as_u64().unwrap(), id_of(&vpn));
    // THEN a subject part finds its cases whatever its case, newest first, trimmed
    assert_eq!(ids(&get(&api, &admin, "/cases?q=PRINTER").await), vec![jam.clone(), fire.clone()]);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=%20%20jammed%20").await), vec![jam.clone()]);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=nothing%20like%20it").await), Vec::<String>::new());
    // AND a number, plain or masked, finds its case first, then the subjects that hold it
    assert_eq!(vpn_number, 3);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=3").await), vec![vpn.clone()]);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=1").await), vec![fire.clone(), vpn.clone()], "case 1, then the subject with 1 in it");
    assert_eq!(all_pages(&api, &admin, "/cases?q=1&sort=priority", 1).await, vec![fire.clone(), vpn.clone()]);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=%5B%233%5D").await), vec![vpn.clone()], "[#3]");
    // AND through the configured mask
    let settings = api.call(PATCH, "/settings", Some(&admin), Some(json!({"case_number_mask": "SR-{n}"}))).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=SR-3").await), vec![vpn.clone()]);
    assert_eq!(ids(&get(&api, &admin, "/cases?q=sr-2&status=New").await), Vec::<String>::new(), "the mask is matched as written");
    // AND the number must still meet the other filters
    assert_eq!(ids(&get(&api, &admin, "/cases?q=3&status=Closed").await), Vec::<String>::new());
    // AND a blank search is no search; a long one is refused by name
    assert_eq!(ids(&get(&api, &admin, "/cases?q=%20").await).len(), 3);
    let long = "x".repeat(201);
    get(&api, &admin, &format!("/cases?q={long}")).await.assert_problem(400, Some("q"));
    get(&api, &admin, &format!("/cases/counts?q={long}")).await.assert_problem(400, Some("q"));
    assert_eq!(get(&api, &admin, &format!("/cases?q={}", "x".repeat(200))).await.status, 200);
    get(&api, &admin, "/cases?q=a%0Ab").await.assert_problem(400, Some("q"));
    // AND counts search the same way
    let counts = get(&api, &admin, "/cases/counts?q=printer").await;
    assert_eq!(counts.body["total"], 2, "{}", counts.body);
    let counts = get(&api, &admin, "/cases/counts?q=SR-3").await;
    assert_eq!(counts.body["total"], 1, "{}", counts.body);
}

async fn counts_follow_the_filters_and_break_down_by_status(engine: Engine) {
    // GIVEN five cases: two New, one InProgress, one Closed, one of an account
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let account = api.create(&admin, "/accounts", json!({"name": "Acme"})).await;
    api.create(&admin, "/cases", json!({"subject": "a"})).await;
    api.create(&admin, "/cases", json!({"subject": "b", "account_id": id_of(&account)})).await;
    let working = id_of(&api.create(&admin, "/cases", json!({"subject": "c"})).await);
    let closed = id_of(&api.create(&admin, "/cases", json!({"subject": "d", "account_id": id_of(&account)})).await);
    change(&api, &working, json!({"status": "InProgress"})).await;
    change(&api, &closed, json!({"status": "Closed"})).await;
    // THEN the counts name every status, and the total is their sum
    let counts = get(&api, &admin, "/cases/counts").await;
    assert_eq!(counts.status, 200, "{}", counts.body);
    assert_eq!(counts.body["total"], 4);
    assert_eq!(counts.body["complete"], true);
    assert_eq!(counts.body["by_status"]["New"], 2);
    assert_eq!(counts.body["by_status"]["InProgress"], 1);
    assert_eq!(counts.body["by_status"]["Closed"], 1);
    assert_eq!(counts.body["by_status"]["Pending"], 0);
    assert_eq!(counts.body["by_status"].as_object().map(|m| m.len()), Some(10));
    // AND a status filter narrows the total, not the breakdown
    let counts = get(&api, &admin, "/cases/counts?status=New").await;
    assert_eq!((counts.body["total"].as_u64(), counts.body["by_status"]["Closed"].as_u64()), (Some(2), Some(1)), "{}", counts.body);
    // AND the other filters narrow both
    let counts = get(&api, &admin, &format!("/cases/counts?account_id={}", id_of(&account))).await;
    assert_eq!((counts.body["total"].as_u64(), counts.body["by_status"]["New"].as_u64()), (Some(2), Some(1)), "{}", counts.body);
    // AND the list agrees with the counts
    assert_eq!(ids(&get(&api, &admin, "/cases?status=New").await).len(), 2);
    // AND a bad filter is refused by name; paging parameters are not counts' business
    get(&api, &admin, "/cases/counts?status=Lost").await.assert_problem(400, Some("status"));
    get(&api, &admin, "/cases/counts?sort=updated").await.assert_problem(400, Some("sort"));
    // AND a portal user counts only their own non-internal cases
    let (cy, cy_token) = api.portal_contact("Cy", "cy@customer.example", None, json!({"role": "own_cases"})).await;
    api.create(&admin, "/cases", json!({"subject": "Cy's", "contact_ids": [id_of(&cy)]})).await;
    api.create(&admin, "/cases", json!({"subject": "About Cy", "internal": true, "contact_ids": [id_of(&cy)]})).await;
    let counts = get(&api, &cy_token, "/cases/counts").await;
    assert_eq!(counts.body["total"], 1, "{}", counts.body);
    assert_eq!(get(&api, &api.admin_token(), "/cases/counts").await.body["total"], 6);
}

async fn an_agent_with_scope_own_never_sees_nor_counts_other_cases(engine: Engine) {
    // GIVEN an agent with scope own, her case, the case she opened, and others' cases
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let team = api.create(&admin, "/teams", json!({"name": "Tier 1"})).await;
    let (ada, ada_token) = agent(&api, "Ada", "own", json!([id_of(&team)])).await;
    let (bob, _) = agent(&api, "Bob", "all", json!([id_of(&team)])).await;
    let assigned = id_of(&api.create(&admin, "/cases", json!({"subject": "Printer for Ada", "assignee_id": id_of(&ada), "priority": "Low"})).await);
    let opened = id_of(&api.create(&ada_token, "/cases", json!({"subject": "Printer Ada opened", "team_ids": [id_of(&team)]})).await);
    let others = [
        api.create(&admin, "/cases", json!({"subject": "Printer for Bob", "assignee_id": id_of(&bob), "priority": "Urgent"})).await,
        api.create(&admin, "/cases", json!({"subject": "Printer for nobody", "team_ids": [id_of(&team)], "priority": "High"})).await,
        api.create(&admin, "/cases", json!({"subject": "Printer, internal", "internal": true})).await,
    ];
    let other_numbers: Vec<u64> = others.iter().map(|c| c["number"].as_u64().unwrap()).collect();
    let mine = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let expected = mine(vec![assigned.clone(), opened.clone()]);
    // THEN every list of hers, in every order and with every filter, holds her cases only
    for path in [
        "/cases".to_owned(),
        "/cases?sort=updated".into(),
        "/cases?sort=priority".into(),
        "/cases?q=printer".into(),
        "/cases?q=printer&sort=priority".into(),
        format!("/cases?team_id={}&sort=updated", id_of(&team)),
        format!("/cases?team_id={}", id_of(&team)),
        "/cases?status=New&sort=priority".into(),
    ] {
        let seen = all_pages(&api, &ada_token, &path, 1).await;
        assert!(seen.iter().all(|id| expected.contains(id)), "{path}: {seen:?}");
    }
    assert_eq!(mine(all_pages(&api, &ada_token, "/cases?sort=updated", 2).await), expected);
    assert_eq!(all_pages(&api, &ada_token, &format!("/cases?assignee_id={}", id_of(&bob)), 1).await, Vec::<String>::new());
    assert_eq!(all_pages(&api, &ada_token, "/cases?unassigned=true&sort=priority", 1).await, vec![opened.clone()]);
    // AND searching for the numbers of the others finds nothing
    for number in &other_numbers {
        assert_eq!(all_pages(&api, &ada_token, &format!("/cases?q={number}"), 1).await, Vec::<String>::new(), "case {number}");
        assert_eq!(get(&api, &ada_token, &format!("/cases/counts?q={number}")).await.body["total"], 0, "case {number}");
    }
    // AND her counts are of her cases only
    let counts = get(&api, &ada_token, "/cases/counts").await;
    assert_eq!(counts.body["total"], 2, "{}", counts.body);
    assert_eq!(counts.body["by_status"]["New"], 1, "{}", counts.body);
    assert_eq!(counts.body["by_status"]["Assigned"], 1, "{}", counts.body);
    assert_eq!(get(&api, &ada_token, &format!("/cases/counts?team_id={}", id_of(&team))).await.body["total"], 1);
    assert_eq!(get(&api, &ada_token, "/cases/counts?unassigned=true").await.body["total"], 1);
    assert_eq!(get(&api, &admin, "/cases/counts").await.body["total"], 5);
}

async fn counts_do_not_shadow_cases_and_cases_do_not_shadow_counts(engine: Engine) {
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let case = api.create(&admin, "/cases", json!({"subject": "One"})).await;
    // The static segment is the counts; every other segment is a case reference.
    assert!(get(&api, &admin, "/cases/counts").await.body["total"].is_u64());
    for reference in [id_of(&case), "1".into(), "%5B%231%5D".into()] {
        let reply = get(&api, &admin, &format!("/cases/{reference}")).await;
        assert_eq!((reply.status.as_u16(), reply.body["subject"].as_str()), (200, Some("One")), "{reference}");
    }
    get(&api, &admin, "/cases/count").await.assert_problem(404, None);
    let reply = api.call(PATCH, "/cases/counts", Some(&admin), Some(json!({"subject": "x"}))).await;
    assert_eq!(reply.status, 405, "{}", reply.body);
}

/// A multipart mail with a hostile HTML part.
fn html_mail(from: &str, to: &str, message_id: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Screenshot of the error\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello world\r\n\
--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><style>p {{ color: red }}</style><script>alert(1)</script></head><body><p onclick=\"steal()\">Hello <b>world</b></p>\
<img src=\"https://tracker.example/pixel.gif\"><a href=\"javascript:alert(2)\">click</a><iframe src=\"https://evil.example\"></iframe></body></html>\r\n\
--b1--\r\n"
    )
}

async fn the_html_of_a_mail_is_served_sanitised_and_sandboxed_to_staff_only(engine: Engine) {
    // GIVEN a customer with portal access who mails an HTML message to a mailbox
    let blobs = docket_e2e::blobs(engine).await;
    let docket = docket_e2e::docket(engine).await.with_blobs(blobs.clone());
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    let address = format!("support-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    api.create(&admin, "/mailboxes", json!({"name": "Support", "addresses": [address]})).await;
    let (_, cy_token) = api.portal_contact("Cy", "cy@customer.example", None, json!({"role": "own_cases"})).await;
    let settings = docket_e2e::test_mail_settings();
    let pipeline = Inbound { docket: &api.docket, mailer: None, settings: &settings };
    let mail = docket_e2e::plain_delivery(&address, html_mail("cy@customer.example", &address, &format!("{}@customer.example", ulid::Ulid::new())));
    let logged = pipeline.receive(mail).await.expect("pipeline");
    let number = logged.case_number.expect("a case");
    let stream = get(&api, &admin, &format!("/cases/{number}/stream")).await;
    let entry = stream.body["items"].as_array().unwrap().iter().find(|e| e["kind"] == "email_received").expect("the mail's entry").clone();
    let created = stream.body["items"].as_array().unwrap().iter().find(|e| e["kind"] == "system").expect("the created entry").clone();
    let html_path = format!("/cases/{number}/stream/{}/html", id_of(&entry));
    // WHEN staff ask for its HTML
    let reply = get(&api, &admin, &html_path).await;
    // THEN it is the sanitised HTML, sandboxed, private and not to be sniffed
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), "text/html; charset=utf-8");
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-security-policy"), "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "private, max-age=300");
    let html = reply.body.as_str().expect("HTML text").to_owned();
    assert!(html.contains("Hello <b>world</b>"), "{html}");
    for hostile in ["<script", "alert(1)", "onclick", "javascript:", "<iframe", "<style"] {
        assert!(!html.contains(hostile), "{hostile} survived: {html}");
    }
    // AND the same case by its masked number serves it too
    assert_eq!(get(&api, &admin, &format!("/cases/%5B%23{number}%5D/stream/{}/html", id_of(&entry))).await.status, 200);
    // AND a portal user, even on their own case, gets 404
    assert_eq!(get(&api, &cy_token, &format!("/cases/{number}")).await.status, 200, "Cy sees the case");
    get(&api, &cy_token, &html_path).await.assert_problem(404, None);
    // AND an entry without HTML, an unknown entry, and the entry through another case are 404
    get(&api, &admin, &format!("/cases/{number}/stream/{}/html", id_of(&created))).await.assert_problem(404, None);
    get(&api, &admin, &format!("/cases/{number}/stream/01JQ0000000000000000000000/html")).await.assert_problem(404, None);
    get(&api, &admin, &format!("/cases/{number}/stream/..%2F..%2Fetc/html")).await.assert_problem(404, None);
    let other = api.create(&admin, "/cases", json!({"subject": "Other"})).await;
    get(&api, &admin, &format!("/cases/{}/stream/{}/html", id_of(&other), id_of(&entry))).await.assert_problem(404, None);
    // AND an agent who may not see the case gets 404
    let (_, own_token) = agent(&api, "Dee", "own", json!([])).await;
    get(&api, &own_token, &html_path).await.assert_problem(404, None);
    // AND what is in the blob store is not trusted: HTML written there behind Docket's back
    // is sanitised again before it is served
    let case_id = id_of(&get(&api, &admin, &format!("/cases/{number}")).await.body);
    let key = format!("cases/{case_id}/mail/{}.html", id_of(&entry));
    blobs.put(&key, "text/html; charset=utf-8", b"<p>Still here</p><script>alert(3)</script><img src=x onerror=alert(4)>".to_vec()).await.expect("overwrite");
    let html = get(&api, &admin, &html_path).await.body.as_str().unwrap_or_default().to_owned();
    assert!(html.contains("<p>Still here</p>") && !html.contains("script") && !html.contains("onerror"), "{html}");
}

async fn a_case_lists_its_children_and_only_those_the_caller_may_see(engine: Engine) {
    // GIVEN a parent case with three children — one of them assigned to an agent who sees only
    // their own cases — another case's child, and an unrelated case
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let (own_agent, own_token) = agent(&api, "Owen", "own", json!([])).await;
    let parent = id_of(&api.create(&admin, "/cases", json!({"subject": "Office move"})).await);
    let other_parent = id_of(&api.create(&admin, "/cases", json!({"subject": "Network upgrade"})).await);
    let mut children = Vec::new();
    for subject in ["Move the printers", "Move the phones"] {
        children.push(id_of(&api.create(&admin, "/cases", json!({"subject": subject, "parent_id": parent})).await));
    }
    let owens = id_of(&api.create(&admin, "/cases", json!({"subject": "Move the desks", "parent_id": parent, "assignee_id": id_of(&own_agent)})).await);
    children.push(owens.clone());
    api.create(&admin, "/cases", json!({"subject": "New switch", "parent_id": other_parent})).await;
    api.create(&admin, "/cases", json!({"subject": "Unrelated"})).await;

    // WHEN the children of the parent are listed, whole and page by page
    let mut listed = all_pages(&api, &admin, &format!("/cases?parent_id={parent}"), 2).await;
    // THEN they are exactly its children, newest first
    let mut expected = children.clone();
    expected.reverse();
    assert_eq!(listed, expected);
    // AND other orders hold the same cases
    listed = ids(&get(&api, &admin, &format!("/cases?parent_id={parent}&sort=priority")).await);
    listed.sort();
    let mut sorted = children.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    // AND an agent with scope own sees only the child that is theirs
    assert_eq!(ids(&get(&api, &own_token, &format!("/cases?parent_id={parent}")).await), vec![owens]);

    // WHEN a child leaves its parent
    let reply = api.call(Method::GET, &format!("/cases/{}", children[0]), Some(&admin), None).await;
    let etag = reply.headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let moved = api
        .send(
            PATCH,
            &format!("/cases/{}", children[0]),
            Some(&admin),
            &[("if-match", &etag), ("content-type", "application/json")],
            Some(json!({"parent_id": null}).to_string()),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    // THEN it is no longer listed
    assert!(!ids(&get(&api, &admin, &format!("/cases?parent_id={parent}")).await).contains(&children[0]));
    // AND a malformed parent id is refused by name
    get(&api, &admin, "/cases?parent_id=not%20an%20id").await.assert_problem(400, Some("parent_id"));
}
