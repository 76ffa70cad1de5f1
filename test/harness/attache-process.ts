/**
 * Runs `attache <command>` as a child process, exactly as a user would (`node bin/attache.js`),
 * keeping its log output for assertions and failure messages. It runs the TypeScript sources
 * (ATTACHE_FROM_SOURCE=1), not a possibly stale dist/: test/deploy/compiled-build.test.ts checks
 * that the compiled build behaves the same.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTestSecretKeys } from './test-secret-keys.ts';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/attache.js');

export interface AttacheProcess {
  readonly args: readonly string[];
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Polls `http://127.0.0.1:<adminPort>/readyz` until it answers 200. */
  waitReady(adminPort: number, timeoutMs?: number): Promise<void>;
  /** Waits for the process to exit by itself (or `timeoutMs`, then kills it); returns the exit code. */
  wait(timeoutMs?: number): Promise<number | null>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT / SIGKILL for fault tests). */
  signal(signal: NodeJS.Signals): void;
  /** Sends a signal (SIGTERM by default) and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: boolean;
}

/** `stdin`: written to the process's standard input, which is then closed (else it reads nothing). */
export function startAttache(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  opts: { stdin?: string } = {},
): AttacheProcess {
  let out = '';
  let exited = false;
  let exitCode: number | null = null;
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      ATTACHE_LOG_LEVEL: 'info',
      ATTACHE_FROM_SOURCE: '1',
      ...withTestSecretKeys(args, env),
    },
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  const onData = (b: Buffer) => {
    out += b.toString('utf8');
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
      resolve(code);
    }),
  );
  return {
    args,
    output: () => out,
    get exited() {
      return exited;
    },
    async waitReady(adminPort, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exited)
          throw new Error(`attache ${args.join(' ')} exited with ${exitCode}:\n${out.slice(-4000)}`);
        try {
          const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) {
          throw new Error(`attache ${args.join(' ')} not ready after ${timeoutMs} ms:\n${out.slice(-4000)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async wait(timeoutMs = 60_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    signal(signal) {
      if (!exited) child.kill(signal);
    },
    async stop(signal = 'SIGTERM') {
      if (!exited) child.kill('SIGCONT');
      if (!exited) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}
