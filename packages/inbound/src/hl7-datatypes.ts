import type { Hl7Field, Hl7Message } from '@medplum/core';
import type { HumanName, Patient } from '@medplum/fhirtypes';
import type { PatientIdentifier } from './event';
import { unescapeHl7 } from './hl7-text';

/**
 * HL7 v2 datatypes to FHIR, as the HL7 v2-to-FHIR mapping does
 * (https://build.fhir.org/ig/HL7/v2-to-fhir/): CX → Identifier, XPN → HumanName,
 * TS/DTM → date/dateTime, administrative sex → gender.
 */

export interface CxResult {
  readonly identifiers: PatientIdentifier[];
  /** Assigning authorities no setting maps, for the error text. */
  readonly unmapped: string[];
}

/**
 * Every repetition of a CX field with a value and a known system: `urn:oid:<CX.4.2>` when
 * CX.4.3 is `ISO` (`urn:uuid:` for `UUID`, the URI itself for `URI`), else the system the
 * site maps CX.4.1 to, else CX.4.1 itself when it is an OID or a URI.
 */
export function cxIdentifiers(field: Hl7Field | undefined, message: Hl7Message, authorities: ReadonlyMap<string, string>): CxResult {
  const identifiers: PatientIdentifier[] = [];
  const unmapped: string[] = [];
  if (!field) return { identifiers, unmapped };
  // Medplum's subcomponent index counts from 0: CX.4.1 is getComponent(4, 0).
  for (let rep = 0; rep < field.components.length; rep++) {
    const value = unescapeHl7(field.getComponent(1, undefined, rep), message).trim();
    if (!value) continue;
    const namespace = unescapeHl7(field.getComponent(4, 0, rep), message).trim();
    const universalId = unescapeHl7(field.getComponent(4, 1, rep), message).trim();
    const idType = field.getComponent(4, 2, rep).trim().toUpperCase();
    let system: string | undefined;
    if (universalId && idType === 'ISO') system = `urn:oid:${universalId}`;
    else if (universalId && idType === 'UUID') system = `urn:uuid:${universalId.toLowerCase()}`;
    else if (universalId && idType === 'URI') system = universalId;
    else system = authorities.get(namespace) ?? (universalId ? authorities.get(universalId) : undefined) ?? selfDescribing(namespace);
    if (system) identifiers.push({ system, value });
    else unmapped.push(namespace || universalId || '(none)');
  }
  return { identifiers, unmapped };
}

/** An assigning authority that names its own system: a bare OID, or a URI. */
function selfDescribing(namespace: string): string | undefined {
  if (/^[0-2](\.(0|[1-9]\d*))+$/.test(namespace)) return `urn:oid:${namespace}`;
  if (/^(urn:(oid|uuid):|https?:\/\/)\S+$/i.test(namespace)) return namespace;
  return undefined;
}

const NAME_USE: Readonly<Record<string, HumanName['use']>> = {
  L: 'official',
  D: 'usual',
  M: 'maiden',
  N: 'nickname',
  A: 'usual',
  S: 'anonymous',
  T: 'temp',
};

/** Every repetition of an XPN field with a family or given name. */
export function xpnNames(field: Hl7Field | undefined, message: Hl7Message): HumanName[] {
  const names: HumanName[] = [];
  if (!field) return names;
  for (let rep = 0; rep < field.components.length; rep++) {
    const part = (component: number, sub?: number): string => unescapeHl7(field.getComponent(component, sub, rep), message).trim();
    // XPN.1 is FN from 2.3 on: its first subcomponent is the surname.
    const family = part(1, 0) || part(1);
    const given = [part(2), part(3)].filter(Boolean);
    if (!family && given.length === 0) continue;
    const use = NAME_USE[part(7).toUpperCase()];
    const suffix = part(4);
    const prefix = part(5);
    names.push({
      ...(use ? { use } : {}),
      ...(family ? { family } : {}),
      ...(given.length > 0 ? { given } : {}),
      ...(prefix ? { prefix: [prefix] } : {}),
      ...(suffix ? { suffix: [suffix] } : {}),
    });
  }
  return names;
}

/** HL7 TS/DT (`YYYY[MM[DD[...]]]`) as a FHIR date; undefined when it is not one. */
export function hl7Date(value: string): string | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d] = m;
  if (mo && (Number(mo) < 1 || Number(mo) > 12)) return undefined;
  if (d && (Number(d) < 1 || Number(d) > 31)) return undefined;
  return [y, mo, d].filter(Boolean).join('-');
}

/**
 * HL7 TS/DTM as a FHIR dateTime: with its time only when it carries an offset (FHIR
 * requires one with a time), else just its date.
 */
export function hl7DateTime(value: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?([+-]\d{4})$/.exec(value.trim());
  if (!m) return hl7Date(value);
  const [, y, mo, d, h, mi, s, tz] = m as unknown as string[];
  return `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${tz?.slice(0, 3)}:${tz?.slice(3)}`;
}

const GENDER: Readonly<Record<string, Patient['gender']>> = { M: 'male', F: 'female', O: 'other', A: 'other', U: 'unknown', N: 'unknown' };

/** Administrative sex (HL7 table 0001) as FHIR gender. */
export function hl7Gender(value: string): Patient['gender'] | undefined {
  return GENDER[value.trim().toUpperCase()];
}
