//! Accounts: who owns every resource, and the rules for signing up.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::id::UserId;
use crate::validation::ValidationErrors;

pub const PASSWORD_MIN_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing it is never a denial of service.
pub const PASSWORD_MAX_BYTES: usize = 1024;
const EMAIL_MAX_CHARS: usize = 254;

/// The plan an account starts on; plans set rate limits and are configured by the operator.
pub const DEFAULT_PLAN: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: UserId,
    pub email: String,
    pub plan: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
}

/// A validated sign-up: the email is trimmed and lower-cased so that one address is one account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
}

impl NewAccount {
    pub fn parse(email: Option<&str>, password: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = match email {
            None => {
                errors.add("email", "Required field missing");
                String::new()
            }
            Some(raw) => match normalize_email(raw) {
                Ok(email) => email,
                Err(message) => {
                    errors.add("email", message);
                    String::new()
                }
            },
        };
        match password {
            None => errors.add("password", "Required field missing"),
            Some(password) => {
                if let Err(message) = check_password(password) {
                    errors.add("password", message);
                }
            }
        }
        errors.finish(NewAccount { email, password: password.unwrap_or_default().to_owned() })
    }
}

/// Trims and lower-cases an address, and checks it has the shape `local@domain.tld`.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("Required field missing");
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err("Must be at most 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("Must be a valid email address");
    };
    let valid = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err("Must be a valid email address") }
}

fn check_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err("Must be at least 8 characters");
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err("Must be at most 1024 bytes");
    }
    if password.trim().is_empty() {
        return Err("Must not be only whitespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        let account = NewAccount::parse(Some("  You@Example.COM "), Some("correct horse")).unwrap();
        assert_eq!(account.email, "you@example.com");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = NewAccount::parse(Some("not-an-email"), Some("short")).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "password"]);
    }

    #[test]
    fn missing_fields_are_reported() {
        let errors = NewAccount::parse(None, None).unwrap_err();
        assert_eq!(errors.fields().len(), 2);
        assert!(errors.fields().iter().all(|e| e.message == "Required field missing"));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in ["a@b", "@example.com", "a@@example.com", "a b@example.com", "a@.com", "a@example."] {
            assert!(normalize_email(bad).is_err(), "{bad} should be rejected");
        }
        assert!(normalize_email("first.last+tag@sub.example.org").is_ok());
    }

    #[test]
    fn password_bounds() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password("        ").is_err());
        assert!(check_password(&"x".repeat(PASSWORD_MAX_BYTES + 1)).is_err());
    }
}
