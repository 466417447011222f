//! The knowledge base on both engines (SPEC F7, F50): article CRUD for staff with sanitised
//! bodies and optimistic concurrency, what portal users may read, search by title words, and
//! links between articles and cases.

use axum::http::Method;
use docket_e2e::{Engine, Reply, TestApi, id_of, on_both_engines};
use serde_json::json;

on_both_engines!(
    staff_write_read_update_and_delete_articles,
    portal_users_read_only_published_portal_visible_articles,
    search_finds_articles_by_every_title_word,
    linked_articles_show_on_the_case_and_its_stream,
);

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().expect("items").iter().map(id_of).collect()
}

fn titles(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().expect("items").iter().map(|a| a["title"].as_str().expect("title").to_owned()).collect()
}

async fn agent_token(api: &TestApi) -> String {
    let agent = api.create(&api.admin_token(), "/users", json!({"name": "Kim Agent", "email": "kim@agents.example", "role": "agent"})).await;
    api.token(&id_of(&agent))
}

async fn staff_write_read_update_and_delete_articles(engine: Engine) {
    // GIVEN an agent
    let api = TestApi::new(engine).await;
    let agent = agent_token(&api).await;
    // WHEN the agent writes an article whose body carries a script and an event handler
    let body = r#"<h2>Steps</h2><p onclick="steal()">Open <a href="javascript:alert(1)">settings</a></p><script>alert(1)</script>"#;
    let created = api.call(POST, "/articles", Some(&agent), Some(json!({"title": "Reset a password", "body": body}))).await;
    // THEN it is stored as a draft with the dangerous parts removed and the markup kept
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.etag(), "\"1\"");
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["portal_visible"], false);
    let stored_body = created.body["body"].as_str().expect("body");
    assert!(stored_body.contains("<h2>Steps</h2>"), "{stored_body}");
    for dangerous in ["<script", "onclick", "javascript:"] {
        assert!(!stored_body.contains(dangerous), "{dangerous} kept in {stored_body}");
    }
    let path = format!("/articles/{}", id_of(&created.body));
    assert_eq!(api.call(GET, &path, Some(&agent), None).await.body["title"], "Reset a password");
    // WHEN it is updated with a stale If-Match THEN 412 and nothing changes
    let stale = api.send(PATCH, &path, Some(&agent), &[("if-match", "\"7\"")], Some(json!({"status": "published"}).to_string())).await;
    stale.assert_problem(412, Some("If-Match"));
    // WHEN it is updated with the current version, or without If-Match, THEN the version moves on
    let published = api.send(PATCH, &path, Some(&agent), &[("if-match", "\"1\"")], Some(json!({"status": "published"}).to_string())).await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(published.etag(), "\"2\"");
    let renamed = api.call(PATCH, &path, Some(&agent), Some(json!({"title": "Reset a forgotten password"}))).await;
    assert_eq!(renamed.etag(), "\"3\"", "{}", renamed.body);
    assert_eq!(renamed.body["status"], "published");
    // AND bad fields are refused naming the field
    api.call(POST, "/articles", Some(&agent), Some(json!({"body": "no title"}))).await.assert_problem(422, Some("title"));
    api.call(POST, "/articles", Some(&agent), Some(json!({"title": "x", "state": "live"}))).await.assert_problem(422, Some("state"));
    api.call(PATCH, &path, Some(&agent), Some(json!({"status": "archived"}))).await.assert_problem(422, Some("status"));
    // AND the list shows it by title
    assert_eq!(titles(&api.call(GET, "/articles", Some(&agent), None).await), vec!["Reset a forgotten password"]);
    // WHEN it is deleted with a stale version THEN 412; with none THEN it is gone, with its words
    api.send(DELETE, &path, Some(&agent), &[("if-match", "\"1\"")], None).await.assert_problem(412, Some("If-Match"));
    assert_eq!(api.call(DELETE, &path, Some(&agent), None).await.status, 204);
    api.call(GET, &path, Some(&agent), None).await.assert_problem(404, None);
    api.call(DELETE, &path, Some(&agent), None).await.assert_problem(404, None);
    assert!(ids(&api.call(GET, "/articles?q=password", Some(&agent), None).await).is_empty());
    assert!(ids(&api.call(GET, "/articles", Some(&agent), None).await).is_empty());
}

async fn portal_users_read_only_published_portal_visible_articles(engine: Engine) {
    // GIVEN a draft marked for the portal, a published staff-only article and a published
    // portal-visible one, all about printers
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let draft = api.create(&admin, "/articles", json!({"title": "Printer drivers (draft)", "portal_visible": true})).await;
    let staff_only = api.create(&admin, "/articles", json!({"title": "Printer fleet contract", "status": "published"})).await;
    let public = api
        .create(&admin, "/articles", json!({"title": "Printer paper jams", "status": "published", "portal_visible": true, "body": "<p>Open tray 2</p>"}))
        .await;
    let (_, portal) = api.portal_contact("Paula", "paula@customer.example", None, json!({"role": "own_cases"})).await;
    // WHEN the portal user lists, searches and reads articles
    let listed = api.call(GET, "/articles", Some(&portal), None).await;
    let found = api.call(GET, "/articles?q=printer", Some(&portal), None).await;
    // THEN only the published portal-visible article appears, in the portal's shape
    assert_eq!(ids(&listed), vec![id_of(&public)]);
    assert_eq!(ids(&found), vec![id_of(&public)]);
    let item = &listed.body["items"][0];
    assert_eq!(item["body"], "<p>Open tray 2</p>");
    assert!(item.get("status").is_none() && item.get("created_by").is_none(), "{item}");
    assert_eq!(api.call(GET, &format!("/articles/{}", id_of(&public)), Some(&portal), None).await.status, 200);
    // AND the draft and the staff-only article are "not found", as if they did not exist
    for hidden in [&draft, &staff_only] {
        api.call(GET, &format!("/articles/{}", id_of(hidden)), Some(&portal), None).await.assert_problem(404, None);
    }
    // AND staff see all three
    assert_eq!(ids(&api.call(GET, "/articles?q=printer", Some(&admin), None).await).len(), 3);
    // WHEN the draft is published THEN the portal sees it; WHEN the public one is hidden THEN not
    let draft_path = format!("/articles/{}", id_of(&draft));
    assert_eq!(api.call(PATCH, &draft_path, Some(&admin), Some(json!({"status": "published"}))).await.status, 200);
    let public_path = format!("/articles/{}", id_of(&public));
    assert_eq!(api.call(PATCH, &public_path, Some(&admin), Some(json!({"portal_visible": false}))).await.status, 200);
    assert_eq!(ids(&api.call(GET, "/articles", Some(&portal), None).await), vec![id_of(&draft)]);
    api.call(GET, &public_path, Some(&portal), None).await.assert_problem(404, None);
    // AND portal users may not write articles
    api.call(PATCH, &draft_path, Some(&portal), Some(json!({"title": "Mine now"}))).await.assert_problem(403, None);
    api.call(DELETE, &draft_path, Some(&portal), None).await.assert_problem(403, None);
}

async fn search_finds_articles_by_every_title_word(engine: Engine) {
    // GIVEN four articles
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let mut created = Vec::new();
    for title in ["VPN: reset your password", "Connect to the VPN from macOS", "Password rules", "Printer setup"] {
        created.push(id_of(&api.create(&admin, "/articles", json!({"title": title})).await));
        // Ids are ULIDs, ordered by millisecond: keep the creation order unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let search = |q: &str| {
        let (api, admin, path) = (&api, &admin, format!("/articles?q={q}"));
        async move { api.call(GET, &path, Some(admin), None).await }
    };
    // THEN a word finds every title holding it, newest first, whatever its case
    assert_eq!(ids(&search("vpn").await), vec![created[1].clone(), created[0].clone()]);
    assert_eq!(ids(&search("PASSWORD").await), vec![created[2].clone(), created[0].clone()]);
    // AND several words find the titles holding all of them
    assert_eq!(ids(&search("vpn%20password").await), vec![created[0].clone()]);
    assert!(ids(&search("vpn%20printer").await).is_empty());
    // AND whole words only: a prefix finds nothing
    assert!(ids(&search("pass").await).is_empty());
    // AND pages of one follow the cursor through every match once
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let page = api.call(GET, &format!("/articles?q=vpn&limit=1{cursor}"), Some(&admin), None).await;
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![created[1].clone(), created[0].clone()]);
    // WHEN a title changes THEN the index follows it in the same write
    let renamed = api.call(PATCH, &format!("/articles/{}", created[3]), Some(&admin), Some(json!({"title": "VPN printer sharing"}))).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert!(ids(&search("setup").await).is_empty());
    assert_eq!(ids(&search("vpn%20printer").await), vec![created[3].clone()]);
    // AND a query without a searchable word, with too many words, or a bad cursor is refused
    search("a").await.assert_problem(422, Some("q"));
    search("one%20two%20three%20four%20five%20six%20seven%20eight%20nine").await.assert_problem(422, Some("q"));
    api.call(GET, "/articles?q=vpn&cursor=not%20a%20cursor", Some(&admin), None).await.assert_problem(422, Some("cursor"));
}

async fn linked_articles_show_on_the_case_and_its_stream(engine: Engine) {
    // GIVEN a case and an article
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let case = api.create(&admin, "/cases", json!({"subject": "Cannot print"})).await;
    let article = api.create(&admin, "/articles", json!({"title": "Printer paper jams"})).await;
    let case_path = format!("/cases/{}", id_of(&case));
    let link_path = format!("{case_path}/articles/{}", id_of(&article));
    // WHEN the article is linked, twice
    let first = api.call(PUT, &link_path, Some(&admin), None).await;
    let second = api.call(PUT, &link_path, Some(&admin), None).await;
    // THEN the first links it (201), the second finds it linked (200)
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(first.body["article_id"], id_of(&article));
    // AND the case lists it, by number too
    assert_eq!(ids(&api.call(GET, &format!("{case_path}/articles"), Some(&admin), None).await), vec![id_of(&article)]);
    assert_eq!(ids(&api.call(GET, &format!("/cases/{}/articles", case["number"]), Some(&admin), None).await), vec![id_of(&article)]);
    // AND the stream holds one internal article_linked entry
    let stream = api.call(GET, &format!("{case_path}/stream"), Some(&admin), None).await;
    let linked: Vec<_> = stream.body["items"].as_array().unwrap().iter().filter(|e| e["system"]["event"] == "article_linked").collect();
    assert_eq!(linked.len(), 1, "{}", stream.body);
    assert_eq!(linked[0]["system"]["article_id"], id_of(&article));
    assert_eq!(linked[0]["visibility"], "internal");
    // WHEN it is unlinked THEN the case lists nothing and the stream says so; again is 404
    assert_eq!(api.call(DELETE, &link_path, Some(&admin), None).await.status, 204);
    assert!(ids(&api.call(GET, &format!("{case_path}/articles"), Some(&admin), None).await).is_empty());
    let stream = api.call(GET, &format!("{case_path}/stream"), Some(&admin), None).await;
    assert!(stream.body["items"].as_array().unwrap().iter().any(|e| e["system"]["event"] == "article_unlinked"), "{}", stream.body);
    api.call(DELETE, &link_path, Some(&admin), None).await.assert_problem(404, None);
    // AND unknown articles and cases are 404
    api.call(PUT, &format!("{case_path}/articles/01NOSUCHARTICLE"), Some(&admin), None).await.assert_problem(404, None);
    api.call(PUT, &format!("/cases/999/articles/{}", id_of(&article)), Some(&admin), None).await.assert_problem(404, None);
    // WHEN a linked article is deleted THEN it leaves every case it was linked to
    let other_case = api.create(&admin, "/cases", json!({"subject": "Paper everywhere"})).await;
    for case_id in [id_of(&case), id_of(&other_case)] {
        assert_eq!(api.call(PUT, &format!("/cases/{case_id}/articles/{}", id_of(&article)), Some(&admin), None).await.status, 201);
    }
    assert_eq!(api.call(DELETE, &format!("/articles/{}", id_of(&article)), Some(&admin), None).await.status, 204);
    for case_id in [id_of(&case), id_of(&other_case)] {
        assert!(ids(&api.call(GET, &format!("/cases/{case_id}/articles"), Some(&admin), None).await).is_empty());
    }
    // AND an agent who may not see a case cannot link to it
    let own_agent = api.create(&admin, "/users", json!({"name": "Own Scope", "email": "own@agents.example", "role": "agent", "scope": "own"})).await;
    let fresh = api.create(&admin, "/articles", json!({"title": "Fresh"})).await;
    api.call(PUT, &format!("{case_path}/articles/{}", id_of(&fresh)), Some(&api.token(&id_of(&own_agent))), None).await.assert_problem(404, None);
}
