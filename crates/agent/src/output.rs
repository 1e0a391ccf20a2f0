//! The answer as it forms: collected for the finished [`crate::Answer`] and forwarded to the
//! caller as events, each newly cited source resolved to its citation.

use std::borrow::Cow;

use zhiku_core::{DomainRegistry, Hit};

use crate::answer::AnswerEvent;
use crate::assembler::Piece;
use crate::citations::Citation;
use crate::lang::Language;

/// Collects the answer while forwarding it as events.
pub(crate) struct Output<'a, F: FnMut(AnswerEvent)> {
    hits: Cow<'a, [Hit]>,
    registry: &'a DomainRegistry,
    pub(crate) lang: Language,
    sink: &'a mut F,
    pub(crate) text: String,
    pub(crate) citations: Vec<Citation>,
    pub(crate) notices: Vec<String>,
}

impl<'a, F: FnMut(AnswerEvent)> Output<'a, F> {
    pub(crate) fn new(
        hits: &'a [Hit],
        registry: &'a DomainRegistry,
        lang: Language,
        sink: &'a mut F,
    ) -> Self {
        Self {
            hits: Cow::Borrowed(hits),
            registry,
            lang,
            sink,
            text: String::new(),
            citations: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// Markers from now on number these passages (an extractive answer numbers the passages
    /// it quotes in order of first use).
    pub(crate) fn cite_from(&mut self, hits: Vec<Hit>) {
        self.hits = Cow::Owned(hits);
    }

    pub(crate) fn event(&mut self, e: AnswerEvent) {
        (self.sink)(e)
    }

    pub(crate) fn text(&mut self, t: &str) {
        self.text.push_str(t);
        self.event(AnswerEvent::Text {
            text: t.to_string(),
        });
    }

    pub(crate) fn notice(&mut self, t: String) {
        self.notices.push(t.clone());
        self.event(AnswerEvent::Notice { text: t });
    }

    pub(crate) fn piece(&mut self, p: Piece) {
        match p {
            Piece::Text(t) => self.text(&t),
            Piece::Cited(n) => {
                if self.citations.iter().any(|c| c.marker == n) {
                    return;
                }
                let Some(hit) = n.checked_sub(1).and_then(|i| self.hits.get(i)) else {
                    return;
                };
                let mut c = Citation::from_hit(n, hit);
                c.note = crate::agent::note_for(self.registry, hit, self.lang);
                self.citations.push(c.clone());
                self.event(AnswerEvent::Citation { citation: c });
            }
        }
    }
}
