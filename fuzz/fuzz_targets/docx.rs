//! DOCX (a ZIP of WordprocessingML parts): the generic extractor and education's loader,
//! which keeps worked examples whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiku_fuzz::{domain, generic, load_with};

fuzz_target!(|bytes: &[u8]| {
    load_with(
        "lessons",
        "docx",
        bytes,
        &[
            ("docx", &generic(zhiku_loaders::load_docx)),
            ("education", &domain(&zhiku_education::EducationDomain)),
        ],
    );
});
