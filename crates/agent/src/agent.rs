//! The agent: question in, cited answer out, streamed as events. One request goes
//! validate → stand-alone query → retrieve (with the domain's hints) → relevant enough? →
//! model (or extractive) → checked citations and domain checks → remembered turn.

use std::sync::Arc;

use zhiku_core::{
    validate_query, AgentConfig, AnswerPolicy, Config, Domain, DomainRegistry, Hit, LlmConfig,
    QuestionHints, RetrievalConfig, RetrievalMode, SearchFilter,
};
use zhiku_index::HybridRetriever;

use crate::answer::{AgentError, Answer, AnswerEvent, AnswerMode, AskRequest, SupportReport};
use crate::assembler::{Assembler, Origin, NO_ANSWER};
use crate::budget::{estimate_tokens, MESSAGE_OVERHEAD};
use crate::conversation::{rule_rewrite, Turn};
use crate::extractive::{extractive_answer_with, ExtractiveOptions};
use crate::lang::{detect_language, Language};
use crate::llm::{ChatClient, ChatMessage, LlmError};
use crate::messages;
use crate::output::Output;
use crate::prompts::{new_fence, PromptPassage, PromptSet, PromptTurn};
use crate::relevance::Relevance;

pub struct Agent {
    retriever: HybridRetriever,
    registry: Arc<DomainRegistry>,
    retrieval: RetrievalConfig,
    llm: Option<ChatClient>,
    prompts: PromptSet,
    cfg: AgentConfig,
}

impl Agent {
    /// With `config.llm.base_url` set, answers come from that model (its key read now from
    /// the environment); otherwise they are extractive.
    pub fn new(
        retriever: HybridRetriever,
        registry: Arc<DomainRegistry>,
        config: &Config,
    ) -> Result<Self, AgentError> {
        let llm = if config.llm.enabled() {
            Some(ChatClient::new(&config.llm)?)
        } else {
            None
        };
        let dir = Some(config.agent.prompts_dir.as_path()).filter(|d| !d.as_os_str().is_empty());
        let prompts = PromptSet::load(dir, &registry)?;
        Ok(Self {
            prompts,
            retriever,
            registry,
            retrieval: config.retrieval.clone(),
            llm,
            cfg: config.agent.clone(),
        })
    }

    pub fn mode(&self) -> AnswerMode {
        if self.llm.is_some() {
            AnswerMode::Model
        } else {
            AnswerMode::Extractive
        }
    }

    pub fn prompts(&self) -> &PromptSet {
        &self.prompts
    }

    /// Answers one question, sending events to `on_event` as the answer forms.
    pub async fn ask(
        &self,
        req: AskRequest,
        mut on_event: impl FnMut(AnswerEvent),
    ) -> Result<Answer, AgentError> {
        let question = validate_query(&req.question, self.retrieval.max_query_chars)?.to_string();
        let domain = match &req.domain {
            Some(d) => Some(self.registry.get(d)?),
            None => None,
        };
        let conversation_id = req.conversation_id.clone();
        let keep = req.history.len().saturating_sub(self.cfg.history_turns);
        let history = &req.history[keep..];
        let lang = detect_language(&question);
        let mut query = self.standalone(history, &question, lang).await;
        let mut filter = req.filter.clone();
        if let Some(d) = domain {
            filter.domains = vec![d.name().to_string()];
        }
        let policy = domain.map(|d| d.answer_policy()).unwrap_or_default();
        // What the question itself says (a grade) wins; a follow-up that says nothing borrows
        // what its stand-alone query says.
        let hints = match domain {
            Some(d) => Some(d.interpret(&question))
                .filter(|h| *h != QuestionHints::default())
                .unwrap_or_else(|| d.interpret(&query)),
            None => QuestionHints::default(),
        };
        let k = policy.passages.unwrap_or(self.cfg.passages);
        let mut notices = Vec::new();
        let mut hits = match &req.passages {
            Some(given) => given.iter().take(k).cloned().collect(),
            None => {
                self.retrieve(&query, &filter, &hints, k, lang, &mut notices)
                    .await?
            }
        };
        let mut relevance = Relevance::assess(&query, &hits);
        // Refused: one other reading of a follow-up. Rewritten, it may not have depended on the
        // conversation after all (as asked); searched as asked, it may have (with the
        // conversation's subject before it: "多久调一次？" after a question on 分层名单).
        if req.passages.is_none() && !relevance.sufficient(&self.cfg) {
            let other = if query != question {
                Some(question.clone())
            } else {
                crate::conversation::with_referent(history, &question)
            };
            if let Some(other) = other {
                let mut other_notices = Vec::new();
                let found = self
                    .retrieve(&other, &filter, &hints, k, lang, &mut other_notices)
                    .await?;
                let r = Relevance::assess(&other, &found);
                if !found.is_empty() && r.sufficient(&self.cfg) {
                    (query, hits, relevance, notices) = (other, found, r, other_notices);
                }
            }
        }
        let mut out = Output::new(&hits, &self.registry, lang, &mut on_event);
        out.event(AnswerEvent::Started {
            conversation_id: conversation_id.clone(),
            query: query.clone(),
            mode: self.mode(),
            passages: hits.len(),
        });
        for n in &notices {
            out.notice(n.clone());
        }
        let ctx = Context {
            domain,
            policy,
            lang,
            hints: &hints,
            history,
            hits: &hits,
            question: &question,
            query: &query,
        };
        let mut mode = self.mode();
        let abstained;
        let mut removed = 0;
        let mut support = SupportReport::default();
        if hits.is_empty() || !relevance.sufficient(&self.cfg) {
            // Said once, in the text, in the reader's language; no notice repeating it.
            match &relevance.unmentioned {
                Some(name) => out.text(&messages::not_mentioned(lang, name)),
                None => out.text(messages::no_answer(lang)),
            }
            abstained = true;
        } else if let Some(llm) = &self.llm {
            match self.model_answer(llm, &ctx, &mut out).await {
                Ok(r) => {
                    removed = r.removed;
                    abstained = r.abstained;
                    support = r.support;
                }
                Err(fallback) => {
                    let shown = !out.text.is_empty();
                    out.notice(match &fallback {
                        Fallback::Rejected(report) => {
                            support = *report;
                            support.rejected = true;
                            messages::model_answer_rejected(lang).into()
                        }
                        Fallback::Unavailable(reason) if shown => {
                            messages::interrupted(lang, reason)
                        }
                        Fallback::Unavailable(reason) => {
                            messages::extractive_after_failure(lang, reason)
                        }
                    });
                    if shown {
                        out.text("\n\n");
                    }
                    mode = AnswerMode::Extractive;
                    abstained = self.extractive(&ctx, &mut out);
                }
            }
        } else {
            out.notice(messages::extractive_no_model(lang).into());
            abstained = self.extractive(&ctx, &mut out);
        }
        if removed > 0 {
            out.notice(messages::removed_markers(lang, removed));
        }
        let answer = Answer {
            turn: None,
            conversation_id: conversation_id.clone(),
            query: query.clone(),
            text: out.text.trim().to_string(),
            citations: out.citations,
            mode,
            notices: out.notices,
            abstained,
            removed_markers: removed,
            support,
            relevance,
            level: hits
                .iter()
                .map(|h| h.chunk.classification)
                .max()
                .unwrap_or_default(),
            domains: {
                let mut d: Vec<String> = hits.iter().map(|h| h.chunk.domain.clone()).collect();
                d.sort();
                d.dedup();
                d
            },
            redacted_identifiers: 0,
        };
        tracing::debug!(
            mode = ?answer.mode,
            passages = hits.len(),
            cited = answer.citations.len(),
            abstained,
            "answered"
        );
        Ok(answer)
    }

    /// The follow-up as a stand-alone query: by the model when there is one, by rule
    /// otherwise or when the model fails. Only a question that points back (as the rule
    /// reads it) is rewritten at all: one that stands on its own is searched as asked, and
    /// costs no model call.
    async fn standalone(&self, history: &[Turn], question: &str, lang: Language) -> String {
        let by_rule = rule_rewrite(history, question, self.retrieval.max_query_chars);
        if by_rule == question.trim() {
            return question.to_string();
        }
        if let Some(llm) = &self.llm {
            let turns: Vec<PromptTurn> = history
                .iter()
                .map(|t| PromptTurn {
                    question: t.question.clone(),
                    answer: t.answer.chars().take(300).collect(),
                })
                .collect();
            let ctx = minijinja::context! { history => turns, question => question };
            match self.prompts.rewrite(lang, ctx) {
                Ok(prompt) => match llm.quick(&[ChatMessage::user(prompt)], 128).await {
                    Ok(c) => {
                        let line = c.text.lines().map(str::trim).find(|l| !l.is_empty());
                        if let Some(q) =
                            line.filter(|q| q.chars().count() <= self.retrieval.max_query_chars)
                        {
                            return q.to_string();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "query rewrite by the model failed; using the rule")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "rewrite prompt failed; using the rule"),
            }
        }
        by_rule
    }

    async fn retrieve(
        &self,
        query: &str,
        filter: &SearchFilter,
        hints: &QuestionHints,
        k: usize,
        lang: Language,
        notices: &mut Vec<String>,
    ) -> Result<Vec<Hit>, AgentError> {
        let retriever = self
            .retriever
            .with_config(self.registry.retrieval_for(filter, &self.retrieval));
        if !hints.prefer.is_empty() {
            let mut hinted = filter.clone();
            for (key, values) in &hints.prefer {
                hinted
                    .fields
                    .entry(key.clone())
                    .or_insert_with(|| values.clone());
            }
            let found = retriever
                .search(query, &hinted, k, RetrievalMode::Hybrid)
                .await?;
            if !found.hits.is_empty() {
                degraded_notice(&found, lang, notices);
                return Ok(found.hits);
            }
            notices.push(messages::broadened(lang).into());
        }
        let found = retriever
            .search(query, filter, k, RetrievalMode::Hybrid)
            .await?;
        degraded_notice(&found, lang, notices);
        Ok(found.hits)
    }

    /// Streams the model's answer through the checks. `Err` when the caller must fall back:
    /// the model failed, or nothing it wrote was supported by the passages.
    async fn model_answer(
        &self,
        llm: &ChatClient,
        ctx: &Context<'_>,
        out: &mut Output<'_, impl FnMut(AnswerEvent)>,
    ) -> Result<ModelResult, Fallback> {
        let (domain, lang, policy) = (ctx.domain, ctx.lang, ctx.policy);
        let (messages, used) = self
            .build_messages(llm.config(), ctx)
            .map_err(|e| Fallback::Unavailable(e.to_string()))?;
        let max_tokens = match policy.max_width {
            Some(w) => llm.config().max_answer_tokens.min(w + 64),
            None => llm.config().max_answer_tokens,
        };
        let origin = Origin::Model {
            embedder: Some(Arc::clone(self.retriever.embedder())),
        };
        let mut asm = Assembler::new(&ctx.hits[..used], domain, policy, origin);
        let result = llm
            .chat(&messages, llm.config().stream, max_tokens, |d| {
                asm.push(d, &mut |p| out.piece(p))
            })
            .await;
        asm.finish(&mut |p| out.piece(p));
        if asm.report.markers_added > 0 {
            out.notice(messages::markers_added(lang, asm.report.markers_added));
        }
        if asm.report.unchecked > 0 {
            out.notice(messages::unchecked_language(lang, asm.report.unchecked));
        }
        if asm.report.markers_moved > 0 {
            out.notice(messages::markers_moved(lang, asm.report.markers_moved));
        }
        if !asm.unsupported.is_empty() {
            out.notice(messages::unsupported_removed(lang, &asm.unsupported));
        }
        for reason in &asm.dropped {
            out.notice(messages::dropped_sentence(lang, reason));
        }
        if asm.shortened {
            out.notice(messages::shortened(lang).into());
        }
        match result {
            Ok(c) => {
                if c.malformed_events > 0 {
                    out.notice(messages::malformed_events(lang, c.malformed_events));
                }
                if c.truncated && !asm.shortened {
                    out.notice(messages::truncated(lang).into());
                }
                if asm.abstained {
                    out.text(messages::no_answer(lang));
                } else if asm.text.trim().is_empty() {
                    return Err(if asm.dropped.is_empty() && asm.unsupported.is_empty() {
                        Fallback::Unavailable(LlmError::Empty.to_string())
                    } else {
                        Fallback::Rejected(asm.report)
                    });
                }
                Ok(ModelResult {
                    removed: asm.removed(),
                    abstained: asm.abstained,
                    support: asm.report,
                })
            }
            // The model had already said the passages do not answer: that stands.
            Err(_) if asm.abstained => {
                out.text(messages::no_answer(lang));
                Ok(ModelResult {
                    removed: asm.removed(),
                    abstained: true,
                    support: asm.report,
                })
            }
            Err(e) => {
                let mut reason = e.to_string();
                if reason.chars().count() > 200 {
                    reason = reason.chars().take(200).collect::<String>() + "…";
                }
                Err(Fallback::Unavailable(reason))
            }
        }
    }

    /// System message, earlier turns and the fenced passages, within the context budget:
    /// the oldest turns go first, then the lowest-ranked passages. Returns the messages and
    /// how many passages they hold.
    fn build_messages(
        &self,
        llm: &LlmConfig,
        ctx: &Context<'_>,
    ) -> Result<(Vec<ChatMessage>, usize), AgentError> {
        let (domain, lang, hits, history) = (ctx.domain, ctx.lang, ctx.hits, ctx.history);
        let policy = ctx.policy;
        let fence = new_fence();
        let system = self.prompts.system(
            domain.map(|d| d.name()),
            lang,
            minijinja::context! {
                domain => domain.map(|d| d.name()).unwrap_or("general"),
                lang => lang.code(),
                max_width => policy.max_width,
                hints => ctx.hints.prompt,
                no_answer => NO_ANSWER,
                fence => fence,
            },
        )?;
        let budget = llm.context_tokens.saturating_sub(llm.max_answer_tokens);
        let passages: Vec<PromptPassage> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| PromptPassage {
                n: i + 1,
                title: h.chunk.title.clone(),
                section: h.chunk.section.clone(),
                source: h.chunk.source.path.clone(),
                text: h.chunk.text.clone(),
                meta: h.chunk.metadata.clone(),
                note: note_for(&self.registry, h, lang),
            })
            .collect();
        let mut skip_turns = 0;
        let mut n = passages.len();
        loop {
            let user = self.prompts.passages(
                lang,
                minijinja::context! {
                    passages => &passages[..n],
                    question => ctx.question,
                    fence => &fence,
                    no_answer => NO_ANSWER,
                },
            )?;
            let mut messages = vec![ChatMessage::system(system.clone())];
            for t in &history[skip_turns..] {
                messages.push(ChatMessage::user(t.question.clone()));
                messages.push(ChatMessage::assistant(t.answer.clone()));
            }
            messages.push(ChatMessage::user(user));
            let tokens: usize = messages
                .iter()
                .map(|m| estimate_tokens(&m.content) + MESSAGE_OVERHEAD)
                .sum();
            if tokens <= budget {
                return Ok((messages, n));
            }
            if skip_turns < history.len() {
                skip_turns += 1;
            } else if n > 1 {
                n -= 1;
            } else {
                return Err(AgentError::Llm(LlmError::Protocol(format!(
                    "the prompt needs about {tokens} tokens, more than the {budget} that \
                     llm.context_tokens leaves after llm.max_answer_tokens"
                ))));
            }
        }
    }

    /// The extractive answer into `out`, scored against the stand-alone query (a follow-up
    /// alone says too little); true when it abstained.
    fn extractive(&self, ctx: &Context<'_>, out: &mut Output<'_, impl FnMut(AnswerEvent)>) -> bool {
        // After a model's partial answer the numbers it cited by stay as they were.
        let renumber = out.text.is_empty();
        let opts = ExtractiveOptions {
            max_width: ctx.policy.max_width,
            renumber,
            ..ExtractiveOptions::default()
        };
        let embedder = Some(self.retriever.embedder().as_ref());
        let ex = extractive_answer_with(ctx.query, ctx.hits, opts, embedder);
        if ex.abstained {
            out.text(&ex.text);
            return true;
        }
        let cited;
        let hits = if renumber {
            cited = ex.cited_hits(ctx.hits);
            out.cite_from(cited.clone());
            cited.as_slice()
        } else {
            ctx.hits
        };
        let mut asm = Assembler::new(hits, ctx.domain, ctx.policy, Origin::Extractive);
        asm.push(&ex.text, &mut |p| out.piece(p));
        asm.finish(&mut |p| out.piece(p));
        if asm.shortened {
            out.notice(messages::shortened(out.lang).into());
        }
        // A domain's note on each cited source (e.g. strength, evidence, guideline version)
        // goes into the text itself, since no model wrote it in.
        let notes: Vec<String> = asm
            .cited
            .iter()
            .filter_map(|&n| {
                note_for(&self.registry, &hits[n - 1], out.lang).map(|t| format!("[{n}] {t}"))
            })
            .collect();
        if !notes.is_empty() {
            out.text(&format!("\n{}", notes.join("\n")));
        }
        false
    }
}

/// What one question brings to the model call.
struct Context<'a> {
    domain: Option<&'a dyn Domain>,
    /// The domain's answer policy, read once per question.
    policy: AnswerPolicy,
    lang: Language,
    hints: &'a QuestionHints,
    history: &'a [Turn],
    hits: &'a [Hit],
    question: &'a str,
    /// The stand-alone query retrieval ran.
    query: &'a str,
}

struct ModelResult {
    removed: usize,
    abstained: bool,
    support: SupportReport,
}

/// Why the model's answer gave way to an extractive one; the notice says which.
enum Fallback {
    /// The model could not be reached or failed (the reason, shortened).
    Unavailable(String),
    /// The model answered, but none of its sentences was supported by the passages.
    Rejected(SupportReport),
}

pub(crate) fn note_for(registry: &DomainRegistry, hit: &Hit, lang: Language) -> Option<String> {
    registry
        .get(&hit.chunk.domain)
        .ok()
        .and_then(|d| d.source_note(&hit.chunk, lang.code()))
}

/// The notice for a search that went without one of its legs.
fn degraded_notice(found: &zhiku_index::SearchResults, lang: Language, notices: &mut Vec<String>) {
    if let Some(f) = &found.degraded {
        notices.push(messages::search_degraded(lang, f.leg).into());
    }
}
