//! The `assign` Lambda function: the bootstrap's Docket with both queues, serving SQS batches of
//! the assign queue, the cases table's stream (outbox items to relay) and the relay schedule.

use std::sync::Arc;

use docket_assign::{AssignHandler, REQUIRED_CONFIG};
use docket_lambda::Bootstrap;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = Bootstrap::start(&REQUIRED_CONFIG).await?;
    let handler = Arc::new(AssignHandler { docket: aws.docket() });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = handler.clone();
        async move { handler.handle_event(event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
