//! AWS adapters of Docket's ports.
//!
//! The DynamoDB engine of the item store ([`DynamoItemStore`]), S3 blobs ([`S3BlobStore`]), SQS
//! queues ([`SqsQueue`]) and SES mail ([`SesMailer`]), all built on the SDK configuration they
//! share ([`config`]); and the SQS batch handling the queue-driven functions share ([`lambda`]).

pub mod config;
mod dynamo;
mod errors;
pub mod lambda;
mod ses;
pub use ses::SesMailer;
mod s3;
mod sqs;

pub use sqs::SqsQueue;

pub use dynamo::{DynamoItemStore, item_from_stream_image};
pub use s3::S3BlobStore;
