//! Sorting of failed SDK calls, shared by the adapters: whether a retry may help is decided alike
//! for every service, and each adapter adds the codes of its own service and turns the result into
//! its port's error type (`StoreError` or `PortError`).

// Every SDK crate re-exports the same smithy types; they are named here through aws-sdk-s3's.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use docket_ports::PortError;
use docket_store::StoreError;

/// What a failed call means for its caller, before the adapter turns it into its port's error.
pub(crate) enum Classified<T> {
    /// Worth retrying later: no answer came in time, the connection failed, the answer could not
    /// be read, or the service answered a throttling code or a 5xx status. (The SDK has retried
    /// these already, but a caller such as a queue consumer may still try again later.)
    Transient(String),
    /// The adapter's own reading of an answer of its service (a refused request, a missing
    /// object, a failed condition).
    Specific(T),
    /// Anything else: a retry would fail alike, someone has to look at it.
    Backend(String),
}

/// How one service reports failures.
pub(crate) struct Service {
    /// Names the service in the debug log.
    pub name: &'static str,
    /// Error codes worth retrying, besides any answer with a 5xx status.
    pub transient_codes: &'static [&'static str],
}

/// An error answer of a service, as an adapter's own mapping sees it.
pub(crate) struct Answer<'a, E> {
    /// The SDK's modelled error, for the variants it types (`is_message_rejected()` and the like).
    pub error: &'a E,
    /// The error code (empty when the answer named none).
    pub code: &'a str,
    /// The error message (empty when the answer had none).
    pub message: &'a str,
    action: Option<&'a str>,
}

impl<E> Answer<'_, E> {
    /// `{action}: {code}: {message}`, or `{code}: {message}` for a call classified without an
    /// action.
    pub fn summary(&self) -> String {
        format!("{}{}: {}", prefix(self.action), self.code, self.message)
    }
}

/// Sorts a failed call into [`Classified`]. `action` (such as `put blob x`) starts every message
/// when given. An answer of the service goes to `specific` first, so the adapter's own codes win;
/// answers it leaves (`None`) are transient when their code is one of the service's
/// [`Service::transient_codes`] or their status is 5xx, and backend failures otherwise.
pub(crate) fn classify<E, T>(
    service: &Service,
    action: Option<&str>,
    error: SdkError<E, HttpResponse>,
    specific: impl FnOnce(&Answer<'_, E>) -> Option<T>,
) -> Classified<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let described = DisplayErrorContext(&error).to_string();
    tracing::debug!(error = %described, action = action.unwrap_or_default(), "{} call failed", service.name);
    let prefix = prefix(action);
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Classified::Transient(format!("{prefix}{described}")),
        SdkError::ServiceError(context) => {
            let answer =
                Answer { error: context.err(), code: context.err().code().unwrap_or_default(), message: context.err().message().unwrap_or_default(), action };
            if let Some(mapped) = specific(&answer) {
                return Classified::Specific(mapped);
            }
            let status = context.raw().status();
            let text = format!("{prefix}HTTP {} {}: {}", status.as_u16(), answer.code, answer.message);
            if service.transient_codes.contains(&answer.code) || status.is_server_error() { Classified::Transient(text) } else { Classified::Backend(text) }
        }
        _ => Classified::Backend(format!("{prefix}{described}")),
    }
}

fn prefix(action: Option<&str>) -> String {
    action.map(|action| format!("{action}: ")).unwrap_or_default()
}

impl From<Classified<PortError>> for PortError {
    fn from(classified: Classified<PortError>) -> Self {
        match classified {
            Classified::Transient(message) => PortError::Transient(message),
            Classified::Specific(error) => error,
            Classified::Backend(message) => PortError::Backend(message),
        }
    }
}

impl From<Classified<StoreError>> for StoreError {
    fn from(classified: Classified<StoreError>) -> Self {
        match classified {
            Classified::Transient(message) => StoreError::Transient(message),
            Classified::Specific(error) => error,
            Classified::Backend(message) => StoreError::Backend(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;

    use super::*;

    const TEST: Service = Service { name: "Test", transient_codes: &["SlowDown"] };

    fn answer(status: u16, code: &str) -> SdkError<GetObjectError, HttpResponse> {
        let error = GetObjectError::generic(ErrorMetadata::builder().code(code).message("m").build());
        // The SDK's status and body types convert from plain values; this crate does not depend
        // on the smithy crates defining them.
        SdkError::service_error(error, HttpResponse::new(status.try_into().expect("valid status"), "".into()))
    }

    /// Classifies with an adapter mapping that claims the code `Mine`.
    fn classified(action: Option<&str>, error: SdkError<GetObjectError, HttpResponse>) -> Classified<String> {
        classify(&TEST, action, error, |answer| (answer.code == "Mine").then(|| answer.summary()))
    }

    #[test]
    fn calls_without_an_answer_are_transient_and_named_by_their_action() {
        // GIVEN a call that timed out WHEN classified THEN it is worth retrying, named by its action
        let timeout = SdkError::<GetObjectError, HttpResponse>::timeout_error("too slow");
        match classified(Some("get blob x"), timeout) {
            Classified::Transient(message) => assert!(message.starts_with("get blob x: "), "{message}"),
            _ => panic!("a timeout must be transient"),
        }
    }

    #[test]
    fn the_adapters_codes_come_first_then_transient_codes_and_server_errors() {
        // GIVEN answers with the adapter's own code, a transient code, a 5xx status and neither
        // WHEN classified THEN each is sorted by the first rule that applies, in that order
        assert!(matches!(classified(Some("act"), answer(503, "Mine")), Classified::Specific(m) if m == "act: Mine: m"));
        assert!(matches!(classified(None, answer(400, "Mine")), Classified::Specific(m) if m == "Mine: m"));
        assert!(matches!(classified(None, answer(400, "SlowDown")), Classified::Transient(_)));
        assert!(matches!(classified(None, answer(500, "Whatever")), Classified::Transient(_)));
        assert!(matches!(classified(Some("act"), answer(403, "Whatever")), Classified::Backend(m) if m == "act: HTTP 403 Whatever: m"));
    }
}
