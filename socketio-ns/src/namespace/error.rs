//! The errors a handler returns: [`ConnectError`] refuses a CONNECT, [`HandlerError`] answers
//! an event with an error.

use std::borrow::Cow;
use std::fmt;

/// A refusal of a CONNECT: the client receives CONNECT_ERROR `{"message":..,"data":..}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    message: String,
    data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds the `data` field.
    pub fn with_data(mut self, data: impl serde::Serialize) -> Self {
        self.data = serde_json::to_value(data).ok();
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The data, if any.
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.data.as_ref()
    }

    pub(crate) fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a serde_json::Value>,
        }
        serde_json::to_string(&Wire {
            message: &self.message,
            data: self.data.as_ref(),
        })
        .unwrap_or_else(|_| r#"{"message":"error"}"#.to_owned())
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// An error answered to the client: `{"error": name, "message": message}` as the ack's
/// argument when it asked for an ack, else the `error` event with `[name, message]`.
///
/// Any `std::error::Error + Send + Sync`, `anyhow::Error` and `Box<dyn Error + Send + Sync>`
/// converts into one named `handler_error`; give another name with [`HandlerError::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// The error's name, such as `method_access_denied`.
    pub name: Cow<'static, str>,
    /// A human-readable message.
    pub message: String,
}

impl HandlerError {
    /// An error with a name and a message.
    pub fn new(name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        HandlerError {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// Any error that converts into `Box<dyn Error + Send + Sync>`: every `std::error::Error +
/// Send + Sync`, `anyhow::Error`, `Box<dyn Error + Send + Sync>` itself, and `String` or
/// `&str` messages.
impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError::new("handler_error", e.into().to_string())
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}
