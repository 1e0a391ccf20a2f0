//! The OpenAPI 3 document, generated from the handlers' annotations and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, api, openai, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zhiku (智库)",
        description = "Retrieval-augmented answers over education, medicine and culture material, \
            citing their sources. Authenticate with `Authorization: Bearer <key>` (keys: `zhiku keys add`); \
            without a key a caller is anonymous with public clearance, if the server allows it. \
            Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
        openai::models, openai::chat_completions,
        api::search, api::ask, api::conversation, api::feedback, api::near, api::stats,
        admin::ingest,
    ),
    components(schemas(crate::ErrorBody)),
    modifiers(&Bearer)
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}"))
}
