//! What the functions read from their environment at cold start.
//!
//! The template sets every variable it knows, empty when its parameter is (a reply address left to
//! its default, say), so an empty value counts as an unset one — except for prefixes, where empty
//! is a value: no prefix (the template's `TablePrefix` allows it, and names the tables so).

use docket_domain::notify::MailSettings;
use docket_mail::compose::Address;

/// Prefix of the DynamoDB table names; `docket-` when unset.
pub const TABLE_PREFIX: &str = "DOCKET_TABLE_PREFIX";
/// Endpoint override of the AWS SDK (an emulator); AWS when unset.
pub const AWS_ENDPOINT: &str = "AWS_ENDPOINT_URL";
/// The attachments bucket.
pub const BLOB_BUCKET: &str = "DOCKET_BLOB_BUCKET";
/// The notify queue: new stream entries, for the notify function.
pub const NOTIFY_QUEUE_URL: &str = "DOCKET_NOTIFY_QUEUE_URL";
/// The assign queue (FIFO): case events, for the assign function.
pub const ASSIGN_QUEUE_URL: &str = "DOCKET_ASSIGN_QUEUE_URL";

/// Variables read through a lookup: the process environment ([`Env::process`]) or, in tests, a
/// table.
pub struct Env<F>(pub F);

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// A variable, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.is_empty())
    }

    /// A variable the function cannot start without.
    pub fn required(&self, name: &str) -> Result<String, String> {
        self.var(name).ok_or_else(|| format!("{name} is not set"))
    }

    /// A prefix: `default` when unset, but an empty value is no prefix.
    pub fn prefix(&self, name: &str, default: &str) -> String {
        (self.0)(name).unwrap_or_else(|| default.to_owned())
    }

    /// The settings of the mail the functions send (notifications, and acknowledgements of
    /// inbound mail): one From address, reply address and Message-ID domain for both.
    pub fn mail_settings(&self) -> Result<MailSettings, String> {
        let from = self.required("DOCKET_MAIL_FROM")?;
        let region = self.var("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        Ok(MailSettings {
            from: Address { name: self.var("DOCKET_MAIL_FROM_NAME"), email: from.clone() },
            reply_to: self.var("DOCKET_REPLY_TO").unwrap_or(from.clone()),
            message_id_domain: self
                .var("DOCKET_MESSAGE_ID_DOMAIN")
                .unwrap_or_else(|| from.rsplit_once('@').map_or("docket.invalid".into(), |(_, domain)| domain.to_owned())),
            // SES replaces the Message-ID of what it sends with its own, in this domain: replies
            // quote that one.
            provider_message_id_domain: Some(format!("{region}.amazonses.com")),
            public_url: self.var("DOCKET_PUBLIC_URL"),
        })
    }
}

/// What every function reads: where its tables are, and which of the blob store and the queues
/// its [`Docket`](docket_domain::Docket) gets.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Reads the configuration, refusing it without the variables in `required` (of
    /// [`BLOB_BUCKET`], [`NOTIFY_QUEUE_URL`] and [`ASSIGN_QUEUE_URL`]), so that a function
    /// missing one fails at cold start, naming it, rather than at its first event.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>, required: &[&str]) -> Result<Self, String> {
        for name in required {
            env.required(name)?;
        }
        Ok(Config {
            table_prefix: env.prefix(TABLE_PREFIX, "docket-"),
            aws_endpoint: env.var(AWS_ENDPOINT),
            blob_bucket: env.var(BLOB_BUCKET),
            notify_queue_url: env.var(NOTIFY_QUEUE_URL),
            assign_queue_url: env.var(ASSIGN_QUEUE_URL),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env(move |name: &str| vars.get(name).cloned())
    }

    #[test]
    fn empty_values_are_unset_but_an_empty_prefix_is_no_prefix() {
        // GIVEN the variables as the template writes them: every one, some empty
        let full =
            env(&[(TABLE_PREFIX, ""), (AWS_ENDPOINT, ""), (BLOB_BUCKET, "attachments"), (NOTIFY_QUEUE_URL, ""), (ASSIGN_QUEUE_URL, "https://sqs/assign")]);
        // WHEN read THEN the empty ones are unset, but the tables have no prefix
        let config = Config::read(&full, &[]).unwrap();
        assert_eq!(
            config,
            Config {
                table_prefix: String::new(),
                aws_endpoint: None,
                blob_bucket: Some("attachments".into()),
                notify_queue_url: None,
                assign_queue_url: Some("https://sqs/assign".into())
            }
        );
        // AND without the variable the tables have the default prefix
        assert_eq!(Config::read(&env(&[]), &[]).unwrap().table_prefix, "docket-");
    }

    #[test]
    fn a_required_variable_missing_or_empty_is_named() {
        let queues = [NOTIFY_QUEUE_URL, ASSIGN_QUEUE_URL];
        assert_eq!(Config::read(&env(&[(NOTIFY_QUEUE_URL, "n")]), &queues).unwrap_err(), "DOCKET_ASSIGN_QUEUE_URL is not set");
        assert_eq!(Config::read(&env(&[(NOTIFY_QUEUE_URL, ""), (ASSIGN_QUEUE_URL, "a")]), &queues).unwrap_err(), "DOCKET_NOTIFY_QUEUE_URL is not set");
        let both = Config::read(&env(&[(NOTIFY_QUEUE_URL, "n"), (ASSIGN_QUEUE_URL, "a")]), &queues).unwrap();
        assert_eq!((both.notify_queue_url.as_deref(), both.assign_queue_url.as_deref()), (Some("n"), Some("a")));
    }

    #[test]
    fn mail_settings_default_to_the_from_address() {
        // GIVEN only a From address, and the other variables empty as the template leaves them
        let minimal =
            env(&[("DOCKET_MAIL_FROM", "support@help.example"), ("DOCKET_REPLY_TO", ""), ("DOCKET_MESSAGE_ID_DOMAIN", ""), ("AWS_REGION", "eu-west-1")]);
        // WHEN read THEN replies go to it, our Message-IDs are in its domain, SES's in the region's
        let settings = minimal.mail_settings().unwrap();
        assert_eq!((settings.from.email.as_str(), settings.from.name.as_deref()), ("support@help.example", None));
        assert_eq!(settings.reply_to, "support@help.example");
        assert_eq!(settings.message_id_domain, "help.example");
        assert_eq!(settings.provider_message_id_domain.as_deref(), Some("eu-west-1.amazonses.com"));
        assert_eq!(settings.public_url, None);
        // AND each can be set
        let full = env(&[
            ("DOCKET_MAIL_FROM", "support@help.example"),
            ("DOCKET_MAIL_FROM_NAME", "Help"),
            ("DOCKET_REPLY_TO", "reply@in.example"),
            ("DOCKET_MESSAGE_ID_DOMAIN", "ids.example"),
            ("DOCKET_PUBLIC_URL", "https://api.example"),
        ]);
        let settings = full.mail_settings().unwrap();
        assert_eq!(settings.from.name.as_deref(), Some("Help"));
        assert_eq!((settings.reply_to.as_str(), settings.message_id_domain.as_str()), ("reply@in.example", "ids.example"));
        assert_eq!(settings.provider_message_id_domain.as_deref(), Some("us-east-1.amazonses.com"));
        assert_eq!(settings.public_url.as_deref(), Some("https://api.example"));
        // AND without a From address there is no mail to send
        assert_eq!(env(&[("DOCKET_MAIL_FROM", "")]).mail_settings().unwrap_err(), "DOCKET_MAIL_FROM is not set");
    }
}
