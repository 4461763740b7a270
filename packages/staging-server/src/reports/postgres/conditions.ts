// The WHERE clause of a query built from the filters it names: only the conditions given,
// so PostgreSQL plans for those, each value a numbered parameter ($1, $2, …).
type Param = string | number;

export class Conditions {
  private readonly conditions: string[] = [];
  readonly params: Param[] = [];

  /** A condition in which each `?` stands for the next of `params`. */
  add(condition: string, ...params: readonly Param[]): this {
    let index = this.params.length;
    this.conditions.push(condition.replace(/\?/g, () => `$${++index}`));
    this.params.push(...params);
    return this;
  }

  /** `condition` with `value` for its one `?`, only when the filter is set. */
  whenSet(condition: string, value: Param | undefined): this {
    return value === undefined ? this : this.add(condition, value);
  }

  /** The placeholder of a parameter added after these (a LIMIT after the WHERE). */
  get nextPlaceholder(): string {
    return `$${this.params.length + 1}`;
  }

  /** ` WHERE …`, or nothing when no condition applies. */
  toSql(): string {
    return this.conditions.length === 0 ? '' : ` WHERE ${this.conditions.join(' AND ')}`;
  }
}
