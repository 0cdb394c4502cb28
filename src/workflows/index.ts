export { deployRelease } from './deploy-release';
export { undeployService } from './undeploy-service';
export { deployFleetBatch } from './fleet/batch';
export { deployFleetHost, rollbackFleetHosts } from './fleet/host';
