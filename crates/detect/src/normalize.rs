//! Windows event data names as events really spell them.
//!
//! Some providers name their event data with spaces (Windows Defender's
//! `Threat Name`, `Process Name`, `Detection User`), while Sigma rules use
//! the names without spaces (`ThreatName`). [`add_spaceless_keys`] gives
//! such an event both spellings, so a rule finds the field whichever way
//! it is written; the event's own keys are kept as they are.

use serde_json::Value;

/// In a Windows event (`Event.EventData`, and `Event.UserData` with its
/// wrapper element), adds for every key holding a space the same key
/// without spaces, with the same value, unless the event already has
/// that key. Returns how many keys it added. Events without such keys are
/// left untouched and cost one look at each data key.
pub fn add_spaceless_keys(event: &mut Value) -> usize {
    let Some(ev) = event.get_mut("Event") else {
        return 0;
    };
    let mut added = 0;
    if let Some(data) = ev.get_mut("EventData") {
        added += despace(data);
    }
    if let Some(Value::Object(user)) = ev.get_mut("UserData") {
        for wrapper in user.values_mut() {
            added += despace(wrapper);
        }
    }
    if let Some(user) = ev.get_mut("UserData") {
        added += despace(user);
    }
    added
}

fn despace(v: &mut Value) -> usize {
    let Value::Object(o) = v else {
        return 0;
    };
    if !o.keys().any(|k| k.contains(' ')) {
        return 0;
    }
    let new: Vec<(String, Value)> = o
        .iter()
        .filter(|(k, _)| k.contains(' '))
        .map(|(k, v)| (k.replace(' ', ""), v.clone()))
        .filter(|(k, _)| !k.is_empty() && !o.contains_key(k))
        .collect();
    let n = new.len();
    for (k, v) in new {
        o.entry(k).or_insert(v);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::add_spaceless_keys;
    use serde_json::json;

    #[test]
    fn spaced_names_get_a_spaceless_twin_and_keep_their_own() {
        let mut ev = json!({"Event": {
            "EventData": {"Threat Name": "EICAR", "Process Name": "a.exe", "Path": "p"},
            "UserData": {"Wrap": {"Detection User": "bob"}}
        }});
        assert_eq!(add_spaceless_keys(&mut ev), 3);
        assert_eq!(ev["Event"]["EventData"]["ThreatName"], "EICAR");
        assert_eq!(ev["Event"]["EventData"]["Threat Name"], "EICAR");
        assert_eq!(ev["Event"]["EventData"]["ProcessName"], "a.exe");
        assert_eq!(ev["Event"]["UserData"]["Wrap"]["DetectionUser"], "bob");
    }

    #[test]
    fn an_existing_spaceless_key_is_not_overwritten() {
        let mut ev = json!({"Event": {"EventData": {"Threat Name": "a", "ThreatName": "b"}}});
        assert_eq!(add_spaceless_keys(&mut ev), 0);
        assert_eq!(ev["Event"]["EventData"]["ThreatName"], "b");
    }

    #[test]
    fn other_events_are_untouched() {
        let mut ev = json!({"message": "x", "a b": 1, "Event": 3});
        let before = ev.clone();
        assert_eq!(add_spaceless_keys(&mut ev), 0);
        assert_eq!(ev, before);
    }
}
