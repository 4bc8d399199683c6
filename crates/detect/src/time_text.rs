//! [`TimeText`]: an event time as the event writes it, kept inline when it
//! is short (every common clock: `Jul 22 06:00:05`, RFC 3339 up to
//! nanoseconds with an offset) and shared when it is not, so that a hit
//! costs no allocation for its time even when every event has its own.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Texts up to this many bytes are kept inline.
pub const INLINE: usize = 38;

/// A text, inline up to [`INLINE`] bytes, else shared. Reads as `&str`
/// (`Deref`), compares and serializes as its text.
#[derive(Clone)]
pub struct TimeText(Repr);

#[derive(Clone)]
enum Repr {
    /// The first `len` bytes of `bytes` are the text (whole characters:
    /// it is cut from a `&str` at its end).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

impl TimeText {
    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).expect("an inline text is a whole str's bytes")
            }
            Repr::Shared(s) => s,
        }
    }

    /// The text's bytes (with no check that they are UTF-8: they were
    /// cut from a `&str`).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Shared(s) => s.as_bytes(),
        }
    }

    /// Whether the text is kept inline (no allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl From<&str> for TimeText {
    fn from(t: &str) -> TimeText {
        if t.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..t.len()].copy_from_slice(t.as_bytes());
            TimeText(Repr::Inline {
                len: t.len() as u8,
                bytes,
            })
        } else {
            TimeText(Repr::Shared(Arc::from(t)))
        }
    }
}

impl From<String> for TimeText {
    fn from(t: String) -> TimeText {
        TimeText::from(t.as_str())
    }
}

impl Deref for TimeText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for TimeText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for TimeText {
    fn eq(&self, other: &TimeText) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for TimeText {}

impl PartialEq<str> for TimeText {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for TimeText {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for TimeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TimeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TimeText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TimeText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TimeText, D::Error> {
        String::deserialize(d).map(TimeText::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_texts_are_inline_and_long_ones_shared() {
        let t = TimeText::from("Jul 22 06:00:05");
        assert!(t.is_inline());
        assert_eq!(&*t, "Jul 22 06:00:05");
        let nanos = "2024-01-15T10:30:00.123456789+05:30";
        assert!(TimeText::from(nanos).is_inline());
        let long = "x".repeat(INLINE + 1);
        let l = TimeText::from(long.as_str());
        assert!(!l.is_inline());
        assert_eq!(&*l, long);
        assert_eq!(TimeText::from("").as_str(), "");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"Jul 22 06:00:05\"");
    }

    proptest! {
        /// Whatever its length and characters, a text reads back as it
        /// was given, and equal texts compare equal however they are kept.
        #[test]
        fn a_time_text_is_its_text(s in "\\PC{0,50}") {
            let t = TimeText::from(s.as_str());
            prop_assert_eq!(t.as_str(), s.as_str());
            prop_assert_eq!(t.as_bytes(), s.as_bytes());
            prop_assert!(t == *s.as_str());
            prop_assert_eq!(t.is_inline(), s.len() <= INLINE);
            prop_assert_eq!(t.clone(), TimeText::from(s.clone()));
            prop_assert_eq!(format!("{t:?}"), format!("{s:?}"));
            let back: TimeText = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            prop_assert_eq!(back.as_str(), s.as_str());
        }
    }
}
