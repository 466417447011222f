//! The `inbound-email` Lambda function: the bootstrap's Docket (with the attachments bucket), the
//! inbound bucket and SES, handling the SES receipt rule's events (and, as a fallback, S3
//! `ObjectCreated` events of the inbound bucket; see the library).

use std::sync::Arc;

use docket_inbound_email::InboundHandler;
use docket_lambda::config::BLOB_BUCKET;
use docket_lambda::{Bootstrap, Env};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Mail brings attachments: without their bucket every message with one would fail.
    let aws = Bootstrap::start(&[BLOB_BUCKET]).await?;
    let env = Env::process();
    let raw_bucket = env.required("DOCKET_INBOUND_BUCKET")?;
    let handler = Arc::new(InboundHandler {
        // Entries made from mail are announced like any other (so followers hear about replies),
        // and new cases and mail start assignment and workflow rules: the queues are the api's.
        docket: aws.docket(),
        raw_messages: Arc::new(aws.blob_store(&raw_bucket)),
        raw_bucket,
        // The receipt rule's ObjectKeyPrefix: SES stores each message at <prefix><message id>.
        raw_prefix: env.prefix("DOCKET_INBOUND_PREFIX", "inbound/"),
        mailer: Arc::new(aws.mailer()),
        // Acknowledgements are sent as the notify function's mail is.
        settings: env.mail_settings()?,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = handler.clone();
        async move {
            let outcomes = handler.handle_json(event.payload).await.map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "handled": outcomes.len() }))
        }
    }))
    .await
}
