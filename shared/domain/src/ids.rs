//! Identifiers and email addresses as types: a contact's id is not a user's, so the compiler
//! refuses one where the other is meant. Ids travel as plain strings (in JSON, in keys); they are
//! checked where a caller sends them ([`Id::parse`]) and trusted where Docket made or stored them.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainResult;
use crate::validate;

/// What every id type offers.
pub trait Id: Sized + Clone + Eq + std::hash::Hash + AsRef<str> {
    /// An id as given, unchecked: for ids Docket made or read back from its own store.
    fn from_trusted(value: String) -> Self;

    /// A new, unique id (a ULID, so ids sort by creation time).
    fn generate() -> Self {
        Self::from_trusted(crate::clock::new_id())
    }

    /// Checks an id a caller sent, naming `field` when it is not one.
    fn parse(field: &str, value: &str) -> DomainResult<Self> {
        validate::id(field, value).map(Self::from_trusted)
    }
}

/// Checks an id a caller sent in a typed field (ids deserialise unchecked), naming `field`.
pub fn checked<T: Id>(field: &str, id: Option<T>) -> DomainResult<Option<T>> {
    id.map(|id| T::parse(field, id.as_ref())).transpose()
}

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl Id for $name {
            fn from_trusted(value: String) -> Self {
                $name(value)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> serde_json::Value {
                serde_json::Value::String(id.0)
            }
        }
    )*};
}

id_types! {
    /// A case.
    CaseId;
    /// An entry of a case's stream.
    EntryId;
    /// A staff member (admin or agent).
    UserId;
    /// A team of users.
    TeamId;
    /// A customer organisation.
    AccountId;
    /// A person who contacts support.
    ContactId;
    /// A prospective customer.
    LeadId;
    /// A group mailbox (support address).
    MailboxId;
    /// A knowledge-base article.
    ArticleId;
    /// A web form.
    FormId;
    /// A workflow rule.
    RuleId;
    /// A business-hours calendar.
    CalendarId;
    /// A service agreement (SLA targets).
    AgreementId;
}

/// An email address: trimmed, lower-cased, `local@domain` with a plausible domain. Made only
/// by [`EmailAddress::parse`] (or read back from the store, where only parsed ones are written).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = "email")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Checks an address a caller or a message gave, naming `field` when it is not one.
    pub fn parse(field: &str, value: &str) -> DomainResult<Self> {
        validate::email(field, value).map(EmailAddress)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(local, _)| local)
    }
}

impl std::ops::Deref for EmailAddress {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<String> for EmailAddress {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<EmailAddress> for String {
    fn eq(&self, other: &EmailAddress) -> bool {
        *self == other.0
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

impl PartialEq<str> for EmailAddress {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_where_callers_send_them() {
        assert_eq!(CaseId::parse("case_id", "01JABC-x_9").unwrap().as_str(), "01JABC-x_9");
        for bad in ["", "a b", "x/y", "é", &"x".repeat(200)] {
            let error = ContactId::parse("contact_ids", bad).unwrap_err();
            assert!(error.to_string().starts_with("contact_ids:"), "{error}");
        }
        let (a, b) = (UserId::generate(), UserId::generate());
        assert!(a < b, "generated ids sort by creation");
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""), "an id travels as a plain string");
    }

    #[test]
    fn addresses_are_normalised_and_checked() {
        let address = EmailAddress::parse("email", "  Ana.Lopez@Example.COM ").unwrap();
        assert_eq!(address.as_str(), "ana.lopez@example.com");
        assert_eq!((address.local_part(), address.domain()), ("ana.lopez", "example.com"));
        for bad in ["ana", "@example.com", "ana@", "ana@localhost", "a b@example.com", "<ana@example.com>"] {
            assert!(EmailAddress::parse("emails", bad).is_err(), "{bad}");
        }
    }
}
