//! Configuration of the `api` function, read once at cold start from the environment.

/// Typed configuration of the Lambda function.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prefix of the DynamoDB table names (`docket-` gives `docket-cases`, …).
    pub table_prefix: String,
    /// Endpoint override for the AWS SDK (the emulator in tests); `None` in production.
    pub aws_endpoint: Option<String>,
    /// S3 bucket holding attachments.
    pub blob_bucket: Option<String>,
    /// SQS queue announcing new stream entries to the notify function.
    pub notify_queue_url: Option<String>,
    /// SQS FIFO queue announcing case events to the assign function (assignment, workflow rules).
    pub assign_queue_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Config {
            table_prefix: lookup("DOCKET_TABLE_PREFIX").unwrap_or_else(|| "docket-".into()),
            aws_endpoint: lookup("AWS_ENDPOINT_URL").filter(|e| !e.is_empty()),
            blob_bucket: lookup("DOCKET_BLOB_BUCKET").filter(|e| !e.is_empty()),
            notify_queue_url: lookup("DOCKET_NOTIFY_QUEUE_URL").filter(|e| !e.is_empty()),
            assign_queue_url: lookup("DOCKET_ASSIGN_QUEUE_URL").filter(|e| !e.is_empty()),
        }
    }
}
