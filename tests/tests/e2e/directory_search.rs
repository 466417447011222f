//! Directory search for the console's pickers (`GET /contacts?q=`, `GET /accounts?q=`) on both
//! engines: a case-insensitive prefix of the name, a whole address or domain, cursors bound to
//! the search that gave them, bad search text refused naming `q`, and staff only.

use axum::http::Method;
use docket_e2e::{Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(
    contacts_are_found_by_name_prefix_and_by_a_whole_address,
    accounts_are_found_by_name_prefix_and_by_a_whole_domain,
    search_pages_hold_each_match_once_and_cursors_stay_with_their_search,
    bad_search_text_is_refused_naming_q,
    only_staff_may_search_and_portal_users_see_no_one,
);

const GET: Method = Method::GET;

/// The names of a page's items, and its cursor.
async fn search(api: &TestApi, token: &str, path: &str) -> (Vec<String>, Option<String>) {
    let reply = api.call(GET, path, Some(token), None).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    let names = reply.body["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().expect("name").to_owned()).collect();
    (names, reply.body["next_cursor"].as_str().map(str::to_owned))
}

/// Every page of a search, `limit` at a time, checking each page keeps to it.
async fn search_all(api: &TestApi, token: &str, path: &str, limit: usize) -> Vec<String> {
    let (mut all, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..50 {
        let page_path = match &cursor {
            Some(c) => format!("{path}&limit={limit}&cursor={c}"),
            None => format!("{path}&limit={limit}"),
        };
        let (names, next) = search(api, token, &page_path).await;
        assert!(names.len() <= limit, "{page_path}: {names:?}");
        all.extend(names);
        match next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
    panic!("{path} does not end");
}

async fn contact(api: &TestApi, name: &str, emails: Value) -> Value {
    api.create(&api.admin_token(), "/contacts", json!({"name": name, "emails": emails})).await
}

async fn contacts_are_found_by_name_prefix_and_by_a_whole_address(engine: Engine) {
    // GIVEN contacts with names and addresses
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    contact(&api, "Ada Lovelace", json!(["ada@example.com", "countess@analytical.test"])).await;
    contact(&api, "adam Smith", json!(["adam@example.com"])).await;
    contact(&api, "Bob Adams", json!(["bob@adams.test"])).await;
    contact(&api, "Grace Hopper", json!(["grace@navy.test"])).await;
    // WHEN staff search by the start of a name, in any case and with spaces around
    // THEN the contacts whose name starts with it are found, sorted by name
    assert_eq!(search(&api, &admin, "/contacts?q=ada").await, (vec!["Ada Lovelace".to_owned(), "adam Smith".to_owned()], None));
    assert_eq!(search(&api, &admin, "/contacts?q=%20%20ADA%20L%20").await.0, vec!["Ada Lovelace"]);
    assert_eq!(search(&api, &admin, "/contacts?q=Grace%20Hopper").await.0, vec!["Grace Hopper"]);
    // AND a whole address finds its owner, whichever of its addresses and in any case
    assert_eq!(search(&api, &admin, "/contacts?q=grace@navy.test").await.0, vec!["Grace Hopper"]);
    assert_eq!(search(&api, &admin, "/contacts?q=COUNTESS@Analytical.test").await.0, vec!["Ada Lovelace"]);
    // AND nothing else matches: not a word inside a name, not part of an address (the limits
    // of this search, documented), not a stranger's address
    assert_eq!(search(&api, &admin, "/contacts?q=lovelace").await, (vec![], None));
    assert_eq!(search(&api, &admin, "/contacts?q=grace@navy").await, (vec![], None));
    assert_eq!(search(&api, &admin, "/contacts?q=nobody@example.com").await, (vec![], None));
    // AND an agent searches as an admin does
    let agent = api.create(&admin, "/users", json!({"name": "Ann", "email": "ann@agents.test", "role": "agent"})).await;
    assert_eq!(search(&api, &api.token(&id_of(&agent)), "/contacts?q=gr").await.0, vec!["Grace Hopper"]);
}

async fn accounts_are_found_by_name_prefix_and_by_a_whole_domain(engine: Engine) {
    // GIVEN accounts with names and email domains
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    for (name, domains) in [("Acme Corp", json!(["acme.test", "acme-mail.test"])), ("acme Labs", json!([])), ("Globex", json!(["globex.test"]))] {
        api.create(&admin, "/accounts", json!({"name": name, "email_domains": domains})).await;
    }
    // WHEN staff search THEN names by prefix, domains whole (or through an address at one)
    assert_eq!(search(&api, &admin, "/accounts?q=ACME").await, (vec!["Acme Corp".to_owned(), "acme Labs".to_owned()], None));
    assert_eq!(search(&api, &admin, "/accounts?q=acme-mail.test").await.0, vec!["Acme Corp"]);
    assert_eq!(search(&api, &admin, "/accounts?q=Globex.TEST").await.0, vec!["Globex"]);
    assert_eq!(search(&api, &admin, "/accounts?q=fred@globex.test").await.0, vec!["Globex"]);
    assert_eq!(search(&api, &admin, "/accounts?q=labs").await.0, Vec::<String>::new());
    assert_eq!(search(&api, &admin, "/accounts?q=globex.te").await.0, Vec::<String>::new());
}

async fn search_pages_hold_each_match_once_and_cursors_stay_with_their_search(engine: Engine) {
    // GIVEN five contacts whose names start alike, and two whose names start with an address
    // one of them owns
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    for n in 1..=5 {
        contact(&api, &format!("Pat {n}"), json!([format!("pat{n}@example.com")])).await;
    }
    contact(&api, "Patricia", json!([])).await;
    contact(&api, "ops@acme.test desk", json!(["ops@acme.test"])).await;
    contact(&api, "ops@acme.test backup", json!(["backup@acme.test"])).await;
    // WHEN a search is read two at a time THEN every match comes once, in name order
    let all = search_all(&api, &admin, "/contacts?q=pat", 2).await;
    assert_eq!(all, vec!["Pat 1", "Pat 2", "Pat 3", "Pat 4", "Pat 5", "Patricia"]);
    // AND the owner of a whole address comes first, on a page of its own when the limit is 1,
    // and is not repeated among the name matches
    assert_eq!(search_all(&api, &admin, "/contacts?q=OPS@acme.test", 1).await, vec!["ops@acme.test desk", "ops@acme.test backup"]);
    assert_eq!(search_all(&api, &admin, "/contacts?q=ops@acme.test", 10).await, vec!["ops@acme.test desk", "ops@acme.test backup"]);
    // AND a cursor continues only the search that gave it
    let (_, cursor) = search(&api, &admin, "/contacts?q=pat&limit=2").await;
    let cursor = cursor.expect("a full page has a cursor");
    let (_, first_of_address) = search(&api, &admin, "/contacts?q=ops@acme.test&limit=1").await;
    let (_, plain) = search(&api, &admin, "/contacts?limit=2").await;
    let plain = plain.expect("the plain list has a next page");
    for path in [
        format!("/contacts?q=pa&limit=2&cursor={cursor}"),
        format!("/contacts?limit=2&cursor={cursor}"),
        format!("/accounts?q=pat&limit=2&cursor={cursor}"),
        format!("/contacts?q=pat&limit=2&cursor={plain}"),
        format!("/contacts?q=ops@acme.test.org&limit=1&cursor={}", first_of_address.expect("cursor")),
        "/contacts?q=pat&cursor=not-a-cursor".to_owned(),
    ] {
        api.call(GET, &path, Some(&admin), None).await.assert_problem(422, Some("cursor"));
    }
    // AND the same cursor with its own search goes on
    assert_eq!(search(&api, &admin, &format!("/contacts?q=PAT&limit=2&cursor={cursor}")).await.0, vec!["Pat 3", "Pat 4"]);
}

async fn bad_search_text_is_refused_naming_q(engine: Engine) {
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    contact(&api, &"x".repeat(150), json!([])).await;
    // WHEN q is empty, blank, longer than 100 characters or not one line THEN 400 naming q
    // (é, percent-encoded: two bytes, one character)
    let long = "%C3%A9".repeat(101);
    for path in ["/contacts?q=", "/contacts?q=%20%20", "/accounts?q=%09", &format!("/contacts?q={long}"), "/accounts?q=a%0Ab", "/contacts?q=a%07"] {
        let reply = api.call(GET, path, Some(&admin), None).await;
        reply.assert_problem(400, Some("q"));
    }
    // AND 100 characters (not bytes), spaces around them aside, are fine
    let (found, _) = search(&api, &admin, &format!("/contacts?q=%20{}%20", "x".repeat(100))).await;
    assert_eq!(found.len(), 1);
    assert_eq!(search(&api, &admin, &format!("/contacts?q={}", "%C3%A9".repeat(100))).await.0, Vec::<String>::new());
    // AND the paging parameters are checked as on the plain list
    api.call(GET, "/contacts?q=x&limit=0", Some(&admin), None).await.assert_problem(400, Some("limit"));
    api.call(GET, "/contacts?q=x&sort=name", Some(&admin), None).await.assert_problem(400, Some("sort"));
}

async fn only_staff_may_search_and_portal_users_see_no_one(engine: Engine) {
    // GIVEN two customers of different accounts, each with portal access to their account
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let initech = api.create(&admin, "/accounts", json!({"name": "Initech", "email_domains": ["initech.test"]})).await;
    let umbrella = api.create(&admin, "/accounts", json!({"name": "Umbrella", "email_domains": ["umbrella.test"]})).await;
    let (_, peter) = api.portal_contact("Peter Gibbons", "peter@initech.test", Some(&id_of(&initech)), json!({"role": "account_cases"})).await;
    api.portal_contact("Alice Wesker", "alice@umbrella.test", Some(&id_of(&umbrella)), json!({"role": "account_cases"})).await;
    // WHEN the portal user searches the directory, for the other customer or for their own
    // THEN it is refused as the plain list is, and no record comes back
    for path in [
        "/contacts?q=alice",
        "/contacts?q=alice@umbrella.test",
        "/contacts?q=peter",
        "/accounts?q=umbrella",
        "/accounts?q=umbrella.test",
        "/accounts?q=Initech",
    ] {
        let reply = api.call(GET, path, Some(&peter), None).await;
        reply.assert_problem(403, None);
        assert!(reply.body.get("items").is_none(), "{path}: {}", reply.body);
        assert!(!reply.body.to_string().contains("Wesker") && !reply.body.to_string().contains("umbrella.test"), "{path}: {}", reply.body);
    }
    api.call(GET, "/contacts", Some(&peter), None).await.assert_problem(403, None);
    // AND without a token there is no answer at all
    api.call(GET, "/contacts?q=alice", None, None).await.assert_problem(401, None);
    api.call(GET, "/accounts?q=umbrella", None, None).await.assert_problem(401, None);
    // AND staff do find both
    assert_eq!(search(&api, &admin, "/contacts?q=alice@umbrella.test").await.0, vec!["Alice Wesker"]);
}
