//! The `assign` Lambda function: wires configuration, DynamoDB and the two queues, then serves
//! SQS batches of the assign queue, the cases table's stream (outbox items to relay) and the
//! relay schedule.

use std::sync::Arc;

use docket_assign::{AssignHandler, Config};
use docket_aws::{DynamoItemStore, SqsQueue};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).try_init();
    let config = Config::from_env()?;
    let sdk = docket_aws::config::sdk_config(config.aws_endpoint.as_deref()).await;
    let store = DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), config.table_prefix.clone(), docket_domain::schema::tables());
    let sqs = docket_aws::config::sqs_client(&sdk);
    // On AWS the cases table's DynamoDB stream hands every committed outbox item to the assign
    // function — this one, in another invocation — which sends it (the schedule relays what the
    // stream could not). Sending right after a rule's commit too would put every message on its
    // queue twice, so the rules only commit their items.
    let docket = Docket::new(Arc::new(store), Arc::new(SystemClock))
        .with_outbox_delivery(OutboxDelivery::Deferred(None))
        .with_notify_queue(Arc::new(SqsQueue::new(sqs.clone(), config.notify_queue_url, None)))
        .with_assign_queue(Arc::new(SqsQueue::new(sqs, config.assign_queue_url, None)));
    let handler = Arc::new(AssignHandler { docket });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = handler.clone();
        async move { handler.handle_event(event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
