//! Field mappings: Sigma field names → event paths, Sigma logsources →
//! conditions on events. Built-ins: `windows`, `linux`, `webserver`.

use crate::DetectError;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct RawMapping {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    default_prefixes: Vec<String>,
    #[serde(default)]
    timestamp: Vec<String>,
    #[serde(default)]
    known_fields: Vec<String>,
    #[serde(default)]
    logsources: Vec<RawLogsource>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawLogsource {
    #[serde(rename = "match")]
    matcher: BTreeMap<String, String>,
    #[serde(default)]
    any_of: Vec<BTreeMap<String, serde_yaml::Value>>,
}

/// One alternative of a logsource condition: every path must hold one of
/// its values (compared case-insensitively as text).
pub type Alternative = Vec<(String, Vec<String>)>;

/// A rule's logsource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logsource {
    /// `product`.
    pub product: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// `service`.
    pub service: Option<String>,
}

impl Logsource {
    fn get(&self, k: &str) -> Option<&str> {
        match k {
            "product" => self.product.as_deref(),
            "category" => self.category.as_deref(),
            "service" => self.service.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Logsource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = ["product", "category", "service"]
            .iter()
            .filter_map(|k| self.get(k).map(|v| format!("{k}: {v}")))
            .collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// A compiled mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Its name.
    pub name: String,
    fields: FxHashMap<String, Vec<String>>,
    prefixes: Vec<String>,
    timestamp: Vec<String>,
    /// When not empty, the events' only fields (besides those in
    /// `fields`): a rule using another field is rejected, not left to
    /// silently never match.
    known_fields: Vec<String>,
    logsources: Vec<(BTreeMap<String, String>, Vec<Alternative>)>,
}

const WINDOWS: &str = include_str!("../mappings/windows.yml");
const LINUX: &str = include_str!("../mappings/linux.yml");
const WEBSERVER: &str = include_str!("../mappings/webserver.yml");

fn scalar_text(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.to_lowercase()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Mapping {
    /// The names of the built-in mappings.
    pub const BUILTIN: [&'static str; 3] = ["windows", "linux", "webserver"];

    /// A built-in mapping by name.
    pub fn builtin(name: &str) -> Option<Mapping> {
        let text = match name {
            "windows" => WINDOWS,
            "linux" => LINUX,
            "webserver" => WEBSERVER,
            _ => return None,
        };
        Some(Mapping::from_yaml(text, name).expect("built-in mappings are valid"))
    }

    /// A mapping from a YAML file.
    pub fn from_file(path: &Path) -> Result<Mapping, DetectError> {
        let text = std::fs::read_to_string(path).map_err(|e| DetectError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Mapping::from_yaml(&text, &path.display().to_string())
    }

    /// A mapping from YAML text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Mapping, DetectError> {
        let raw: RawMapping = serde_yaml::from_str(text).map_err(|e| DetectError::Mapping {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut logsources = Vec::new();
        for ls in raw.logsources {
            let matcher = ls
                .matcher
                .into_iter()
                .map(|(k, v)| (k, v.to_lowercase()))
                .collect();
            let mut alts = Vec::new();
            for alt in ls.any_of {
                let mut conds = Vec::new();
                for (path, v) in alt {
                    let values: Vec<String> = match &v {
                        serde_yaml::Value::Sequence(s) => s.iter().filter_map(scalar_text).collect(),
                        other => scalar_text(other).into_iter().collect(),
                    };
                    if values.is_empty() {
                        return Err(DetectError::Mapping {
                            origin: origin.to_string(),
                            message: format!("logsource condition on {path} has no usable value"),
                        });
                    }
                    conds.push((path, values));
                }
                alts.push(conds);
            }
            logsources.push((matcher, alts));
        }
        Ok(Mapping {
            name: raw.name,
            fields: raw.fields.into_iter().map(|(k, v)| (k, v.into_vec())).collect(),
            prefixes: raw.default_prefixes,
            timestamp: raw.timestamp,
            known_fields: raw.known_fields,
            logsources,
        })
    }

    /// Candidate event paths for a Sigma field name, in order.
    pub fn field_paths(&self, field: &str) -> Vec<String> {
        if let Some(v) = self.fields.get(field) {
            return v.clone();
        }
        if self.prefixes.is_empty() {
            return vec![field.to_string()];
        }
        self.prefixes.iter().map(|p| format!("{p}{field}")).collect()
    }

    /// Whether events can hold `field` (always, unless the mapping lists
    /// its `known_fields`).
    pub fn provides(&self, field: &str) -> bool {
        self.known_fields.is_empty()
            || self.fields.contains_key(field)
            || self.known_fields.iter().any(|f| f == field)
    }

    /// Where the event time is.
    pub fn timestamp_paths(&self) -> &[String] {
        &self.timestamp
    }

    /// The event conditions for a rule's logsource (an empty list: none), or
    /// why the mapping cannot express it.
    pub fn logsource(&self, ls: &Logsource) -> Result<Vec<Alternative>, String> {
        for (m, alts) in &self.logsources {
            let all_equal = m
                .iter()
                .all(|(k, v)| ls.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v)));
            let covers = ["product", "category", "service"]
                .iter()
                .all(|k| ls.get(k).is_none() || m.contains_key(*k));
            if all_equal && covers {
                return Ok(alts.clone());
            }
        }
        Err(format!("logsource {ls} is not covered by mapping {}", self.name))
    }
}
