//! The S3 adapter of the blob port ([`docket_ports::BlobStore`]): attachments and raw mail of the
//! deployed Lambdas, one object per blob at `{prefix}{key}` in one bucket.
//!
//! The object's own `Content-Type` carries the blob's content type, so one PutObject stores bytes
//! and metadata together and replaces both atomically, as the folder adapter's single rename does.
//!
//! Presigned requests (large attachments, which cannot pass through a Lambda payload) are signed
//! by the SDK with the function's own credentials, so they allow what its role allows and expire
//! at the latest with those credentials. A presigned URL names the endpoint the client was
//! configured with (the emulator in tests).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest as SdkPresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use docket_ports::{
    BlobInfo, BlobStore, DownloadGrant, PortError, PresignedRequest, UploadGrant, attachment_disposition, validate_blob_key, validate_content_type,
    validate_presigning,
};

use crate::errors::{self, Service};

/// Error codes S3 answers when a retry may succeed: it is overloaded or a conflicting operation
/// is in flight, or the upload stalled (`RequestTimeout` comes with HTTP 400, not 5xx).
const TRANSIENT_ERROR_CODES: [&str; 7] =
    ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted", "Throttling", "ThrottlingException"];

/// Error codes meaning the request itself is unacceptable, so a retry would fail alike.
const INVALID_REQUEST_CODES: [&str; 3] = ["InvalidArgument", "KeyTooLongError", "EntityTooLarge"];

const S3: Service = Service { name: "S3", transient_codes: &TRANSIENT_ERROR_CODES };

/// [`BlobStore`] on an S3 bucket. Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3BlobStore {
    /// A store keeping the blob `key` as the object `{prefix}{key}` of `bucket`. The prefix is
    /// used as given (end it with `/` to get a folder), so several stores can share a bucket.
    pub fn new(client: Client, bucket: String, prefix: String) -> Self {
        S3BlobStore { client, bucket, prefix }
    }

    /// Creates the bucket, for tests and local set-ups (deployed buckets come from the template).
    /// Succeeds when the bucket exists and is ours already, so it may run at every start.
    pub async fn create_bucket(&self) -> Result<(), PortError> {
        // Outside us-east-1 S3 insists on being told the region again; in us-east-1 it refuses
        // to be told.
        let location = self
            .client
            .config()
            .region()
            .map(|region| region.as_ref())
            .filter(|region| *region != "us-east-1")
            .map(|region| CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build());
        let created = self.client.create_bucket().bucket(&self.bucket).set_create_bucket_configuration(location).send().await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
            Err(error) => Err(classify(&format!("create bucket {}", self.bucket), error)),
        }
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<BlobInfo, PortError> {
        validate_blob_key(key)?;
        validate_content_type(content_type)?;
        let size = bytes.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|error| classify(&format!("put blob {key}"), error))?;
        Ok(BlobInfo { key: key.to_owned(), content_type: content_type.to_owned(), size })
    }

    async fn get(&self, key: &str) -> Result<(BlobInfo, Vec<u8>), PortError> {
        validate_blob_key(key)?;
        let output = match self.client.get_object().bucket(&self.bucket).key(self.object_key(key)).send().await {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(PortError::NotFound(format!("blob {key}")));
            }
            Err(error) => return Err(classify(&format!("get blob {key}"), error)),
        };
        // Every put sets a content type; S3's own default stands in for objects written by others.
        let content_type = output.content_type().unwrap_or("binary/octet-stream").to_owned();
        let bytes = output
            .body
            .collect()
            .await
            // The headers arrived but the body did not: the connection broke, a retry may succeed.
            .map_err(|error| PortError::Transient(format!("read body of blob {key}: {}", DisplayErrorContext(&error))))?
            .into_bytes()
            .to_vec();
        Ok((BlobInfo { key: key.to_owned(), content_type, size: bytes.len() as u64 }, bytes))
    }

    async fn head(&self, key: &str) -> Result<BlobInfo, PortError> {
        validate_blob_key(key)?;
        let output = match self.client.head_object().bucket(&self.bucket).key(self.object_key(key)).send().await {
            Ok(output) => output,
            // A HEAD answer has no body, so no error code: S3 says 404 (with s3:ListBucket on
            // the bucket; without it, 403, which stays a failure).
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) || error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Err(PortError::NotFound(format!("blob {key}")));
            }
            Err(error) => return Err(classify(&format!("head blob {key}"), error)),
        };
        let size = output
            .content_length()
            .and_then(|length| u64::try_from(length).ok())
            .ok_or_else(|| PortError::Backend(format!("S3 gave no size for blob {key}")))?;
        Ok(BlobInfo { key: key.to_owned(), content_type: output.content_type().unwrap_or("binary/octet-stream").to_owned(), size })
    }

    async fn presign_upload(&self, grant: &UploadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError> {
        validate_presigning(&grant.key, &grant.content_type, valid_for)?;
        // The content type and `If-None-Match: *` are signed headers: S3 refuses the PUT
        // unless the client sends them as given, and refuses it once the object exists. The
        // size cannot be signed this way; the caller checks it with a HEAD afterwards.
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(&grant.key))
            .content_type(&grant.content_type)
            .if_none_match("*")
            .presigned(presigning_config(valid_for)?)
            .await
            .map_err(|error| classify(&format!("presign upload of blob {}", grant.key), error))?;
        Ok(presigned_request(&presigned, valid_for))
    }

    async fn presign_download(&self, grant: &DownloadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError> {
        validate_presigning(&grant.key, &grant.content_type, valid_for)?;
        // The response-* query parameters are part of the signature: S3 answers with these
        // headers, and the client cannot change them.
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(&grant.key))
            .response_content_type(&grant.content_type)
            .response_content_disposition(attachment_disposition(&grant.file_name))
            .presigned(presigning_config(valid_for)?)
            .await
            .map_err(|error| classify(&format!("presign download of blob {}", grant.key), error))?;
        Ok(presigned_request(&presigned, valid_for))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        validate_blob_key(key)?;
        // S3 answers a delete of a missing object with success, which is the port's contract.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map(drop)
            .map_err(|error| classify(&format!("delete blob {key}"), error))
    }
}

fn presigning_config(valid_for: Duration) -> Result<PresigningConfig, PortError> {
    PresigningConfig::expires_in(valid_for).map_err(|error| PortError::Invalid(format!("presigning: {error}")))
}

/// The port's view of a request the SDK presigned: its method, URL and the headers the client
/// must send (lower-case names; the SDK leaves `Host` to the client).
fn presigned_request(presigned: &SdkPresignedRequest, valid_for: Duration) -> PresignedRequest {
    PresignedRequest {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned.headers().map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned())).collect(),
        // The SDK signs from the current time, just before this.
        expires_at: SystemTime::now() + valid_for,
    }
}

/// Classifies an SDK failure so callers know whether a retry may help: network failures,
/// timeouts, throttling and 5xx answers are transient, a request S3 refuses as such is invalid.
fn classify<E>(action: &str, error: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    errors::classify(&S3, Some(action), error, |answer| INVALID_REQUEST_CODES.contains(&answer.code).then(|| PortError::Invalid(answer.summary()))).into()
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, SdkConfig};
    use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};

    use super::*;

    /// A configuration as a Lambda has it: a region and credentials, no endpoint override.
    fn aws_like_config() -> SdkConfig {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()), None, "test");
        SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .behavior_version(BehaviorVersion::latest())
            .build()
    }

    #[tokio::test]
    async fn presigned_requests_on_aws_are_virtual_hosted_and_sign_what_they_must() {
        // GIVEN the S3 adapter as the api function builds it on AWS (nothing is sent: presigning
        // is local)
        let store = S3BlobStore::new(crate::config::s3_client(&aws_like_config()), "docket-attachments".into(), String::new());
        let upload = UploadGrant { key: "cases/c1/attachments/a1".into(), content_type: "application/pdf".into(), max_size: 10 };
        let download = DownloadGrant { key: "cases/c1/attachments/a1".into(), content_type: "application/pdf".into(), file_name: "a \"b\".pdf".into() };

        // WHEN an upload and a download are presigned for 15 minutes
        let put = store.presign_upload(&upload, Duration::from_secs(900)).await.expect("presign upload");
        let get = store.presign_download(&download, Duration::from_secs(900)).await.expect("presign download");

        // THEN both address the bucket as a subdomain of the regional endpoint, expire in 900 s
        // and carry the session token; the PUT signs the content type and If-None-Match, the GET
        // the response content type and disposition
        for request in [&put, &get] {
            assert!(request.url.starts_with("https://docket-attachments.s3.eu-west-1.amazonaws.com/cases/c1/attachments/a1?"), "{}", request.url);
            assert!(request.url.contains("X-Amz-Expires=900"), "{}", request.url);
            assert!(request.url.contains("X-Amz-Security-Token=session"), "{}", request.url);
        }
        assert_eq!(put.method, "PUT");
        assert!(put.url.contains("X-Amz-SignedHeaders=content-type%3Bhost%3Bif-none-match"), "{}", put.url);
        assert_eq!(put.headers, vec![("content-type".to_owned(), "application/pdf".to_owned()), ("if-none-match".to_owned(), "*".to_owned())]);
        assert_eq!(get.method, "GET");
        assert!(get.url.contains("response-content-type=application%2Fpdf"), "{}", get.url);
        assert!(
            get.url.contains("response-content-disposition=attachment%3B%20filename%3D%22a%20_b_.pdf%22%3B%20filename%2A%3DUTF-8%27%27a%2520%2522b%2522.pdf"),
            "{}",
            get.url
        );
        assert!(get.headers.is_empty(), "{:?}", get.headers);
    }
}
