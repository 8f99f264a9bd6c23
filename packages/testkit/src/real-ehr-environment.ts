import { readFileSync } from 'node:fs';

/**
 * The real EHR the `test:real-ehr` suite talks to, named by the environment in the shape an
 * EHR administrator hands over credentials (the EHR peer writes exactly these files):
 * - client credentials: `EHR_FHIR_BASE_URL`, `EHR_TOKEN_URL`, `EHR_CLIENT_ID`, `EHR_CLIENT_SECRET`;
 * - SMART Backend Services: `EHR_SMART_CLIENT_ID`, `EHR_SMART_KEY_FILE` (PKCS#8 PEM),
 *   `EHR_SMART_KID`, with the same base and token URLs.
 * Each connection becomes the adapter's own settings (`EHR_BASE_URL`, `EHR_AUTH`, …) and
 * nothing else: no `EHR_SCOPE`, so the scopes asked for are the adapter's default.
 */
export interface RealEhrConnection {
  readonly name: 'client-credentials' | 'smart-backend';
  readonly env: Record<string, string>;
}

export function realEhrConnections(env: NodeJS.ProcessEnv = process.env): RealEhrConnection[] {
  const base = env.EHR_FHIR_BASE_URL?.trim();
  const tokenUrl = env.EHR_TOKEN_URL?.trim();
  if (!base || !tokenUrl) return [];
  const out: RealEhrConnection[] = [];
  if (env.EHR_CLIENT_ID && env.EHR_CLIENT_SECRET) {
    out.push({
      name: 'client-credentials',
      env: {
        EHR_BASE_URL: base,
        EHR_AUTH: 'client-credentials',
        EHR_TOKEN_URL: tokenUrl,
        EHR_CLIENT_ID: env.EHR_CLIENT_ID,
        EHR_CLIENT_SECRET: env.EHR_CLIENT_SECRET,
      },
    });
  }
  if (env.EHR_SMART_CLIENT_ID && env.EHR_SMART_KEY_FILE && env.EHR_SMART_KID) {
    out.push({
      name: 'smart-backend',
      env: {
        EHR_BASE_URL: base,
        EHR_AUTH: 'smart-backend',
        EHR_TOKEN_URL: tokenUrl,
        EHR_CLIENT_ID: env.EHR_SMART_CLIENT_ID,
        EHR_PRIVATE_KEY: readFileSync(env.EHR_SMART_KEY_FILE, 'utf8'),
        EHR_KEY_ID: env.EHR_SMART_KID,
      },
    });
  }
  return out;
}
