export { deployRelease } from './deploy-release';
export { undeployService } from './undeploy-service';
