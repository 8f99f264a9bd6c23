import type { Resource } from '@medplum/fhirtypes';

/** One version of a resource; `resource` is absent for the version that records a delete. */
export interface ResourceVersion {
  readonly versionId: string;
  readonly lastUpdated: string;
  readonly resource?: Readonly<Resource>;
}

/** Every version of one logical resource, oldest first. */
export interface ResourceRecord {
  readonly resourceType: string;
  readonly id: string;
  readonly versions: readonly ResourceVersion[];
}

/**
 * In-memory versioned storage with an undo journal. Versions are immutable once written, so a
 * journal entry only needs the record's previous version list: rolling back a transaction
 * restores those lists and nothing else, whatever the store's size.
 * @see http://hl7.org/fhir/R4/http.html#transaction ("all or nothing")
 */
export class VersionedStore {
  private readonly types = new Map<string, Map<string, ResourceRecord>>();
  private journal: Map<string, ResourceRecord | undefined> | undefined;

  get(resourceType: string, id: string): ResourceRecord | undefined {
    return this.types.get(resourceType)?.get(id);
  }

  /** The current version's content, or undefined when absent or deleted. */
  current(resourceType: string, id: string): Readonly<Resource> | undefined {
    return this.get(resourceType, id)?.versions.at(-1)?.resource;
  }

  /** Current, non-deleted resources of a type, in creation order. */
  *live(resourceType: string): Iterable<Readonly<Resource>> {
    for (const record of this.types.get(resourceType)?.values() ?? []) {
      const resource = record.versions.at(-1)?.resource;
      if (resource) {
        yield resource;
      }
    }
  }

  /** Number of live resources per type, omitting types with none. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const resourceType of this.types.keys()) {
      let n = 0;
      for (const _ of this.live(resourceType)) {
        n++;
      }
      if (n > 0) {
        counts[resourceType] = n;
      }
    }
    return counts;
  }

  append(resourceType: string, id: string, version: ResourceVersion): void {
    let byId = this.types.get(resourceType);
    if (!byId) {
      byId = new Map();
      this.types.set(resourceType, byId);
    }
    const previous = byId.get(id);
    const key = `${resourceType}/${id}`;
    if (this.journal && !this.journal.has(key)) {
      this.journal.set(key, previous);
    }
    byId.set(id, { resourceType, id, versions: [...(previous?.versions ?? []), Object.freeze(version)] });
  }

  clear(): void {
    this.types.clear();
  }

  get inTransaction(): boolean {
    return this.journal !== undefined;
  }

  begin(): void {
    this.journal = new Map();
  }

  commit(): void {
    this.journal = undefined;
  }

  rollback(): void {
    const journal = this.journal;
    this.journal = undefined;
    for (const [key, before] of journal ?? []) {
      const slash = key.indexOf('/');
      const byId = this.types.get(key.slice(0, slash));
      const id = key.slice(slash + 1);
      if (before) {
        byId?.set(id, before);
      } else {
        byId?.delete(id);
      }
    }
  }
}
