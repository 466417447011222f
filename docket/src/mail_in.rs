//! Inbound mail for the local process: the SMTP listener's sink and `docket ingest`, both
//! feeding the same email-to-case pipeline the inbound-email function runs on AWS.

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
    pub async fn receive(&self, source_id: String, envelope_to: Vec<String>, raw: Vec<u8>) -> Result<InboundLogEntry, DomainError> {
        let pipeline = Inbound { docket: &self.docket, mailer: Some(self.mailer.as_ref()), settings: &self.settings };
        pipeline.receive(InboundMail { source_id, envelope_to, raw, received_by_ses: false, trusted_sender: self.trusted_sender }).await
    }
}

#[async_trait]
impl MailSink for PipelineSink {
    async fn deliver(&self, envelope: Envelope) -> Result<(), SinkError> {
        let source_id = format!("smtp:{}", ulid::Ulid::new());
        match self.receive(source_id, envelope.rcpt_to, envelope.data).await {
            // Every outcome, refusals included, is in the inbound log: the SMTP client is done.
            Ok(_) => Ok(()),
            Err(DomainError::Transient(reason)) => Err(SinkError::Temporary(reason)),
            Err(e) => Err(SinkError::Temporary(e.to_string())),
        }
    }
}

/// The messages of a path: one `.eml` file, a folder of them, or an mbox file.
pub fn messages_at(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if metadata.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
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
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(done) = current.take() {
                messages.push(done);
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(message) = current.as_mut() else { continue };
        let unquoted = match line.iter().position(|b| *b != b'>') {
            Some(n) if n > 0 && line[n..].starts_with(b"From ") => &line[1..],
            _ => line,
        };
        message.extend_from_slice(unquoted);
    }
    if let Some(done) = current {
        messages.push(done);
    }
    messages
}

/// `docket ingest`: one JSON line per message on stdout, a progress bar on stderr.
pub async fn ingest(sink: &PipelineSink, path: &Path, to: &str) -> Result<(), String> {
    let messages = messages_at(path)?;
    let progress = indicatif::ProgressBar::new(messages.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages {elapsed}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut failures = 0;
    for (name, raw) in messages {
        let line = match sink.receive(format!("ingest:{name}"), vec![to.to_owned()], raw).await {
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
    use super::split_mbox;

    #[test]
    fn mbox_splits_at_from_lines_and_unquotes() {
        let mbox = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From the start\nbody\nFrom c@d Tue Jan  2 00:00:00 2024\nSubject: two\n\nx\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom the start\nbody\n".to_vec());
        assert_eq!(messages[1], b"Subject: two\n\nx\n".to_vec());
    }
}
