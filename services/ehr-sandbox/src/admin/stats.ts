/** Snapshot returned by `GET /__admin/stats`. */
export interface SandboxStats {
  readonly requests: {
    readonly total: number;
    readonly byMethod: Readonly<Record<string, number>>;
    readonly byStatus: Readonly<Record<string, number>>;
    /** Keyed `"POST 201"`, to assert for example that exactly one create succeeded. */
    readonly byMethodAndStatus: Readonly<Record<string, number>>;
  };
  /** Live (not deleted) resources per type. */
  readonly resources: Readonly<Record<string, number>>;
}

/** Counts answered requests by method and status. */
export class RequestCounter {
  private total = 0;
  private byMethod: Record<string, number> = {};
  private byStatus: Record<string, number> = {};
  private byMethodAndStatus: Record<string, number> = {};

  record(method: string, status: number): void {
    this.total++;
    increment(this.byMethod, method);
    increment(this.byStatus, String(status));
    increment(this.byMethodAndStatus, `${method} ${status}`);
  }

  reset(): void {
    this.total = 0;
    this.byMethod = {};
    this.byStatus = {};
    this.byMethodAndStatus = {};
  }

  snapshot(resources: Record<string, number>): SandboxStats {
    return {
      requests: {
        total: this.total,
        byMethod: { ...this.byMethod },
        byStatus: { ...this.byStatus },
        byMethodAndStatus: { ...this.byMethodAndStatus },
      },
      resources,
    };
  }
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
