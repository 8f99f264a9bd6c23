import { parseDurationMs } from '@kap/domain';
import { hl7OutDestination, type Config } from '@kap/config';
import { buildOru, HL7, LOINC, quantity, UCUM } from '@kap/fhir';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { MllpSender } from './hl7-out/mllp-sender';
import { v2OutSettings } from './units/hl7-out/processor';

export interface Hl7CheckOptions {
  readonly out?: (line: string) => void;
  readonly now?: Date;
}

/** The synthetic patient's identifier system when HL7_ASSIGNING_AUTHORITIES names none. */
const CHECK_SYSTEM = 'urn:kap:hl7-check';
const CHECK_AUTHORITY = 'KAPTEST';

/**
 * The HL7 v2 preflight (`npm run hl7:check`): with the worker's own HL7_OUT_* settings it
 * sends one ORU^R01 (a heart rate of a synthetic patient) tagged as a test (MSH-11 `T`) over
 * MLLP, and prints the engine's ACK. Exit code 0 only on `AA` (or `CA`).
 */
export async function runHl7Check(config: Config, options: Hl7CheckOptions = {}): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const destination = hl7OutDestination(config);
  if (!destination) {
    out('  FAIL  HL7_OUT_HOST and HL7_OUT_PORT are not set: no HL7 v2 is sent');
    return 2;
  }
  const now = options.now ?? new Date();
  const settings = v2OutSettings(config, 'T');
  const [system] = [...settings.authorityBySystem.keys()];
  const authorityBySystem = system ? settings.authorityBySystem : new Map([[CHECK_SYSTEM, CHECK_AUTHORITY]]);
  const patient: Patient = {
    resourceType: 'Patient',
    id: 'hl7-check',
    identifier: [{ system: system ?? CHECK_SYSTEM, value: `KAP-PREFLIGHT-${now.getTime()}` }],
    name: [{ family: 'Preflight', given: ['Synthetic'] }],
    gender: 'unknown',
  };
  const observation: Observation = {
    resourceType: 'Observation',
    id: 'hl7-check',
    status: 'final',
    category: [{ coding: [HL7.vitalSignsCategory] }],
    code: { coding: [LOINC.heartRate] },
    subject: { reference: 'Patient/hl7-check' },
    effectiveDateTime: now.toISOString(),
    valueQuantity: quantity(60, UCUM.beatsPerMinute),
  };
  const controlId = `T${now.getTime()}`;
  const text = buildOru(observation, patient, controlId, { ...settings, authorityBySystem }, now).toString();
  out(`HL7 v2 preflight to ${destination.host}:${destination.port}: ORU^R01, MSH-10 ${controlId}, MSH-11 T (test), synthetic patient`);
  const sender = new MllpSender(destination.host, destination.port);
  try {
    const ack = await sender.send(text, controlId, parseDurationMs(config.HL7_OUT_ACK_TIMEOUT));
    const accepted = ack.code === 'AA' || ack.code === 'CA';
    out(`  ${accepted ? 'ok  ' : 'FAIL'}  ACK ${ack.code}${ack.text ? `: ${ack.text}` : ''}`);
    return accepted ? 0 : 1;
  } catch (err) {
    out(`  FAIL  ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    sender.close();
  }
}
