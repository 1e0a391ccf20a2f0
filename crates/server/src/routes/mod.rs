//! The handlers, one file per door: operations, the chat page and signing in, the JSON API,
//! the OpenAI-compatible endpoint, the clinicians' API and CDS Hooks, the mini-program,
//! administration. Each parses, asks the engine, renders.

pub mod admin;
pub mod answer;
pub mod api;
pub mod cds;
pub mod clinical;
pub mod mp;
pub mod openai;
pub mod ops;
pub mod web;
