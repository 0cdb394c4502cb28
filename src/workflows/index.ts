export { deployRelease } from './deploy-release';
