//! Server-sent events as OpenAI-compatible servers send them: `data: {json}` lines, events
//! ended by a blank line, the stream ended by `data: [DONE]`. Bytes are split into lines
//! before decoding, so a UTF-8 character cut across two network chunks is never an error,
//! while bytes that are not UTF-8 at all are.

/// One parsed event of a chat-completions stream.
#[derive(Debug, PartialEq)]
pub enum SseEvent {
    /// A piece of the answer (may be empty: role-only or usage-only chunks); `finish` is the
    /// chunk's `finish_reason` (`stop`, `length`…) when it has one.
    Delta {
        text: String,
        finish: Option<String>,
    },
    /// A reasoning model thinking aloud (`reasoning_content`): not part of the answer, but a
    /// sign of life.
    Thinking,
    /// `data: [DONE]`.
    Done,
    /// The server reported an error inside the stream.
    Error(String),
    /// A `data:` payload that is not a chat-completions chunk; skipped and counted.
    Malformed,
}

/// Incremental line-based SSE decoder.
#[derive(Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    data: String,
}

#[derive(Debug, PartialEq)]
pub struct NotUtf8;

impl SseDecoder {
    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, NotUtf8> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=nl).collect();
            let line = std::str::from_utf8(&raw).map_err(|_| NotUtf8)?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(parse_data(&std::mem::take(&mut self.data)));
                }
            } else if let Some(v) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
            // `event:`, `id:`, `retry:` and `:` comments (keep-alives) carry nothing we use;
            // a line with no field name is ignored, as the SSE specification says.
        }
        Ok(out)
    }

    /// The end of the byte stream: an event not yet closed by a blank line still counts.
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, NotUtf8> {
        let mut out = self.feed(b"\n")?;
        if !self.data.is_empty() {
            out.push(parse_data(&std::mem::take(&mut self.data)));
        }
        Ok(out)
    }
}

fn parse_data(data: &str) -> SseEvent {
    let data = data.trim();
    if data == "[DONE]" {
        return SseEvent::Done;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
        return SseEvent::Malformed;
    };
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let msg = e
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return SseEvent::Error(msg);
    }
    match v.get("choices").and_then(|c| c.as_array()) {
        Some(choices) => {
            let first = choices.first();
            let text = first
                .and_then(|c| c.get("delta"))
                .and_then(|d| d.get("content"))
                .and_then(|c| c.as_str())
                .unwrap_or("");
            let finish = first
                .and_then(|c| c.get("finish_reason"))
                .and_then(|f| f.as_str())
                .map(str::to_string);
            let thinking = first
                .and_then(|c| c.pointer("/delta/reasoning_content"))
                .and_then(|r| r.as_str())
                .is_some_and(|r| !r.is_empty());
            if text.is_empty() && thinking && finish.is_none() {
                return SseEvent::Thinking;
            }
            SseEvent::Delta {
                text: text.to_string(),
                finish,
            }
        }
        None => SseEvent::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> String {
        format!(
            "data: {}\n\n",
            serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]})
        )
    }

    #[test]
    fn split_utf8_and_lines_across_chunks() {
        let all = format!(
            "{}: keep-alive\n\n{}data: [DONE]\n\n",
            chunk("故宫"),
            chunk("建于")
        );
        let bytes = all.as_bytes();
        let mut d = SseDecoder::default();
        let mut events = Vec::new();
        // Feed one byte at a time: every character and line is cut somewhere.
        for b in bytes {
            events.extend(d.feed(std::slice::from_ref(b)).unwrap());
        }
        events.extend(d.finish().unwrap());
        assert_eq!(
            events,
            vec![
                SseEvent::Delta {
                    text: "故宫".into(),
                    finish: None
                },
                SseEvent::Delta {
                    text: "建于".into(),
                    finish: None
                },
                SseEvent::Done
            ]
        );
    }

    #[test]
    fn malformed_errors_and_bad_bytes() {
        let mut d = SseDecoder::default();
        let ev = d
            .feed(b"data: {not json\n\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n")
            .unwrap();
        assert_eq!(
            ev,
            vec![SseEvent::Malformed, SseEvent::Error("overloaded".into())]
        );
        assert_eq!(
            d.feed(b"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n"),
            Ok(vec![SseEvent::Thinking])
        );
        assert_eq!(d.feed(b"data: \xff\xfe\n"), Err(NotUtf8));
    }
}
