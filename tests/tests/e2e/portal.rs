//! The customer portal's access matrix on both engines (SPEC F11, issue 6): portal users of the
//! case's contact, of the same account (with and without the account role) and of another
//! account, against a public and an internal case, through every route a portal user can call.

use axum::http::Method;
use docket_e2e::{Engine, Reply, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(
    every_portal_route_shows_a_case_exactly_to_those_who_may_see_it,
    portal_users_never_see_internal_entries_attachments_or_unpublished_articles,
    portal_users_cannot_open_cases_without_the_grant_nor_use_staff_routes,
    a_customer_closes_their_case_and_writing_on_it_reopens_it,
    the_brand_is_public_and_only_admins_change_it,
);

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;

/// Two accounts, four portal users and an admin-made public and internal case of the first.
struct World {
    api: TestApi,
    /// The contact the cases are for (portal role: own cases).
    owner: String,
    /// Same account, portal role: account cases.
    colleague: String,
    /// Same account, portal role: own cases only.
    bystander: String,
    /// Another account, portal role: account cases.
    outsider: String,
    public_case: Value,
    internal_case: Value,
}

async fn world(engine: Engine) -> World {
    let blobs = docket_e2e::blobs(engine).await;
    let api = TestApi::with_docket(docket_e2e::docket(engine).await.with_blobs(blobs)).await;
    let admin = api.admin_token();
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme", "email_domains": ["acme.example"]})).await);
    let globex = id_of(&api.create(&admin, "/accounts", json!({"name": "Globex", "email_domains": ["globex.example"]})).await);
    let (owner, owner_token) = api.portal_contact("Olive Owner", "olive@acme.example", Some(&acme), json!({"role": "own_cases"})).await;
    let (_, colleague) = api.portal_contact("Colin Colleague", "colin@acme.example", Some(&acme), json!({"role": "account_cases"})).await;
    let (_, bystander) = api.portal_contact("Betty Bystander", "betty@acme.example", Some(&acme), json!({"role": "own_cases"})).await;
    let (_, outsider) = api.portal_contact("Otto Outsider", "otto@globex.example", Some(&globex), json!({"role": "account_cases"})).await;
    let public_case = api.create(&admin, "/cases", json!({"subject": "Invoice is wrong", "contact_ids": [id_of(&owner)]})).await;
    let internal_case = api.create(&admin, "/cases", json!({"subject": "Credit check on Olive", "internal": true, "contact_ids": [id_of(&owner)]})).await;
    World { api, owner: owner_token, colleague, bystander, outsider, public_case, internal_case }
}

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().expect("items").iter().map(id_of).collect()
}

/// Uploads a small text file to a case as `token`.
async fn upload(api: &TestApi, token: &str, case_id: &str, name: &str) -> Reply {
    let path = format!("/cases/{case_id}/attachments?name={name}");
    api.send(POST, &path, Some(token), &[("content-type", "text/plain")], Some(format!("contents of {name}"))).await
}

async fn every_portal_route_shows_a_case_exactly_to_those_who_may_see_it(engine: Engine) {
    // GIVEN a public and an internal case of Olive's, and four portal users
    let w = world(engine).await;
    let public = id_of(&w.public_case);
    let internal = id_of(&w.internal_case);
    // (viewer, case, may see): own and same-account-with-role see the public case; nobody sees
    // the internal one; an own-cases colleague and another account see neither.
    let matrix = [
        ("owner", &w.owner, &public, true),
        ("owner", &w.owner, &internal, false),
        ("colleague", &w.colleague, &public, true),
        ("colleague", &w.colleague, &internal, false),
        ("bystander", &w.bystander, &public, false),
        ("bystander", &w.bystander, &internal, false),
        ("outsider", &w.outsider, &public, false),
        ("outsider", &w.outsider, &internal, false),
    ];
    for (who, token, case_id, may_see) in matrix {
        let case = format!("/cases/{case_id}");
        let label = format!("{who} on {}", if case_id == &public { "the public case" } else { "the internal case" });
        // WHEN the viewer lists cases THEN the case is listed exactly when it may be seen
        let listed = ids(&w.api.call(GET, "/cases", Some(token), None).await);
        assert_eq!(listed.contains(case_id), may_see, "{label}: list {listed:?}");
        if may_see {
            // AND the case, its stream, a reply, an upload, a follow and its articles all work
            let read = w.api.call(GET, &case, Some(token), None).await;
            assert_eq!(read.status, 200, "{label}: {}", read.body);
            assert!(read.body.get("internal").is_none() && read.body.get("assignee_id").is_none(), "{label}: staff fields shown {}", read.body);
            assert_eq!(w.api.call(GET, &format!("{case}/stream"), Some(token), None).await.status, 200, "{label}: stream");
            let reply = w.api.call(POST, &format!("{case}/stream"), Some(token), Some(json!({"body": format!("reply by {who}")}))).await;
            assert_eq!(reply.status, 201, "{label}: post {}", reply.body);
            assert_eq!(reply.body["visibility"], "public", "{label}");
            assert_eq!(upload(&w.api, token, case_id, "note.txt").await.status, 201, "{label}: upload");
            assert_eq!(w.api.call(PUT, &format!("{case}/followers/me"), Some(token), None).await.status, 200, "{label}: follow");
            assert!(ids(&w.api.call(GET, "/me/follows", Some(token), None).await).contains(case_id), "{label}: my follows");
            assert_eq!(w.api.call(GET, &format!("{case}/articles"), Some(token), None).await.status, 200, "{label}: articles");
        } else {
            // AND every route answers 404, by id and by number, so nothing can be probed
            w.api.call(GET, &case, Some(token), None).await.assert_problem(404, None);
            let number = if case_id == &public { &w.public_case["number"] } else { &w.internal_case["number"] };
            w.api.call(GET, &format!("/cases/{number}"), Some(token), None).await.assert_problem(404, None);
            w.api.call(GET, &format!("{case}/stream"), Some(token), None).await.assert_problem(404, None);
            w.api.call(POST, &format!("{case}/stream"), Some(token), Some(json!({"body": "let me in"}))).await.assert_problem(404, None);
            upload(&w.api, token, case_id, "probe.txt").await.assert_problem(404, None);
            w.api.call(PUT, &format!("{case}/followers/me"), Some(token), None).await.assert_problem(404, None);
            assert!(!ids(&w.api.call(GET, "/me/follows", Some(token), None).await).contains(case_id), "{label}: my follows");
            w.api.call(GET, &format!("{case}/articles"), Some(token), None).await.assert_problem(404, None);
        }
    }
    // AND list filters cannot widen a view: the outsider asking for Acme's account gets nothing
    let acme_account = w.public_case["account_id"].as_str().expect("the case has the contact's account").to_owned();
    let widened = ids(&w.api.call(GET, &format!("/cases?account_id={acme_account}"), Some(&w.outsider), None).await);
    assert!(widened.is_empty(), "{widened:?}");
}

async fn portal_users_never_see_internal_entries_attachments_or_unpublished_articles(engine: Engine) {
    // GIVEN Olive's public case with a public reply and an internal note, each with a file
    let w = world(engine).await;
    let admin = w.api.admin_token();
    let case_id = id_of(&w.public_case);
    let case = format!("/cases/{case_id}");
    let public_file = id_of(&upload(&w.api, &admin, &case_id, "public.txt").await.body);
    let internal_file = id_of(&upload(&w.api, &admin, &case_id, "internal.txt").await.body);
    let unposted_file = id_of(&upload(&w.api, &admin, &case_id, "unposted.txt").await.body);
    let public_reply = w.api.create(&admin, &format!("{case}/stream"), json!({"body": "We are on it", "attachment_ids": [public_file]})).await;
    let internal_note = w
        .api
        .create(&admin, &format!("{case}/stream"), json!({"body": "Customer is on credit hold", "internal": true, "attachment_ids": [internal_file]}))
        .await;
    // AND a published portal-visible article, a draft and an internal-only article linked to it
    let visible = w.api.create(&admin, "/articles", json!({"title": "How invoices work", "status": "published", "portal_visible": true})).await;
    let draft = w.api.create(&admin, "/articles", json!({"title": "Invoice errors (draft)", "portal_visible": true})).await;
    let staff_only = w.api.create(&admin, "/articles", json!({"title": "Credit hold procedure", "status": "published"})).await;
    for article in [&visible, &draft, &staff_only] {
        let linked = w.api.call(PUT, &format!("{case}/articles/{}", id_of(article)), Some(&admin), None).await;
        assert_eq!(linked.status, 201, "{}", linked.body);
    }
    for (who, token) in [("owner", &w.owner), ("colleague", &w.colleague)] {
        // WHEN a portal user who may see the case reads its stream
        let stream = ids(&w.api.call(GET, &format!("{case}/stream"), Some(token), None).await);
        // THEN the public reply is there and the internal note (and article links) are not
        assert!(stream.contains(&id_of(&public_reply)), "{who}: {stream:?}");
        assert!(!stream.contains(&id_of(&internal_note)), "{who}: internal note shown");
        let entries = w.api.call(GET, &format!("{case}/stream"), Some(token), None).await.body;
        assert!(entries["items"].as_array().unwrap().iter().all(|e| e["visibility"] == "public"), "{who}: {entries}");
        // AND only the public reply's attachment downloads; the internal and unposted ones are 404
        let download = w.api.call(GET, &format!("{case}/attachments/{public_file}"), Some(token), None).await;
        assert_eq!(download.status, 200, "{who}: {}", download.body);
        assert_eq!(download.body, "contents of public.txt");
        for hidden in [&internal_file, &unposted_file] {
            w.api.call(GET, &format!("{case}/attachments/{hidden}"), Some(token), None).await.assert_problem(404, None);
        }
        // AND of the linked articles only the published portal-visible one is listed
        let articles = w.api.call(GET, &format!("{case}/articles"), Some(token), None).await;
        assert_eq!(ids(&articles), vec![id_of(&visible)], "{who}");
        assert!(articles.body["items"][0].get("status").is_none(), "{who}: workflow state shown {}", articles.body);
    }
    // AND staff see everything: both entries, all three files, all three articles
    let staff_stream = ids(&w.api.call(GET, &format!("{case}/stream"), Some(&admin), None).await);
    assert!(staff_stream.contains(&id_of(&internal_note)) && staff_stream.contains(&id_of(&public_reply)));
    assert_eq!(w.api.call(GET, &format!("{case}/attachments/{internal_file}"), Some(&admin), None).await.status, 200);
    assert_eq!(ids(&w.api.call(GET, &format!("{case}/articles"), Some(&admin), None).await).len(), 3);
}

async fn portal_users_cannot_open_cases_without_the_grant_nor_use_staff_routes(engine: Engine) {
    // GIVEN a portal user who may not open cases, and one who may
    let w = world(engine).await;
    let (reader, reader_token) = w.api.portal_contact("Rita Reader", "rita@acme.example", None, json!({"role": "own_cases", "can_create_cases": false})).await;
    // WHEN the reader tries to open a case THEN 403, and nothing is created
    w.api.call(POST, "/cases", Some(&reader_token), Some(json!({"subject": "Please help"}))).await.assert_problem(403, None);
    assert!(ids(&w.api.call(GET, "/cases", Some(&reader_token), None).await).is_empty());
    // WHEN the owner opens one THEN it is hers, from the portal, and she follows it
    let opened = w.api.create(&w.owner, "/cases", json!({"subject": "Portal question"})).await;
    let stored = w.api.call(GET, &format!("/cases/{}", id_of(&opened)), Some(&w.api.admin_token()), None).await;
    assert_eq!(stored.body["source"], "portal");
    assert_eq!(stored.body["assignee_id"], Value::Null);
    assert!(ids(&w.api.call(GET, "/me/follows", Some(&w.owner), None).await).contains(&id_of(&opened)));
    // AND she cannot post internally, nor reach any staff-only route
    let case = format!("/cases/{}", id_of(&w.public_case));
    w.api.call(POST, &format!("{case}/stream"), Some(&w.owner), Some(json!({"body": "x", "internal": true}))).await.assert_problem(422, Some("internal"));
    w.api.call(GET, &format!("{case}/followers"), Some(&w.owner), None).await.assert_problem(403, None);
    w.api.call(PUT, &format!("{case}/followers/{}", id_of(&reader)), Some(&w.owner), None).await.assert_problem(403, None);
    w.api.call(POST, "/articles", Some(&w.owner), Some(json!({"title": "My own article"}))).await.assert_problem(403, None);
    w.api.call(GET, "/forms", Some(&w.owner), None).await.assert_problem(403, None);
    w.api.call(GET, "/contacts", Some(&w.owner), None).await.assert_problem(403, None);
    let article = w.api.create(&w.api.admin_token(), "/articles", json!({"title": "Billing FAQ", "status": "published", "portal_visible": true})).await;
    w.api.call(PUT, &format!("{case}/articles/{}", id_of(&article)), Some(&w.owner), None).await.assert_problem(403, None);
}

async fn a_customer_closes_their_case_and_writing_on_it_reopens_it(engine: Engine) {
    // GIVEN Olive's open case
    let w = world(engine).await;
    let case = format!("/cases/{}", id_of(&w.public_case));
    let close = format!("{case}/close");

    // WHEN a customer who may not see it tries to close it THEN it is not found and stays open
    for token in [&w.bystander, &w.outsider] {
        w.api.call(POST, &close, Some(token), None).await.assert_problem(404, None);
    }
    // AND nobody closes the internal case through the portal
    w.api.call(POST, &format!("/cases/{}/close", id_of(&w.internal_case)), Some(&w.owner), None).await.assert_problem(404, None);

    // WHEN Olive closes it
    let closed = w.api.call(POST, &close, Some(&w.owner), None).await;
    // THEN it is Closed, shown to her as a portal case, with the change in the stream
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["status"], "Closed");
    assert!(closed.body.get("assignee_id").is_none(), "portal view: {}", closed.body);
    let version = closed.body["version"].clone();
    // AND closing again changes nothing (one effect however often the button is pressed)
    let again = w.api.call(POST, &close, Some(&w.owner), None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!((&again.body["status"], &again.body["version"]), (&json!("Closed"), &version));

    // WHEN she writes on the closed case
    let posted = w.api.call(POST, &format!("{case}/stream"), Some(&w.owner), Some(json!({"body": "It broke again"}))).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    // THEN it is reopened for the agents
    let admin = w.api.admin_token();
    let read = w.api.call(GET, &case, Some(&admin), None).await;
    assert_eq!(read.body["status"], "Reopened", "{}", read.body);
    // AND an agent's post on a waiting case does not reopen it (only the customer's words do)
    let pending = w.api.send(Method::PATCH, &case, Some(&admin), &[("if-match", &read.etag())], Some(json!({"status": "Pending"}).to_string())).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    w.api.create(&admin, &format!("{case}/stream"), json!({"body": "Could you send a screenshot?"})).await;
    assert_eq!(w.api.call(GET, &case, Some(&admin), None).await.body["status"], "Pending");
    w.api.create(&w.owner, &format!("{case}/stream"), json!({"body": "Here it is"})).await;
    assert_eq!(w.api.call(GET, &case, Some(&admin), None).await.body["status"], "Reopened");
}

async fn the_brand_is_public_and_only_admins_change_it(engine: Engine) {
    let w = world(engine).await;
    let admin = w.api.admin_token();
    // GIVEN no brand set, THEN anyone reads the default without signing in
    let brand = w.api.call(GET, "/branding", None, None).await;
    assert_eq!(brand.status, 200, "{}", brand.body);
    assert_eq!(brand.body["company_name"], "Support");
    // WHEN a customer tries to change it THEN they are refused
    w.api.call(Method::PATCH, "/settings", Some(&w.owner), Some(json!({"brand": {"company_name": "Hacked"}}))).await.assert_problem(403, None);
    // WHEN an admin sets a logo that is not an image URL THEN it is refused by field
    let refused =
        w.api.call(Method::PATCH, "/settings", Some(&admin), Some(json!({"brand": {"company_name": "Acme", "logo_url": "javascript:alert(1)"}}))).await;
    refused.assert_problem(422, Some("brand.logo_url"));
    // WHEN an admin sets a proper brand THEN everyone reads it
    let set = w
        .api
        .call(
            Method::PATCH,
            "/settings",
            Some(&admin),
            Some(json!({"brand": {"company_name": "Acme Help", "logo_url": "https://acme.example/logo.svg", "accent_colour": "#0A5FFF"}})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let brand = w.api.call(GET, "/branding", None, None).await;
    assert_eq!(brand.body, json!({"company_name": "Acme Help", "logo_url": "https://acme.example/logo.svg", "accent_colour": "#0a5fff"}));
}
