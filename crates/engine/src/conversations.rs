//! Conversations belong to their caller: reading, listing, naming, rating and deleting them.
//! Another caller's conversation is "not found", exactly like one that does not exist.

use serde::Serialize;
use zhiku_core::Classification;
use zhiku_store::StoredTurn;

use crate::engine::{ConversationView, TurnSources, TurnView};
use crate::{Caller, Engine, EngineError};

/// A conversation in its owner's list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationItem {
    pub id: String,
    /// The owner's name for it, else `None` (show `first_question`).
    pub title: Option<String>,
    /// `None` when not stored (clinical) or above the caller's present clearance.
    pub first_question: Option<String>,
    pub channel: String,
    pub turns: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// At most this many conversations are listed (most recent first).
const LISTED: usize = 200;
const MAX_TITLE_CHARS: usize = 200;

impl Engine {
    /// A conversation of the caller's, with what its present clearance may read.
    pub async fn conversation(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ConversationView, EngineError> {
        let c = self.owned_conversation(caller, id).await?;
        let stored = self.store().turns(id, 1_000).await?;
        let turns = self
            .shown_turns(caller, stored)
            .await?
            .into_iter()
            .map(|(t, sources, shown)| TurnView {
                seq: t.seq,
                sources: if shown {
                    sources
                } else {
                    TurnSources::default()
                },
                abstained: t.abstained,
                query: t.standalone.filter(|_| shown),
                question: t.question.filter(|_| shown),
                answer: t.answer.filter(|_| shown),
                domain: t.domain,
                mode: t.mode,
                withheld: !shown,
            })
            .collect();
        Ok(ConversationView {
            id: c.id,
            title: c.title,
            channel: c.channel,
            created_at_ms: c.created_at_ms,
            turns,
        })
    }

    /// Stored turns with their sources, and whether `caller` may see each now: the turn's
    /// level is within its present clearance, and every document the turn cited is still
    /// there and still within it (a document re-ingested at a higher level, or removed,
    /// takes its answers with it, in the conversation and in the history of a follow-up).
    pub(crate) async fn shown_turns(
        &self,
        caller: &Caller,
        stored: Vec<StoredTurn>,
    ) -> Result<Vec<(StoredTurn, TurnSources, bool)>, EngineError> {
        let filter = self.scope(caller, &crate::scope::Narrowing::default())?;
        let mut readable: std::collections::HashMap<String, bool> = Default::default();
        let mut out = Vec::with_capacity(stored.len());
        for t in stored {
            let sources: TurnSources = t
                .sources
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            let mut shown = visible(&t, caller);
            for citation in &sources.citations {
                if !shown {
                    break;
                }
                let doc = citation.doc_id.as_str();
                if !readable.contains_key(doc) {
                    let chunks = self.indexes().keyword.chunks_of(doc, &filter).await?;
                    readable.insert(doc.to_string(), !chunks.is_empty());
                }
                shown &= readable.get(doc).copied().unwrap_or(false);
            }
            out.push((t, sources, shown));
        }
        Ok(out)
    }

    /// Rates one turn of the caller's conversation (-1, 0 or 1).
    pub async fn feedback(
        &self,
        caller: &Caller,
        conversation_id: &str,
        seq: i64,
        rating: i64,
        comment: Option<&str>,
    ) -> Result<String, EngineError> {
        if !(-1..=1).contains(&rating) {
            return Err(
                zhiku_core::CoreError::InvalidQuery("rating must be -1, 0 or 1".into()).into(),
            );
        }
        self.owned_conversation(caller, conversation_id).await?;
        // A comment is free text beside a (possibly clinical) turn: it is stored, and
        // exported, only without patient identifiers.
        let comment = comment.map(|c| self.redact(c).text);
        Ok(self
            .store()
            .add_feedback(
                conversation_id,
                seq,
                caller.principal(),
                rating,
                comment.as_deref(),
            )
            .await?)
    }

    pub(crate) async fn owned_conversation(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<zhiku_store::Conversation, EngineError> {
        match self.store().conversation(id).await? {
            Some(c) if c.owner == caller.principal() => Ok(c),
            _ => Err(EngineError::ConversationNotFound(id.to_string())),
        }
    }

    /// The caller's conversations, most recently used first. Anonymous callers have none to
    /// list: their conversations are reachable only by id.
    pub async fn conversations(
        &self,
        caller: &Caller,
    ) -> Result<Vec<ConversationItem>, EngineError> {
        if caller.is_anonymous() {
            return Err(EngineError::Forbidden(
                "sign in to keep a list of conversations".into(),
            ));
        }
        let summaries = self
            .store()
            .conversations_of(caller.principal(), LISTED)
            .await?;
        Ok(summaries
            .into_iter()
            .map(|s| {
                let shown = s
                    .first_level
                    .as_deref()
                    .is_some_and(|level| level_visible(level, caller));
                ConversationItem {
                    id: s.conversation.id,
                    title: s.conversation.title,
                    first_question: s.first_question.filter(|_| shown),
                    channel: s.conversation.channel,
                    turns: s.turns,
                    created_at_ms: s.conversation.created_at_ms,
                    updated_at_ms: s.conversation.updated_at_ms,
                }
            })
            .collect())
    }

    /// Names one of the caller's conversations; an empty title clears the name.
    pub async fn rename_conversation(
        &self,
        caller: &Caller,
        id: &str,
        title: &str,
    ) -> Result<(), EngineError> {
        self.signed_in(caller)?;
        let title = title.trim();
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(zhiku_core::CoreError::InvalidQuery(format!(
                "a title may have {MAX_TITLE_CHARS} characters"
            ))
            .into());
        }
        self.owned_conversation(caller, id).await?;
        // Titles are listed, exported and shown beside medicine turns: no identifiers in them.
        let title = self.redact(title).text;
        self.store()
            .rename_conversation(id, (!title.is_empty()).then_some(title.as_str()))
            .await?;
        Ok(())
    }

    /// Deletes one of the caller's conversations with its turns and their feedback.
    pub async fn delete_conversation(&self, caller: &Caller, id: &str) -> Result<(), EngineError> {
        self.signed_in(caller)?;
        self.owned_conversation(caller, id).await?;
        self.store().delete_conversation(id).await?;
        Ok(())
    }

    /// Anonymous callers share one principal: none of them may change a conversation.
    fn signed_in(&self, caller: &Caller) -> Result<(), EngineError> {
        if caller.is_anonymous() {
            return Err(EngineError::Forbidden(
                "sign in to rename or delete conversations".into(),
            ));
        }
        Ok(())
    }
}

/// Whether the caller's present clearance may read a turn.
pub(crate) fn visible(turn: &StoredTurn, caller: &Caller) -> bool {
    level_visible(&turn.level, caller)
}

fn level_visible(level: &str, caller: &Caller) -> bool {
    // An unreadable level counts as the most restricted.
    let level: Classification = level.parse().unwrap_or(Classification::Restricted);
    level <= caller.clearance()
}
