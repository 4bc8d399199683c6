//! pySigma-style processing pipelines (YAML), the subset the engine can
//! honour: field name mapping, prefixes and suffixes, added conditions,
//! string replacement in values, placeholder values, rule failures and
//! logsource changes, each optionally limited to rules of a logsource and
//! to some field names. Anything else (another transformation or
//! condition type, postprocessing, finalizers) makes loading the pipeline
//! fail with the reason: a pipeline is never applied in part.
//!
//! Pipelines run when a rule is compiled, in `priority` order (lower
//! first, then in the order given), each transformation in file order;
//! a rule condition is checked against the logsource as the transformations
//! before it left it.

use crate::mapping::{Logsource, Mapping};
use crate::rule::{text as scalar, Placeholders};
use crate::DetectError;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// A loaded processing pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `name`.
    pub name: String,
    /// `priority` (lower runs first; default 0).
    pub priority: i64,
    items: Vec<Item>,
    vars: Placeholders,
}

#[derive(Debug, Clone)]
struct Item {
    transform: Transform,
    /// Logsource conditions, all of which must hold (`rule_conditions`).
    rule_conds: Vec<Logsource>,
    field_conds: FieldConds,
}

/// `field_name_conditions`: which field names a field transformation
/// touches (all, by default).
#[derive(Debug, Clone, Default)]
struct FieldConds {
    include: Option<Vec<String>>,
    exclude: Vec<String>,
}

impl FieldConds {
    fn accepts(&self, field: &str) -> bool {
        self.include.as_ref().is_none_or(|i| i.iter().any(|f| f == field))
            && !self.exclude.iter().any(|f| f == field)
    }
}

#[derive(Debug, Clone)]
enum Transform {
    FieldMap(BTreeMap<String, Vec<String>>),
    Prefix(String),
    Suffix(String),
    AddCondition(Vec<(String, Value)>),
    ReplaceString { re: regex::Regex, replacement: String },
    ValuePlaceholders,
    RuleFailure(String),
    ChangeLogsource(Logsource),
}

/// One field renaming step of a rule's plan.
#[derive(Debug, Clone)]
enum Rename {
    Map(BTreeMap<String, Vec<String>>, FieldConds),
    Prefix(String, FieldConds),
    Suffix(String, FieldConds),
}

/// What the pipelines do to one rule: field names through `renames`, then
/// the mapping; the rest is applied to the rule's YAML before compiling.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    renames: Vec<Rename>,
}

/// Sigma field names → event paths for one rule: the pipelines' renames,
/// then the mapping (when there is one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub mapping: Option<&'a Mapping>,
    pub plan: &'a Plan,
}

impl Fields<'_> {
    /// The names `field` becomes after the pipelines (alternatives, in
    /// order).
    fn renamed(&self, field: &str) -> Vec<String> {
        let mut names = vec![field.to_string()];
        for step in &self.plan.renames {
            names = names
                .into_iter()
                .flat_map(|n| match step {
                    Rename::Map(m, c) if c.accepts(&n) => m.get(&n).cloned().unwrap_or_else(|| vec![n]),
                    Rename::Prefix(p, c) if c.accepts(&n) => vec![format!("{p}{n}")],
                    Rename::Suffix(s, c) if c.accepts(&n) => vec![format!("{n}{s}")],
                    _ => vec![n],
                })
                .collect();
        }
        names
    }

    /// Candidate event paths for `field`, in order.
    pub fn paths(&self, field: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.renamed(field) {
            let ps = self
                .mapping
                .map_or_else(|| vec![n.clone()], |m| m.field_paths(&n));
            for p in ps {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Why events cannot hold `field`, if the mapping says so.
    pub fn missing(&self, field: &str) -> Option<String> {
        let m = self.mapping?;
        let names = self.renamed(field);
        (!names.iter().any(|n| m.provides(n)))
            .then(|| format!("field `{field}` is not provided by mapping {}", m.name))
    }
}

fn bad(origin: &str, message: String) -> DetectError {
    DetectError::Mapping {
        origin: format!("pipeline {origin}"),
        message,
    }
}

fn str_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(s) => s.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn logsource_cond(m: &serde_yaml::Mapping) -> Result<Logsource, String> {
    let mut ls = Logsource::default();
    for (k, v) in m {
        let k = scalar(k).unwrap_or_default();
        let v = || scalar(v).ok_or_else(|| format!("logsource `{k}` is not text"));
        match k.as_str() {
            "type" => {}
            "product" => ls.product = Some(v()?),
            "category" => ls.category = Some(v()?),
            "service" => ls.service = Some(v()?),
            other => return Err(format!("unsupported logsource key `{other}`")),
        }
    }
    Ok(ls)
}

fn rule_conditions(v: &Value) -> Result<Vec<Logsource>, String> {
    let Value::Sequence(items) = v else {
        return Err("`rule_conditions` must be a list".into());
    };
    items
        .iter()
        .map(|c| {
            let Value::Mapping(m) = c else {
                return Err("a rule condition must be a map".into());
            };
            match m.get("type").and_then(scalar).as_deref() {
                Some("logsource") => logsource_cond(m),
                Some(other) => Err(format!(
                    "rule condition type `{other}` is not supported (only `logsource`)"
                )),
                None => Err("a rule condition has no `type`".into()),
            }
        })
        .collect()
}

fn field_conditions(v: &Value, negate: bool) -> Result<FieldConds, String> {
    let Value::Sequence(items) = v else {
        return Err("`field_name_conditions` must be a list".into());
    };
    let mut fc = FieldConds::default();
    for c in items {
        let Value::Mapping(m) = c else {
            return Err("a field name condition must be a map".into());
        };
        for (k, _) in m {
            let k = scalar(k).unwrap_or_default();
            if !["type", "fields"].contains(&k.as_str()) {
                return Err(format!(
                    "field name condition key `{k}` is not supported (only plain `fields`)"
                ));
            }
        }
        let fields = m
            .get("fields")
            .and_then(str_list)
            .ok_or("a field name condition needs `fields`")?;
        let include = match m.get("type").and_then(scalar).as_deref() {
            Some("include_fields") => !negate,
            Some("exclude_fields") => negate,
            Some(other) => {
                return Err(format!(
                    "field name condition type `{other}` is not supported (include_fields, exclude_fields)"
                ))
            }
            None => return Err("a field name condition has no `type`".into()),
        };
        if include {
            if fc.include.is_some() {
                return Err("several include conditions on field names are not supported".into());
            }
            fc.include = Some(fields);
        } else {
            fc.exclude.extend(fields);
        }
    }
    Ok(fc)
}

fn item(v: &Value) -> Result<Item, String> {
    let Value::Mapping(m) = v else {
        return Err("a transformation must be a map".into());
    };
    let ty = m
        .get("type")
        .and_then(scalar)
        .ok_or("a transformation has no `type`")?;
    let known: &[&str] = match ty.as_str() {
        "field_name_mapping" => &["mapping"],
        "field_name_prefix" => &["prefix"],
        "field_name_suffix" => &["suffix"],
        "add_condition" => &["conditions"],
        "replace_string" => &["regex", "replacement"],
        "value_placeholders" => &["include", "exclude"],
        "rule_failure" => &["message"],
        "change_logsource" => &["product", "category", "service"],
        other => return Err(format!("transformation type `{other}` is not supported")),
    };
    let mut negate = false;
    for (k, v) in m {
        let k = scalar(k).unwrap_or_default();
        match k.as_str() {
            "type" | "id" | "rule_conditions" | "field_name_conditions" => {}
            "rule_cond_op" | "field_name_cond_op" => {
                if scalar(v).as_deref() != Some("and") {
                    return Err(format!("`{k}` other than `and` is not supported"));
                }
            }
            "field_name_cond_not" => negate = v.as_bool().unwrap_or(false),
            k if known.contains(&k) => {}
            other => return Err(format!("`{other}` is not supported in a `{ty}` transformation")),
        }
    }
    if ["include", "exclude"].iter().any(|k| m.contains_key(*k)) {
        return Err("value_placeholders with include/exclude is not supported".into());
    }
    let need = |k: &str| m.get(k).ok_or_else(|| format!("`{ty}` needs `{k}`"));
    let transform = match ty.as_str() {
        "field_name_mapping" => {
            let Value::Mapping(map) = need("mapping")? else {
                return Err("`mapping` must map field names to a name or a list".into());
            };
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let (Some(k), Some(v)) = (scalar(k), str_list(v)) else {
                    return Err("`mapping` must map field names to a name or a list".into());
                };
                if v.is_empty() {
                    return Err(format!("`mapping` gives `{k}` no name"));
                }
                out.insert(k, v);
            }
            Transform::FieldMap(out)
        }
        "field_name_prefix" => Transform::Prefix(scalar(need("prefix")?).ok_or("`prefix` is not text")?),
        "field_name_suffix" => Transform::Suffix(scalar(need("suffix")?).ok_or("`suffix` is not text")?),
        "add_condition" => {
            let Value::Mapping(c) = need("conditions")? else {
                return Err("`conditions` must map fields to values".into());
            };
            let mut out = Vec::new();
            for (k, v) in c {
                let k = scalar(k).ok_or("a condition field is not text")?;
                out.push((k, v.clone()));
            }
            Transform::AddCondition(out)
        }
        "replace_string" => {
            let re = scalar(need("regex")?).ok_or("`regex` is not text")?;
            let re = regex::Regex::new(&re).map_err(|e| format!("regex `{re}` is not supported: {e}"))?;
            let replacement = scalar(need("replacement")?).ok_or("`replacement` is not text")?;
            Transform::ReplaceString { re, replacement }
        }
        "value_placeholders" => Transform::ValuePlaceholders,
        "rule_failure" => Transform::RuleFailure(scalar(need("message")?).ok_or("`message` is not text")?),
        "change_logsource" => {
            let get = |k: &str| {
                m.get(k)
                    .map(|v| scalar(v).ok_or(format!("`{k}` is not text")))
                    .transpose()
            };
            Transform::ChangeLogsource(Logsource {
                product: get("product")?,
                category: get("category")?,
                service: get("service")?,
            })
        }
        _ => unreachable!("checked above"),
    };
    let rule_conds = m
        .get("rule_conditions")
        .map(rule_conditions)
        .transpose()?
        .unwrap_or_default();
    let field_conds = match m.get("field_name_conditions") {
        Some(v) => field_conditions(v, negate)?,
        None if negate => return Err("`field_name_cond_not` without `field_name_conditions`".into()),
        None => FieldConds::default(),
    };
    if !matches!(
        transform,
        Transform::FieldMap(_)
            | Transform::Prefix(_)
            | Transform::Suffix(_)
            | Transform::ReplaceString { .. }
    ) && m.contains_key("field_name_conditions")
    {
        return Err(format!("`field_name_conditions` on `{ty}` is not supported"));
    }
    Ok(Item {
        transform,
        rule_conds,
        field_conds,
    })
}

impl Pipeline {
    /// A pipeline from YAML text; `origin` names it in errors. Anything the
    /// engine cannot honour is an error saying what.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Pipeline, DetectError> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| bad(origin, e.to_string()))?;
        let Value::Mapping(m) = doc else {
            return Err(bad(origin, "a pipeline must be a map".into()));
        };
        let mut name = origin.to_string();
        let mut priority = 0;
        let mut items = Vec::new();
        let mut vars = Placeholders::new();
        for (k, v) in &m {
            let k = scalar(k).unwrap_or_default();
            match k.as_str() {
                "name" => name = scalar(v).ok_or_else(|| bad(origin, "`name` is not text".into()))?,
                "priority" => {
                    priority = v
                        .as_i64()
                        .ok_or_else(|| bad(origin, "`priority` is not an integer".into()))?
                }
                "allowed_backends" => {}
                "vars" => {
                    let Value::Mapping(vm) = v else {
                        return Err(bad(origin, "`vars` must be a map".into()));
                    };
                    for (vk, vv) in vm {
                        let (Some(vk), Some(vv)) = (scalar(vk), str_list(vv)) else {
                            return Err(bad(origin, "`vars` must map names to values".into()));
                        };
                        vars.insert(vk.trim_matches('%').to_string(), vv);
                    }
                }
                "transformations" => {
                    let Value::Sequence(ts) = v else {
                        return Err(bad(origin, "`transformations` must be a list".into()));
                    };
                    for (i, t) in ts.iter().enumerate() {
                        let id = t
                            .get("id")
                            .and_then(scalar)
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default();
                        items.push(
                            item(t).map_err(|e| bad(origin, format!("transformation {}{id}: {e}", i + 1)))?,
                        );
                    }
                }
                "postprocessing" | "finalizers" => {
                    // Empty lists are harmless; anything else shapes query
                    // text, which this engine does not produce.
                    if !matches!(v, Value::Sequence(s) if s.is_empty()) && !v.is_null() {
                        return Err(bad(
                            origin,
                            format!("`{k}` is for query backends and is not supported"),
                        ));
                    }
                }
                other => return Err(bad(origin, format!("unsupported key `{other}`"))),
            }
        }
        Ok(Pipeline {
            name,
            priority,
            items,
            vars,
        })
    }

    /// A pipeline from a YAML file.
    pub fn from_file(path: &std::path::Path) -> Result<Pipeline, DetectError> {
        let text = std::fs::read_to_string(path).map_err(|e| DetectError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Pipeline::from_yaml(&text, &path.display().to_string())
    }
}

fn holds(c: &Logsource, ls: &Logsource) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| {
        want.as_ref()
            .is_none_or(|w| have.as_ref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
    };
    eq(&c.product, &ls.product) && eq(&c.category, &ls.category) && eq(&c.service, &ls.service)
}

/// Applies `pipelines` to one rule document: returns the rewritten
/// document (logsource changed, conditions added, strings replaced), the
/// field renaming plan, and the placeholder values to use; or the
/// `rule_failure` message.
pub(crate) fn apply(
    pipelines: &[Pipeline],
    doc: &Value,
    placeholders: &Placeholders,
) -> Result<(Value, Plan, Placeholders), String> {
    let mut order: Vec<&Pipeline> = pipelines.iter().collect();
    order.sort_by_key(|p| p.priority);
    let mut ls = crate::rule::logsource_of(doc);
    let mut plan = Plan::default();
    let mut added: Vec<(String, Value)> = Vec::new();
    let mut replaces: Vec<(&regex::Regex, &str, &FieldConds)> = Vec::new();
    let mut ph = placeholders.clone();
    for p in order {
        for it in &p.items {
            if !it.rule_conds.iter().all(|c| holds(c, &ls)) {
                continue;
            }
            match &it.transform {
                Transform::RuleFailure(m) => return Err(format!("pipeline {}: {m}", p.name)),
                Transform::ChangeLogsource(to) => {
                    ls = Logsource {
                        product: to.product.clone().or(ls.product),
                        category: to.category.clone().or(ls.category),
                        service: to.service.clone().or(ls.service),
                    }
                }
                Transform::FieldMap(m) => plan.renames.push(Rename::Map(m.clone(), it.field_conds.clone())),
                Transform::Prefix(s) => plan
                    .renames
                    .push(Rename::Prefix(s.clone(), it.field_conds.clone())),
                Transform::Suffix(s) => plan
                    .renames
                    .push(Rename::Suffix(s.clone(), it.field_conds.clone())),
                Transform::AddCondition(c) => added.extend(c.iter().cloned()),
                Transform::ReplaceString { re, replacement } => {
                    replaces.push((re, replacement, &it.field_conds))
                }
                Transform::ValuePlaceholders => {
                    for (k, v) in &p.vars {
                        ph.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
    }
    if plan.renames.is_empty()
        && added.is_empty()
        && replaces.is_empty()
        && ls == crate::rule::logsource_of(doc)
    {
        return Ok((doc.clone(), plan, ph));
    }
    let mut doc = doc.clone();
    if let Value::Mapping(m) = &mut doc {
        let mut lsm = serde_yaml::Mapping::new();
        for (k, v) in [
            ("product", &ls.product),
            ("category", &ls.category),
            ("service", &ls.service),
        ] {
            if let Some(v) = v {
                lsm.insert(Value::from(k), Value::from(v.as_str()));
            }
        }
        m.insert(Value::from("logsource"), Value::Mapping(lsm));
        if let Some(Value::Mapping(det)) = m.get_mut("detection") {
            if !replaces.is_empty() {
                for (k, v) in det.iter_mut() {
                    if k.as_str() != Some("condition") {
                        replace_in(v, None, &replaces);
                    }
                }
            }
            if !added.is_empty() {
                let mut id = "_pipeline_condition".to_string();
                while det.contains_key(id.as_str()) {
                    id.push('_');
                }
                let sel: serde_yaml::Mapping = added.into_iter().map(|(k, v)| (Value::from(k), v)).collect();
                det.insert(Value::from(id.as_str()), Value::Mapping(sel));
                let wrap = |c: &str| Value::from(format!("({c}) and {id}"));
                let cond = match det.get("condition") {
                    Some(Value::String(c)) => wrap(c),
                    Some(Value::Sequence(cs)) => Value::Sequence(
                        cs.iter()
                            .map(|c| c.as_str().map_or_else(|| c.clone(), wrap))
                            .collect(),
                    ),
                    _ => return Err("missing or invalid `condition`".into()),
                };
                det.insert(Value::from("condition"), cond);
            }
        }
    }
    Ok((doc, plan, ph))
}

/// `replace_string` in every string value under `v` (a selection, a list
/// of them, a value list); `field` is the field the values belong to.
fn replace_in(v: &mut Value, field: Option<&str>, replaces: &[(&regex::Regex, &str, &FieldConds)]) {
    match v {
        Value::String(s) => {
            for (re, rep, conds) in replaces {
                if field.is_none_or(|f| conds.accepts(f)) {
                    *s = re.replace_all(s, *rep).into_owned();
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(|i| replace_in(i, field, replaces)),
        Value::Mapping(m) => {
            for (k, x) in m.iter_mut() {
                let name = k
                    .as_str()
                    .map(|k| k.split('|').next().unwrap_or_default().to_string());
                replace_in(x, name.as_deref(), replaces);
            }
        }
        _ => {}
    }
}
