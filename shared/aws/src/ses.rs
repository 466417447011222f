//! The SES adapter of the mail port ([`docket_ports::Mailer`]): sends mail already composed as raw
//! MIME with SES v1 `SendRawEmail`, so the headers Docket composed (threading, Auto-Submitted,
//! Reply-To tokens) reach the recipient exactly as written.
//!
//! The envelope is given explicitly (Source = sender, Destinations = recipients): without
//! Destinations SES would take the recipients from the message's own headers, and the port
//! promises that only `mail.to` receives the mail.

use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::config::http::HttpResponse;
use aws_sdk_ses::error::SdkError;
use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use docket_ports::{Mailer, OutboundMail, PortError, validate_outbound_mail};

use crate::errors::{self, Service};

/// Error codes of SES worth retrying later: the SDK has already retried them, but a queue
/// consumer may still try again on its next delivery.
const TRANSIENT_ERROR_CODES: [&str; 5] = ["Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"];

const SES: Service = Service { name: "SES", transient_codes: &TRANSIENT_ERROR_CODES };

/// [`Mailer`] on SES. Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        SesMailer { client }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: OutboundMail) -> Result<String, PortError> {
        // Before calling SES: an empty Destinations list would make SES fall back on the
        // message's headers, and the outbox adapter refuses the same mail alike.
        validate_outbound_mail(&mail)?;
        let raw_message = RawMessage::builder().data(Blob::new(mail.raw)).build().map_err(|error| PortError::Invalid(format!("raw message: {error}")))?;
        let sent = self.client.send_raw_email().source(mail.from).set_destinations(Some(mail.to)).raw_message(raw_message).send().await.map_err(classify)?;
        Ok(sent.message_id().to_owned())
    }
}

/// Classifies a failed call: connection trouble, throttling and server errors are transient;
/// a message SES refuses (unverified sender, rejected content, invalid parameters) is invalid and
/// will be refused again; anything else (paused account, missing configuration set) is a backend
/// failure someone has to look at.
fn classify(error: SdkError<SendRawEmailError, HttpResponse>) -> PortError {
    errors::classify(&SES, None, error, |answer| {
        let refused = answer.error.is_message_rejected() || answer.error.is_mail_from_domain_not_verified_exception() || answer.code == "InvalidParameterValue";
        refused.then(|| PortError::Invalid(answer.summary()))
    })
    .into()
}

#[cfg(test)]
mod tests {
    use aws_sdk_ses::error::ErrorMetadata;
    use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
    use aws_sdk_ses::types::error::{MailFromDomainNotVerifiedException, MessageRejected};

    use super::*;

    fn service_error(status: u16, error: SendRawEmailError) -> SdkError<SendRawEmailError, HttpResponse> {
        // The SDK's status and body types convert from plain values; this crate does not depend
        // on the smithy crates defining them.
        let response = HttpResponse::new(status.try_into().expect("valid status"), "".into());
        SdkError::service_error(error, response)
    }

    fn generic(code: &str) -> SendRawEmailError {
        SendRawEmailError::generic(ErrorMetadata::builder().code(code).message("m").build())
    }

    #[test]
    fn refused_messages_are_invalid() {
        // GIVEN the errors SES gives for a message it will never accept
        let rejected = SendRawEmailError::MessageRejected(MessageRejected::builder().message("unverified").build());
        let domain = SendRawEmailError::MailFromDomainNotVerifiedException(MailFromDomainNotVerifiedException::builder().message("no").build());
        for error in [rejected, domain, generic("InvalidParameterValue")] {
            // WHEN classified THEN they are invalid requests
            let classified = classify(service_error(400, error));
            assert!(matches!(classified, PortError::Invalid(_)), "{classified:?}");
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        // GIVEN throttling (as SES returns it) and a server error of any code
        for (status, code) in [(400, "Throttling"), (400, "ThrottlingException"), (503, "ServiceUnavailable"), (500, "Whatever")] {
            // WHEN classified THEN they are worth retrying
            let classified = classify(service_error(status, generic(code)));
            assert!(matches!(classified, PortError::Transient(_)), "{code}: {classified:?}");
        }
    }

    #[test]
    fn other_refusals_are_backend_failures() {
        // GIVEN a paused account WHEN classified THEN someone has to look at it
        let classified = classify(service_error(400, generic("AccountSendingPausedException")));
        assert!(matches!(classified, PortError::Backend(_)), "{classified:?}");
    }

    #[tokio::test]
    async fn mail_without_recipients_is_refused_before_calling_ses() {
        // GIVEN a mailer whose client points nowhere
        let config = aws_sdk_ses::Config::builder()
            .behavior_version(aws_sdk_ses::config::BehaviorVersion::latest())
            .region(aws_sdk_ses::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let mailer = SesMailer::new(Client::from_conf(config));

        // WHEN a mail without recipients is sent
        let result = mailer.send(OutboundMail { from: "a@b.example".to_owned(), to: vec![], raw: b"Subject: x\r\n\r\n".to_vec() }).await;

        // THEN it is refused as invalid without a call (which would have failed to connect)
        assert!(matches!(result, Err(PortError::Invalid(_))), "{result:?}");
    }
}
