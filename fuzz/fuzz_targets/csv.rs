//! CSV place records, the culture domain's (header row, coordinates, free columns).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiku_fuzz::{domain, load_with};

fuzz_target!(|bytes: &[u8]| {
    load_with(
        "sites",
        "csv",
        bytes,
        &[("culture", &domain(&zhiku_culture::CultureDomain))],
    );
});
