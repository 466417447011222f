//! Inbound mail for the local process: the SMTP listener's sink and `docket ingest`, both
//! feeding the same email-to-case pipeline the inbound-email function runs on AWS.
//!
//! `docket ingest --ses` replays mail that SES stored (the objects of the inbound bucket) the way
//! the inbound-email function takes it: SES's verdict headers above the topmost `X-SES-RECEIPT`
//! are trusted, and without `--to` the recipients are the To and Cc addresses, as the function
//! has them when it has no envelope (an S3 event). Never use it for mail that did not come from
//! SES: its senders could then write the verdicts themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundMail};
use docket_domain::notify::MailSettings;
use docket_domain::{Docket, DomainError};
use docket_embedded::{Envelope, MailSink, SinkError};
use docket_ports::Mailer;

/// Takes each message the SMTP listener accepts through the pipeline.
pub struct PipelineSink {
    pub docket: Docket,
    pub mailer: Arc<dyn Mailer>,
    pub settings: MailSettings,
    /// Whether the listener vouches for From (`serve --smtp-trusted-senders`).
    pub trusted_sender: bool,
}

impl PipelineSink {
    /// `received_by_ses`: only for mail SES stored (see the module documentation).
    pub async fn receive(&self, source_id: String, envelope_to: Vec<String>, raw: Vec<u8>, received_by_ses: bool) -> Result<InboundLogEntry, DomainError> {
        let pipeline = Inbound { docket: &self.docket, mailer: Some(self.mailer.as_ref()), settings: &self.settings };
        pipeline.receive(InboundMail { source_id, envelope_to, raw, received_by_ses, trusted_sender: self.trusted_sender }).await
    }
}

#[async_trait]
impl MailSink for PipelineSink {
    async fn deliver(&self, envelope: Envelope) -> Result<(), SinkError> {
        let source_id = format!("smtp:{}", ulid::Ulid::new());
        match self.receive(source_id, envelope.rcpt_to, envelope.data, false).await {
            // Every outcome, refusals included, is in the inbound log: the SMTP client is done.
            Ok(_) => Ok(()),
            Err(DomainError::Transient(reason)) => Err(SinkError::Temporary(reason)),
            Err(e) => Err(SinkError::Temporary(e.to_string())),
        }
    }
}

/// How `docket ingest` takes its messages.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// The group-mailbox address they were sent to; `None` (only with `ses`): their To and Cc.
    pub to: Option<String>,
    /// Mail that SES stored: its verdicts are trusted, and a folder's files are messages whatever
    /// their names (SES names them by message id, without extension).
    pub ses: bool,
}

impl IngestOptions {
    fn recipients(&self, raw: &[u8]) -> Vec<String> {
        match &self.to {
            Some(address) => vec![address.clone()],
            None => docket_mail::inbound::header_recipients(raw),
        }
    }
}

/// The messages of a path: one file (a message, or an mbox), or a folder of `.eml` files (of
/// any regular file but hidden ones when `any_name`: the objects SES stored).
pub fn messages_at(path: &Path, any_name: bool) -> Result<Vec<(String, Vec<u8>)>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if metadata.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                if any_name {
                    p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
                } else {
                    p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml"))
                }
            })
            .collect();
        files.sort();
        return files
            .into_iter()
            .map(|p| std::fs::read(&p).map(|bytes| (p.display().to_string(), bytes)).map_err(|e| format!("{}: {e}", p.display())))
            .collect();
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"From ") {
        return Ok(split_mbox(&bytes).into_iter().enumerate().map(|(i, m)| (format!("{}#{}", path.display(), i + 1), m)).collect());
    }
    Ok(vec![(path.display().to_string(), bytes)])
}

/// Splits an mbox (mboxrd) file at its `From ` separator lines, undoing `>From ` quoting.
pub fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    // Reading from a slice cannot fail, so no message is lost to `flatten`.
    mail_parser::mailbox::mbox::MessageIterator::new(bytes).flatten().map(|message| message.unwrap_contents()).collect()
}

/// One message of `docket ingest` through the pipeline (a second run over the same file changes
/// nothing: the file is its source).
pub async fn ingest_one(sink: &PipelineSink, name: &str, raw: Vec<u8>, options: &IngestOptions) -> Result<InboundLogEntry, DomainError> {
    let recipients = options.recipients(&raw);
    sink.receive(format!("ingest:{name}"), recipients, raw, options.ses).await
}

/// `docket ingest`: one JSON line per message on stdout, a progress bar on stderr.
pub async fn ingest(sink: &PipelineSink, path: &Path, options: &IngestOptions) -> Result<(), String> {
    if options.to.is_none() && !options.ses {
        return Err("--to is needed (the address the messages were sent to), unless --ses".into());
    }
    let messages = messages_at(path, options.ses)?;
    let progress = indicatif::ProgressBar::new(messages.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages {elapsed}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut failures = 0;
    for (name, raw) in messages {
        let line = match ingest_one(sink, &name, raw, options).await {
            Ok(entry) => serde_json::json!({
                "message": name,
                "outcome": entry.outcome,
                "case_number": entry.case_number,
                "rule": entry.rule,
                "reason": entry.reason,
            }),
            Err(e) => {
                failures += 1;
                serde_json::json!({ "message": name, "error": e.to_string() })
            }
        };
        progress.suspend(|| println!("{line}"));
        progress.inc(1);
    }
    progress.finish_and_clear();
    if failures > 0 { Err(format!("{failures} messages could not be ingested (transient failures; run again)")) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use docket_domain::Principal;
    use docket_domain::directory::MailboxFields;
    use docket_domain::inbound::InboundOutcome;
    use docket_domain::model::Mailbox;
    use docket_embedded::OutboxMailer;

    use super::{IngestOptions, PipelineSink, ingest_one, messages_at, split_mbox};

    const MAILBOX: &str = "support@docket.example";

    fn corpus(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus").join(name)).unwrap()
    }

    fn temp_dir(what: &str) -> PathBuf {
        std::env::temp_dir().join(format!("docket-{what}-{}", ulid::Ulid::new()))
    }

    /// A fresh local installation with a group mailbox for `MAILBOX`.
    async fn sink() -> PipelineSink {
        let installation = crate::local::open(&temp_dir("ingest")).unwrap();
        let docket = installation.docket.clone();
        let (admin, _) = docket.ensure_admin("Admin", "admin@docket.localhost").await.unwrap();
        let _: Mailbox = docket
            .directory_service()
            .create(&Principal::Staff(admin), MailboxFields { name: "Support".into(), addresses: vec![MAILBOX.into()], ..Default::default() })
            .await
            .unwrap();
        let mailer = Arc::new(OutboxMailer::new(installation.outbox.clone()).unwrap());
        PipelineSink { docket, mailer, settings: crate::local::local_mail_settings(), trusted_sender: false }
    }

    #[tokio::test]
    async fn ses_verdicts_count_only_with_ses() {
        // GIVEN mail SES stored with a spam FAIL above its X-SES-RECEIPT (and a forged PASS below)
        let raw = corpus("ses-spam-fail-forged-pass-below.eml");
        let name = "inbound/9k2m4n6p8r0t2v4x6z8b0d2f4h6j8l0n2p4r6t8v";

        // WHEN it is ingested with --ses and no --to
        let with_ses = ingest_one(&sink().await, name, raw.clone(), &IngestOptions { to: None, ses: true }).await.unwrap();
        // THEN it reached the mailbox of its To header and SES's verdict made it junk
        assert_eq!(with_ses.outcome, InboundOutcome::Junk, "{with_ses:?}");
        assert!(with_ses.reason.contains("junk") && with_ses.reason.contains("spam"), "{}", with_ses.reason);
        assert!(with_ses.mailbox_id.is_some(), "{with_ses:?}");
        assert!(with_ses.case_id.is_none());

        // WHEN the same file is ingested without --ses (into another installation)
        let without = ingest_one(&sink().await, name, raw.clone(), &IngestOptions { to: Some(MAILBOX.into()), ses: false }).await.unwrap();
        // THEN the verdict headers mean nothing: an ordinary new case
        assert_eq!(without.outcome, InboundOutcome::Created, "{without:?}");
        assert!(!without.reason.contains("junk"), "{}", without.reason);

        // AND --to still overrides the headers with --ses
        let elsewhere = ingest_one(&sink().await, name, raw, &IngestOptions { to: Some("nobody@docket.example".into()), ses: true }).await.unwrap();
        assert_eq!(elsewhere.outcome, InboundOutcome::Rejected, "{elsewhere:?}");
        assert!(elsewhere.reason.contains("nobody@docket.example"), "{}", elsewhere.reason);
    }

    #[tokio::test]
    async fn ses_clean_mail_opens_a_case_through_its_header_recipients() {
        let entry = ingest_one(&sink().await, "clean", corpus("ses-received-clean.eml"), &IngestOptions { to: None, ses: true }).await.unwrap();
        assert_eq!(entry.outcome, InboundOutcome::Created, "{entry:?}");
    }

    #[test]
    fn an_ses_folder_is_every_file_but_hidden_ones() {
        // GIVEN a folder as `aws s3 sync` leaves it: objects named by message id, no extension
        let dir = temp_dir("ses-export");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("o3vrnil0e2ic28tr"), b"Subject: one\r\n\r\nx\r\n").unwrap();
        std::fs::write(dir.join("two.eml"), b"Subject: two\r\n\r\nx\r\n").unwrap();
        std::fs::write(dir.join(".DS_Store"), b"junk").unwrap();
        let names = |any_name| {
            messages_at(&dir, any_name).unwrap().into_iter().map(|(n, _)| Path::new(&n).file_name().unwrap().to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        // THEN --ses takes both messages, a plain ingest only the .eml one
        assert_eq!(names(true), ["o3vrnil0e2ic28tr", "two.eml"]);
        assert_eq!(names(false), ["two.eml"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mbox_splits_at_from_lines_and_unquotes() {
        let mbox = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From the start\nbody\nFrom c@d Tue Jan  2 00:00:00 2024\nSubject: two\n\nx\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom the start\nbody\n".to_vec());
        assert_eq!(messages[1], b"Subject: two\n\nx\n".to_vec());
    }

    #[test]
    fn mbox_unquotes_one_level_of_from_quoting_only() {
        // mboxrd: ">From " lines lose one ">" (however many there are), other ">" lines stay
        let mbox = b"From a@b Mon Jan  1 00:00:00 2024\r\nSubject: q\r\n\r\n>>From deeper\r\n> quoted reply\r\n>Fromage\r\n";
        assert_eq!(split_mbox(mbox), vec![b"Subject: q\r\n\r\n>From deeper\r\n> quoted reply\r\n>Fromage\r\n".to_vec()]);
    }
}
