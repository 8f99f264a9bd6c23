import { clinicTimeZone, hl7OutDestination, singleTenant, webhookUrls, type Config, type Tenants } from '@kap/config';
import { screeningRulesFromSettings, type ScreeningRuleTable } from '@kap/domain';
import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { Response } from 'express';
import type { AppDeps } from '../deps';
import { callerOf } from './caller';

/** A tenant's follow-up timing and in-session blood-pressure alert thresholds. */
export interface SessionSettings {
  readonly followUpOffsets: string;
  readonly reminderLead: string;
  readonly alertThreshold: { readonly systolicAbove: number; readonly diastolicAbove: number };
}

/** What a tenant's requests are decided by: its screening rules, follow-up timing and webhooks. */
export interface TenantSettings {
  readonly id: string;
  readonly config: Config;
  readonly rules: ScreeningRuleTable;
  readonly session: SessionSettings;
  readonly webhookUrls: readonly string[];
  /** The clinic's IANA time zone: whose calendar days mean "today", "before the course", "the screening day". */
  readonly timeZone: string;
  /** Whether its results and notes also go to an interface engine as HL7 v2 (HL7_OUT_HOST). */
  readonly hl7Out: boolean;
}

/** The screening rules a configuration names (thresholds and severity overrides); throws on an override the rules refuse. */
export function screeningRulesFromConfig(config: Config): ScreeningRuleTable {
  return screeningRulesFromSettings({
    systolicAbove: config.SCREENING_BP_SYSTOLIC_ABOVE,
    diastolicAbove: config.SCREENING_BP_DIASTOLIC_ABOVE,
    severityOverrides: config.SCREENING_SEVERITY_OVERRIDES ? JSON.parse(config.SCREENING_SEVERITY_OVERRIDES) : undefined,
  });
}

/** The tenants the app serves: the registry given, else the single default tenant on `config`. */
export function tenantsOf(deps: AppDeps): Tenants {
  return deps.tenants ?? singleTenant(deps.config);
}

const tables = new WeakMap<AppDeps, ReadonlyMap<string, TenantSettings>>();

/**
 * Every tenant's settings, worked out once per app (createApp calls this at start, so a
 * tenant's bad rule override stops start-up rather than failing its first screening).
 * Without a registry the one tenant uses the injected `rules`.
 */
export function tenantSettingsTable(deps: AppDeps): ReadonlyMap<string, TenantSettings> {
  let table = tables.get(deps);
  if (!table) {
    const entries = tenantsOf(deps)
      .all()
      .map((t): [string, TenantSettings] => {
        const c = t.config;
        return [
          t.id,
          {
            id: t.id,
            config: c,
            rules: deps.tenants ? screeningRulesFromConfig(c) : deps.rules,
            session: {
              followUpOffsets: c.FOLLOW_UP_OFFSETS,
              reminderLead: c.FOLLOW_UP_REMINDER_LEAD,
              alertThreshold: { systolicAbove: c.SESSION_BP_ALERT_SYSTOLIC_ABOVE, diastolicAbove: c.SESSION_BP_ALERT_DIASTOLIC_ABOVE },
            },
            webhookUrls: webhookUrls(c),
            timeZone: clinicTimeZone(c),
            hl7Out: hl7OutDestination(c) !== undefined,
          },
        ];
      });
    table = new Map(entries);
    tables.set(deps, table);
  }
  return table;
}

/** The settings of this request's tenant. Authentication admits only known tenants, so a miss is refused, never defaulted. */
export function requestTenant(deps: AppDeps, res: Response): TenantSettings {
  const tenantId = callerOf(res).tenantId;
  const settings = tenantSettingsTable(deps).get(tenantId);
  if (!settings)
    throw new OutcomeError(403, operationOutcome([{ code: 'forbidden', diagnostics: "The caller's tenant is not served here" }]));
  return settings;
}
