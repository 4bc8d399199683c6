//! A minimal protobuf wire-format walker: counts the records of a body before `prost`
//! materialises them (an empty record is 2 bytes on the wire but ~100 in memory), and
//! reports structural errors with byte offsets.

/// Reads a varint at `b[*i..]`, advancing `i`.
fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let c = *b.get(*i)?;
        *i += 1;
        v |= u64::from(c & 0x7f) << shift;
        if c & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Counts the length-delimited fields reached by following `path` (field numbers, each a
/// length-delimited field) from the top of `b`. `Err((offset, reason))` on a structural error
/// at any level walked; `Ok(n)` stops early once `n > stop_after`.
pub(crate) fn count_path(b: &[u8], path: &[u32], stop_after: usize) -> Result<usize, (usize, String)> {
    let mut n = 0usize;
    walk(b, 0, path, &mut n, stop_after)?;
    Ok(n)
}

fn walk(
    b: &[u8],
    base: usize,
    path: &[u32],
    n: &mut usize,
    stop_after: usize,
) -> Result<(), (usize, String)> {
    let Some((&want, rest)) = path.split_first() else {
        return Ok(());
    };
    let mut i = 0usize;
    while i < b.len() {
        if *n > stop_after {
            return Ok(());
        }
        let at = i;
        let key = varint(b, &mut i).ok_or((base + at, "truncated or overlong field key".to_string()))?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err((base + at, format!("invalid field number {field}")));
        }
        match key & 7 {
            0 => {
                varint(b, &mut i).ok_or((base + i, format!("truncated varint in field {field}")))?;
            }
            1 => i = skip(b, i, 8).ok_or((base + at, format!("truncated 64-bit field {field}")))?,
            5 => i = skip(b, i, 4).ok_or((base + at, format!("truncated 32-bit field {field}")))?,
            2 => {
                let len_at = i;
                let len =
                    varint(b, &mut i).ok_or((base + len_at, format!("truncated length of field {field}")))?;
                let start = i;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .filter(|&e| e <= b.len())
                    .ok_or_else(|| {
                        (
                            base + at,
                            format!(
                                "field {field} claims {len} bytes but only {} remain",
                                b.len().saturating_sub(start)
                            ),
                        )
                    })?;
                if field == u64::from(want) {
                    if rest.is_empty() {
                        *n += 1;
                    } else {
                        walk(&b[start..end], base + start, rest, n, stop_after)?;
                    }
                }
                i = end;
            }
            w => {
                return Err((
                    base + at,
                    format!("field {field} has wire type {w}, which this decoder does not accept"),
                ))
            }
        }
    }
    Ok(())
}

fn skip(b: &[u8], i: usize, n: usize) -> Option<usize> {
    let e = i.checked_add(n)?;
    (e <= b.len()).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nested_and_reports_offsets() {
        // field 1 { field 2 "a", field 2 "", field 3 varint 5 }, field 1 { field 2 "b" }
        let inner1 = [0x12, 1, b'a', 0x12, 0, 0x18, 5];
        let mut b = vec![0x0a, inner1.len() as u8];
        b.extend(inner1);
        b.extend([0x0a, 3, 0x12, 1, b'b']);
        assert_eq!(count_path(&b, &[1, 2], 100), Ok(3));
        assert_eq!(count_path(&b, &[1], 100), Ok(2));
        let cut = &b[..b.len() - 1];
        assert_eq!(
            count_path(cut, &[1, 2], 100),
            Err((9, "field 1 claims 3 bytes but only 2 remain".to_string()))
        );
        assert!(count_path(&[0x0b], &[1], 10).is_err());
    }
}
