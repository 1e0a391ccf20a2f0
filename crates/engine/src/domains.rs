//! The one place where domains are registered. A new domain is one crate and one line here.

use zhiku_core::DomainRegistry;

pub fn registry() -> DomainRegistry {
    let mut r = DomainRegistry::new();
    r.register(zhiku_ingest::GeneralDomain);
    r.register(zhiku_education::EducationDomain);
    r.register(zhiku_medicine::MedicineDomain);
    r.register(zhiku_culture::CultureDomain);
    r
}
