//! The local process end to end: `docket serve` on a fresh data folder, `docket token`, real HTTP
//! over TCP, and a clean stop on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::DOCKET;

fn temp_data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "docket-serve-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `docket serve` on free ports and returns it with the HTTP address it printed.
fn serve(data: &Path) -> (Child, String) {
    let (child, http, _) = serve_with_smtp(data);
    (child, http)
}

/// Starts `docket serve` on free ports: the process, its HTTP and its SMTP address.
fn serve_with_smtp(data: &Path) -> (Child, String, String) {
    let started = common::start_serve(data);
    (started.child, started.http, started.smtp)
}

/// Hands one message to an SMTP server the way an MTA would, asserting each reply code.
fn send_smtp(address: &str, from: &str, to: &str, message: &str) {
    use std::io::{BufRead, Write};
    let stream = std::net::TcpStream::connect(address).expect("connect SMTP");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut expect = |code: &str| {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("SMTP reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    };
    expect("220");
    for (command, code) in
        [("EHLO test.local".to_owned(), "250"), (format!("MAIL FROM:<{from}>"), "250"), (format!("RCPT TO:<{to}>"), "250"), ("DATA".into(), "354")]
    {
        writer.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        expect(code);
    }
    writer.write_all(message.replace("\n.", "\n..").as_bytes()).unwrap();
    writer.write_all(b"\r\n.\r\n").unwrap();
    expect("250");
    writer.write_all(b"QUIT\r\n").unwrap();
    expect("221");
}

/// Outbox messages containing `marker`, waiting up to 5 s for at least one.
fn outbox_with(outbox: &Path, marker: &str) -> Vec<String> {
    for _ in 0..100 {
        let found: Vec<String> = std::fs::read_dir(outbox)
            .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).filter(|m| m.contains(marker)).collect())
            .unwrap_or_default();
        if !found.is_empty() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Vec::new()
}

/// A header's value with folded lines joined.
fn header(raw: &str, name: &str) -> Option<String> {
    let unfolded = raw.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_owned()))
}

/// Creates the group mailbox `support@acme.test` (acknowledging new cases) as the admin.
async fn add_support_mailbox(http: &reqwest::Client, base: &str, admin: &str) {
    let mailbox = http
        .post(format!("{base}/mailboxes"))
        .bearer_auth(admin)
        .json(&json!({"name": "Support", "addresses": ["support@acme.test"], "auto_ack": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(mailbox.status(), 201);
}

#[tokio::test]
async fn mail_to_the_smtp_port_opens_a_case_and_replies_thread_back() {
    // GIVEN a running server with a group mailbox that acknowledges new cases
    let data = temp_data_dir();
    let (mut child, address, smtp) = serve_with_smtp(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    add_support_mailbox(&http, &base, &admin).await;
    // WHEN a customer's mail arrives on the SMTP port
    let first =
        "From: Ada <ada@customer.test>\r\nTo: support@acme.test\r\nSubject: Printer on fire\r\nMessage-ID: <p1@customer.test>\r\n\r\nSmoke from tray 2.\r\n";
    send_smtp(&smtp, "ada@customer.test", "support@acme.test", first);
    // THEN a case is open and its acknowledgement is in the outbox
    let case: Value = http.get(format!("{base}/cases/1")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(case["subject"], "Printer on fire");
    assert_eq!(case["source"], "email");
    let outbox = data.join("outbox");
    let acks = outbox_with(&outbox, "In-Reply-To: <p1@customer.test>");
    assert_eq!(acks.len(), 1, "one acknowledgement expected");
    // WHEN the customer replies to the acknowledgement's Reply-To
    let reply_to = header(&acks[0], "Reply-To").and_then(|v| v.split(['<', '>']).nth(1).map(str::to_owned)).expect("Reply-To");
    let reply =
        format!("From: Ada <ada@customer.test>\r\nTo: {reply_to}\r\nSubject: Re: your mail\r\nMessage-ID: <p2@customer.test>\r\n\r\nStill smoking.\r\n");
    send_smtp(&smtp, "ada@customer.test", &reply_to, &reply);
    // THEN it is on case 1, and an agent reply reaches Ada through the outbox, whose own
    // Reply-To brings her next answer back to the case too
    let stream: Value = http.get(format!("{base}/cases/1/stream")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert!(stream["items"].as_array().unwrap().iter().any(|e| e["body"].as_str().is_some_and(|b| b.contains("Still smoking."))), "{stream}");
    let posted = http
        .post(format!("{base}/cases/1/stream"))
        .bearer_auth(&admin)
        .json(&json!({"body": "Technician on the way", "email_customer": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let notices = outbox_with(&outbox, "Technician on the way");
    assert_eq!(notices.len(), 1);
    let notice_reply_to = header(&notices[0], "Reply-To").and_then(|v| v.split(['<', '>']).nth(1).map(str::to_owned)).expect("Reply-To");
    let answer = format!(
        "From: Ada <ada@customer.test>\r\nTo: {notice_reply_to}\r\nSubject: Re: [#1] Printer on fire\r\nMessage-ID: <p3@customer.test>\r\n\r\nThanks, fixed.\r\n"
    );
    send_smtp(&smtp, "ada@customer.test", &notice_reply_to, &answer);
    let log: Value = http.get(format!("{base}/inbound-log")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let outcomes: Vec<(String, Value)> =
        log["items"].as_array().unwrap().iter().map(|e| (e["outcome"].as_str().unwrap().to_owned(), e["case_number"].clone())).collect();
    assert_eq!(outcomes, vec![("appended".to_owned(), json!(1)), ("appended".to_owned(), json!(1)), ("created".to_owned(), json!(1))]);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn forged_senders_and_borrowed_tokens_fail_over_smtp() {
    // GIVEN a running server, a mailbox, and a portal customer whose case was opened by mail
    let data = temp_data_dir();
    let (mut child, address, smtp) = serve_with_smtp(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(&admin).json(&body).send();
    assert_eq!(post("/mailboxes", json!({"name": "Support", "addresses": ["support@acme.test"], "auto_ack": true})).await.unwrap().status(), 201);
    let contact = post("/contacts", json!({"name": "Ada", "emails": ["ada@customer.test"], "portal": {"role": "own_cases"}})).await.unwrap();
    assert_eq!(contact.status(), 201);
    send_smtp(
        &smtp,
        "ada@customer.test",
        "support@acme.test",
        "From: Ada <ada@customer.test>\r\nTo: support@acme.test\r\nSubject: Printer on fire\r\nMessage-ID: <t1@customer.test>\r\n\r\nSmoke.\r\n",
    );
    let outbox = data.join("outbox");
    let ack = outbox_with(&outbox, "In-Reply-To: <t1@customer.test>").pop().expect("an acknowledgement");
    let token_address = header(&ack, "Reply-To").and_then(|v| v.split(['<', '>']).nth(1).map(str::to_owned)).expect("Reply-To");
    // WHEN a website mails a sign-up code to the acknowledgement's reply address
    let code = format!("From: codes@website.test\r\nTo: {token_address}\r\nSubject: Your code\r\nMessage-ID: <w1@website.test>\r\n\r\nCODE-998877\r\n");
    send_smtp(&smtp, "codes@website.test", &token_address, &code);
    // AND someone forges the admin's address naming Ada's case
    let forged = "From: Administrator <admin@docket.localhost>\r\nTo: support@acme.test\r\nSubject: Re: [#1] Printer on fire\r\nMessage-ID: <f1@evil.test>\r\n\r\nPHISH: log in at http://evil.test\r\n";
    send_smtp(&smtp, "admin@docket.localhost", "support@acme.test", forged);
    // AND someone writes to a tag of the mailbox
    send_smtp(
        &smtp,
        "bob@customer.test",
        "support+orders@acme.test",
        "From: bob@customer.test\r\nTo: support+orders@acme.test\r\nSubject: Order 12\r\nMessage-ID: <o1@customer.test>\r\n\r\nWhere is it?\r\n",
    );
    // THEN Ada's portal shows neither the code nor the forged mail
    let portal = token(&data, Some("ada@customer.test"));
    let seen = http.get(format!("{base}/cases/1/stream")).bearer_auth(&portal).send().await.unwrap().text().await.unwrap();
    assert!(seen.contains("Smoke."), "{seen}");
    assert!(!seen.contains("CODE-998877") && !seen.contains("PHISH"), "{seen}");
    // AND the forged mail is on the case for staff, internal and flagged unverified
    let staff: Value = http.get(format!("{base}/cases/1/stream")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let phish =
        staff["items"].as_array().unwrap().iter().find(|e| e["body"].as_str().is_some_and(|b| b.contains("PHISH"))).expect("the forged mail is on the case");
    assert_eq!((&phish["visibility"], &phish["email"]["unverified"]), (&json!("internal"), &json!(true)), "{phish}");
    // AND the log tells each outcome: the code opened a case of its own, the tagged mail reached the mailbox
    let log: Value = http.get(format!("{base}/inbound-log")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let items = log["items"].as_array().unwrap();
    let of = |message_id: &str| items.iter().find(|e| e["message_id"] == message_id).cloned().unwrap_or_else(|| panic!("{message_id} not logged: {log}"));
    assert_eq!(of("w1@website.test")["outcome"], "created");
    assert_ne!(of("w1@website.test")["case_number"], 1);
    assert!(of("w1@website.test")["reason"].as_str().unwrap().contains("issued to another address"));
    assert_eq!((&of("f1@evil.test")["outcome"], &of("f1@evil.test")["case_number"]), (&json!("appended"), &json!(1)));
    assert_eq!(of("o1@customer.test")["outcome"], "created");
    // AND no mail to Ada but her acknowledgement went out
    std::thread::sleep(Duration::from_millis(500));
    let to_ada = outbox_with(&outbox, "ada@customer.test");
    assert!(to_ada.iter().all(|m| !m.contains("PHISH") && !m.contains("CODE-998877")), "{to_ada:?}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

fn token(data: &Path, who: Option<&str>) -> String {
    let mut command = Command::new(DOCKET);
    command.args(["--data", data.to_str().unwrap(), "token"]);
    if let Some(who) = who {
        command.arg(who);
    }
    let output = command.output().expect("docket token");
    assert!(output.status.success(), "docket token failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn serve_token_create_list_update_and_stop_cleanly() {
    // GIVEN a fresh data folder and a running server
    let data = temp_data_dir();
    let (mut child, address) = serve(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    // AND an admin token minted by the CLI
    let admin = token(&data, None);

    // WHEN the admin creates a contact and a case for it over HTTP
    let contact: Value = http
        .post(format!("{base}/contacts"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Ada Lovelace", "emails": ["ada@example.com"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = http
        .post(format!("{base}/cases"))
        .bearer_auth(&admin)
        .json(&json!({"subject": "Printer on fire", "contact_ids": [contact["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let case: Value = created.json().await.unwrap();

    // THEN it is listed
    let listed: Value = http.get(format!("{base}/cases")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], case["id"]);
    // AND an update with the right ETag succeeds while a stale one gets 412 as problem+json
    let path = format!("{base}/cases/{}", case["number"]);
    let updated = http.patch(&path).bearer_auth(&admin).header("if-match", &etag).json(&json!({"priority": "Urgent"})).send().await.unwrap();
    assert_eq!(updated.status(), 200);
    let stale = http.patch(&path).bearer_auth(&admin).header("if-match", &etag).json(&json!({"priority": "Low"})).send().await.unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(stale.headers()["content-type"], "application/problem+json");

    // WHEN the contact is given portal access THEN the CLI mints a portal token that sees the case
    let granted = http
        .patch(format!("{base}/contacts/{}", contact["id"].as_str().unwrap()))
        .bearer_auth(&admin)
        .json(&json!({"portal": {"role": "own_cases"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);
    let portal = token(&data, Some("ada@example.com"));
    let own: Value = http.get(format!("{base}/cases")).bearer_auth(&portal).send().await.unwrap().json().await.unwrap();
    assert_eq!(own["items"].as_array().unwrap().len(), 1);

    // WHEN the admin posts a public reply marked "email the customer" THEN the worker mails it to
    // the case's contact through the outbox, and not to the admin who wrote it
    let posted = http
        .post(format!("{base}/cases/{}/stream", case["number"]))
        .bearer_auth(&admin)
        .json(&json!({"body": "We are on it", "email_customer": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let outbox = data.join("outbox");
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).filter(|m| m.contains("We are on it")).collect())
            .unwrap_or_default();
        if !mails.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(mails.len(), 1, "one notification of the post expected in {}", outbox.display());
    let to = mails[0].lines().find(|l| l.starts_with("To:")).unwrap_or_default().to_owned();
    assert!(to.contains("ada@example.com"), "{to}");
    assert!(mails[0].contains("Subject: [#1] Printer on fire"), "{}", mails[0]);

    // WHEN Ctrl-C is sent THEN the process stops cleanly
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let mut stopped = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            stopped = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = stopped.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("docket serve did not stop within 5 s of SIGINT")
    });
    assert!(status.success(), "exit status {status}");

    // AND a restart on the same data keeps the case and does not create a second admin
    let (mut again, address) = serve(&data);
    let kept: Value = http.get(format!("http://{address}/cases/1")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(kept["priority"], "Urgent");
    let users: Value = http.get(format!("http://{address}/users")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let _ = again.kill();
    let _ = again.wait();
    let _ = std::fs::remove_dir_all(&data);
}

/// Polls `check` every 50 ms for up to 10 s until it gives a value.
async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(found) = check().await {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Creates a record over HTTP, asserting 201; returns its id.
async fn create(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> String {
    let reply = http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
    let status = reply.status();
    let body: Value = reply.json().await.unwrap();
    assert_eq!(status, 201, "{path}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn ten_emails_to_a_round_robin_mailbox_are_spread_over_its_team_and_each_assignee_is_notified() {
    // GIVEN a running server, a team of three agents and a mailbox bound to it with Round-Robin
    let data = temp_data_dir();
    let (mut child, address, smtp) = serve_with_smtp(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    let team = create(&http, &base, &admin, "/teams", json!({"name": "Front line"})).await;
    let mut agents = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let email = format!("{name}@helpdesk.test");
        let id = create(&http, &base, &admin, "/users", json!({"name": name, "email": email, "role": "agent", "team_ids": [team]})).await;
        agents.push((id, email));
    }
    create(
        &http,
        &base,
        &admin,
        "/mailboxes",
        json!({"name": "Support", "addresses": ["support@acme.test"], "team_id": team, "assignment_rule": "round_robin"}),
    )
    .await;
    // WHEN ten customers write in a row
    for i in 0..10 {
        let message = format!(
            "From: Customer {i} <c{i}@customer.test>\r\nTo: support@acme.test\r\nSubject: Problem {i}\r\nMessage-ID: <m{i}@customer.test>\r\n\r\nPlease help ({i}).\r\n"
        );
        send_smtp(&smtp, &format!("c{i}@customer.test"), "support@acme.test", &message);
    }
    // THEN the ten cases are assigned over the three agents, within one of each other
    let cases = eventually(|| async {
        let list: Value = http.get(format!("{base}/cases?limit=50")).bearer_auth(&admin).send().await.ok()?.json().await.ok()?;
        let items = list["items"].as_array()?.clone();
        (items.len() == 10 && items.iter().all(|c| c["assignee_id"].is_string())).then_some(items)
    })
    .await
    .expect("ten assigned cases");
    let mut per_agent = Vec::new();
    for (id, email) in &agents {
        let theirs: Vec<&Value> = cases.iter().filter(|c| c["assignee_id"] == *id.as_str()).collect();
        assert!(theirs.iter().all(|c| c["status"] == "Assigned"));
        // ... and each agent has one assignment notification per case in the outbox
        let outbox = data.join("outbox");
        let notices = eventually(|| {
            let outbox = outbox.clone();
            let wanted = theirs.len();
            async move {
                let found: Vec<String> = outbox_with(&outbox, "was assigned").into_iter().filter(|m| m.contains(&format!("<{email}>"))).collect();
                (found.len() == wanted).then_some(found)
            }
        })
        .await
        .unwrap_or_else(|| panic!("{email} did not get {} assignment notifications", theirs.len()));
        for case in &theirs {
            assert!(notices.iter().any(|n| n.contains(&format!("Problem {}", case["subject"].as_str().unwrap().trim_start_matches("Problem ")))));
        }
        per_agent.push(theirs.len());
    }
    per_agent.sort();
    assert_eq!(per_agent, vec![3, 3, 4]);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn an_urgent_case_from_a_mailbox_notifies_a_user_and_goes_to_a_team_by_rule() {
    // GIVEN a running server with mailbox X, team Z, user Y and the rule
    // "priority Urgent on case created from mailbox X → notify Y and set team Z"
    let data = temp_data_dir();
    let (mut child, address) = serve(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    let mailbox = create(&http, &base, &admin, "/mailboxes", json!({"name": "VIP", "addresses": ["vip@acme.test"]})).await;
    let team = create(&http, &base, &admin, "/teams", json!({"name": "Escalations"})).await;
    let user = create(&http, &base, &admin, "/users", json!({"name": "Yves", "email": "yves@helpdesk.test", "role": "agent"})).await;
    let rule = json!({
        "name": "Urgent VIP mail",
        "trigger": "case_created",
        "conditions": [
            {"field": "priority", "op": "is", "value": "Urgent"},
            {"field": "mailbox_id", "op": "is", "value": mailbox},
        ],
        "actions": [
            {"action": "notify_users", "user_ids": [user], "message": "A VIP needs you now."},
            {"action": "assign_to_team", "team_id": team},
        ],
    });
    create(&http, &base, &admin, "/workflow-rules", rule).await;
    // WHEN an urgent case of mailbox X and a normal one are opened through the API
    let urgent = create(&http, &base, &admin, "/cases", json!({"subject": "Line down", "priority": "Urgent", "mailbox_id": mailbox})).await;
    let normal = create(&http, &base, &admin, "/cases", json!({"subject": "Question", "mailbox_id": mailbox})).await;
    // THEN the urgent case gets team Z and Y gets the rule's mail; the normal one neither
    let teams = eventually(|| async {
        let case: Value = http.get(format!("{base}/cases/{urgent}")).bearer_auth(&admin).send().await.ok()?.json().await.ok()?;
        let teams = case["team_ids"].as_array()?.clone();
        (!teams.is_empty()).then_some(teams)
    })
    .await
    .expect("the rule set the team");
    assert_eq!(teams, vec![json!(team)]);
    let outbox = data.join("outbox");
    let mails = eventually(|| async {
        let mails = outbox_with(&outbox, "A VIP needs you now.");
        (!mails.is_empty()).then_some(mails)
    })
    .await
    .unwrap_or_default();
    assert_eq!(mails.len(), 1, "one notice to Y");
    assert!(mails[0].contains("<yves@helpdesk.test>") && mails[0].contains("Line down"), "{}", mails[0]);
    // The worker records the rule's run after its actions' own entries: wait for it as for them.
    let ran = eventually(|| async {
        let stream: Value = http.get(format!("{base}/cases/{urgent}/stream")).bearer_auth(&admin).send().await.ok()?.json().await.ok()?;
        stream["items"].as_array()?.iter().any(|e| e["system"]["event"] == "rule_ran").then_some(())
    })
    .await;
    assert!(ran.is_some(), "the stream records that the rule ran");
    let normal: Value = http.get(format!("{base}/cases/{normal}")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(normal["team_ids"], json!([]));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_web_form_sender_confirms_through_the_served_address_and_limits_count_per_peer() {
    // GIVEN a running server with a form taking two submissions per client IP and hour
    let data = temp_data_dir();
    let (mut child, address) = serve(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    let form: Value = http
        .post(format!("{base}/forms"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Contact us", "rate_limits": {"per_ip_per_hour": 2}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let submissions = format!("{base}/forms/{}/submissions", form["id"].as_str().unwrap());
    let submit = |who: &str, forwarded_for: &str| {
        let body = json!({"name": "Someone", "email": format!("{who}@senders.test"), "subject": "Refund", "message": "Click here"});
        http.post(&submissions).header("x-forwarded-for", forwarded_for).json(&body).send()
    };
    // WHEN this client submits three times, claiming to forward for others each time
    let statuses = [submit("ann", "192.0.2.1").await.unwrap().status(), submit("bob", "192.0.2.2").await.unwrap().status()];
    let third = submit("cat", "192.0.2.3").await.unwrap();
    // THEN the TCP peer is what counts: the third is refused
    assert_eq!(statuses, [202, 202]);
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["content-type"], "application/problem+json");
    // AND the sender got a confirmation mail linking to this server, without the submitted text
    let mail = outbox_with(&data.join("outbox"), "ann@senders.test");
    assert_eq!(mail.len(), 1, "one confirmation mail expected");
    assert!(!mail[0].contains("Refund") && !mail[0].contains("Click here"), "{}", mail[0]);
    let prefix = format!("{base}/web-forms/confirm/");
    let start = mail[0].find(&prefix).unwrap_or_else(|| panic!("no link to {base} in {}", mail[0])) + prefix.len();
    let link = format!("{prefix}{}", mail[0][start..].chars().take_while(char::is_ascii_alphanumeric).collect::<String>());
    // WHEN the sender opens the link and presses its button
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let confirmed = http.post(&link).send().await.unwrap();
    // THEN the case has the sender's new contact
    assert_eq!(confirmed.status(), 200);
    let cases: Value = http.get(format!("{base}/cases")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let linked: Vec<&Value> = cases["items"].as_array().unwrap().iter().filter(|c| c["contact_ids"].as_array().is_some_and(|ids| ids.len() == 1)).collect();
    assert_eq!(linked.len(), 1, "{cases}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_large_attachment_goes_by_signed_url_through_the_running_server() {
    // GIVEN a running server, a portal customer and their case
    let data = temp_data_dir();
    let (mut child, address) = serve(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    let contact = create(&http, &base, &admin, "/contacts", json!({"name": "Ada", "emails": ["ada@example.com"], "portal": {"role": "own_cases"}})).await;
    let case = create(&http, &base, &admin, "/cases", json!({"subject": "Core dump", "contact_ids": [contact]})).await;
    let portal = token(&data, Some("ada@example.com"));
    let bytes: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();

    // WHEN the admin announces 8 MB, PUTs them to the URL the server answered, and completes
    let announced = http
        .post(format!("{base}/cases/{case}/attachments/uploads"))
        .bearer_auth(&admin)
        .json(&json!({"name": "core dump.bin", "content_type": "application/octet-stream", "size": bytes.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(announced.status(), 201);
    let ticket: Value = announced.json().await.unwrap();
    let upload_url = ticket["upload_url"].as_str().unwrap();
    assert!(upload_url.starts_with(&format!("{base}/blobs/upload/")), "{upload_url}");
    let mut put = http.put(upload_url).body(bytes.clone());
    for (name, value) in ticket["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    assert_eq!(put.send().await.unwrap().status(), 200);
    let id = ticket["attachment_id"].as_str().unwrap();
    let completed = http.post(format!("{base}/cases/{case}/attachments/uploads/{id}/complete")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(completed.status(), 201);
    let posted =
        http.post(format!("{base}/cases/{case}/stream")).bearer_auth(&admin).json(&json!({"body": "the dump", "attachment_ids": [id]})).send().await.unwrap();
    assert_eq!(posted.status(), 201);

    // THEN the customer gets a download URL to the same server that serves the bytes as a download
    let link: Value = http.get(format!("{base}/cases/{case}/attachments/{id}/url")).bearer_auth(&portal).send().await.unwrap().json().await.unwrap();
    let download_url = link["url"].as_str().unwrap();
    assert!(download_url.starts_with(&format!("{base}/blobs/download/")), "{download_url}");
    let downloaded = http.get(download_url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.headers()["content-type"], "application/octet-stream");
    assert_eq!(downloaded.headers()["content-disposition"], "attachment; filename=\"core dump.bin\"; filename*=UTF-8''core%20dump.bin");
    assert!(downloaded.bytes().await.unwrap() == bytes, "the downloaded bytes differ");

    // AND the URL with one character of its signature changed is refused
    let mut tampered = download_url.to_owned().into_bytes();
    let inside = tampered.len() - 5;
    tampered[inside] = if tampered[inside] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

/// Hands one message to an SMTP server: `Ok(true)` only when the server answered `250` to its
/// data (the moment the sender may forget the message), `Ok(false)` when it answered another
/// code (a `451` asking to try later), `Err` when the connection failed (the server is gone).
fn try_send_smtp(address: &str, from: &str, to: &str, message: &str) -> Result<bool, String> {
    use std::io::Write;
    let stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let mut expect = |code: &str| -> Result<bool, String> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("connection closed".into());
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.starts_with(code));
            }
        }
    };
    if !expect("220")? {
        return Ok(false);
    }
    for (command, code) in
        [("EHLO test.local".to_owned(), "250"), (format!("MAIL FROM:<{from}>"), "250"), (format!("RCPT TO:<{to}>"), "250"), ("DATA".into(), "354")]
    {
        writer.write_all(format!("{command}\r\n").as_bytes()).map_err(|e| e.to_string())?;
        if !expect(code)? {
            return Ok(false);
        }
    }
    writer.write_all(message.as_bytes()).and_then(|()| writer.write_all(b"\r\n.\r\n")).map_err(|e| e.to_string())?;
    expect("250")
}

/// Every case subject the server holds, page by page.
async fn case_subjects(http: &reqwest::Client, base: &str, token: &str) -> std::collections::HashSet<String> {
    let mut subjects = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{base}/cases?limit=100&cursor={cursor}"),
            None => format!("{base}/cases?limit=100"),
        };
        let page: Value = http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        subjects.extend(page["items"].as_array().unwrap().iter().map(|case| case["subject"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return subjects,
        }
    }
}

#[tokio::test]
async fn every_message_answered_250_survives_the_server_being_killed_at_a_random_point() {
    // GIVEN a running server with a group mailbox
    let data = temp_data_dir();
    let (mut child, address, smtp) = serve_with_smtp(&data);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let admin = token(&data, None);
    add_support_mailbox(&http, &base, &admin).await;

    // WHEN four senders deliver mail without pause and the process is killed (SIGKILL: no
    // shutdown, no flush) at a random moment while they do
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let smtp = smtp.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0..10_000 {
                    let subject = format!("Crash test {sender}-{n}");
                    let message = format!(
                        "From: Customer {sender} <c{sender}@customer.test>\r\nTo: support@acme.test\r\nSubject: {subject}\r\n\
                         Message-ID: <crash-{sender}-{n}@customer.test>\r\n\r\nMessage {n} of sender {sender}.\r\n"
                    );
                    match try_send_smtp(&smtp, &format!("c{sender}@customer.test"), "support@acme.test", &message) {
                        Ok(true) => acknowledged.push(subject),
                        // Refused for now (racing another sender): a sender would retry later.
                        Ok(false) => {}
                        Err(_) => return acknowledged,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(rand::random_range(300..1200)));
    child.kill().expect("kill docket serve");
    child.wait().expect("reap docket serve");
    let acknowledged: Vec<String> = senders.into_iter().flat_map(|sender| sender.join().expect("sender thread")).collect();
    assert!(!acknowledged.is_empty(), "no message was acknowledged before the kill: the test measured nothing");

    // THEN once restarted on the same data, the server holds a case for every message it had
    // acknowledged
    let (mut restarted, address, _) = serve_with_smtp(&data);
    let subjects = case_subjects(&http, &format!("http://{address}"), &admin).await;
    let lost: Vec<&String> = acknowledged.iter().filter(|subject| !subjects.contains(*subject)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged messages were lost: {lost:?}", lost.len(), acknowledged.len());
    eprintln!("{} acknowledged messages, all kept", acknowledged.len());
    let _ = restarted.kill();
    let _ = restarted.wait();
    let _ = std::fs::remove_dir_all(&data);
}
