// SQL built from the filters a query names: only the conditions given, so SQLite picks
// the index for them, and each distinct text prepared once.
import type Database from 'better-sqlite3';

type Param = string | number;

/** The conditions of a WHERE clause and their parameters, in the order they were added. */
export class Conditions {
  private readonly conditions: string[] = [];
  readonly params: Param[] = [];

  /** A condition that always applies, with the parameters of its `?`s. */
  add(condition: string, ...params: readonly Param[]): this {
    this.conditions.push(condition);
    this.params.push(...params);
    return this;
  }

  /** `condition` with `value` for its one `?`, only when the filter is set. */
  whenSet(condition: string, value: Param | undefined): this {
    return value === undefined ? this : this.add(condition, value);
  }

  get empty(): boolean {
    return this.conditions.length === 0;
  }

  /** The conditions joined with AND (no WHERE keyword). */
  toSql(): string {
    return this.conditions.join(' AND ');
  }
}

/** Statements built from filters, prepared once per distinct SQL text (a handful). */
export class FilteredStatements {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The plan SQLite chooses for `sql` (the index evidence in the tests). */
  explain(sql: string, params: readonly Param[]): string[] {
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (row) => row.detail,
    );
  }
}
