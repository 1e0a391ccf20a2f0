//! The OpenAPI 3 document, generated from the handlers' annotations and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, api, cds, clinical, mp, openai, ops, web};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zhiku (智库)",
        description = "Retrieval-augmented answers over education, medicine and culture material, \
            citing their sources. Authenticate with `Authorization: Bearer <key>` (keys: `zhiku keys add`); \
            the chat page's users sign in at `/auth/login` (a session cookie; accounts: `zhiku users add`); \
            without either a caller is anonymous with public clearance, if the server allows it. \
            Hospital systems use `/api/clinical/v1/...` with a key allowed the medicine domain; \
            every such request is recorded as a FHIR AuditEvent. \
            The WeChat mini-program logs in at `/api/mp/v1/login` with a `wx.login` code and sends \
            the token it gets as a bearer token to the other `/api/mp/v1/...` routes. \
            Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
        openai::models, openai::chat_completions,
        api::search, api::ask, api::conversation, api::feedback, api::near, api::stats,
        api::conversations, api::rename_conversation, api::delete_conversation, api::document,
        api::domains, web::who, web::login, web::logout,
        admin::ingest,
        clinical::search, clinical::ask, clinical::audit, cds::discovery, cds::call,
        mp::login, mp::ask, mp::nearby, mp::spot, mp::route, mp::preferences,
        mp::set_preferences, mp::delete_me,
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
