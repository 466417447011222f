//! The notify function: takes batches of notify-queue messages (SQS on AWS, the SQLite queue in
//! the local process), emails each entry through the domain's [`Notifier`], and reports the
//! messages that failed so only those are delivered again (partial batch responses).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use docket_domain::Docket;
use docket_domain::notify::{MailSettings, Notifier};
use docket_ports::Mailer;

/// The handler, built once per cold start.
pub struct NotifyHandler {
    pub docket: Docket,
    pub mailer: Arc<dyn Mailer>,
    pub settings: MailSettings,
}

pub use docket_lambda::Outcome;

impl NotifyHandler {
    pub async fn handle_message(&self, message_id: &str, body: &str) -> Outcome {
        let notifier = Notifier { docket: &self.docket, mailer: self.mailer.as_ref(), settings: &self.settings };
        match notifier.handle(body).await {
            Ok(_) => Outcome::Done,
            Err(error) => {
                error.log("notify", message_id);
                Outcome::Failed
            }
        }
    }

    /// Handles an SQS batch, reporting the failed messages by id.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        docket_lambda::partial_batch(event, |id, body| async move { self.handle_message(&id, &body).await }).await
    }
}
