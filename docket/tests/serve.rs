//! The local process end to end: `docket serve` on a fresh data folder, `docket token`, real HTTP
//! over TCP, and a clean stop on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const DOCKET: &str = env!("CARGO_BIN_EXE_docket");

fn temp_data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("docket-serve-test-{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `docket serve` on a free port and returns it with the address it printed.
fn serve(data: &Path) -> (Child, String) {
    let mut child = Command::new(DOCKET)
        .args(["--data", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docket serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("docket serve exited before serving").expect("read stderr");
        if let Some(rest) = line.strip_prefix("Docket is serving http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
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
