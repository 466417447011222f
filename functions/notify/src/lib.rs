//! The notify function: takes batches of notify-queue messages (SQS on AWS, the SQLite queue in
//! the local process), emails each entry through the domain's [`Notifier`], and reports the
//! messages that failed so only those are delivered again (partial batch responses).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use docket_domain::Docket;
use docket_domain::notify::{MailSettings, Notifier};
use docket_mail::compose::Address;
use docket_ports::Mailer;

/// Configuration of the function, read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_prefix: String,
    pub aws_endpoint: Option<String>,
    pub mail: MailSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let required = |name: &str| lookup(name).ok_or_else(|| format!("{name} is not set"));
        let from = required("DOCKET_MAIL_FROM")?;
        let region = lookup("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        Ok(Config {
            table_prefix: lookup("DOCKET_TABLE_PREFIX").unwrap_or_else(|| "docket-".into()),
            aws_endpoint: lookup("AWS_ENDPOINT_URL"),
            mail: MailSettings {
                from: Address { name: lookup("DOCKET_MAIL_FROM_NAME"), email: from.clone() },
                reply_to: lookup("DOCKET_REPLY_TO").unwrap_or(from.clone()),
                message_id_domain: lookup("DOCKET_MESSAGE_ID_DOMAIN")
                    .unwrap_or_else(|| from.rsplit_once('@').map_or("docket.invalid".into(), |(_, d)| d.to_owned())),
                provider_message_id_domain: Some(format!("{region}.amazonses.com")),
                public_url: lookup("DOCKET_PUBLIC_URL"),
            },
        })
    }
}

/// The handler, built once per cold start.
pub struct NotifyHandler {
    pub docket: Docket,
    pub mailer: Arc<dyn Mailer>,
    pub settings: MailSettings,
}

pub use docket_aws::lambda::Outcome;

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
        docket_aws::lambda::partial_batch(event, |id, body| async move { self.handle_message(&id, &body).await }).await
    }
}
