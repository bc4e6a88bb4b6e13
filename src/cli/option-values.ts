/**
 * Narrowing of commander option values where an action receives them as a
 * loose record: a string option is a string or absent, never cast.
 */

/** The option's value when it is a string, else undefined. */
export function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** True when `value` is one of `choices` (narrows to that union). */
export function isOneOf<T extends string>(value: string, choices: readonly T[]): value is T {
  return choices.some((c) => c === value);
}
