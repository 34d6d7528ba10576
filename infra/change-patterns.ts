import { type EventPattern, Match } from "aws-cdk-lib/aws-events";
import {
  CLOUDTRAIL_DETAIL_TYPE,
  EC2_CHANGE_EVENT_NAMES,
  EKS_CHANGE_EVENT_NAMES,
  LAUNCH_EVENT_NAMES,
  STATE_CHANGE_DETAIL_TYPE,
} from "../lib/events/change-events.ts";

/** CloudTrail event names that mean "a node is starting": they wait `launchDelay` before the rescan. */
const LAUNCH_CALLS = EC2_CHANGE_EVENT_NAMES.filter((n) =>
  (LAUNCH_EVENT_NAMES as readonly string[]).includes(n),
);
const CHANGE_CALLS = [...EC2_CHANGE_EVENT_NAMES, ...EKS_CHANGE_EVENT_NAMES].filter(
  (n) => !(LAUNCH_EVENT_NAMES as readonly string[]).includes(n),
);

/**
 * The event patterns member accounts forward and the scanner's bus routes: exactly the change events
 * lib/events reads, successful calls only (a refused call changed nothing).
 */
export const CHANGE_PATTERN: EventPattern = {
  source: ["aws.ec2", "aws.eks"],
  detailType: [CLOUDTRAIL_DETAIL_TYPE],
  detail: { eventName: CHANGE_CALLS, errorCode: Match.doesNotExist() },
};
export const LAUNCH_PATTERN: EventPattern = {
  source: ["aws.ec2"],
  detailType: [CLOUDTRAIL_DETAIL_TYPE],
  detail: { eventName: LAUNCH_CALLS, errorCode: Match.doesNotExist() },
};
export const RUNNING_PATTERN: EventPattern = {
  source: ["aws.ec2"],
  detailType: [STATE_CHANGE_DETAIL_TYPE],
  detail: { state: ["running"] },
};
/** The three patterns, for the member accounts' forwarding rules. */
export const FORWARDED_PATTERNS: readonly EventPattern[] = [CHANGE_PATTERN, LAUNCH_PATTERN, RUNNING_PATTERN];
