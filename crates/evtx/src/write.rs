//! Writing JSON events (in the layout [`crate::EvtxFile`] reads) as an
//! `.evtx` file, for tests and fixtures: the regression suite turns each
//! SigmaHQ regression event into an EVTX file with it and checks that
//! reading it back gives the same JSON and the same alerts.
//!
//! The file is minimal but valid: a file header, 64 KiB chunks with
//! correct checksums, and one record per event whose BinXML is a plain
//! fragment (inline names, no templates). The JSON layout maps back to XML
//! as evtx-to-JSON tools map XML to JSON:
//! - an object key is a child element, a list is that element repeated,
//!   `null` is an empty element;
//! - `#attributes` holds the element's attributes, `#text` its value;
//! - inside `EventData`/`UserData`, a key with a scalar value is a
//!   `<Data Name="key">` element, and `Data` itself is unnamed data;
//! - strings are string values, numbers are 64-bit integers (or doubles,
//!   which read back as text, as evtx renders doubles), booleans are
//!   booleans.
//!
//! Layout after the EVTX format as published in MS-EVEN6 and as written
//! by the `evtx` crate's own test fixtures (MIT/Apache-2.0).

use crate::EvtxError;
use serde_json::Value;

const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const RECORD_HEADER_SIZE: usize = 24;
/// 2016-02-15T08:53:20Z as a FILETIME: the records' header time (the
/// JSON carries its own `TimeCreated`).
const RECORD_TIME: u64 = 131_000_000_000_000_000;

/// BinXML of one record, written at a known chunk offset (inline names
/// point at their own offset).
struct BinXml {
    bytes: Vec<u8>,
    base: u32,
}

impl BinXml {
    fn pos(&self) -> u32 {
        self.base + self.bytes.len() as u32
    }
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn utf16(&mut self, s: &str) {
        for unit in s.encode_utf16() {
            self.u16(unit);
        }
    }
    /// A name whose string follows inline: next string, hash, length,
    /// UTF-16, NUL.
    fn name(&mut self, name: &str) -> Result<(), String> {
        let len =
            u16::try_from(name.encode_utf16().count()).map_err(|_| format!("name {name:?} is too long"))?;
        let at = self.pos() + 4;
        self.u32(at);
        self.u32(0);
        self.u16(0);
        self.u16(len);
        self.utf16(name);
        self.u16(0);
        Ok(())
    }
    fn open(&mut self, name: &str, attributes: bool) -> Result<(), String> {
        self.u8(if attributes { 0x41 } else { 0x01 });
        self.u32(0); // the element's size, which readers skip
        self.name(name)?;
        if attributes {
            self.u32(0); // the attribute list's size, likewise
        }
        Ok(())
    }
    /// A value token: text, integer, double or boolean.
    fn value(&mut self, v: &Value) -> Result<(), String> {
        self.u8(0x05);
        match v {
            Value::String(s) => {
                let len = u16::try_from(s.encode_utf16().count())
                    .map_err(|_| "a string over 65535 UTF-16 units".to_string())?;
                self.u8(0x01);
                self.u16(len);
                self.utf16(s);
            }
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    self.u8(0x0a);
                    self.bytes.extend_from_slice(&u.to_le_bytes());
                } else if let Some(i) = n.as_i64() {
                    self.u8(0x09);
                    self.bytes.extend_from_slice(&i.to_le_bytes());
                } else {
                    self.u8(0x0c);
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    self.bytes.extend_from_slice(&f.to_le_bytes());
                }
            }
            Value::Bool(b) => {
                self.u8(0x0d);
                self.u32(u32::from(*b));
            }
            other => return Err(format!("{other} is not a value")),
        }
        Ok(())
    }
    fn element(&mut self, name: &str, v: &Value) -> Result<(), String> {
        match v {
            Value::Array(items) => {
                for i in items {
                    self.element(name, i)?;
                }
                Ok(())
            }
            Value::Null => {
                self.open(name, false)?;
                self.u8(0x03); // close empty
                Ok(())
            }
            Value::Object(o) => {
                let attrs = match o.get("#attributes") {
                    None => None,
                    Some(Value::Object(a)) => Some(a),
                    Some(_) => return Err(format!("`{name}.#attributes` is not an object")),
                };
                self.open(name, attrs.is_some())?;
                for (k, a) in attrs.into_iter().flatten() {
                    self.u8(0x06);
                    self.name(k)?;
                    self.value(a)?;
                }
                let content: Vec<(&String, &Value)> =
                    o.iter().filter(|(k, _)| k.as_str() != "#attributes").collect();
                if content.is_empty() {
                    self.u8(0x03);
                    return Ok(());
                }
                self.u8(0x02); // close start
                let here_container = name == "EventData" || name == "UserData";
                for (k, c) in content {
                    if k == "#text" {
                        self.value(c)?;
                    } else if here_container
                        && k != "Data"
                        && !matches!(c, Value::Object(_) | Value::Array(_))
                    {
                        // <Data Name="k">c</Data>
                        self.open("Data", true)?;
                        self.u8(0x06);
                        self.name("Name")?;
                        self.value(&Value::String(k.clone()))?;
                        if c.is_null() {
                            self.u8(0x03);
                        } else {
                            self.u8(0x02);
                            self.value(c)?;
                            self.u8(0x04);
                        }
                    } else {
                        self.element(k, c)?;
                    }
                }
                self.u8(0x04); // end element
                Ok(())
            }
            scalar => {
                self.open(name, false)?;
                self.u8(0x02);
                self.value(scalar)?;
                self.u8(0x04);
                Ok(())
            }
        }
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The record for `event` (BinXML after a record header) at chunk offset
/// `at`, with record id `id`.
fn record(event: &Value, at: usize, id: u64) -> Result<Vec<u8>, String> {
    let Value::Object(root) = event else {
        return Err("an event must be a JSON object".into());
    };
    let mut b = BinXml {
        bytes: Vec::new(),
        base: (at + RECORD_HEADER_SIZE) as u32,
    };
    b.bytes.extend_from_slice(&[0x0f, 1, 1, 0]); // fragment header
    for (k, v) in root {
        b.element(k, v)?;
    }
    b.u8(0x00); // end of fragment
    let size = RECORD_HEADER_SIZE + b.bytes.len() + 4;
    let mut r = vec![0u8; size];
    put(&mut r, 0, b"**\0\0");
    put(&mut r, 4, &(size as u32).to_le_bytes());
    put(&mut r, 8, &id.to_le_bytes());
    put(&mut r, 16, &RECORD_TIME.to_le_bytes());
    put(&mut r, RECORD_HEADER_SIZE, &b.bytes);
    put(&mut r, size - 4, &(size as u32).to_le_bytes());
    Ok(r)
}

/// Finishes a chunk holding records `first..=last` (ids), the last of
/// which starts at `last_at`, with free space from `free`.
fn seal_chunk(chunk: &mut [u8], first: u64, last: u64, last_at: usize, free: usize) {
    put(chunk, 0, b"ElfChnk\0");
    for (at, id) in [(8, first), (16, last), (24, first), (32, last)] {
        put(chunk, at, &id.to_le_bytes());
    }
    put(chunk, 40, &128u32.to_le_bytes());
    put(chunk, 44, &(last_at as u32).to_le_bytes());
    put(chunk, 48, &(free as u32).to_le_bytes());
    let events = evtx::checksum_ieee(&chunk[CHUNK_HEADER_SIZE..free]);
    put(chunk, 52, &events.to_le_bytes());
    let header = evtx::checksum_ieee(&[&chunk[..120], &chunk[128..CHUNK_HEADER_SIZE]].concat());
    put(chunk, 124, &header.to_le_bytes());
}

/// `events` as an EVTX file: record ids 1, 2, … in order, as many 64 KiB
/// chunks as needed. An event that is not an object in the layout above,
/// or whose record would not fit in one chunk, is an error naming it.
pub fn to_evtx(events: &[Value]) -> Result<Vec<u8>, EvtxError> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut chunk = vec![0u8; CHUNK_SIZE];
    let (mut at, mut first, mut last_at) = (CHUNK_HEADER_SIZE, 1u64, CHUNK_HEADER_SIZE);
    for (i, ev) in events.iter().enumerate() {
        let id = i as u64 + 1;
        let err = |message: String| EvtxError::Write { index: i, message };
        let mut r = record(ev, at, id).map_err(err)?;
        if at + r.len() > CHUNK_SIZE {
            if at == CHUNK_HEADER_SIZE {
                return Err(err(format!(
                    "its record takes {} bytes, more than a chunk",
                    r.len()
                )));
            }
            seal_chunk(&mut chunk, first, id - 1, last_at, at);
            chunks.push(std::mem::replace(&mut chunk, vec![0u8; CHUNK_SIZE]));
            at = CHUNK_HEADER_SIZE;
            first = id;
            // Names point at their chunk offset: write it again there.
            r = record(ev, at, id).map_err(err)?;
            if at + r.len() > CHUNK_SIZE {
                return Err(err(format!(
                    "its record takes {} bytes, more than a chunk",
                    r.len()
                )));
            }
        }
        put(&mut chunk, at, &r);
        last_at = at;
        at += r.len();
    }
    if !events.is_empty() {
        seal_chunk(&mut chunk, first, events.len() as u64, last_at, at);
        chunks.push(chunk);
    }
    let mut file = vec![0u8; FILE_HEADER_SIZE];
    put(&mut file, 0, crate::MAGIC);
    put(&mut file, 8, &0u64.to_le_bytes()); // first chunk
    put(
        &mut file,
        16,
        &(chunks.len().saturating_sub(1) as u64).to_le_bytes(),
    ); // last chunk
    put(&mut file, 24, &(events.len() as u64 + 1).to_le_bytes()); // next record id
    put(&mut file, 32, &128u32.to_le_bytes());
    put(&mut file, 36, &1u16.to_le_bytes()); // minor version
    put(&mut file, 38, &3u16.to_le_bytes()); // major version
    put(&mut file, 40, &(FILE_HEADER_SIZE as u16).to_le_bytes());
    let n = u16::try_from(chunks.len()).map_err(|_| EvtxError::Write {
        index: events.len().saturating_sub(1),
        message: "more than 65535 chunks".into(),
    })?;
    put(&mut file, 42, &n.to_le_bytes());
    let checksum = evtx::checksum_ieee(&file[..120]);
    put(&mut file, 124, &checksum.to_le_bytes());
    for c in chunks {
        file.extend_from_slice(&c);
    }
    Ok(file)
}
