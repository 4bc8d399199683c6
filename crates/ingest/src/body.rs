//! `Content-Encoding` decoding with a hard bound on the decompressed size.
//!
//! A zip bomb stops with [`IngestError::DecompressedTooLarge`] as soon as the output passes
//! `max_body_bytes`; the output buffer never grows past about twice that.

use crate::{IngestError, Limits, Result};
use std::borrow::Cow;
use std::io::Read;

/// Decodes a request body by its `Content-Encoding` header value.
///
/// `None`, empty and `identity` borrow the body; `gzip`, `x-gzip`, `deflate` (zlib-wrapped,
/// or raw deflate as some clients send) and `zstd` decompress it. A comma-separated list
/// (`gzip, identity`) is undone in reverse order, as RFC 9110 says. Names are
/// case-insensitive. The result, compressed or not, is at most `limits.max_body_bytes`.
pub fn decode_content<'a>(encoding: Option<&str>, body: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>> {
    let max = limits.max_body_bytes;
    let mut data: Cow<'a, [u8]> = Cow::Borrowed(body);
    let codings: Vec<&str> = encoding
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    for coding in codings.iter().rev() {
        let c = coding.to_ascii_lowercase();
        data = match c.as_str() {
            "identity" => data,
            "gzip" | "x-gzip" => Cow::Owned(gunzip(&data, max)?),
            "deflate" => Cow::Owned(inflate(&data, max)?),
            "zstd" => Cow::Owned(unzstd(&data, max)?),
            _ => return Err(IngestError::UnsupportedEncoding(crate::clip(coding))),
        };
    }
    if data.len() > max {
        return Err(IngestError::BodyTooLarge { len: data.len(), max });
    }
    Ok(data)
}

/// gzip (all members) of `data`, at most `max` bytes.
pub fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>> {
    read_bounded(flate2::read::MultiGzDecoder::new(data), "gzip", max)
}

/// zlib or raw deflate of `data`, at most `max` bytes.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>> {
    let zlib_header = match data {
        [a, b, ..] => a & 0x0f == 8 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0,
        _ => false,
    };
    if zlib_header {
        read_bounded(flate2::read::ZlibDecoder::new(data), "deflate", max)
    } else {
        read_bounded(flate2::read::DeflateDecoder::new(data), "deflate", max)
    }
}

/// zstd of `data`, at most `max` bytes. The decoder's window is capped too, so a frame
/// header cannot make it allocate more than needed for `max`.
pub fn unzstd(data: &[u8], max: usize) -> Result<Vec<u8>> {
    let err = |e: std::io::Error| IngestError::Decompress {
        encoding: "zstd",
        reason: e.to_string(),
        decoded: 0,
    };
    let mut dec = zstd::stream::read::Decoder::new(data).map_err(err)?;
    // Windows up to 8 MiB always (what streaming encoders use up to level 19), larger only
    // when max_body_bytes is larger; 2^27 is zstd's own default cap.
    let bits = usize::BITS - max.leading_zeros();
    dec.window_log_max(bits.clamp(23, 27)).map_err(err)?;
    read_bounded(dec, "zstd", max)
}

fn read_bounded<R: Read>(mut r: R, encoding: &'static str, max: usize) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    loop {
        let old = out.len();
        if old > max {
            return Err(IngestError::DecompressedTooLarge { encoding, max });
        }
        let chunk = (max + 1 - old).clamp(1, 64 * 1024);
        out.resize(old + chunk, 0);
        match r.read(&mut out[old..]) {
            Ok(0) => {
                out.truncate(old);
                return Ok(out);
            }
            Ok(n) => out.truncate(old + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => out.truncate(old),
            Err(e) => {
                let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "truncated: the compressed data ends before its end marker".to_string()
                } else {
                    e.to_string()
                };
                return Err(IngestError::Decompress {
                    encoding,
                    reason,
                    decoded: old,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lim(max: usize) -> Limits {
        Limits {
            max_body_bytes: max,
            ..Limits::default()
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn identity_borrows() {
        let b = b"hello";
        let out = decode_content(None, b, &lim(10)).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(
            decode_content(Some(" Identity "), b, &lim(10)).unwrap().as_ref(),
            b
        );
        assert_eq!(
            decode_content(None, b, &lim(4)).unwrap_err().to_string(),
            "body of 5 bytes exceeds the limit of 4 bytes"
        );
    }

    #[test]
    fn gzip_xgzip_deflate_zstd_round_trip() {
        let data = b"line one\nline two\n".repeat(100);
        assert_eq!(
            decode_content(Some("gzip"), &gz(&data), &lim(1 << 20)).unwrap(),
            &data[..]
        );
        assert_eq!(
            decode_content(Some("X-GZIP"), &gz(&data), &lim(1 << 20)).unwrap(),
            &data[..]
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        assert_eq!(
            decode_content(Some("deflate"), &z.finish().unwrap(), &lim(1 << 20)).unwrap(),
            &data[..]
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&data).unwrap();
        assert_eq!(
            decode_content(Some("deflate"), &d.finish().unwrap(), &lim(1 << 20)).unwrap(),
            &data[..]
        );
        let zs = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(
            decode_content(Some("zstd"), &zs, &lim(1 << 20)).unwrap(),
            &data[..]
        );
        // Two members, and a list of codings.
        let mut two = gz(b"ab");
        two.extend(gz(b"cd"));
        assert_eq!(
            decode_content(Some("gzip"), &two, &lim(10)).unwrap(),
            &b"abcd"[..]
        );
        let both = gz(&zstd::encode_all(&b"xyz"[..], 1).unwrap());
        assert_eq!(
            decode_content(Some("zstd, gzip"), &both, &lim(100)).unwrap(),
            &b"xyz"[..]
        );
    }

    #[test]
    fn zip_bomb_is_refused_not_oom() {
        let zeros = vec![0u8; 50 << 20];
        let bomb = gz(&zeros);
        assert!(bomb.len() < 100_000);
        let e = decode_content(Some("gzip"), &bomb, &lim(1 << 20)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "gzip body exceeds 1048576 bytes after decompression"
        );
        assert!(e.is_too_large());
        let zbomb = zstd::encode_all(&zeros[..], 3).unwrap();
        let e = decode_content(Some("zstd"), &zbomb, &lim(1 << 20)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "zstd body exceeds 1048576 bytes after decompression"
        );
        // Exactly at the limit is fine.
        assert_eq!(
            decode_content(Some("gzip"), &gz(&zeros[..1000]), &lim(1000))
                .unwrap()
                .len(),
            1000
        );
    }

    #[test]
    fn truncated_gzip_is_a_clear_error() {
        let data = b"some log line that is long enough to compress\n".repeat(50);
        let g = gz(&data);
        let cut = &g[..g.len() / 2];
        let e = decode_content(Some("gzip"), cut, &lim(1 << 20)).unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("bad gzip body: truncated"), "{m}");
        // Without the 8-byte trailer.
        let e = decode_content(Some("gzip"), &g[..g.len() - 4], &lim(1 << 20)).unwrap_err();
        assert!(
            matches!(e, IngestError::Decompress { encoding: "gzip", .. }),
            "{e}"
        );
    }

    #[test]
    fn garbage_and_unknown_codings() {
        let e = decode_content(Some("gzip"), b"not gzip at all", &lim(100)).unwrap_err();
        assert!(
            matches!(e, IngestError::Decompress { encoding: "gzip", .. }),
            "{e}"
        );
        let e = decode_content(Some("zstd"), b"not zstd", &lim(100)).unwrap_err();
        assert!(
            matches!(e, IngestError::Decompress { encoding: "zstd", .. }),
            "{e}"
        );
        let e = decode_content(Some("br"), b"x", &lim(100)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported Content-Encoding \"br\" (supported: identity, gzip, x-gzip, deflate, zstd)"
        );
    }

    proptest::proptest! {
        #[test]
        fn no_panic_on_arbitrary_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300), which in 0usize..3) {
            let enc = ["gzip", "deflate", "zstd"][which];
            if let Ok(out) = decode_content(Some(enc), &b, &lim(4096)) {
                proptest::prop_assert!(out.len() <= 4096);
            }
        }
    }
}
