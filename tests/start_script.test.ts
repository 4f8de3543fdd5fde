// `npm start` (scripts/start.sh) when port 5173 is already taken: it serves on the next free port, says so, and the
// page answers there with the security headers; with PORT=5173 given explicitly it refuses clearly. Spawns the real
// script (Vite starts in a couple of seconds). No GPU.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const started: ChildProcess[] = [];

/** Holds 127.0.0.1:5173 (or finds it already held by something else: the same situation). */
async function occupy(port: number): Promise<Server | null> {
  const s = createServer();
  return new Promise((res) => {
    s.once('error', () => res(null));
    s.listen(port, '127.0.0.1', () => res(s));
  });
}

/** Runs start.sh until its output matches `until` (or it exits); returns the output so far. */
function runStart(
  env: Record<string, string>,
  until: RegExp,
  ms = 60_000,
): Promise<{ out: string; code: number | null }> {
  const child = spawn('bash', ['scripts/start.sh'], { cwd: ROOT, env: { ...process.env, ...env }, detached: true });
  started.push(child);
  let out = '';
  return new Promise((res) => {
    const timer = setTimeout(() => res({ out, code: null }), ms);
    const onData = (d: Buffer) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes (ESC)
      out += d.toString().replace(/\x1b\[[0-9;]*m/g, '');
      if (until.test(out)) {
        clearTimeout(timer);
        res({ out, code: null });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ out, code });
    });
  });
}

afterAll(() => {
  // its process group: bash → npx → vite
  for (const c of started) if (c.exitCode === null && c.pid) process.kill(-c.pid, 'SIGTERM');
});

describe('npm start with port 5173 taken', () => {
  it('serves on the next free port and says so; PORT=5173 refuses clearly', async () => {
    const held = await occupy(5173);
    try {
      const r = await runStart({ HOST: '127.0.0.1', PORT: '' }, /Local:\s+http:\/\/127\.0\.0\.1:(\d+)/);
      expect(r.out).toMatch(/start: port 5173 is in use; serving on port \d+ instead\./);
      const port = Number(/Local:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(r.out)![1]);
      expect(port).toBeGreaterThan(5173);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await fetch(`http://127.0.0.1:${port}/package.json`)).status).toBe(404);

      const strict = await runStart({ HOST: '127.0.0.1', PORT: '5173' }, /in use|EADDRINUSE/i);
      expect(strict.out).toMatch(/Port 5173 is in use|already in use/i);
    } finally {
      held?.close();
    }
  });
});
