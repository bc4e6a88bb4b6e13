/**
 * Resources a `before` hook opens, closed by `after` in reverse order. Only what
 * was actually opened gets closed, so a `before` that failed half-way leaves
 * no process or socket behind and needs no `x?.close()` guesses.
 */
export class Teardown {
  readonly #steps: Array<() => unknown> = [];

  /** Registers `resource.close()` and returns the resource. */
  use<T extends { close(): unknown }>(resource: T): T {
    this.#steps.push(() => resource.close());
    return resource;
  }

  /** Registers a cleanup step (removing a temp dir, killing a process). */
  defer(step: () => unknown): void {
    this.#steps.push(step);
  }

  /** Runs every step, last registered first; throws the first failure after running all. */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step();
      } catch (e) {
        failures.push(e);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
