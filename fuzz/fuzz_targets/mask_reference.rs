//! Today's masker equals the reference masker (the masker before the speed
//! work, `crates/template/tests/reference/`) on any line: the same tokens,
//! masked text, variable spans and key. Each line is masked three times
//! through one kept `MaskedLine`, so its token memo marks, keeps and
//! replays the tokens it has seen.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, clippy::all)]
#[path = "../../crates/template/tests/reference/kind.rs"]
mod kind;
#[allow(dead_code, clippy::all)]
#[path = "../../crates/template/tests/reference/mask.rs"]
mod mask;

fuzz_target!(|text: &str| {
    let mut fast = logsieve_template::MaskedLine::default();
    let mut slow = mask::MaskedLine::default();
    for line in text.lines().take(16).flat_map(|l| [l, l, l]) {
        logsieve_template::mask_line(line, &mut fast);
        mask::mask_line(line, &mut slow);
        assert_eq!(fast.masked, slow.masked, "{line:?}");
        assert_eq!(fast.key, slow.key, "{line:?}");
        let fv: Vec<_> = fast.vars.iter().map(|v| (v.start, v.end)).collect();
        let sv: Vec<_> = slow.vars.iter().map(|v| (v.start, v.end)).collect();
        assert_eq!(fv, sv, "{line:?}");
        let ft: Vec<_> = fast.tokens.iter().map(|t| (t.raw.start, t.raw.end, t.vars_start, t.vars_end)).collect();
        let st: Vec<_> = slow.tokens.iter().map(|t| (t.raw.start, t.raw.end, t.vars_start, t.vars_end)).collect();
        assert_eq!(ft, st, "{line:?}");
    }
});
