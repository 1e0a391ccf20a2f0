//! Answering one question, in two steps so that a transport knows before it commits to a
//! response (a stream's `200`) whether the question may be asked: [`Engine::prepare`] checks
//! it once — identifiers removed, its length, the caller's scope, the conversation's owner —
//! and [`Engine::ask`] retrieves, answers, keeps the turn and records the reading.

use zhiku_agent::{Answer, AnswerEvent, AskRequest, Turn};
use zhiku_core::SearchFilter;
use zhiku_redact::Redacted;
use zhiku_store::StoredTurn;

use crate::engine::{AskInput, History, TurnSources};
use crate::{Caller, Engine, EngineError};

/// A question that passed every check, with the caller it was checked for. Only
/// [`Engine::prepare`] makes one, so an answer cannot skip a check.
#[derive(Debug, Clone)]
pub struct Prepared {
    caller: Caller,
    /// Identifiers replaced, length checked.
    question: String,
    redacted: Redacted,
    filter: SearchFilter,
    /// The one domain the search is limited to, whose prompts and policies apply.
    domain: Option<String>,
    earlier: Earlier,
}

/// Where the answer's earlier turns come from, its conversation's owner already checked.
#[derive(Debug, Clone)]
enum Earlier {
    None,
    Given(Vec<Turn>),
    NewConversation,
    Conversation(String),
}

impl Prepared {
    /// The question as it will be searched and sent to a model: identifiers replaced.
    pub fn question(&self) -> &str {
        &self.question
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// How many identifiers were replaced in the question.
    pub fn redacted_identifiers(&self) -> usize {
        self.redacted.total()
    }
}

impl Engine {
    /// Checks a question once, for every door: identifiers go before anything (retrieval, the
    /// model, the store, a log) sees them; then its length, the caller's scope narrowed by the
    /// request, and that a continued conversation is the caller's own.
    pub async fn prepare(&self, caller: &Caller, input: AskInput) -> Result<Prepared, EngineError> {
        let redacted = self.redact(&input.question);
        let question = self.check_query(&redacted.text)?.to_string();
        let mut narrowing = input.narrowing;
        narrowing.domains = input.domain.into_iter().collect();
        let filter = self.scope(caller, &narrowing)?;
        let domain = match filter.domains.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        let earlier = match input.history {
            History::None => Earlier::None,
            History::Given(turns) => Earlier::Given(
                turns
                    .into_iter()
                    .map(|t| Turn {
                        question: self.redact(&t.question).text,
                        standalone: self.redact(&t.standalone).text,
                        answer: self.redact(&t.answer).text,
                    })
                    .collect(),
            ),
            History::Stored(None) => Earlier::NewConversation,
            History::Stored(Some(id)) => {
                self.owned_conversation(caller, &id).await?;
                Earlier::Conversation(id)
            }
        };
        Ok(Prepared {
            caller: caller.clone(),
            question,
            redacted,
            filter,
            domain,
            earlier,
        })
    }

    /// Answers a prepared question, sending events to `on_event` as the answer forms.
    pub async fn ask(
        &self,
        prepared: Prepared,
        on_event: impl FnMut(AnswerEvent) + Send,
    ) -> Result<Answer, EngineError> {
        let Prepared {
            caller,
            question,
            redacted,
            filter,
            domain,
            earlier,
        } = prepared;
        let (conversation_id, history) = match earlier {
            Earlier::None => (None, Vec::new()),
            Earlier::Given(turns) => (None, turns),
            Earlier::NewConversation => (Some(self.new_conversation(&caller).await?), Vec::new()),
            Earlier::Conversation(id) => {
                let turns = self.earlier_turns(&caller, &id).await?;
                (Some(id), turns)
            }
        };
        let request = AskRequest {
            question: question.clone(),
            domain: domain.clone(),
            filter,
            history,
            conversation_id: conversation_id.clone(),
            passages: None,
        };
        // The notice follows `started`, as the agent's own notices do.
        let mut notice = (!redacted.is_clean()).then(|| {
            let kinds: Vec<&str> = redacted.counts.keys().map(|k| k.as_str()).collect();
            zhiku_agent::redaction_notice(
                zhiku_agent::detect_language(&question),
                redacted.total(),
                &kinds.join(", "),
            )
        });
        let mut pending = notice.clone();
        let mut on_event = on_event;
        let on_event = move |e: AnswerEvent| {
            let started = matches!(e, AnswerEvent::Started { .. });
            on_event(e);
            if started {
                if let Some(text) = pending.take() {
                    on_event(AnswerEvent::Notice { text });
                }
            }
        };
        let mut answer = self.agent().ask(request, on_event).await?;
        if let Some(text) = notice.take() {
            answer.notices.insert(0, text);
            answer.redacted_identifiers = redacted.total();
        }
        if let Some(id) = &conversation_id {
            answer.turn = Some(self.keep_turn(id, &question, domain, &answer).await?);
        }
        let read = answer
            .citations
            .iter()
            .map(|c| (c.doc_id.as_str(), c.title.as_str(), c.domain.as_str()));
        self.audit_reading(&caller, "ask", Some((&question, redacted.total())), read)
            .await?;
        Ok(answer)
    }

    /// A new conversation for the caller. A guest's idle ones are swept first: nobody can
    /// list or delete a guest's conversations, so they expire instead.
    async fn new_conversation(&self, caller: &Caller) -> Result<String, EngineError> {
        if caller.is_anonymous() {
            let hours = self.config().server.anonymous_conversation_hours;
            let ttl_ms = i64::try_from(hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
            let now_ms = jiff::Timestamp::now().as_millisecond();
            self.store
                .delete_idle_conversations(caller.principal(), now_ms.saturating_sub(ttl_ms))
                .await?;
        }
        let c = self
            .store
            .create_conversation(caller.principal(), caller.channel().as_str())
            .await?;
        Ok(c.id)
    }

    /// The last turns of a conversation that the caller's clearance may still read.
    async fn earlier_turns(&self, caller: &Caller, id: &str) -> Result<Vec<Turn>, EngineError> {
        let stored = self
            .store
            .turns(id, self.config().agent.history_turns)
            .await?;
        Ok(self
            .shown_turns(caller, stored)
            .await?
            .into_iter()
            .filter(|(_, _, shown)| *shown)
            .filter_map(|(t, _, _)| {
                Some(Turn {
                    question: t.question?,
                    standalone: t.standalone.unwrap_or_default(),
                    answer: t.answer?,
                })
            })
            .collect())
    }

    /// Stores the turn; in a domain whose texts are not kept (`database.textless_domains`),
    /// only that it happened.
    async fn keep_turn(
        &self,
        id: &str,
        question: &str,
        domain: Option<String>,
        answer: &Answer,
    ) -> Result<i64, EngineError> {
        let textless = self.config().database.textless_domains.iter().any(|d| {
            domain.as_deref() == Some(d.as_str()) || answer.domains.iter().any(|a| a == d)
        });
        let keep = |s: &str| (!textless).then(|| s.to_string());
        let turn = StoredTurn {
            seq: 0,
            question: keep(question),
            standalone: keep(&answer.query),
            answer: keep(&answer.text),
            level: answer.level.as_str().to_string(),
            domain,
            mode: answer.mode.as_str().to_string(),
            abstained: answer.abstained,
            sources: (!textless)
                .then(|| {
                    serde_json::to_string(&TurnSources {
                        citations: answer.citations.clone(),
                        notices: answer.notices.clone(),
                    })
                    .ok()
                })
                .flatten(),
            created_at_ms: 0,
        };
        Ok(self.store.append_turn(id, &turn).await?)
    }
}
