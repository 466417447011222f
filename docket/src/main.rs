//! `docket`: the whole of Docket as one local process on an embedded store.
//!
//! `docket serve` runs the HTTP API on 127.0.0.1 with data in a local folder, `docket token`
//! mints a bearer token for a user or portal contact, `docket bench` measures the API.

mod bench;
mod console;
mod local;
mod mail_in;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "docket", version, about = "Docket case management, run locally")]
struct Cli {
    /// Folder holding the SQLite file and the token secret.
    #[arg(long, global = true, env = "DOCKET_DATA", default_value = ".docket")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (creates the data folder and a first admin when needed).
    Serve {
        #[arg(long, env = "DOCKET_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the SMTP listener takes inbound mail (as SES would on AWS).
        #[arg(long, env = "DOCKET_SMTP", default_value = "127.0.0.1:2525")]
        smtp: SocketAddr,
        /// Believe the From address of mail on the SMTP port, so staff addresses count as staff.
        /// Only for a listener that nobody but authenticated senders can reach (behind a relay
        /// that checks SPF/DKIM/DMARC or authenticates submission); off by default, when mail
        /// from a staff address never counts as staff.
        #[arg(long, env = "DOCKET_SMTP_TRUSTED_SENDERS")]
        smtp_trusted_senders: bool,
        /// The address people and clients reach this server at (`http://host:port`, or the proxy
        /// in front), for links in mail and the upload and download URLs of large attachments;
        /// default the listen address (127.0.0.1 when listening on all interfaces).
        #[arg(long, env = "DOCKET_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Take a .eml file, a folder of them or an mbox file (or, with --ses, mail SES stored)
    /// through email-to-case.
    Ingest {
        path: std::path::PathBuf,
        /// The group-mailbox address the messages were sent to (with --ses, instead of their
        /// To and Cc addresses).
        #[arg(long, required_unless_present = "ses")]
        to: Option<String>,
        /// The messages are mail SES stored (objects of the inbound bucket, any file name):
        /// trust its verdict headers above the topmost X-SES-RECEIPT as the inbound-email
        /// function does. Only for mail that really came from SES.
        #[arg(long)]
        ses: bool,
    },
    /// Print a bearer token for a user or portal contact (id or email; default: the first admin).
    Token {
        who: Option<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: u64,
    },
    /// Print the API's OpenAPI document (the one `/openapi.json` serves), generated from the code.
    Openapi,
    /// Measure the API in-process or the api binary's start-up.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve { listen, smtp, smtp_trusted_senders, public_url } => {
            docket_lambda::init_logging();
            let options = local::ServeOptions { listen, smtp, smtp_trusted_senders, public_url };
            local::serve(&cli.data, options).await
        }
        Command::Openapi => serde_json::to_string_pretty(docket_api::routes::openapi_document()).map(|doc| println!("{doc}")).map_err(|e| e.to_string()),
        Command::Ingest { path, to, ses } => local::ingest(&cli.data, &path, &mail_in::IngestOptions { to, ses }).await,
        Command::Token { who, hours } => local::print_token(&cli.data, who.as_deref(), Duration::from_secs(hours * 3600)).await,
        Command::Bench(command) => bench::run(command).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("docket: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn ingest_needs_to_unless_ses() {
        let ingest = |args: &[&str]| {
            Cli::try_parse_from(["docket", "ingest", "mail.eml"].iter().chain(args)).map(|cli| match cli.command {
                Command::Ingest { to, ses, .. } => (to, ses),
                _ => panic!("not ingest"),
            })
        };
        assert!(ingest(&[]).is_err());
        assert_eq!(ingest(&["--to", "a@b.example"]).unwrap(), (Some("a@b.example".into()), false));
        assert_eq!(ingest(&["--ses"]).unwrap(), (None, true));
        assert_eq!(ingest(&["--ses", "--to", "a@b.example"]).unwrap(), (Some("a@b.example".into()), true));
    }
}
