/**
 * One `attache <command>` process started exactly as an operator would (`node bin/attache.js`),
 * logging to a file, with its pid exposed so the benchmark can read its /proc accounting and
 * kill -9 it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTestSecretKeys } from '../../test/harness/test-secret-keys.ts';

/**
 * `bin/attache.js` of this tree, or ATTACHE_BENCH_BIN: another build's `bin/attache.js` (a copy of
 * `bin/` and `dist/` taken before a change), to measure before and after in one session.
 */
const BIN =
  process.env.ATTACHE_BENCH_BIN ??
  path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/attache.js');

export class AttacheChild {
  private readonly child: ChildProcess;
  private readonly exit: Promise<number | null>;
  private exitedWith: number | null | undefined;

  constructor(
    readonly label: string,
    readonly args: readonly string[],
    readonly logFile: string,
    /** Node options for this process (e.g. `--trace-gc`, whose lines go to the log file). */
    nodeArgs: readonly string[] = [],
  ) {
    const fd = fs.openSync(logFile, 'a');
    this.child = spawn(process.execPath, [...cpuProfileArgs(), ...nodeArgs, BIN, ...args], {
      env: {
        ...process.env,
        ATTACHE_LOG_LEVEL: process.env.ATTACHE_LOG_LEVEL ?? 'info',
        ...withTestSecretKeys(args, {}),
      },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    this.exit = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitedWith = code;
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get exited(): boolean {
    return this.exitedWith !== undefined;
  }

  /** The last `bytes` of its log, for error messages. */
  tail(bytes = 3000): string {
    try {
      const s = fs.readFileSync(this.logFile, 'utf8');
      return s.slice(-bytes);
    } catch {
      return '';
    }
  }

  /** Polls `/readyz` on the admin port (every `pollMs`) until it answers 200. */
  async waitReady(adminPort: number, timeoutMs: number, pollMs = 100): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited)
        throw new Error(`${this.label} exited with ${String(this.exitedWith)} before ready:\n${this.tail()}`);
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`, {
          signal: AbortSignal.timeout(2000),
        });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`${this.label} not ready after ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
    if (!this.exited) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exit;
    clearTimeout(t);
    return code;
  }

  /** Synchronous last resort for exit handlers. */
  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/**
 * `ATTACHE_FLEET_CPU_PROF=DIR`: the fan-out and the simulator workers write V8 CPU profiles to
 * DIR when they exit (NODE_OPTIONS refuses --cpu-prof), to see where a push spends its time.
 */
export function cpuProfileArgs(): string[] {
  const dir = process.env.ATTACHE_FLEET_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
