/**
 * When to restart a gateway worker that died, and when to stop trying.
 *
 * A worker that ran for a while and then died (a crash, an OOM kill, an
 * operator's `kill -9`) is restarted at once: the other workers keep serving
 * meanwhile. A worker that keeps dying soon after it starts (a credential
 * file that became unreadable, a registry that cannot be opened) is a crash
 * loop: each restart waits twice as long as the one before, and after
 * {@link RestartPolicyOptions.maxQuickFailures} quick deaths in a row the
 * supervisor gives up and exits non-zero, so that systemd (`Restart=`,
 * `StartLimitBurst=`) or the orchestrator sees the failure instead of a
 * process that restarts workers forever in the background.
 */

/** Tuning of {@link decideRestart}. */
export interface RestartPolicyOptions {
  /** Delay before restarting after the first quick death (default 100 ms); doubles with each further one. */
  initialDelayMs?: number;
  /** Longest delay between restarts (default 5 000 ms). */
  maxDelayMs?: number;
  /** A worker that served at least this long died on its own, not in a crash loop (default 10 000 ms). */
  stableAfterMs?: number;
  /** Quick deaths in a row in one worker slot after which the supervisor gives up (default 5). */
  maxQuickFailures?: number;
}

/** The policy's defaults. */
export const DEFAULT_RESTART_POLICY: Readonly<Required<RestartPolicyOptions>> = {
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  stableAfterMs: 10_000,
  maxQuickFailures: 5,
};

/** What to do about one worker's death. */
export type RestartDecision =
  | { action: 'restart'; delayMs: number; quickFailures: number }
  | { action: 'give-up'; quickFailures: number };

/**
 * Decides about a worker that exited on its own.
 * @param quickFailures - quick deaths in a row in this slot before this one
 * @param uptimeMs - how long the worker that just died had been running
 * @returns restart after `delayMs` (0 for a worker that had been stable), or
 *   give up; `quickFailures` is the slot's new count
 */
export function decideRestart(
  quickFailures: number,
  uptimeMs: number,
  options: RestartPolicyOptions = {},
): RestartDecision {
  const o = { ...DEFAULT_RESTART_POLICY, ...options };
  if (uptimeMs >= o.stableAfterMs) return { action: 'restart', delayMs: 0, quickFailures: 0 };
  const n = quickFailures + 1;
  if (n >= o.maxQuickFailures) return { action: 'give-up', quickFailures: n };
  return {
    action: 'restart',
    delayMs: Math.min(o.initialDelayMs * 2 ** (n - 1), o.maxDelayMs),
    quickFailures: n,
  };
}

/**
 * What an operator should look at when a worker kept dying without reporting
 * an error of its own, from how its last death looked.
 * @param signal - the signal that ended it, or null
 * @param code - its exit code, or null
 */
export function silentDeathHint(signal: string | null, code: number | null): string {
  // SIGKILL cannot be caught, and the one sender that acts on its own is the
  // kernel's out-of-memory killer (or a cgroup memory limit).
  if (signal === 'SIGKILL')
    return 'Something sent the worker SIGKILL; most often the out-of-memory killer: look in `dmesg` or the service manager (systemd MemoryMax=, a container limit), then give the service more memory or fewer workers.';
  if (signal)
    return `The worker crashed on ${signal}: rerun with MTLS_DEBUG=1 and report its stderr as a bug in mtlskit.`;
  return `The worker exited with code ${code ?? 'unknown'} before reporting an error; its last log lines, before this one, say why.`;
}
