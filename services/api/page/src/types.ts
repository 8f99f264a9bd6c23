import type { CourseDetailView, OutcomesResponse } from '@kap/contracts';
import type { z } from 'zod';

/** `GET /v1/courses/{id}` as the API's own schema defines it (types only: zod stays out of the bundle). */
export type CourseDetail = z.output<typeof CourseDetailView>;
/** `GET /v1/courses/{id}/outcomes`. */
export type Outcomes = OutcomesResponse;
export type CourseAlert = CourseDetail['alerts'][number];
export type AlertLoop = NonNullable<CourseAlert['alert']>;
export type SessionDetail = CourseDetail['sessionDetails'][number];
