//! The web page of `logsieve serve` (issue #9): the page and its assets are
//! served from the binary with their types, a strict CSP and ETags; the
//! bearer token guards the API but not the page; and the page itself, driven
//! in headless Debian chromium by `scripts/web/e2e.mjs` (playwright-core),
//! shows the sources, counts, new-template badge, top values and a Sigma
//! alert, and reopens deep links. Screenshots and the 5,000-template load
//! time go to `target/web-e2e/`.

mod serve_common;

use serve_common::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// (status, headers we check, body) of a GET, with optional extra headers.
fn fetch(s: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut r = Server::agent().get(&s.url(path));
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let resp = match r.call() {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let hs = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.to_ascii_lowercase(), v.to_string())))
        .collect();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, hs, body)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A file holding `token`, for --auth-token-file (kept while the dir lives).
fn token_file(token: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    (dir, path)
}

#[test]
fn the_page_and_its_assets_are_served_with_types_csp_and_etags() {
    let s = Server::start(&[]);
    let (code, hs, body) = fetch(&s, "/", &[]);
    assert_eq!(code, 200);
    assert_eq!(header(&hs, "content-type"), Some("text/html; charset=utf-8"));
    let csp = header(&hs, "content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&hs, "cache-control"), Some("no-cache"));
    assert_eq!(header(&hs, "x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(body).unwrap();
    assert!(!html.contains("<script>"), "no inline script under the CSP");
    assert!(!html.contains("style=\""), "no inline style under the CSP");
    // Every asset the page names is served with its type; the modules' own
    // imports too.
    let expected = [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/chart.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ];
    for (path, ctype) in expected {
        let (code, hs, body) = fetch(&s, path, &[]);
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&hs, "content-type"), Some(ctype), "{path}");
        assert!(!body.is_empty(), "{path}");
        assert!(header(&hs, "content-security-policy").is_some(), "{path}");
        // Revalidation: the same ETag answers 304 without a body.
        let etag = header(&hs, "etag").expect("an ETag").to_string();
        let (code, hs2, body) = fetch(&s, path, &[("If-None-Match", &etag)]);
        assert_eq!(code, 304, "{path} with If-None-Match {etag}");
        assert!(body.is_empty());
        assert_eq!(header(&hs2, "etag"), Some(etag.as_str()));
        let (code, _, _) = fetch(&s, path, &[("If-None-Match", "\"0000000000000000\"")]);
        assert_eq!(code, 200, "{path} with a stale ETag");
    }
    let app = String::from_utf8(fetch(&s, "/ui/app.js", &[]).2).unwrap();
    let mut named: Vec<String> = html
        .split("/ui/")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    named.extend(
        app.split("from './")
            .skip(1)
            .map(|r| r.split('\'').next().unwrap().to_string()),
    );
    assert!(named.len() >= 4, "{named:?}");
    for n in named {
        let (code, _, _) = fetch(&s, &format!("/ui/{n}"), &[]);
        assert_eq!(code, 200, "the page names /ui/{n}");
    }
    let (code, hs, body) = fetch(&s, "/ui/nope.js", &[]);
    assert_eq!(code, 404);
    assert!(
        String::from_utf8_lossy(&body).contains("app.js"),
        "the 404 names the assets"
    );
    assert!(header(&hs, "content-type").unwrap().starts_with("text/plain"));
}

#[test]
fn the_token_guards_the_api_but_not_the_page() {
    let tok = token_file("s3cret");
    let mut s = Server::start(&["--auth-token-file", tok.1.to_str().unwrap()]);
    for public in ["/", "/ui/app.js", "/ui/style.css", "/ui/favicon.svg"] {
        assert_eq!(fetch(&s, public, &[]).0, 200, "{public} without a token");
    }
    // Only those: the API, metrics, other paths, and /ui/ itself need it.
    for guarded in [
        "/v1/sources",
        "/v1/templates",
        "/v1/alerts",
        "/v1/openapi.json",
        "/metrics",
        "/ui/",
        "/uix/app.js",
        "/index.html",
        "/ui/app.js/../../v1/sources",
    ] {
        let (code, hs, _) = fetch(&s, guarded, &[]);
        assert_eq!(code, 401, "{guarded} without a token");
        assert_eq!(header(&hs, "www-authenticate"), Some("Bearer"), "{guarded}");
    }
    assert_eq!(s.ingest("a", &lines("a", 3)), 401);
    s.token = Some("s3cret".into());
    assert_eq!(s.ingest("a", &lines("a", 3)), 200);
    let (code, v) = s.get("/v1/sources");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sources"][0]["lines"], 3);
    // The OpenAPI document says which paths need no token.
    let (code, o) = s.get("/v1/openapi.json");
    assert_eq!(code, 200);
    for p in ["/", "/ui/{asset}", "/healthz"] {
        assert_eq!(o["paths"][p]["get"]["security"], serde_json::json!([]), "{p}");
    }
    assert!(o["paths"]["/v1/sources"]["get"].get("security").is_none());
}

// ---------------------------------------------------------------- the browser

/// One browser test at a time: they share two cores with everything else.
static BROWSER: Mutex<()> = Mutex::new(());

fn artefacts(name: &str) -> PathBuf {
    let dir = repo_root().join("target/web-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails (never skips) when what the browser test needs is not installed.
fn require_browser_tools() {
    let root = repo_root();
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_string());
    }
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        missing.push("/usr/bin/chromium".to_string());
    }
    let pw = root.join("scripts/web/node_modules/playwright-core/package.json");
    if !pw.exists() {
        missing.push(pw.display().to_string());
    }
    assert!(
        missing.is_empty(),
        "the web page's browser test needs {}: run `bash scripts/web/setup.sh` (scripts/clients/setup.sh runs it too)",
        missing.join(", ")
    );
}

/// Runs `node scripts/web/e2e.mjs --mode MODE` against `s`; fails with its
/// output on a non-zero exit. Returns its stdout.
fn run_e2e(s: &Server, mode: &str, expect: &serde_json::Value, out: &std::path::Path) -> String {
    let root = repo_root();
    let o = Command::new("node")
        .arg(root.join("scripts/web/e2e.mjs"))
        .args(["--mode", mode])
        .current_dir(root.join("scripts/web"))
        .env("LOGSIEVE_URL", s.url(""))
        .env("LOGSIEVE_TOKEN", s.token.clone().unwrap_or_default())
        .env("E2E_OUT", out)
        .env("E2E_EXPECT", expect.to_string())
        .output()
        .expect("runs node");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    println!("{stdout}{stderr}");
    assert!(
        o.status.success(),
        "scripts/web/e2e.mjs --mode {mode} failed ({}; its output is above); screenshots in {}\nserve log:\n{}",
        o.status,
        out.display(),
        s.log_text()
    );
    stdout
}

/// The id of the live template of `source` whose text contains `needle`.
fn template_with(s: &Server, source: &str, needle: &str) -> serde_json::Value {
    let (code, v) = s.get(&format!(
        "/v1/templates?source={source}&limit=100000&series=false"
    ));
    assert_eq!(code, 200, "{v}");
    let found: Vec<&serde_json::Value> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["template"].as_str().unwrap().contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one template of {source} contains {needle:?}: {v}"
    );
    found[0].clone()
}

#[test]
fn the_page_shows_sources_counts_new_templates_top_values_and_alerts_in_chromium() {
    require_browser_tools();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let out = artefacts("main");
    // A bundled SigmaHQ rule (privileged user created) with the linux mapping.
    let rule = repo_root().join("testdata/sigma-rules/rules/linux/builtin/lnx_privileged_user_creation.yml");
    let tok = token_file("e2e-token");
    let mut s = Server::start(&[
        "--auth-token-file",
        tok.1.to_str().unwrap(),
        "--rules",
        rule.to_str().unwrap(),
        "--mapping",
        "linux",
    ]);
    s.token = Some("e2e-token".into());
    // Source "shop": a few templates. Source "auth": syslog lines; in the
    // second half a template first appears (useradd), and one of its lines
    // raises the rule's alert.
    let shop = lines("shop", 400);
    assert_eq!(s.ingest("shop", &shop), 200);
    let auth1: Vec<String> = (0..120)
        .map(|i| match i % 3 {
            0 => format!("Nov 23 10:{:02}:{:02} gate sshd[{}]: Accepted password for deploy from 10.1.2.{} port {} ssh2", i % 60, i % 60, 4000 + i, i % 200, 40000 + i),
            1 => format!("Nov 23 10:{:02}:{:02} gate sshd[{}]: pam_unix(sshd:session): session opened for user deploy by (uid=0)", i % 60, i % 60, 4000 + i),
            _ => format!(
                "Nov 23 10:{:02}:{:02} gate CRON[{}]: ({}) CMD (run-parts /etc/cron.{})",
                i % 60,
                i % 60,
                5000 + i,
                if i % 9 == 2 { "backup" } else { "root" },
                if i % 5 == 2 { "daily" } else { "hourly" }
            ),
        })
        .collect();
    let post = |path: &str, body: &[String]| {
        let mut b = body.join("\n");
        b.push('\n');
        let (code, text) = s.post(path, "text/plain", b.as_bytes());
        assert_eq!(code, 200, "{text}");
    };
    post("/v1/ingest?source=auth&preset=syslog", &auth1);
    // The split: after every line of the first half (ms precision), before
    // any of the second.
    std::thread::sleep(Duration::from_millis(1100));
    let split = logsieve_now_rfc3339();
    std::thread::sleep(Duration::from_millis(1100));
    let auth2: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "Nov 23 11:{:02}:{:02} gate useradd[{}]: new user: name=svc, UID={}, GID={}, home=/home/svc, shell=/bin/bash",
                i % 60,
                i % 60,
                6000 + i,
                if i == 7 { 0 } else { 1000 + i },
                if i == 7 { 0 } else { 1000 + i },
            )
        })
        .collect();
    post("/v1/ingest?source=auth&preset=syslog", &auth2);
    assert_eq!(s.counted("auth").0, 150);
    let new_tpl = template_with(&s, "auth", "new user");
    // The detail checked: the cron template, whose user is mostly root.
    let detail = template_with(&s, "auth", "CMD (run-parts");
    let id = detail["template_id"].as_str().unwrap();
    let (code, d) = s.get(&format!("/v1/templates/{id}?source=auth"));
    assert_eq!(code, 200, "{d}");
    let var0 = &d["templates"][0]["variables"][0];
    assert_eq!(var0["top"][0]["value"], "root", "{d}");
    assert!(
        var0["top"][0]["count"].as_u64().unwrap() > var0["top"][1]["count"].as_u64().unwrap(),
        "{d}"
    );
    let (code, al) = s.get("/v1/alerts?source=auth");
    assert_eq!(code, 200, "{al}");
    let alerts = al["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "the one UID=0 line raises the rule: {al}");
    let a = &alerts[0];
    let expect = serde_json::json!({
        "sources": { "shop": shop.len(), "auth": auth1.len() + auth2.len() },
        "split": split,
        "newTemplate": { "source": "auth", "id": new_tpl["template_id"], "filter": "new user" },
        "detail": {
            "source": "auth", "id": id, "count": d["templates"][0]["count"],
            "top": { "position": var0["position"], "value": var0["top"][0]["value"], "count": var0["top"][0]["count"] },
        },
        "alert": {
            "source": "auth", "title": a["title"], "rule_id": a["rule_id"], "level": a["level"],
            "template_id": a["template_id"],
        },
    });
    run_e2e(&s, "main", &expect, &out);
    for f in [
        "overview.png",
        "templates.png",
        "template.png",
        "alerts.png",
        "deeplink.png",
        "narrow-overview.png",
    ] {
        assert!(
            out.join(f).metadata().is_ok_and(|m| m.len() > 1000),
            "screenshot {f} kept in {}",
            out.display()
        );
    }
}

/// Now as RFC 3339 with milliseconds, from the service's own clock source
/// (the system clock).
fn logsieve_now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logsieve_serve::query::rfc3339(ms)
}

/// A word of lowercase letters that are not hex digits, distinct per `n`.
fn word(n: usize, salt: usize) -> String {
    const L: &[u8] = b"ghijklmnopqrstuvwxyz";
    let mut v = n * 7 + salt * 1_000_003;
    let mut w = String::new();
    for _ in 0..5 {
        w.push(L[v % L.len()] as char);
        v /= L.len();
    }
    w
}

#[test]
fn a_source_with_5000_templates_loads_in_chromium_and_the_time_is_reported() {
    require_browser_tools();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let out = artefacts("perf");
    let s = Server::start(&[]);
    // Every line's constant words differ from every other template's, so
    // each pair of lines mines into its own template.
    let n = 5000;
    let body: Vec<String> = (0..n)
        .flat_map(|i| {
            let w = [word(i, 1), word(i, 2), word(i, 3), word(i, 4)];
            [
                format!("{} {} {} {} took {} ms", w[0], w[1], w[2], w[3], 10 + i % 90),
                format!("{} {} {} {} took {} ms", w[0], w[1], w[2], w[3], 200 + i % 50),
            ]
        })
        .collect();
    assert_eq!(s.ingest("many", &body), 200);
    let (_, v) = s.get("/v1/sources");
    let src = &v["sources"][0];
    assert_eq!(src["source"], "many");
    assert_eq!(
        src["templates"].as_u64(),
        Some(n as u64),
        "5,000 distinct templates mined: {v}"
    );
    assert_eq!(src["lines"].as_u64(), Some(2 * n as u64));
    let expect = serde_json::json!({ "source": "many", "templates": n });
    let stdout = run_e2e(&s, "perf", &expect, &out);
    let perf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("perf.json")).unwrap()).unwrap();
    assert_eq!(perf["show_all_rows"].as_u64(), Some(n as u64));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("PERF"))
        .expect("e2e.mjs prints the time");
    // Straight to stderr, past the test harness's capture, so CI logs show it.
    let _ = writeln!(
        std::io::stderr(),
        "{line} (report: {})",
        out.join("perf.json").display()
    );
}
