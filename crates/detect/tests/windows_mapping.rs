//! The `windows` mapping beyond the 20 regression cases: SigmaHQ-style
//! rules for other categories and services over events in the layout
//! evtx-to-JSON tools write (EventID with `Qualifiers`, unnamed `Data`,
//! `UserData`, Security-log process creation), and logsources that must
//! not match other event types.

use logsieve_detect::{Detector, JsonEvent, Mapping, Scratch};
use serde_json::{json, Value};

/// An event: `System` with channel, provider and EventID (a number or an
/// evtx `{"#attributes": {"Qualifiers": ..}, "#text": n}` node) and
/// `EventData`.
fn event(channel: &str, provider: &str, event_id: Value, data: Value) -> Value {
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": provider}},
            "EventID": event_id,
            "Level": 4,
            "TimeCreated": {"#attributes": {"SystemTime": "2025-10-26T23:20:06.319147Z"}},
            "Correlation": null,
            "Channel": channel,
            "Computer": "host.example",
            "Security": {"#attributes": {"UserID": "S-1-5-18"}}
        },
        "EventData": data
    }})
}

fn sysmon(id: u64, data: Value) -> Value {
    event(
        "Microsoft-Windows-Sysmon/Operational",
        "Microsoft-Windows-Sysmon",
        json!(id),
        data,
    )
}

fn fires(rule: &str, ev: &Value) -> bool {
    let d = Detector::from_yaml(rule, Mapping::builtin("windows")).unwrap();
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    assert_eq!(d.rules().len(), 1);
    d.evaluate(&JsonEvent(ev), 1, "t", &mut Scratch::default())
        .iter()
        .any(|h| h.alert.is_some())
}

fn rule(logsource: &str, detection: &str) -> String {
    format!("title: t\nid: t\nlevel: high\nlogsource:\n{logsource}\ndetection:\n{detection}")
}

#[test]
fn process_creation_from_sysmon_and_security_4688() {
    let r = rule(
        "  category: process_creation\n  product: windows",
        "  sel:\n    Image|endswith: '\\whoami.exe'\n    ParentImage|endswith: '\\cmd.exe'\n    CommandLine|contains: '/all'\n  condition: sel",
    );
    let s = sysmon(
        1,
        json!({"Image": "C:\\Windows\\System32\\whoami.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "whoami /all"}),
    );
    assert!(fires(&r, &s));
    let sec = event(
        "Security",
        "Microsoft-Windows-Security-Auditing",
        json!(4688),
        json!({"NewProcessName": "C:\\Windows\\System32\\whoami.exe", "ParentProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "whoami /all", "SubjectUserName": "bob"}),
    );
    assert!(fires(&r, &sec));
    // The same fields in a file_event are not a process creation.
    let file = sysmon(
        11,
        json!({"Image": "C:\\Windows\\System32\\whoami.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "whoami /all"}),
    );
    assert!(!fires(&r, &file));
}

#[test]
fn system_service_install_with_qualifiers() {
    let r = rule(
        "  product: windows\n  service: system",
        "  sel:\n    Provider_Name: 'Service Control Manager'\n    EventID: 7045\n    ImagePath|contains: 'powershell'\n  condition: sel",
    );
    let ev = event(
        "System",
        "Service Control Manager",
        json!({"#attributes": {"Qualifiers": 16384}, "#text": 7045}),
        json!({"ServiceName": "x", "ImagePath": "%COMSPEC% /c powershell -nop", "ServiceType": "user mode service"}),
    );
    assert!(fires(&r, &ev));
    let other = event(
        "Application",
        "Service Control Manager",
        json!(7045),
        json!({"ImagePath": "powershell"}),
    );
    assert!(!fires(&r, &other), "service: system is the System channel");
}

#[test]
fn powershell_classic_unnamed_data() {
    let r = rule(
        "  product: windows\n  category: ps_classic_start",
        "  sel:\n    Data|contains: 'HostVersion=2.'\n  condition: sel",
    );
    let ev = event(
        "Windows PowerShell",
        "PowerShell",
        json!({"#attributes": {"Qualifiers": 0}, "#text": 400}),
        json!({"Data": {"#text": ["Available", "None", "\tNewEngineState=Available\r\n\tHostVersion=2.0\r\n\tHostApplication=powershell -v 2"]}}),
    );
    assert!(fires(&r, &ev));
}

#[test]
fn powershell_script_block_and_module() {
    let r = rule(
        "  product: windows\n  category: ps_script\n  definition: 'Script Block Logging must be enabled'",
        "  sel:\n    ScriptBlockText|contains|all:\n      - 'Invoke-Mimikatz'\n      - 'DumpCreds'\n  condition: sel",
    );
    let ev = event(
        "Microsoft-Windows-PowerShell/Operational",
        "Microsoft-Windows-PowerShell",
        json!(4104),
        json!({"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": "Invoke-Mimikatz -DumpCreds", "ScriptBlockId": "x", "Path": ""}),
    );
    assert!(fires(&r, &ev));
    let r = rule(
        "  product: windows\n  category: ps_module",
        "  sel:\n    ContextInfo|contains: 'Get-ADComputer'\n  condition: sel",
    );
    let ev = event(
        "Microsoft-Windows-PowerShell/Operational",
        "Microsoft-Windows-PowerShell",
        json!(4103),
        json!({"ContextInfo": "Command Name = Get-ADComputer", "Payload": ""}),
    );
    assert!(fires(&r, &ev));
}

#[test]
fn security_log_cleared_in_user_data() {
    let r = rule(
        "  product: windows\n  service: security",
        "  sel:\n    EventID: 1102\n    Provider_Name: Microsoft-Windows-Eventlog\n    SubjectUserName|startswith: 'adm'\n  condition: sel",
    );
    let mut ev = event("Security", "Microsoft-Windows-Eventlog", json!(1102), Value::Null);
    ev["Event"].as_object_mut().unwrap().remove("EventData");
    ev["Event"]["UserData"] = json!({"LogFileCleared": {"#attributes": {"xmlns": "x"}, "SubjectUserName": "admin", "SubjectDomainName": "D"}});
    assert!(fires(&r, &ev));
}

#[test]
fn security_logon_fields_and_numbers() {
    let r = rule(
        "  product: windows\n  service: security",
        "  sel:\n    EventID: 4624\n    LogonType: 10\n    IpAddress|cidr: '10.0.0.0/8'\n  condition: sel",
    );
    let ev = event(
        "Security",
        "Microsoft-Windows-Security-Auditing",
        json!(4624),
        json!({"LogonType": 10, "IpAddress": "10.1.2.3", "TargetUserName": "bob"}),
    );
    assert!(fires(&r, &ev));
    let ev = event(
        "Security",
        "Microsoft-Windows-Security-Auditing",
        json!(4624),
        json!({"LogonType": "10", "IpAddress": "192.168.1.1"}),
    );
    assert!(!fires(&r, &ev));
}

#[test]
fn sysmon_categories() {
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "registry_set",
            "TargetObject|endswith: '\\CurrentVersion\\Run\\evil'\n    Details|contains: 'AppData'",
            sysmon(
                13,
                json!({"EventType": "SetValue", "TargetObject": "HKU\\S-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\evil", "Details": "C:\\Users\\x\\AppData\\e.exe"}),
            ),
        ),
        (
            "registry_event",
            "TargetObject|contains: '\\Services\\evil'",
            sysmon(
                12,
                json!({"EventType": "CreateKey", "TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\evil"}),
            ),
        ),
        (
            "registry_add",
            "EventType: CreateKey\n    TargetObject|contains: 'evil'",
            sysmon(
                12,
                json!({"EventType": "CreateKey", "TargetObject": "HKLM\\evil"}),
            ),
        ),
        (
            "image_load",
            "ImageLoaded|endswith: '\\dbghelp.dll'\n    Image|endswith: '\\rundll32.exe'",
            sysmon(
                7,
                json!({"Image": "C:\\Windows\\System32\\rundll32.exe", "ImageLoaded": "C:\\Windows\\System32\\dbghelp.dll", "Signed": "true"}),
            ),
        ),
        (
            "network_connection",
            "Initiated: 'true'\n    DestinationPort: 4444",
            sysmon(
                3,
                json!({"Image": "C:\\x.exe", "Initiated": true, "DestinationIp": "1.2.3.4", "DestinationPort": 4444}),
            ),
        ),
        (
            "dns_query",
            "QueryName|endswith: '.ngrok.io'",
            sysmon(22, json!({"QueryName": "abc.ngrok.io", "Image": "C:\\x.exe"})),
        ),
        (
            "process_access",
            "TargetImage|endswith: '\\lsass.exe'\n    GrantedAccess: '0x1010'",
            sysmon(
                10,
                json!({"SourceImage": "C:\\x.exe", "TargetImage": "C:\\Windows\\System32\\lsass.exe", "GrantedAccess": "0x1010"}),
            ),
        ),
        (
            "pipe_created",
            "PipeName|startswith: '\\mojo.5688.8052'",
            sysmon(
                17,
                json!({"PipeName": "\\mojo.5688.8052.183894939787088877", "Image": "C:\\x.exe"}),
            ),
        ),
        (
            "create_remote_thread",
            "TargetImage|endswith: '\\explorer.exe'\n    StartFunction: LoadLibraryA",
            sysmon(
                8,
                json!({"SourceImage": "C:\\x.exe", "TargetImage": "C:\\Windows\\explorer.exe", "StartFunction": "LoadLibraryA"}),
            ),
        ),
        (
            "driver_load",
            "ImageLoaded|contains: '\\Temp\\'",
            sysmon(
                6,
                json!({"ImageLoaded": "C:\\Windows\\Temp\\x.sys", "Signed": "false"}),
            ),
        ),
        (
            "create_stream_hash",
            "TargetFilename|endswith: ':Zone.Identifier'\n    Contents|contains: 'ZoneId=3'",
            sysmon(
                15,
                json!({"TargetFilename": "C:\\d\\x.exe:Zone.Identifier", "Contents": "[ZoneTransfer]  ZoneId=3"}),
            ),
        ),
        (
            "file_delete",
            "TargetFilename|endswith: '.evtx'",
            sysmon(
                23,
                json!({"TargetFilename": "C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"}),
            ),
        ),
        (
            "wmi_event",
            "Destination|contains: 'powershell'",
            sysmon(
                20,
                json!({"EventType": "WmiConsumerEvent", "Destination": "powershell.exe -enc AAAA"}),
            ),
        ),
    ];
    for (cat, sel, ev) in cases {
        let r = rule(
            &format!("  category: {cat}\n  product: windows"),
            &format!("  sel:\n    {sel}\n  condition: sel"),
        );
        assert!(fires(&r, &ev), "{cat}");
        // The same event with another Sysmon EventID is another category.
        let mut other = ev.clone();
        other["Event"]["System"]["EventID"] = json!(99);
        assert!(!fires(&r, &other), "{cat} on EventID 99");
    }
}

#[test]
fn services_by_channel() {
    let cases = [
        (
            "taskscheduler",
            "Microsoft-Windows-TaskScheduler/Operational",
            106,
            json!({"TaskName": "\\evil"}),
            "TaskName: '\\evil'",
        ),
        (
            "windefend",
            "Microsoft-Windows-Windows Defender/Operational",
            1116,
            json!({"Threat Name": "HackTool:Win32/Mimikatz"}),
            "EventID: 1116",
        ),
        (
            "bits-client",
            "Microsoft-Windows-Bits-Client/Operational",
            16403,
            json!({"RemoteName": "http://x/e.exe"}),
            "RemoteName|contains: 'http'",
        ),
        (
            "codeintegrity-operational",
            "Microsoft-Windows-CodeIntegrity/Operational",
            3033,
            json!({"FileNameBuffer": "x.dll"}),
            "EventID: 3033",
        ),
        (
            "wmi",
            "Microsoft-Windows-WMI-Activity/Operational",
            5861,
            json!({"PossibleCause": "CommandLineEventConsumer"}),
            "PossibleCause|contains: 'CommandLine'",
        ),
        (
            "application",
            "Application",
            1000,
            json!({"Data": ["a", "b"]}),
            "Data: 'b'",
        ),
    ];
    for (service, channel, id, data, sel) in cases {
        let r = rule(
            &format!("  product: windows\n  service: {service}"),
            &format!("  sel:\n    {sel}\n  condition: sel"),
        );
        let ev = event(channel, "p", json!(id), data);
        assert!(fires(&r, &ev), "{service}");
        let elsewhere = event("Some/Other", "p", json!(id), ev["Event"]["EventData"].clone());
        assert!(!fires(&r, &elsewhere), "{service} on another channel");
    }
}

#[test]
fn unknown_logsource_is_rejected_with_a_reason() {
    let r = rule(
        "  product: windows\n  category: no_such_category",
        "  sel:\n    Image: x\n  condition: sel",
    );
    let d = Detector::from_yaml(&r, Mapping::builtin("windows")).unwrap();
    assert_eq!(d.rules().len(), 0);
    assert!(
        d.rejections()[0]
            .reason
            .contains("not covered by mapping windows"),
        "{:?}",
        d.rejections()
    );
}

#[test]
fn antivirus_category_from_defender() {
    let r = rule(
        "  category: antivirus",
        "  sel:\n    Signature|startswith: 'HackTool'\n  condition: sel",
    );
    let ev = event(
        "Microsoft-Windows-Windows Defender/Operational",
        "Microsoft-Windows-Windows Defender",
        json!(1116),
        json!({"Threat Name": "HackTool:Win32/Mimikatz", "Path": "file:_C:\\x.exe"}),
    );
    assert!(fires(&r, &ev));
}
