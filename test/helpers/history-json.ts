import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/**
 * Parses a history exported as proto3 JSON (`temporal workflow show --output json`) into the History object
 * that Worker.runReplayHistories accepts.
 *
 * Why not the SDK's historyFromJSON: in this install @temporalio/common and @temporalio/proto each got their
 * own copy of protobufjs 8 (npm could not hoist it over grpc's protobufjs 7), and protojson's `instanceof
 * Type` check fails across copies ("type must be a Type"). Taking protojson from the copy that
 * @temporalio/proto itself uses makes the parse independent of how npm laid the packages out.
 */
const protoDir = path.dirname(require.resolve('@temporalio/proto'));
const { fromJson } = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as {
  fromJson: (type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }) => unknown;
};
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyFromExportedJson(json: unknown): proto.temporal.api.history.v1.IHistory {
  const history = fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!history) throw new TypeError('not a Temporal history in proto3 JSON (expected {"events": [...]})');
  return history as proto.temporal.api.history.v1.IHistory;
}
