// What the browser tests run against: the real zhiku binary, ingesting the sample education
// corpus (plus the fixtures here) into a fresh data directory, with local accounts, serving
// on an ephemeral port; and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const FIXTURES = join(ROOT, 'web/tests/fixtures');
export const EDUCATION = join(ROOT, 'corpora/education');

export function zhikuBin() {
  const bin = process.env.ZHIKU_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'release/zhiku');
  if (!existsSync(bin)) throw new Error(`no zhiku binary at ${bin}: build it (make build) or set ZHIKU_BIN`);
  return bin;
}

export function zhiku(dataDir, args, input) {
  return execFileSync(zhikuBin(), ['--data-dir', dataDir, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ZHIKU_LOG: 'warn' },
  });
}

export const PASSWORDS = { alice: 'alice-学生-pass', bob: 'bob-教师-pass' };

/** A data directory with the education corpus and the fixtures ingested, and two accounts. */
export async function prepareData() {
  const dir = await mkdtemp(join(tmpdir(), 'zhiku-e2e-'));
  const data = join(dir, 'data');
  zhiku(data, ['ingest', '--domain', 'education', EDUCATION, FIXTURES]);
  zhiku(data, ['users', 'add', 'alice', '--role', 'student', '--password-stdin'], PASSWORDS.alice + '\n');
  zhiku(data, ['users', 'add', 'bob', '--role', 'teacher', '--password-stdin'], PASSWORDS.bob + '\n');
  return { dir, data };
}

/** `zhiku serve` on port 0; resolves once it is ready, with its URL. */
export async function startServer(data, env = {}) {
  await rm(join(data, 'server.json'), { force: true });
  const child = spawn(zhikuBin(), ['--data-dir', data, 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ZHIKU_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`zhiku serve exited (${child.exitCode}):\n${log}`);
    try {
      const note = JSON.parse(await readFile(join(data, 'server.json'), 'utf8'));
      const ready = await fetch(new URL('/readyz', note.url));
      if (ready.ok) {
        return {
          url: note.url.replace(/\/$/, ''),
          log: () => log,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`zhiku serve did not become ready:\n${log}`);
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where screenshots go: `ZHIKU_SCREENSHOTS` (docs/screenshots to refresh those), else a temp folder. */
export function screenshotDir(fallback) {
  return process.env.ZHIKU_SCREENSHOTS ? resolve(process.env.ZHIKU_SCREENSHOTS) : fallback;
}

/** The bytes `[start, end)` of a cited file, found under the ingested roots. */
export async function citedBytes(path, start, end) {
  for (const root of [EDUCATION, FIXTURES, ROOT, '']) {
    const full = root ? join(root, path) : path;
    if (existsSync(full)) return (await readFile(full)).subarray(start, end).toString('utf8');
  }
  throw new Error(`cited file ${path} not found under the ingested roots`);
}

export async function cleanup(dir) {
  await rm(dir, { recursive: true, force: true });
}

export { cp, writeFile };
