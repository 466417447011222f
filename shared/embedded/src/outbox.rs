//! The outbox adapter of the mail port ([`docket_ports::Mailer`]): the local `docket` process does
//! not send mail, it drops each message as a `.eml` file into an outbox folder, where a developer
//! can open it in any mail client and tests can read it back.
//!
//! File names are `<UTC timestamp>-<ULID>.eml`, so a plain listing shows the mail in the order it
//! was sent, and the name is the provider id the caller records (as SES's message id would be).
//! Each file is written under a temporary name starting with `.` and renamed when complete, so a
//! reader watching the folder for `*.eml` never sees half a message.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use docket_ports::{Mailer, OutboundMail, PortError, validate_outbound_mail};
use time::OffsetDateTime;
use time::macros::format_description;
use ulid::Ulid;

use crate::atomic_file::{io_failure, write_atomically};

/// Starts the name of a file still being written: hidden, and not matching `*.eml`.
const TEMP_PREFIX: &str = ".sending-";

/// [`Mailer`] writing each message into an outbox folder. Cloning is cheap; clones share the folder.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// A mailer writing into `dir`, which is created when missing (and again on a send, should
    /// someone have emptied the outbox by deleting it).
    pub fn new(dir: PathBuf) -> Result<Self, PortError> {
        fs::create_dir_all(&dir).map_err(|error| io_failure("create the outbox folder", &dir, error))?;
        Ok(OutboxMailer { dir })
    }

    /// The outbox folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: OutboundMail) -> Result<String, PortError> {
        // Refuses what SES refuses, so both adapters fail alike on the same mail (the mailer
        // conformance suite holds them to it).
        validate_outbound_mail(&mail)?;
        let now = SystemTime::now();
        let file_name = format!("{}-{}.eml", timestamp(now)?, Ulid::from_datetime(now));
        let dir = self.dir.clone();
        let written_name = file_name.clone();
        tokio::task::spawn_blocking(move || write_message(&dir, &written_name, &mail.raw))
            .await
            .map_err(|error| PortError::Backend(format!("outbox task failed: {error}")))??;
        Ok(file_name)
    }
}

/// `20250131T235959123Z`: sorts like the time it stands for and is valid in any file name.
fn timestamp(now: SystemTime) -> Result<String, PortError> {
    OffsetDateTime::from(now)
        .format(format_description!("[year][month][day]T[hour][minute][second][subsecond digits:3]Z"))
        .map_err(|error| PortError::Backend(format!("format the outbox timestamp: {error}")))
}

/// Writes the message under a temporary name, flushes it to disk and renames it: the rename is
/// the only step a reader of the folder can observe. The temporary file is created exclusively,
/// so a (most unlikely) clash of ULIDs fails loudly instead of two sends sharing a file.
fn write_message(dir: &Path, file_name: &str, raw: &[u8]) -> Result<(), PortError> {
    fs::create_dir_all(dir).map_err(|error| io_failure("create the outbox folder", dir, error))?;
    let final_path = dir.join(file_name);
    let temp_path = dir.join(format!("{TEMP_PREFIX}{file_name}"));
    write_atomically(&final_path, &temp_path, &[raw], "write the outbox message")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own under the system temporary folder, removed when dropped.
    struct ScratchFolder(PathBuf);

    impl ScratchFolder {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("docket-outbox-{name}-{}", Ulid::new()));
            ScratchFolder(path)
        }
    }

    impl Drop for ScratchFolder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mail(raw: &[u8]) -> OutboundMail {
        OutboundMail { from: "support@docket.example".to_owned(), to: vec!["ada@customer.example".to_owned()], raw: raw.to_vec() }
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir).expect("list outbox").flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn send_creates_the_folder_and_leaves_exactly_the_message_under_the_returned_name() {
        // GIVEN an outbox folder that does not exist yet
        let scratch = ScratchFolder::new("send");
        let mailer = OutboxMailer::new(scratch.0.join("nested")).expect("outbox");
        assert!(mailer.dir().is_dir(), "the folder is created at once");

        // WHEN a message is sent
        let id = mailer.send(mail(b"Subject: hi\r\n\r\nbody\r\n")).await.expect("sent");

        // THEN the folder holds one .eml file named by the returned id with the raw bytes
        assert!(id.ends_with(".eml") && id.len() > 30, "{id}");
        assert_eq!(file_names(mailer.dir()), std::slice::from_ref(&id), "no temporary file is left behind");
        assert_eq!(fs::read(mailer.dir().join(&id)).expect("read"), b"Subject: hi\r\n\r\nbody\r\n");
    }

    #[tokio::test]
    async fn successive_sends_get_distinct_names_in_sending_order() {
        // GIVEN an outbox
        let scratch = ScratchFolder::new("order");
        let mailer = OutboxMailer::new(scratch.0.clone()).expect("outbox");

        // WHEN several messages are sent one after the other
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(mailer.send(mail(format!("Subject: {n}\r\n\r\n").as_bytes())).await.expect("sent"));
            // The timestamp has millisecond resolution; within one millisecond the ULID's
            // random part decides, so only distinctness is asserted for those.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }

        // THEN the names are distinct and sort in sending order
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        assert_eq!(file_names(&scratch.0), ids);
    }

    #[tokio::test]
    async fn mail_without_sender_recipients_or_content_is_refused_and_nothing_is_written() {
        // GIVEN an outbox and mails missing what SES requires
        let scratch = ScratchFolder::new("invalid");
        let mailer = OutboxMailer::new(scratch.0.clone()).expect("outbox");
        let no_sender = OutboundMail { from: String::new(), ..mail(b"x") };
        let no_recipient = OutboundMail { to: vec![], ..mail(b"x") };
        let blank_recipient = OutboundMail { to: vec![" ".to_owned()], ..mail(b"x") };
        let empty = mail(b"");

        for invalid in [no_sender, no_recipient, blank_recipient, empty] {
            // WHEN sent
            let result = mailer.send(invalid.clone()).await;
            // THEN it is refused as invalid
            assert!(matches!(result, Err(PortError::Invalid(_))), "{invalid:?} gave {result:?}");
        }
        assert!(file_names(&scratch.0).is_empty(), "nothing was written");
    }

    #[tokio::test]
    async fn an_outbox_that_cannot_be_a_folder_is_a_backend_failure() {
        // GIVEN an outbox path that is a regular file
        let scratch = ScratchFolder::new("unwritable");
        fs::create_dir_all(&scratch.0).expect("scratch");
        let blocker = scratch.0.join("file");
        fs::write(&blocker, b"not a folder").expect("blocker");

        // WHEN a mailer is made on it
        let result = OutboxMailer::new(blocker);

        // THEN the failure is reported, classified as not worth retrying
        assert!(matches!(result, Err(PortError::Backend(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_deleted_outbox_is_created_again_on_send() {
        // GIVEN an outbox whose folder was deleted after the mailer was made
        let scratch = ScratchFolder::new("deleted");
        let mailer = OutboxMailer::new(scratch.0.clone()).expect("outbox");
        fs::remove_dir_all(&scratch.0).expect("delete outbox");

        // WHEN a message is sent
        let id = mailer.send(mail(b"Subject: x\r\n\r\n")).await.expect("sent");

        // THEN it is in the recreated folder
        assert_eq!(file_names(&scratch.0), [id]);
    }
}
