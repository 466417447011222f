//! AWS adapters of Docket's ports.
//!
//! The DynamoDB engine of the item store ([`DynamoItemStore`]), S3 blobs ([`S3BlobStore`]), SQS
//! queues ([`SqsQueue`]) and SES mail ([`SesMailer`]), all built on the SDK configuration they
//! share ([`config`]). The Lambda functions' own concerns — their bootstrap, SQS batches, stream
//! records — are in `docket-lambda`, so that their handlers do not pull in the SDK.

pub mod config;
mod dynamo;
mod errors;
mod ses;
pub use ses::SesMailer;
mod s3;
mod sqs;
pub mod tally;

pub use sqs::SqsQueue;

pub use dynamo::DynamoItemStore;
pub use s3::S3BlobStore;
