//! The `notify` Lambda function: the bootstrap's Docket and SES, serving SQS batches.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use docket_lambda::{Bootstrap, Env};
use docket_notify::NotifyHandler;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = Bootstrap::start(&[]).await?;
    let handler = Arc::new(NotifyHandler { docket: aws.docket(), mailer: Arc::new(aws.mailer()), settings: Env::process().mail_settings()? });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_runtime::Error>(handler.handle_batch(event.payload).await) }
    }))
    .await
}
