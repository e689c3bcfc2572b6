export * from './generator.ts';
export * from './klarna.simulator.ts';
export { formatDecimal, type SimPayoutSummary } from './reports.ts';
