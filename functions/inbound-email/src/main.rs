//! The `inbound-email` Lambda function: wires configuration, DynamoDB, S3 and SES, then handles
//! the SES receipt rule's events (and, as a fallback, S3 `ObjectCreated` events of the inbound
//! bucket; see the library).

use std::sync::Arc;

use docket_aws::{DynamoItemStore, S3BlobStore, SesMailer, SqsQueue};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;
use docket_inbound_email::InboundHandler;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).try_init();
    let config = docket_notify_config()?;
    let sdk = docket_aws::config::sdk_config(config.aws_endpoint.as_deref()).await;
    let inbound_bucket = std::env::var("DOCKET_INBOUND_BUCKET").map_err(|_| "DOCKET_INBOUND_BUCKET is not set")?;
    // The receipt rule's ObjectKeyPrefix: SES stores each message at <prefix><message id>.
    let inbound_prefix = std::env::var("DOCKET_INBOUND_PREFIX").unwrap_or_else(|_| "inbound/".to_owned());
    let blob_bucket = std::env::var("DOCKET_BLOB_BUCKET").map_err(|_| "DOCKET_BLOB_BUCKET is not set")?;
    let store = DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), config.table_prefix.clone(), docket_domain::schema::tables());
    let s3 = docket_aws::config::s3_client(&sdk);
    // On AWS the cases table's DynamoDB stream hands every committed outbox item to the assign
    // function, which sends it (a schedule relays what the stream could not). Sending here too
    // would put every message on its queue twice, so this function only commits the items.
    let mut docket = Docket::new(Arc::new(store), Arc::new(SystemClock))
        .with_outbox_delivery(OutboxDelivery::Deferred(None))
        .with_blobs(Arc::new(S3BlobStore::new(s3.clone(), blob_bucket, String::new())));
    // Entries made from mail are announced like any other, so followers hear about replies.
    if let Ok(url) = std::env::var("DOCKET_NOTIFY_QUEUE_URL")
        && !url.is_empty()
    {
        docket = docket.with_notify_queue(Arc::new(SqsQueue::new(docket_aws::config::sqs_client(&sdk), url, None)));
    }
    // New cases and mail start assignment and workflow rules.
    if let Ok(url) = std::env::var("DOCKET_ASSIGN_QUEUE_URL")
        && !url.is_empty()
    {
        docket = docket.with_assign_queue(Arc::new(SqsQueue::new(docket_aws::config::sqs_client(&sdk), url, None)));
    }
    let handler = Arc::new(InboundHandler {
        docket,
        raw_messages: Arc::new(S3BlobStore::new(s3, inbound_bucket.clone(), String::new())),
        raw_bucket: inbound_bucket,
        raw_prefix: inbound_prefix,
        mailer: Arc::new(SesMailer::new(docket_aws::config::ses_client(&sdk))),
        settings: config.mail,
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

/// The mail settings are the notify function's: one From address and Message-ID domain.
fn docket_notify_config() -> Result<docket_notify::Config, String> {
    docket_notify::Config::from_env()
}
