//! AWS adapters of Docket's ports.
//!
//! Today this holds the DynamoDB engine of the item store ([`DynamoItemStore`], implementing
//! `docket_store::ItemStore`) and the SDK configuration every adapter shares ([`config`]). Further
//! adapters (S3 for attachments, SQS for background jobs, SES for mail) are to be added here as
//! their ports appear, each in its own module on top of the same [`config::sdk_config`].

pub mod config;
mod dynamo;
mod errors;
mod ses;
pub use ses::SesMailer;
mod s3;
mod sqs;

pub use sqs::SqsQueue;

pub use dynamo::DynamoItemStore;
pub use s3::S3BlobStore;
