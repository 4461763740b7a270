/** What one detect rule found: the verdict and what it was read from (for logs and `detect`). */
export interface DetectOutcome {
  installed: boolean;
  /** what was read ("file version 19.0.1234.5"), or why nothing was */
  evidence: string;
  /** nothing usable was read (no version resource, reg.exe refused): logged at warn with these facts */
  problem?: { message: string; fields: Record<string, unknown> };
  /** the rule could not be evaluated at all (reg.exe missing or refused, a bad placeholder) */
  failed?: boolean;
}
