// A stand-in for the large-model API, as a real HTTP server speaking the OpenAI
// chat-completions protocol (whole and streamed): the only stand-in the tests use. It answers
// from the passages Zhiku sends, citing the first ones, in Markdown with formulas and a
// table; a question that says "slowly" (慢慢) is streamed slowly so that it can be stopped.
import http from 'node:http';

function lastUser(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return String(messages[i].content ?? '');
  }
  return '';
}

function answerFor(body) {
  const all = body.messages.map((m) => String(m.content ?? '')).join('\n');
  const passages = [...all.matchAll(/<<<\S+ \S+ \[(\d+)\]/g)].map((m) => Number(m[1]));
  if (passages.length === 0) {
    // The follow-up rewrite: the question as it stands alone.
    return lastUser(body.messages).split('\n').pop().trim();
  }
  const cite = [...new Set(passages)].slice(0, 3).map((n) => `[${n}]`).join('');
  return [
    `根据资料，要点如下${cite}：`,
    '',
    '- 一元二次方程 $ax^2+bx+c=0$ 的求根公式见下 [1]',
    '- 判别式决定根的个数：',
    '',
    '$$x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}$$',
    '',
    '| 判别式 | 根的情况 |',
    '|---|---|',
    '| $\\Delta>0$ | 两个不相等的实数根 |',
    '| $\\Delta<0$ | 没有实数根 |',
  ].join('\n');
}

function pieces(text, size) {
  const chars = [...text];
  const out = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startFakeModel() {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    if (req.method === 'GET' && req.url.endsWith('/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'malformed JSON', type: 'invalid_request_error' } }));
      return;
    }
    requests.push(body);
    const text = answerFor(body);
    const id = 'chatcmpl-' + requests.length;
    if (!body.stream) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      }));
      return;
    }
    const slow = /慢慢|slowly/i.test(lastUser(body.messages));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const chunk = (delta, finish) => `data: ${JSON.stringify({
      id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }, null));
    const parts = slow ? pieces(text.repeat(8), 2) : pieces(text, 8);
    for (const p of parts) {
      if (res.destroyed) return;
      res.write(chunk({ content: p }, null));
      await sleep(slow ? 120 : 25);
    }
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/v1`, requests, close: () => new Promise((r) => server.close(r)) };
}
