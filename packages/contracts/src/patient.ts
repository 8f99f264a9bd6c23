import { z } from 'zod';
import { IdentifierSystem, PastDate, Text, Token } from './primitives';

/**
 * The patient as the hospital identifies them. The adapter finds or creates the EHR's
 * Patient by `system` + `value` and never duplicates it.
 */
export const PatientRef = z
  .strictObject({
    system: IdentifierSystem.meta({
      description: 'Identifier system (an absolute URI: urn:oid:, urn:uuid: or http(s)), for example the hospital MRN namespace',
    }),
    value: Token(128).meta({ description: 'The identifier value within the system' }),
    name: z
      .union([Text(200), z.strictObject({ family: Text(100).optional(), given: z.array(Text(100)).max(5).optional() })])
      .optional()
      .meta({ description: 'Full name as text, or family and given names' }),
    birthDate: PastDate.optional(),
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
  })
  .meta({ id: 'PatientRef' });
export type PatientRef = z.infer<typeof PatientRef>;
