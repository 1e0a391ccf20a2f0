//! Markdown with YAML front matter, as the general loader and each domain read it (the
//! domains add worked examples, recommendations, articles on top).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiku_fuzz::{domain, generic, load_with};

fuzz_target!(|bytes: &[u8]| {
    load_with(
        "notes",
        "md",
        bytes,
        &[
            ("general", &generic(zhiku_loaders::load_markdown)),
            ("education", &domain(&zhiku_education::EducationDomain)),
            ("medicine", &domain(&zhiku_medicine::MedicineDomain)),
            ("culture", &domain(&zhiku_culture::CultureDomain)),
        ],
    );
});
