//! Template ids: derived from the template text, so the same text has the
//! same id across runs and machines.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A template's id: the xxh3-64 hash of its text, printed as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TemplateId(pub u64);

impl TemplateId {
    /// The id of a template text.
    pub fn of(text: &str) -> TemplateId {
        TemplateId(xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }

    /// The 16 lowercase hex digits, without allocating.
    pub fn hex(&self) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = HEX[((self.0 >> (60 - 4 * i)) & 15) as usize];
        }
        out
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl From<TemplateId> for String {
    fn from(t: TemplateId) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for TemplateId {
    type Error = std::num::ParseIntError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        u64::from_str_radix(&s, 16).map(TemplateId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_printable() {
        let a = TemplateId::of("Deleting block <*> file <*>");
        assert_eq!(a, TemplateId::of("Deleting block <*> file <*>"));
        assert_ne!(a, TemplateId::of("Deleting block <*>"));
        let s = a.to_string();
        assert_eq!(s.len(), 16);
        assert_eq!(s.as_bytes(), a.hex());
        assert_eq!(TemplateId::try_from(s).unwrap(), a);
        // Golden value: changing the hash would change every saved id.
        assert_eq!(TemplateId::of("").to_string(), "2d06800538d394c2");
    }
}
