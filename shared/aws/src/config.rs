//! The AWS SDK configuration shared by every adapter of this crate.
//!
//! Loaded once at start-up (in a Lambda cold start or by the local server) and handed to each
//! service client, so that region, credentials, endpoint and timeouts are decided in one place.

use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::meta::region::RegionProviderChain;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

/// Region used when neither the environment nor a profile names one, so local runs need no setup.
const FALLBACK_REGION: &str = "us-east-1";

/// Longest time one SDK call may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one attempt of an SDK call may take before it is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Loads the default configuration (credentials and region from the environment or profile).
///
/// `endpoint` points every client at another server than AWS (moto, DynamoDB Local). Timeouts are
/// always set because the SDK has none by default: a stalled connection would otherwise hold a
/// request until the Lambda itself times out.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(Region::from_static(FALLBACK_REGION));
    let timeouts = TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).operation_attempt_timeout(ATTEMPT_TIMEOUT).build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region).timeout_config(timeouts);
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// A DynamoDB client for the given configuration.
pub fn dynamo_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// An SES (v1) client for the given configuration.
pub fn ses_client(config: &SdkConfig) -> aws_sdk_ses::Client {
    aws_sdk_ses::Client::new(config)
}

/// An SQS client for the given configuration.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// An S3 client for the given configuration. With an endpoint override (an emulator at
/// `127.0.0.1`, which has no subdomains to offer) buckets are addressed in the path
/// (`endpoint/bucket/key`); on AWS as a subdomain (`bucket.s3.region.amazonaws.com/key`), the
/// form AWS recommends, which also goes into the presigned URLs handed to clients.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// The configuration for the local AWS emulator (moto) used by tests and benchmarks: moto answers
/// concurrent DynamoDB calls with sporadic HTTP 500s and slows down under load, so calls get more
/// attempts and more time than production needs. Production never uses this.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    use aws_config::retry::RetryConfig;
    sdk_config(Some(endpoint))
        .await
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(10).with_max_backoff(Duration::from_millis(500)))
        .timeout_config(TimeoutConfig::builder().operation_timeout(Duration::from_secs(120)).operation_attempt_timeout(Duration::from_secs(60)).build())
        .build()
}
