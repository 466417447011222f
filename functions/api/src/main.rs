//! The `api` Lambda function: wires configuration, the DynamoDB store and the router, then
//! serves API Gateway HTTP API events.

use std::sync::Arc;

use docket_api::config::Config;
use docket_api::{AppState, Authenticator, init_logging, router};
use docket_aws::{DynamoItemStore, S3BlobStore, SqsQueue};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let config = Config::from_env();
    let sdk = docket_aws::config::sdk_config(config.aws_endpoint.as_deref()).await;
    let store = DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), config.table_prefix, docket_domain::schema::tables());
    // On AWS the cases table's DynamoDB stream hands every committed outbox item to the assign
    // function, which sends it (a schedule relays what the stream could not). Sending here too
    // would put every message on its queue twice, so this function only commits the items.
    let mut docket = Docket::new(Arc::new(store), Arc::new(SystemClock)).with_outbox_delivery(OutboxDelivery::Deferred(None));
    if let Some(bucket) = config.blob_bucket {
        docket = docket.with_blobs(Arc::new(S3BlobStore::new(docket_aws::config::s3_client(&sdk), bucket, String::new())));
    }
    if let Some(url) = config.notify_queue_url {
        docket = docket.with_notify_queue(Arc::new(SqsQueue::new(docket_aws::config::sqs_client(&sdk), url, None)));
    }
    if let Some(url) = config.assign_queue_url {
        docket = docket.with_assign_queue(Arc::new(SqsQueue::new(docket_aws::config::sqs_client(&sdk), url, None)));
    }
    let app = router(AppState { docket, authenticator: Authenticator::ApiGateway });
    lambda_http::run(app).await
}
