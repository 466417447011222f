//! What the tests of the `docket` binary share: starting `docket serve` and reading what it prints.

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub mod browser;

pub const DOCKET: &str = env!("CARGO_BIN_EXE_docket");

/// A `docket serve` that has started: the process and what it printed.
pub struct Started {
    pub child: Child,
    /// `host:port` of the HTTP listener.
    pub http: String,
    /// `host:port` of the SMTP listener.
    pub smtp: String,
    /// The first admin's one-time console sign-in link.
    pub signin_link: String,
}

/// Starts `docket serve` on free ports with its data in `data`, and waits until it serves.
pub fn start_serve(data: &Path) -> Started {
    let mut child = Command::new(DOCKET)
        .args(["--data", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--smtp", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docket serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let (mut http, mut link) = (None, None);
    let smtp = loop {
        let line = lines.next().expect("docket serve exited before serving").expect("read stderr");
        if let Some(rest) = line.strip_prefix("Docket is serving http://") {
            http = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("Sign in to the console") {
            link = line.split_whitespace().find(|word| word.contains("/#/signin/")).map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("Inbound mail: SMTP on ") {
            break rest.split(';').next().unwrap().trim().to_owned();
        }
    };
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Started { child, http: http.expect("HTTP address printed"), smtp, signin_link: link.expect("sign-in link printed") }
}
