//! PDF: the generic extractor (fonts patched for a Unicode text layer) and the two domains
//! that read PDFs (education's handouts, medicine's guidelines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiku_fuzz::{domain, generic, load_with};

fuzz_target!(|bytes: &[u8]| {
    load_with(
        "handouts",
        "pdf",
        bytes,
        &[
            ("pdf", &generic(zhiku_loaders::load_pdf)),
            ("education", &domain(&zhiku_education::EducationDomain)),
            ("medicine", &domain(&zhiku_medicine::MedicineDomain)),
        ],
    );
});
