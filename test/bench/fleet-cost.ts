/**
 * Monthly cost of hourly rounds from a measured batch time (us-east-1 list prices, free tiers
 * ignored). Used by `npm run bench:fleet`; every constant is a published price or a count of what
 * the deployed round does, named here so the README table can be checked line by line.
 */
export const PRICES = {
  roundsPerMonth: 730,
  /** Lambda arm64, per GB-second and per request. */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** Step Functions Standard, per state transition. */
  sfnTransition: 0.025 / 1000,
  /** Step Functions Express, per request and per GB-second (billed in 64 MB steps, 64 MB minimum). */
  expressRequest: 1 / 1e6,
  expressGbSecond: 0.00001667,
  expressGb: 64 / 1024,
  /** DynamoDB on-demand: read and write request units. */
  dynamoRead: 0.125 / 1e6,
  dynamoWrite: 0.625 / 1e6,
  /** The topic's customer managed KMS key. */
  kmsKeyMonth: 1,
  /** CloudWatch: 3 alarms, ~15 EMF metrics, log ingestion per GB; X-Ray traces (Lambda tracing is on). */
  alarmsMonth: 3 * 0.1,
  metricsMonth: 15 * 0.3,
  logGb: 0.5,
  xrayTrace: 5 / 1e6,
  /** S3: the round's targets object, the Map's reader and result writer, a few objects per round. */
  s3RequestsPerRound: 12,
  s3Request: 0.005 / 1000,
} as const;

/** Per round outside the Map: Discover (512 MB, ~5 s + 1 s per 1,000 nodes of API pages) and Notify. */
const STATE_TRANSITIONS_PER_ROUND = 6;
/** Per child execution of the Distributed Map (Standard): the child's start and its Scan task. */
const TRANSITIONS_PER_BATCH = 2;
/** One CloudWatch log stream's worth per invocation: START/END/REPORT, the EMF metrics line. */
const LOG_BYTES_PER_BATCH = 2048;

export interface FleetPricing {
  nodes: number;
  batch: number;
  memoryMb: number;
  /** Measured handler time of one batch (billed duration of a warm invocation). */
  batchSeconds: number;
  /** Measured cold start (process start to handler): paid by at most `concurrency` batches a round. */
  initSeconds: number;
  concurrency: number;
  expressChildren: boolean;
}

export interface MonthlyCost {
  lambda: number;
  stepFunctions: number;
  dynamodb: number;
  snsKms: number;
  cloudwatch: number;
  total: number;
}

export function monthlyCost(p: FleetPricing): MonthlyCost {
  const rounds = PRICES.roundsPerMonth;
  const batches = Math.ceil(p.nodes / p.batch);
  const coldStarts = Math.min(batches, p.concurrency);
  const scanGbS = (batches * p.batchSeconds + coldStarts * p.initSeconds) * (p.memoryMb / 1024);
  const discoverGbS = (5 + p.nodes / 1000) * 0.5;
  const notifyGbS = 2 * 0.25;
  const lambda =
    rounds *
    ((scanGbS + discoverGbS + notifyGbS) * PRICES.lambdaGbSecond + (batches + 2) * PRICES.lambdaRequest);
  const stepFunctions = p.expressChildren
    ? rounds *
      (STATE_TRANSITIONS_PER_ROUND * PRICES.sfnTransition +
        batches * (PRICES.expressRequest + p.batchSeconds * PRICES.expressGb * PRICES.expressGbSecond))
    : rounds * (STATE_TRANSITIONS_PER_ROUND + batches * TRANSITIONS_PER_BATCH) * PRICES.sfnTransition;
  // One Query per node per round (<= 4 KB: one read unit); writes only on change (steady state ~0).
  const dynamodb = rounds * p.nodes * PRICES.dynamoRead;
  const snsKms = PRICES.kmsKeyMonth;
  const logGb = (rounds * (batches + 2) * LOG_BYTES_PER_BATCH) / 1024 ** 3;
  const cloudwatch =
    PRICES.alarmsMonth +
    PRICES.metricsMonth +
    logGb * PRICES.logGb +
    rounds * (batches + 2) * PRICES.xrayTrace +
    rounds * PRICES.s3RequestsPerRound * PRICES.s3Request;
  const total = lambda + stepFunctions + dynamodb + snsKms + cloudwatch;
  return { lambda, stepFunctions, dynamodb, snsKms, cloudwatch, total };
}

/**
 * Waves of `concurrency` batches, each as long as one batch (the first with a cold start), plus
 * Discover and Notify (~30 s).
 */
export function roundMinutes(
  nodes: number,
  batch: number,
  concurrency: number,
  batchSeconds: number,
  initSeconds: number,
): number {
  const waves = Math.ceil(Math.ceil(nodes / batch) / concurrency);
  return (waves * batchSeconds + initSeconds + 30) / 60;
}
