import { z } from 'zod';
import { DateOnly, Text } from './primitives';

/**
 * The patient as the hospital identifies them. The adapter finds or creates the EHR's
 * Patient by `system` + `value` and never duplicates it.
 */
export const PatientRef = z
  .strictObject({
    system: z.url().max(512).meta({ description: 'Identifier system (a URI), for example the hospital MRN namespace' }),
    value: Text(128).meta({ description: 'The identifier value within the system' }),
    name: z
      .union([
        Text(200),
        z.strictObject({ family: Text(100).optional(), given: z.array(Text(100)).max(5).optional() }),
      ])
      .optional()
      .meta({ description: 'Full name as text, or family and given names' }),
    birthDate: DateOnly.optional(),
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
  })
  .meta({ id: 'PatientRef' });
export type PatientRef = z.infer<typeof PatientRef>;
