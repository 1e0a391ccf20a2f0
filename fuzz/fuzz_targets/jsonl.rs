//! JSON Lines records: the general loader's, medicine's guideline records and culture's
//! places (with coordinates).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiku_fuzz::{domain, generic, load_with};

fuzz_target!(|bytes: &[u8]| {
    load_with(
        "records",
        "jsonl",
        bytes,
        &[
            ("general", &generic(zhiku_loaders::load_jsonl)),
            ("medicine", &domain(&zhiku_medicine::MedicineDomain)),
            ("culture", &domain(&zhiku_culture::CultureDomain)),
        ],
    );
});
