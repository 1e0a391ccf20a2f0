// The chat page tried as its users would, in headless Chromium against the real server on
// the sample education corpus: first without a model (extractive answers), then with the
// OpenAI-protocol test server as the model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  PASSWORDS, citedBytes, cleanup, cp, launchBrowser, prepareData, screenshotDir, startServer, zhiku,
} from './harness.mjs';
import { startFakeModel } from './fake-model.mjs';

const INTERNAL_DOC = 'edu-math-observation-record-2024-internal';
const INTERNAL_TITLE = '听评课记录';
const INTERNAL_QUESTION = '初二数学组听评课记录中，一次函数图象这节课学生出现了哪些问题？';

let work;
let browser;
let shots;

before(async () => {
  work = await prepareData();
  // The model run gets a copy: two servers may not share one data directory.
  await cp(work.data, join(work.dir, 'data-model'), { recursive: true });
  browser = await launchBrowser();
  shots = screenshotDir(join(work.dir, 'screenshots'));
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (work && !process.env.ZHIKU_KEEP_E2E) await cleanup(work.dir);
});

async function signIn(base, name, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 860 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(base + '/');
  await page.fill('#name', name);
  await page.fill('#password', PASSWORDS[name]);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('#question');
  return { context, page };
}

/** Asks in the page and waits for the whole answer; returns the answer's article. */
async function ask(page, question) {
  const before = await page.locator('article.turn').count();
  await page.fill('#question', question);
  await page.keyboard.press('Enter');
  const turn = page.locator('article.turn').nth(before);
  await turn.locator('.reply[aria-busy="false"]').waitFor({ timeout: 60_000 });
  return turn;
}

async function json(page, path, init) {
  return page.evaluate(
    async ([p, i]) => {
      const r = await fetch(p, i);
      return { status: r.status, body: r.status === 204 ? null : await r.json() };
    },
    [path, init ?? {}],
  );
}

async function sourceTitles(turn) {
  return turn.locator('.source-list .source').allTextContents();
}

describe('without a model (extractive answers)', () => {
  let server;
  before(async () => {
    server = await startServer(work.data, { ZHIKU_LLM_URL: '' });
  });
  after(async () => server?.stop());

  test('the first load of the page stays under 500 kB compressed', async () => {
    const { context } = await signIn(server.url, 'alice');
    // A new context with the session cookie only: nothing cached.
    const empty = await browser.newContext({ storageState: await context.storageState() });
    await context.close();
    const fresh = await empty.newPage();
    let bytes = 0;
    const done = [];
    fresh.on('requestfinished', (r) => done.push(r.sizes().then((s) => (bytes += s.responseBodySize + s.responseHeadersSize))));
    await fresh.goto(server.url + '/', { waitUntil: 'networkidle' });
    await fresh.waitForSelector('#question');
    await Promise.all(done);
    console.log(`first load (signed in, cache empty): ${bytes} bytes transferred in ${done.length} requests`);
    assert.ok(bytes > 10_000, 'the script and stylesheet were loaded');
    assert.ok(bytes < 500_000, `first load transferred ${bytes} bytes`);
    await empty.close();
  });

  test('an injected <img onerror> or <script> in a passage is shown as text and never runs', async () => {
    const { context, page } = await signIn(server.url, 'alice');
    await page.selectOption('#domain', 'education');
    const turn = await ask(page, '斑马考拉样例演示了什么攻击？');
    const answer = await turn.locator('.answer').textContent();
    assert.match(answer, /<img src=x onerror=/, 'the tag is shown as text in the answer');
    assert.equal(await turn.locator('.answer img, .answer script').count(), 0);
    await turn.locator('a.cite').first().click();
    const passage = await page.locator('#source-panel .passage').textContent();
    assert.match(passage, /<script>window.__pwned=2<\/script>/);
    assert.equal(await page.locator('#source-panel img, #source-panel script').count(), 0);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected code ran');
    await context.close();
  });

  test('a formula in a passage cannot cover the page, and a link in it says where it goes', async () => {
    const { context, page } = await signIn(server.url, 'alice');
    await page.selectOption('#domain', 'education');
    const turn = await ask(page, '河马企鹅样例用超大公式和外部链接做了什么？');
    await turn.locator('a.cite').first().click();
    await page.locator('#source-panel .passage').waitFor();
    const formulas = await page.locator('.answer .katex, #source-panel .katex').evaluateAll((nodes) =>
      nodes.map((n) => { const r = n.getBoundingClientRect(); return [r.width, r.height]; }));
    assert.ok(formulas.length >= 1, 'the formula is rendered somewhere');
    for (const [w, h] of formulas) assert.ok(w < 400 && h < 400, `a formula drew a ${w}x${h} box`);
    const links = await page.locator('.answer a[href^="http"], #source-panel a[href^="http"]').evaluateAll((nodes) =>
      nodes.map((a) => ({ rel: a.rel, next: a.nextElementSibling?.textContent ?? '' })));
    assert.ok(links.length >= 1, 'the passage link is shown');
    for (const link of links) {
      assert.match(link.rel, /noopener/);
      assert.match(link.rel, /noreferrer/);
      assert.match(link.rel, /nofollow/);
      assert.match(link.next, /example\.com/, 'the host is shown beside the link');
    }
    await context.close();
  });

  test('the extractive mode and the engine notices are shown apart from the answer; an abstention says so', async () => {
    const { context, page } = await signIn(server.url, 'alice');
    await page.locator('header.top .badge').waitFor();
    assert.equal(await page.locator('header.top .badge').textContent(), '摘录模式');
    const turn = await ask(page, '一元二次方程的求根公式是什么？');
    assert.ok((await turn.locator('.answer a.cite').count()) >= 1, 'the extractive answer cites');
    const notices = await turn.locator('.notice').allTextContents();
    const answer = await turn.locator('.answer').textContent();
    for (const n of notices) assert.ok(!answer.includes(n.replace(/^提示:\s*/, '')), 'a notice is not mixed into the answer');
    const none = await ask(page, '火星上第一家面包店的店主叫什么名字？');
    await none.locator('.answer.abstained').waitFor();
    // Said once, in the answer, in Chinese: no banner or notice repeating it.
    const refusal = await none.locator('.answer.abstained').textContent();
    assert.match(refusal, /^资料中没有/);
    assert.ok(!/[A-Za-z]{3}/.test(refusal), refusal);
    const said = (await none.locator('.reply').textContent()).split('资料中没有').length - 1;
    assert.equal(said, 1, 'the refusal is said once');
    await context.close();
  });

  test('the page works by keyboard alone', async () => {
    const { context, page } = await signIn(server.url, 'alice');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'question', 'focus starts in the question box');
    await page.keyboard.type('一元二次方程的求根公式是什么？');
    await page.keyboard.press('Enter');
    const turn = page.locator('article.turn').last();
    await turn.locator('.reply[aria-busy="false"]').waitFor();
    const link = turn.locator('a.cite').first();
    const focused = () => link.evaluate((a) => a === document.activeElement);
    for (let i = 0; i < 60 && !(await focused()); i++) await page.keyboard.press('Tab');
    assert.ok(await focused(), 'Tab reaches the [n] link');
    await page.keyboard.press('Enter');
    await page.locator('#source-panel mark.cited').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'source-title', 'focus moves into the panel');
    await page.keyboard.press('Escape');
    assert.ok(await page.locator('#source-panel').isHidden(), 'Escape closes it');
    assert.ok(await focused(), 'and focus returns to the link');
    await context.close();
  });

  test('a guest may ask without signing in, sees public material only and keeps no list', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.click('#guest');
    await page.waitForSelector('#question');
    assert.equal(await page.locator('#who').textContent(), 'guest');
    const turn = await ask(page, INTERNAL_QUESTION);
    for (const title of await sourceTitles(turn)) assert.ok(!title.includes(INTERNAL_TITLE), title);
    assert.equal((await json(page, `/v1/documents/${INTERNAL_DOC}`)).status, 404);
    assert.equal((await json(page, '/v1/conversations')).status, 403);
    await context.close();
  });
});

describe('with a model (the OpenAI-protocol test server)', () => {
  let server;
  let model;
  before(async () => {
    model = await startFakeModel();
    server = await startServer(join(work.dir, 'data-model'), { ZHIKU_LLM_URL: model.url, ZHIKU_LLM_MODEL: 'fake-model' });
  });
  after(async () => {
    await server?.stop();
    await model?.close();
  });

  test('a student asks a maths question, checks a source, rates the answer and comes back to it', async () => {
    const { context, page } = await signIn(server.url, 'alice');
    assert.equal(await page.locator('#who').textContent(), 'alice · 学生');
    // The pickers' values come from the indexed metadata.
    assert.equal(await page.inputValue('#domain'), 'education');
    const subjects = await page.locator('#facet-subject option').evaluateAll((os) => os.map((o) => o.value));
    assert.ok(subjects.includes('math') && subjects.includes('physics'), 'subjects: ' + subjects.join());
    const grades = await page.locator('#facet-grade_band option').evaluateAll((os) => os.map((o) => o.value));
    assert.ok(grades.includes('junior'), grades.join());
    await page.selectOption('#facet-subject', 'math');

    // Watch the answer grow while it streams.
    await page.evaluate(() => {
      window.__lengths = new Set();
      new MutationObserver(() => {
        const busy = document.querySelector('.reply[aria-busy="true"] .answer');
        if (busy) window.__lengths.add(busy.textContent.length);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const question = '一元二次方程的求根公式是什么？';
    const turn = await ask(page, question);
    const partial = await page.evaluate(() => [...window.__lengths].filter((n) => n > 0).length);
    assert.ok(partial >= 2, `the answer was seen at ${partial} partial lengths while streaming`);
    assert.ok((await turn.locator('.answer .katex').count()) >= 2, 'formulas are rendered');
    assert.equal(await turn.locator('.answer .katex-display').count(), 1, 'the display formula too');
    assert.equal(await turn.locator('.answer table').count(), 1, 'the Markdown table');
    assert.equal(await turn.locator('.badge').count(), 0, 'no extractive badge');

    // [1] opens the source panel with exactly the cited bytes marked.
    const list = (await json(page, '/v1/conversations')).body.conversations;
    assert.equal(list.length, 1);
    const stored = (await json(page, `/v1/conversations/${list[0].id}`)).body;
    const cited = stored.turns[0].citations.find((c) => c.marker === 1);
    assert.ok(cited.span_in_file, 'a Markdown passage is a span of its file');
    await turn.locator('a.cite[data-marker="1"]').first().click();
    const mark = page.locator('#source-panel mark.cited');
    await mark.waitFor();
    assert.equal(await mark.textContent(), await citedBytes(cited.path, cited.start, cited.end));
    assert.equal(await page.locator('#source-title').textContent(), `[1] ${cited.title}`);
    assert.ok((await page.locator('#source-panel .meta dd[data-field="subject"]').count()) === 1, 'subject shown');
    await page.screenshot({ path: join(shots, 'chat-desktop.png') });
    await page.click('#source-panel button.secondary');
    await page.locator('dialog.document mark.cited').waitFor();
    assert.equal(await page.locator('dialog.document mark.cited').textContent(), await mark.textContent());
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    assert.ok(await page.locator('#source-panel').isHidden(), 'Escape closes the panel');

    // Feedback with a comment, stored for teachers to review.
    await turn.locator('button[aria-label="没帮助"]').click();
    await turn.locator('textarea.comment').fill('缺少推导过程 e2e');
    await turn.locator('form.feedback button').click();
    await turn.getByText('谢谢，反馈已记录。').waitFor();
    const exported = zhiku(join(work.dir, 'data-model'), ['feedback', 'export']);
    const record = exported.trim().split('\n').map((l) => JSON.parse(l)).find((r) => r.comment === '缺少推导过程 e2e');
    assert.equal(record.rating, -1);
    assert.equal(record.question, question);

    // A follow-up in the same conversation, then a reload: the conversation is still there.
    await ask(page, '那判别式小于零时呢？');
    await page.reload();
    await page.waitForSelector('.conversations li');
    assert.equal(await page.locator('.conversations li').count(), 1);
    await page.locator('.conversations li button.open').click();
    await page.locator('article.turn').nth(1).waitFor();
    assert.equal(await page.locator('article.turn .question').first().textContent(), question);
    assert.ok((await page.locator('article.turn').first().locator('a.cite').count()) >= 1, 'reopened answers still link their sources');
    assert.ok((await page.locator('article.turn').first().locator('.katex').count()) >= 2);

    // Rename it.
    page.once('dialog', (d) => d.accept('求根公式'));
    await page.locator('.conversations li button[title="重命名"]').click();
    await page.locator('.conversations li button.open', { hasText: '求根公式' }).waitFor();

    // Stop an answer mid-stream.
    await page.fill('#question', '请慢慢地讲一遍一元二次方程的求根公式和判别式');
    await page.keyboard.press('Enter');
    const slow = page.locator('article.turn').last();
    await page.waitForFunction(() => (document.querySelector('.reply[aria-busy="true"] .answer')?.textContent.length ?? 0) > 10);
    assert.equal(await page.locator('#send').textContent(), '停止');
    await page.click('#send');
    await slow.getByText('已停止生成。').waitFor();
    assert.equal(await page.locator('#send').textContent(), '发送');

    // Switch the interface to English.
    await page.click('button.lang');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.getByRole('button', { name: '+ New conversation' }).waitFor();
    assert.equal(await page.getAttribute('#question', 'placeholder'), 'Ask a question. Enter sends, Shift+Enter starts a new line');

    // And on a phone.
    const phone = await signIn(server.url, 'alice', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, reducedMotion: 'reduce' });
    await phone.page.click('button.menu');
    await phone.page.locator('.conversations li button.open').click();
    await phone.page.locator('article.turn a.cite').first().waitFor();
    await phone.page.screenshot({ path: join(shots, 'chat-phone.png') });
    await phone.context.close();

    // Delete it: it is gone, for good.
    page.once('dialog', (d) => d.accept());
    await page.locator('.conversations li button[title="Delete"]').click();
    await page.getByText('No conversations yet.').waitFor();
    assert.equal((await json(page, `/v1/conversations/${list[0].id}`)).status, 404);
    await context.close();
  });

  test('a teacher-only document reaches the teacher and never the student', async () => {
    const student = await signIn(server.url, 'alice');
    const seen = await sourceTitles(await ask(student.page, INTERNAL_QUESTION));
    assert.ok(seen.length > 0);
    for (const title of seen) assert.ok(!title.includes(INTERNAL_TITLE), `student saw ${title}`);
    assert.equal((await json(student.page, `/v1/documents/${INTERNAL_DOC}`)).status, 404);
    // Nothing the page sends can widen it.
    const widened = await json(student.page, '/v1/ask', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ question: INTERNAL_QUESTION, clearance: 'internal' }),
    });
    assert.equal(widened.status, 422);
    await student.context.close();

    const teacher = await signIn(server.url, 'bob');
    assert.equal(await teacher.page.locator('#who').textContent(), 'bob · 教师');
    const titles = await sourceTitles(await ask(teacher.page, INTERNAL_QUESTION));
    assert.ok(titles.some((t) => t.includes(INTERNAL_TITLE)), `teacher saw ${titles.join(' | ')}`);
    assert.equal((await json(teacher.page, `/v1/documents/${INTERNAL_DOC}`)).status, 200);
    await teacher.context.close();
  });

  test('a wrong password is refused plainly, and signing out ends the session', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.fill('#name', 'alice');
    await page.fill('#password', 'not-her-password');
    await page.click('form.signin button[type=submit]');
    await page.getByText('用户名或密码不正确。').waitFor();
    await page.fill('#password', PASSWORDS.alice);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('#question');
    await page.getByRole('button', { name: '退出' }).click();
    await page.waitForSelector('form.signin');
    assert.equal((await json(page, '/v1/conversations')).status, 403, 'signed out: a guest again');
    await context.close();
  });
});
