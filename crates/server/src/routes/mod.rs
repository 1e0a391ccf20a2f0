//! The handlers, one file per door: operations, the chat page and signing in, the JSON API,
//! the OpenAI-compatible endpoint, the clinicians' API and CDS Hooks, the mini-program,
//! administration. Each parses, asks the engine, renders.

pub mod admin;
pub mod api;
pub mod cds;
pub mod clinical;
pub mod mp;
pub mod openai;
pub mod ops;
pub mod web;

/// What a search response says about results that are not what a normal search gives, in
/// the language of the query.
pub fn search_notices(results: &zhiku_engine::SearchResults, query: &str) -> Vec<String> {
    results
        .degraded
        .iter()
        .map(|f| {
            let lang = zhiku_agent::detect_language(query);
            zhiku_agent::search_degraded_notice(lang, f.leg).to_string()
        })
        .collect()
}
