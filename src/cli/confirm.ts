/**
 * Confirmation of destructive commands: a y/N question on a terminal, or
 * `--yes` where no one can answer (scripts, CI).
 */
import { createInterface } from 'node:readline/promises';
import { MtlsError } from '../errors/index.js';

/**
 * Goes on when `yes` is set or the user answers y/yes on the terminal.
 * @param question - what is about to happen, asked as a question
 * @throws MTLS_USAGE without --yes and without a terminal, or when the answer is not yes
 */
export async function confirmOrYes(question: string, yes: boolean | undefined): Promise<void> {
  if (yes === true) return;
  if (!process.stdin.isTTY) {
    throw new MtlsError('MTLS_USAGE', `refusing without confirmation: ${question}`, {
      subject: '--yes',
      hint: 'Pass --yes to confirm when no terminal can answer (scripts, CI).',
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim()))
      throw new MtlsError('MTLS_USAGE', 'not confirmed; nothing was changed', {
        subject: '--yes',
        hint: 'Answer y to go on, or pass --yes.',
      });
  } finally {
    rl.close();
  }
}
