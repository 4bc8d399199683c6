//! Prompt batches (the streaming path) over a reader that returns random
//! chunk sizes give exactly the lines of `next_frame` (the slow twin),
//! with the same flags and numbers; each line decoded through the batch's
//! text (`LineBatch::decode`) is what decoding it alone gives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_framing::{decode_lossy, FramerConfig, LineBatch, LineFramer};
use std::io::Read;

struct Chunks<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    i: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self
            .sizes
            .get(self.i % self.sizes.len().max(1))
            .map_or(7, |&s| s as usize + 1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: (u8, Vec<u8>, Vec<u8>)| {
    let (max, sizes, data) = input;
    let cfg = FramerConfig {
        max_line_bytes: max as usize % 64 + 1,
    };
    let mut slow = Vec::new();
    let mut f = LineFramer::new(&data[..], cfg);
    while let Some(fr) = f.next_frame().unwrap() {
        slow.push((fr.bytes.to_vec(), fr.truncated, fr.had_crlf, fr.line_no));
    }
    let mut fast = Vec::new();
    let mut f = LineFramer::with_chunk_size(
        Chunks {
            data: &data,
            sizes: &sizes,
            i: 0,
        },
        cfg,
        16,
    );
    let mut b = LineBatch::default();
    let (mut scratch, mut slow_scratch) = (String::new(), String::new());
    while f.next_batch_prompt(&mut b, 5, 64).unwrap() > 0 {
        // A line cut from the batch's text (checked once per batch)
        // decodes as the line decoded on its own.
        let whole = b.text();
        for i in 0..b.len() {
            let (t, d) = b.decode(whole, i, &mut scratch);
            let (want, want_d) = decode_lossy(b.line(i), &mut slow_scratch);
            assert_eq!((t, d), (want, want_d), "entry {i}");
            fast.push((
                b.line(i).to_vec(),
                b.flags(i).truncated(),
                b.flags(i).had_crlf(),
                b.line_no(i),
            ));
        }
    }
    assert_eq!(slow, fast);
});
