//! The customer portal and the embeddable web form in a real headless Chromium against a real
//! `docket serve`: a customer signs in with the link from the outbox, sees their case and the
//! agent's public reply but never the internal note (in the DOM and in every API answer the page
//! fetched), replies with an attachment the agent console then shows, closes the case and opens
//! a new one with article suggestions; a customer of another account opening that case's URL
//! sees "not found"; the web form framed by a page of another origin submits, its honeypot
//! variant opens nothing and the third quick submission shows the rate-limit message. Every
//! screen is checked by axe-core. The harness is `common::browser`.

use std::io::{Read, Write};
use std::time::Duration;

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{Value, json};

mod common;

use common::browser::*;

/// The internal note's words: they must reach no customer, in any form.
const SECRET: &str = "credit hold, do not ship until paid";

/// The API as the first admin, for setting up data and checking what was stored.
struct Api<'a> {
    server: &'a Server,
    http: reqwest::Client,
    token: String,
}

impl Api<'_> {
    /// Calls the API and returns the JSON answer, failing on any error status.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.server.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("API reachable");
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

/// A customer's browser signed in to the portal with the link mailed to `email`; the sign-in
/// screen is checked and pictured on the way when `shot` names the picture.
async fn signed_in_customer(server: &Server, driver: &Driver, email: &str, shot: Option<&str>) -> Browser {
    let customer = browser(driver).await;
    customer.open(&format!("{}/portal/", server.base)).await;
    customer.wait_text("[data-test=portal-brand]", "Initech Support").await;
    customer.wait("[data-test=portal-signin-email]").await;
    if shot.is_some() {
        customer.check("portal sign-in", shot).await;
    }
    customer.fill("[data-test=portal-signin-email]", email).await;
    customer.click("[data-test=portal-signin-submit]").await;
    customer.wait("[data-test=portal-signin-sent]").await;
    let link = server.mailed_link(email).await;
    assert!(link.contains("/portal/#/signin/"), "the mailed link leads to the portal: {link}");
    customer.open(&link).await;
    customer.wait("[data-test=portal-case-row], [data-test=portal-empty]").await;
    customer
}

/// Every same-origin API answer the page fetched, fetched again with the page's session, and
/// the page's own markup: what a customer's browser could hold.
async fn everything_the_page_received(browser: &Browser) -> String {
    let answers = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const urls = [...new Set(performance.getEntriesByType('resource').map(e => e.name)\
               .filter(u => u.startsWith(location.origin) && !u.includes('/assets/') && !u.includes('/auth/')))];\
             Promise.all(urls.map(u => fetch(u, { credentials: 'same-origin' }).then(r => r.text()).then(t => u + '\\n' + t)))\
               .then(all => done(all.join('\\n') + '\\n' + document.documentElement.outerHTML), e => done('failed: ' + e));",
            Vec::new(),
        )
        .await
        .expect("the page's answers");
    let text = answers.as_str().unwrap_or_default().to_owned();
    assert!(!text.starts_with("failed:"), "{text}");
    assert!(text.contains("/cases"), "the page fetched its cases: {}", &text[..text.len().min(500)]);
    text
}

/// A listener for a page of another origin, and that origin: `localhost`, not 127.0.0.1, so it
/// is another site than the server's, as a company's own would be.
fn company_site() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, format!("http://localhost:{port}"))
}

/// Serves, on the company's site, a page that frames the web form at `form_url`.
fn serve_page_framing(listener: std::net::TcpListener, form_url: String) {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Initech: contact us</title></head>\
         <body><main><h1>Contact Initech</h1>\
         <iframe src=\"{form_url}\" title=\"Contact form\" style=\"border:0;width:100%;min-height:40rem\"></iframe>\
         </main></body></html>"
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let answer =
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len());
            let _ = stream.write_all(answer.as_bytes());
        }
    });
}

#[tokio::test]
async fn customers_use_the_portal_in_the_browser() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = serve();
    let driver = chromedriver().await;
    let api = Api { server: &server, http: reqwest::Client::new(), token: server.token(None) };

    // GIVEN a brand, two customers of two accounts with portal access, a case of each with an
    // agent's public reply and an internal note, and a published help article
    api.call(Method::PATCH, "/settings", Some(json!({"brand": {"company_name": "Initech Support", "accent_colour": "#1f5f8b"}}))).await;
    let initech = api.call(Method::POST, "/accounts", Some(json!({"name": "Initech", "email_domains": ["initech.example"]}))).await;
    let globex = api.call(Method::POST, "/accounts", Some(json!({"name": "Globex", "email_domains": ["globex.example"]}))).await;
    let peter = api
        .call(
            Method::POST,
            "/contacts",
            Some(json!({"name": "Peter Gibbons", "emails": ["peter@initech.example"], "account_id": initech["id"], "portal": {"role": "own_cases"}})),
        )
        .await;
    api.call(
        Method::POST,
        "/contacts",
        Some(json!({"name": "Hank Scorpio", "emails": ["hank@globex.example"], "account_id": globex["id"], "portal": {"role": "account_cases"}})),
    )
    .await;
    let case = api
        .call(
            Method::POST,
            "/cases",
            Some(json!({"subject": "TPS report cover sheets missing", "description": "The new cover sheets never arrived.", "contact_ids": [peter["id"]]})),
        )
        .await;
    let number = case["number"].as_u64().expect("a case number");
    let stream = format!("/cases/{}/stream", case["id"].as_str().unwrap());
    api.call(Method::POST, &stream, Some(json!({"body": "Customer is on credit hold, do not ship until paid.", "internal": true}))).await;
    api.call(Method::POST, &stream, Some(json!({"body": "We are sending a new box of cover sheets today."}))).await;
    api.call(
        Method::POST,
        "/articles",
        Some(json!({"title": "Printer overheating: what to do", "body": "Switch it off and let it cool for ten minutes.", "status": "published", "portal_visible": true})),
    )
    .await;

    // WHEN Peter asks for a sign-in link on the portal and opens the one mailed to him
    let peter_browser = signed_in_customer(&server, &driver, "peter@initech.example", Some("portal-signin")).await;
    // THEN he sees his case, and only his
    let row = peter_browser.wait_text("[data-test=portal-case-row]", "TPS report cover sheets missing").await;
    assert_eq!(row.attr("data-case-number").await.unwrap(), Some(number.to_string()));
    assert_eq!(peter_browser.count("[data-test=portal-case-row]").await, 1, "only his own case is listed");
    peter_browser.check("portal case list", Some("portal-cases")).await;

    // WHEN he opens it
    peter_browser.click("[data-test=portal-case-row]").await;
    peter_browser.wait_text("[data-test=portal-case-title]", "TPS report cover sheets missing").await;
    // THEN the agent's public reply is there and the internal note is nowhere: not in the DOM,
    // not in any answer the page received
    peter_browser.wait_text("[data-test=portal-entry-body]", "sending a new box of cover sheets").await;
    let received = everything_the_page_received(&peter_browser).await;
    assert!(!received.contains(SECRET), "the internal note reached the customer's browser");
    peter_browser.check("portal case view", Some("portal-case")).await;

    // WHEN he replies with an attachment
    let file = temp_dir("upload").join("cover-sheet.txt");
    std::fs::write(&file, "TPS cover sheet, version 2").unwrap();
    peter_browser.fill("[data-test=portal-reply-body]", "Thanks! Attached is the sheet we need.").await;
    peter_browser.wait("[data-test=portal-reply-file]").await.send_keys(file.to_str().unwrap()).await.expect("choose the file");
    peter_browser.click("[data-test=portal-reply-submit]").await;
    // THEN his reply shows with its file
    let entry = peter_browser.wait_text("[data-test=portal-entry]", "Attached is the sheet we need").await;
    assert!(entry.find(Locator::Css("[data-test=portal-attachment]")).await.is_ok(), "the reply shows its attachment");
    // AND the agent console shows the reply and the file on the case
    let admin = browser(&driver).await;
    admin.open(&server.link).await;
    admin.wait_text("[data-test=me]", "Administrator").await;
    admin.open(&format!("{}/#/cases/{number}", server.base)).await;
    let seen = admin.wait_text("[data-test=stream-entry]", "Attached is the sheet we need").await;
    let attachment = seen.find(Locator::Css("[data-test=attachment]")).await.expect("the console shows the customer's file");
    assert!(attachment.text().await.unwrap_or_default().contains("cover-sheet.txt"));

    // WHEN a customer of another account opens the URL of Peter's case
    let hank = signed_in_customer(&server, &driver, "hank@globex.example", None).await;
    assert_eq!(hank.count("[data-test=portal-case-row]").await, 0, "Globex has no cases");
    hank.open(&format!("{}/portal/#/cases/{number}", server.base)).await;
    // THEN it is not found, and nothing of it is on the page
    hank.wait("[data-test=portal-not-found]").await;
    let page = hank.script("return document.documentElement.outerHTML").await;
    assert!(!page.as_str().unwrap_or_default().contains("TPS report"), "nothing of the case shows");
    hank.close().await;

    // WHEN Peter closes his case
    peter_browser.click("[data-test=portal-close-case]").await;
    // THEN it is closed, for him and for the agents
    peter_browser.wait_text("[data-test=portal-case-status]", "Closed").await;
    let stored = api.call(Method::GET, &format!("/cases/{number}"), None).await;
    assert_eq!(stored["status"], "Closed");
    // WHEN he writes on the closed case after all
    peter_browser.fill("[data-test=portal-reply-body]", "Sorry, one more thing: the sheets are the wrong colour.").await;
    peter_browser.click("[data-test=portal-reply-submit]").await;
    // THEN it is reopened for the agents to look at again
    peter_browser.wait_text("[data-test=portal-entry]", "the wrong colour").await;
    peter_browser.wait_text("[data-test=portal-case-status]", "Reopened").await;

    // WHEN he starts a new case about his overheating printer
    peter_browser.click("[data-test=portal-nav-new]").await;
    peter_browser.fill("[data-test=portal-new-subject]", "Printer overheating again").await;
    // THEN the help article is suggested before he sends it
    peter_browser.wait_text("[data-test=portal-suggestion]", "Printer overheating: what to do").await;
    peter_browser.check("portal new case", None).await;
    peter_browser.fill("[data-test=portal-new-description]", "It is too hot to touch after ten pages.").await;
    peter_browser.click("[data-test=portal-new-submit]").await;
    peter_browser.wait_text("[data-test=portal-case-title]", "Printer overheating again").await;
    let cases = api.call(Method::GET, "/cases?q=overheating", None).await;
    let opened = cases["items"].as_array().and_then(|items| items.iter().find(|c| c["subject"] == "Printer overheating again")).cloned();
    let opened = opened.expect("the agents see the new case");
    assert_eq!(opened["source"], "portal");
    assert_eq!(opened["contact_ids"], json!([peter["id"]]));

    // WHEN he reads the help articles
    peter_browser.click("[data-test=portal-nav-kb]").await;
    peter_browser.wait_text("[data-test=portal-article-row]", "Printer overheating").await;
    peter_browser.check("portal help articles", None).await;
    peter_browser.click("[data-test=portal-article-row]").await;
    peter_browser.wait_text("[data-test=portal-article-body]", "let it cool for ten minutes").await;
    peter_browser.close().await;
    admin.close().await;
}

/// Waits, if need be, until the clock's minute has at least 40 seconds left.
async fn early_in_a_minute() {
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() % 60).unwrap_or(0);
    if second > 20 {
        tokio::time::sleep(Duration::from_secs(60 - second)).await;
    }
}

#[tokio::test]
async fn the_web_form_works_framed_by_another_site_and_holds_bots_and_floods() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = serve();
    let driver = chromedriver().await;
    let api = Api { server: &server, http: reqwest::Client::new(), token: server.token(None) };

    // GIVEN a web form that takes two submissions a minute, allowed on the company's site
    let (listener, site) = company_site();
    let form =
        api.call(Method::POST, "/forms", Some(json!({"name": "Contact Initech", "allowed_origins": [site], "rate_limits": {"per_form_per_minute": 2}}))).await;
    let form_id = form["id"].as_str().unwrap().to_owned();
    serve_page_framing(listener, format!("{}/forms/{form_id}/embed.html", server.base));
    let before = api.call(Method::GET, "/cases?limit=100", None).await["items"].as_array().map(Vec::len).unwrap_or(0);

    // WHEN a visitor of the site opens the page that frames the form
    let visitor = browser(&driver).await;
    visitor.open(&format!("{site}/")).await;
    let frame = visitor.wait("iframe").await;
    frame.enter_frame().await.expect("enter the form's frame");
    visitor.wait("input[name=email]").await;
    visitor.check("embedded form", Some("embedded-form")).await;
    // AND a bot fills the honeypot as well
    visitor.fill("input[name=name]", "Bot").await;
    visitor.fill("input[name=email]", "bot@spam.example").await;
    visitor.fill("input[name=subject]", "Cheap pills").await;
    visitor.fill("textarea[name=message]", "Buy now").await;
    visitor.script("document.querySelector('input[name=website]').value = 'http://spam.example';").await;
    visitor.click("button[type=submit]").await;
    // THEN it is told "received", as anyone is, and nothing is opened
    visitor.wait_text("[role=status]", "Thank you").await;
    let stats = api.call(Method::GET, &format!("/forms/{form_id}/stats"), None).await;
    assert_eq!(stats["honeypot"], 1, "{stats}");

    // WHEN two people submit it (early in a minute: the form's window is the clock's minute, and
    // one ending between these submissions and the next would rightly let the next through)
    early_in_a_minute().await;
    for (name, email) in [("Milton Waddams", "milton@initech.example"), ("Samir N.", "samir@initech.example")] {
        visitor.click("a[href='embed.html']").await;
        visitor.fill("input[name=name]", name).await;
        visitor.fill("input[name=email]", email).await;
        visitor.fill("input[name=subject]", "My stapler").await;
        visitor.fill("textarea[name=message]", "Has anyone seen my red stapler?").await;
        visitor.click("button[type=submit]").await;
        // THEN each is thanked without seeing anything of the case
        let thanks = visitor.wait_text("[role=status]", "Thank you").await;
        assert!(!thanks.text().await.unwrap_or_default().contains("stapler"));
    }
    // WHEN a third comes at once
    visitor.click("a[href='embed.html']").await;
    visitor.fill("input[name=name]", "Bill Lumbergh").await;
    visitor.fill("input[name=email]", "bill@initech.example").await;
    visitor.fill("input[name=subject]", "Stapler").await;
    visitor.fill("textarea[name=message]", "Yeah, I'm going to need that stapler.").await;
    visitor.click("button[type=submit]").await;
    // THEN the form comes back saying to try later, keeping what was typed
    visitor.wait_text("[role=alert]", "Too many messages were sent just now").await;
    let kept = visitor.wait("textarea[name=message]").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(kept, "Yeah, I'm going to need that stapler.");
    visitor.check("embedded form refusing", None).await;
    visitor.close().await;
    // AND exactly the two people's submissions opened cases
    let after = api.call(Method::GET, "/cases?limit=100", None).await["items"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(after, before + 2);
}
