//! The `notify` Lambda function: wires configuration, DynamoDB and SES, then serves SQS batches.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use docket_aws::{DynamoItemStore, SesMailer};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;
use docket_notify::{Config, NotifyHandler};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).try_init();
    let config = Config::from_env()?;
    let sdk = docket_aws::config::sdk_config(config.aws_endpoint.as_deref()).await;
    let store = DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), config.table_prefix.clone(), docket_domain::schema::tables());
    // On AWS the cases table's DynamoDB stream hands every committed outbox item to the assign
    // function, which sends it (a schedule relays what the stream could not). This function has
    // no queues and announces nothing today; should a change it makes ever write an outbox item,
    // the stream delivers it, as for the other functions, instead of a second send from here.
    let handler = Arc::new(NotifyHandler {
        docket: Docket::new(Arc::new(store), Arc::new(SystemClock)).with_outbox_delivery(OutboxDelivery::Deferred(None)),
        mailer: Arc::new(SesMailer::new(docket_aws::config::ses_client(&sdk))),
        settings: config.mail,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_runtime::Error>(handler.handle_batch(event.payload).await) }
    }))
    .await
}
