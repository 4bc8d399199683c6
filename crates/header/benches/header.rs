//! Header parsing: the literal-scan fast path vs its regex twin on the Loghub
//! sample logs, and the presets on synthetic lines.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_header::{load_formats_json, HeaderParser, ParsedHeader, Preset};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/loghub-2k");

fn bench(c: &mut Criterion) {
    let formats = load_formats_json(format!("{DIR}/formats.json")).expect("formats.json");
    let mut g = c.benchmark_group("header");
    g.sample_size(20);
    for name in ["HDFS", "Hadoop", "BGL", "HealthApp", "OpenStack", "Linux"] {
        let p = HeaderParser::from_format(&formats[name]).unwrap();
        let text = std::fs::read_to_string(format!("{DIR}/{name}/{name}_2k.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function(format!("{name}/parse"), |b| {
            let mut out = ParsedHeader::new();
            b.iter(|| {
                for l in &lines {
                    p.parse(black_box(l), &mut out);
                }
            })
        });
        g.bench_function(format!("{name}/regex_only"), |b| {
            let mut out = ParsedHeader::new();
            b.iter(|| {
                for l in &lines {
                    p.parse_with_regex(black_box(l), &mut out);
                }
            })
        });
    }
    let presets: [(Preset, Vec<String>); 4] = [
        (Preset::Syslog, (0..2000).map(|i| format!("<34>Oct 11 22:14:{:02} host-{} sshd[{}]: Accepted publickey for user{} from 10.0.0.{} port {}", i % 60, i % 7, 1000 + i, i % 13, i % 255, 40000 + i)).collect()),
        (Preset::Rfc5424, (0..2000).map(|i| format!("<165>1 2003-10-11T22:14:15.{:03}Z host{} app {} ID47 [ex@32473 iut=\"3\"] event {} done", i % 1000, i % 5, i, i)).collect()),
        (Preset::Combined, (0..2000).map(|i| format!("10.1.{}.{} - - [10/Oct/2000:13:55:36 -0700] \"GET /item/{}?page={} HTTP/1.1\" 200 {} \"https://ex.com/\" \"Mozilla/5.0 (X11; Linux x86_64)\"", i % 256, i % 7, i, i % 9, 1000 + i)).collect()),
        (Preset::Json, (0..2000).map(|i| format!("{{\"ts\":\"2024-01-01T00:00:{:02}Z\",\"level\":\"info\",\"msg\":\"request {} done in {} ms\",\"ctx\":{{\"user\":\"u{}\",\"ok\":true}}}}", i % 60, i, i % 300, i % 17)).collect()),
    ];
    for (preset, lines) in &presets {
        let p = HeaderParser::preset(*preset, None);
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function(format!("preset/{preset}"), |b| {
            let mut out = ParsedHeader::new();
            b.iter(|| {
                for l in lines {
                    assert!(p.parse(black_box(l), &mut out));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
