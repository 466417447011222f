//! The cold start of the four function mains: JSON logs, the configuration, the SDK and its
//! clients, and the [`Docket`] on DynamoDB with the blob store and the queues the environment
//! names. What is left to each main is what only it has: its handler and its event loop.

use std::sync::Arc;

use docket_aws::config::{self, SdkConfig};
use docket_aws::tally::RequestTally;
use docket_aws::{DynamoItemStore, S3BlobStore, SesMailer, SqsQueue};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;

use crate::config::{Config, Env};

/// A client of the SDK configuration, counted by the bootstrap's tally when it has one.
macro_rules! tallied {
    ($bootstrap:expr, $service:ident, $client:expr) => {{
        let client = $client;
        match &$bootstrap.tally {
            Some(tally) => tally.$service(&client),
            None => client,
        }
    }};
}

/// A function's configuration and the SDK configuration its clients share.
pub struct Bootstrap {
    pub config: Config,
    pub sdk: SdkConfig,
    /// Counts every request of the clients made here (`docket bench cost`); `None` in the
    /// functions.
    pub tally: Option<RequestTally>,
}

impl Bootstrap {
    /// Starts the logs, reads the configuration from the environment (refused without the
    /// variables in `required`, see [`Config::read`]) and loads the SDK configuration.
    pub async fn start(required: &[&str]) -> Result<Self, String> {
        crate::init_logging();
        let config = Config::read(&Env::process(), required)?;
        let sdk = config::sdk_config(config.aws_endpoint.as_deref()).await;
        Ok(Bootstrap { config, sdk, tally: None })
    }

    /// The domain on the DynamoDB tables, with the attachments bucket and the queues the
    /// configuration names (a configured queue is what makes a change write messages for it).
    pub fn docket(&self) -> Docket {
        let store =
            DynamoItemStore::new(tallied!(self, dynamo, config::dynamo_client(&self.sdk)), self.config.table_prefix.clone(), docket_domain::schema::tables());
        // On AWS the cases table's DynamoDB stream hands every committed outbox item to the
        // assign function, which sends it (a schedule relays what the stream could not). Sending
        // right after the commit too would put every message on its queue twice, so the
        // functions only commit the items.
        let mut docket = Docket::new(Arc::new(store), Arc::new(SystemClock)).with_outbox_delivery(OutboxDelivery::Deferred(None));
        if let Some(bucket) = &self.config.blob_bucket {
            docket = docket.with_blobs(Arc::new(self.blob_store(bucket)));
        }
        let queues = [&self.config.notify_queue_url, &self.config.assign_queue_url];
        if queues.iter().any(|url| url.is_some()) {
            let sqs = tallied!(self, sqs, config::sqs_client(&self.sdk));
            if let Some(url) = &self.config.notify_queue_url {
                docket = docket.with_notify_queue(Arc::new(SqsQueue::new(sqs.clone(), url.clone(), None)));
            }
            if let Some(url) = &self.config.assign_queue_url {
                docket = docket.with_assign_queue(Arc::new(SqsQueue::new(sqs, url.clone(), None)));
            }
        }
        docket
    }

    /// The objects of `bucket` as blobs (keys as they are: no prefix).
    pub fn blob_store(&self, bucket: &str) -> S3BlobStore {
        S3BlobStore::new(tallied!(self, s3, config::s3_client(&self.sdk)), bucket.to_owned(), String::new())
    }

    /// Mail sent through SES.
    pub fn mailer(&self) -> SesMailer {
        SesMailer::new(tallied!(self, ses, config::ses_client(&self.sdk)))
    }
}
