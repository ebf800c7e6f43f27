//! Closed enums stored as GitLab's strings, and the conversions between database
//! values and the types the API uses (times, JSON columns, statuses).

use std::time::{SystemTime, UNIX_EPOCH};

use kiln_pipeline::{FailureReason, Status, Timestamp};

use crate::error::{Error, Result};

/// Declares a closed enum whose values are stored and shown as GitLab's names.
macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vm])* $variant,)* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// GitLab's name for the value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// Parses GitLab's name.
            pub fn from_name(name: &str) -> Option<$name> {
                match name { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_name(&s).ok_or_else(|| serde::de::Error::custom(format!(
                    concat!("unknown ", stringify!($name), " `{}`"), s)))
            }
        }

        impl crate::codec::Stored for $name {
            const WHAT: &'static str = stringify!($name);
            fn from_stored(s: &str) -> Option<$name> { $name::from_name(s) }
        }
    };
}
pub(crate) use named_enum;

/// A value stored as a name in a text column.
pub(crate) trait Stored: Sized {
    const WHAT: &'static str;
    fn from_stored(s: &str) -> Option<Self>;
}

impl Stored for Status {
    const WHAT: &'static str = "status";
    fn from_stored(s: &str) -> Option<Status> {
        Status::from_name(s)
    }
}

impl Stored for FailureReason {
    const WHAT: &'static str = "failure reason";
    fn from_stored(s: &str) -> Option<FailureReason> {
        FailureReason::from_name(s)
    }
}

/// Decodes a stored name; an unknown one means the database was written by
/// something else, which is reported, not guessed.
pub(crate) fn decode<T: Stored>(s: &str) -> Result<T> {
    T::from_stored(s).ok_or_else(|| Error::Invalid(format!("stored {} `{s}`", T::WHAT)))
}

pub(crate) fn decode_opt<T: Stored>(s: Option<String>) -> Result<Option<T>> {
    s.map(|s| decode(&s)).transpose()
}

/// Milliseconds since the Unix epoch, UTC: how every time is stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// The current time.
    pub fn now() -> Millis {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// The whole seconds `kiln-pipeline` works in.
    pub fn to_timestamp(self) -> Timestamp {
        Timestamp(self.0.div_euclid(1000))
    }

    /// A `kiln-pipeline` time.
    pub fn from_timestamp(t: Timestamp) -> Millis {
        Millis(t.0.saturating_mul(1000))
    }

    /// This time plus `ms` milliseconds, saturating.
    pub fn plus_ms(self, ms: i64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

pub(crate) fn opt_millis(v: Option<i64>) -> Option<Millis> {
    v.map(Millis)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(format!("json value: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    Ok(serde_json::from_str(s)?)
}

/// Clamps a count or size to the `BIGINT` range.
pub(crate) fn to_i64(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

/// A database integer that must be non-negative and fit `u32`.
pub(crate) fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Invalid(format!("stored {what} {v}")))
}

/// A page of a list: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    /// GitLab's `page` (1-based) and `per_page`.
    pub fn new(page: u32, per_page: u32) -> Page {
        let per_page = i64::from(per_page.max(1));
        Page { offset: i64::from(page.max(1) - 1) * per_page, limit: per_page }
    }

    /// Everything (for internal callers).
    pub fn all() -> Page {
        Page { offset: 0, limit: i64::MAX }
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::new(1, 20)
    }
}

/// One page of a list and the total the pagination headers need.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
}
