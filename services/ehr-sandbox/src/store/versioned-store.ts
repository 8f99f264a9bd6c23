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
 * The versions one transaction appended, by `Type/id`: rolling it back removes exactly those,
 * so writes other requests made meanwhile to other (or even the same) records survive.
 */
export type Journal = Map<string, string[]>;

/**
 * In-memory versioned storage. Versions are immutable once written; a transaction passes its
 * own journal to {@link append}, and {@link rollback} undoes only what that journal recorded,
 * so transactions of different patients can run side by side.
 * @see http://hl7.org/fhir/R4/http.html#transaction ("all or nothing")
 */
export class VersionedStore {
  private readonly types = new Map<string, Map<string, ResourceRecord>>();

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

  append(resourceType: string, id: string, version: ResourceVersion, journal?: Journal): void {
    let byId = this.types.get(resourceType);
    if (!byId) {
      byId = new Map();
      this.types.set(resourceType, byId);
    }
    const previous = byId.get(id);
    if (journal) {
      const key = `${resourceType}/${id}`;
      journal.set(key, [...(journal.get(key) ?? []), version.versionId]);
    }
    byId.set(id, { resourceType, id, versions: [...(previous?.versions ?? []), Object.freeze(version)] });
  }

  clear(): void {
    this.types.clear();
  }

  /** Removes the versions `journal` recorded; a record left with none is gone, as before its create. */
  rollback(journal: Journal): void {
    for (const [key, versionIds] of journal) {
      const slash = key.indexOf('/');
      const byId = this.types.get(key.slice(0, slash));
      const id = key.slice(slash + 1);
      const record = byId?.get(id);
      if (!byId || !record) continue;
      const undone = new Set(versionIds);
      const versions = record.versions.filter((v) => !undone.has(v.versionId));
      if (versions.length > 0) {
        byId.set(id, { ...record, versions });
      } else {
        byId.delete(id);
      }
    }
  }
}
