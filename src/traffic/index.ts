/**
 * Traffic: HAProxy front doors driven through the Runtime API, and a loopback load client to judge them.
 */
export { FrontDoor, frontDoorOptionsSchema, type DrainResult, type FrontDoorOptions, type FrontDoorStatus, type ServerStatus } from './haproxy/front-door';
export { BACKEND_NAME, FRONTEND_NAME, frontDoorFiles, renderHaproxyConfig, type FrontDoorConfigInput, type FrontDoorFiles } from './haproxy/config';
export { HaproxyRuntimeApi, RuntimeApiError, type ServerStateRow, type ServerStatRow } from './haproxy/runtime-api';
export { findHaproxy, MINIMUM_HAPROXY_VERSION, type HaproxyLookup } from './haproxy/binary';
export { planTrafficSteps, describeStep, type TrafficStep, type ActualServer } from './haproxy/plan';
export { desiredTrafficSchema, desiredServerSchema, type DesiredServer, type DesiredServerInput, type DesiredTraffic, type DesiredTrafficInput, type ServerState } from './schema';
export { startLoad, loadOptionsSchema, type LoadCounts, type LoadOptions, type LoadReport, type LoadRun } from './load';
