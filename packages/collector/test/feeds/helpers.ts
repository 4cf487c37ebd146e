// Test helpers for the feed parsers: paths and the bundled feed, loaded once. The generated
// STIX/MISP/CSV documents in the tests are built from this feed's facts, so a parser is
// checked on the same values chainwatch ships.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IndicatorInput } from '@chainwatch/shared';

const here = dirname(fileURLToPath(import.meta.url));
export const collectorDir = resolve(here, '../..');
export const bundledPath = resolve(collectorDir, 'indicators/3cx-xtrader.json');
export const referencePath = resolve(collectorDir, '../../../shared/reference/iocs-3cx-xtrader.json');

export const bundled = JSON.parse(readFileSync(bundledPath, 'utf8')) as { feed: string; indicators: IndicatorInput[] };
export const byType = (type: IndicatorInput['type']): IndicatorInput[] => bundled.indicators.filter((i) => i.type === type);
export const first = (type: IndicatorInput['type']): IndicatorInput => byType(type)[0]!;
