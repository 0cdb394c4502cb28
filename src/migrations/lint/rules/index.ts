import type { Rule } from '../types';
import { alterColumnType } from './alter-column-type';
import { alterDomainConstraint } from './alter-domain-constraint';
import { checkWithoutNotValid } from './check-without-not-valid';
import { concurrentlyNotAlone } from './concurrently-not-alone';
import { detachPartitionWithoutConcurrently } from './detach-partition-without-concurrently';
import { dmlWhileTableLocked } from './dml-while-table-locked';
import { dropColumn } from './drop-column';
import { dropDatabase } from './drop-database';
import { dropIndexWithoutConcurrently } from './drop-index-without-concurrently';
import { dropNotNull } from './drop-not-null';
import { dropTable } from './drop-table';
import { exclusionConstraint } from './exclusion-constraint';
import { foreignKeyWithoutNotValid } from './foreign-key-without-not-valid';
import { indexWithoutConcurrently } from './index-without-concurrently';
import { lintAllowInvalid } from './lint-allow-invalid';
import { missingPhase } from './missing-phase';
import { notNullColumnWithoutDefault } from './not-null-column-without-default';
import { notNullDefaultDropped } from './not-null-default-dropped';
import { preferJsonb } from './prefer-jsonb';
import { primaryKeyUsingNullableIndex } from './primary-key-using-nullable-index';
import { primaryKeyWithoutIndex } from './primary-key-without-index';
import { reindexWithoutConcurrently } from './reindex-without-concurrently';
import { renameColumn } from './rename-column';
import { renameSchema } from './rename-schema';
import { renameTable } from './rename-table';
import { renameType } from './rename-type';
import { setNotNull } from './set-not-null';
import { transactionControl } from './transaction-control';
import { truncateTable } from './truncate-table';
import { uniqueConstraintWithoutIndex } from './unique-constraint-without-index';
import { unterminatedToken } from './unterminated-token';
import { vacuumFullOrCluster } from './vacuum-full-or-cluster';
import { validateInSameMigration } from './validate-in-same-migration';
import { volatileDefault } from './volatile-default';

/** Every rule, in the order their findings are listed for one statement. */
export const RULES: readonly Rule[] = [
  missingPhase,
  unterminatedToken,
  lintAllowInvalid,
  transactionControl,
  concurrentlyNotAlone,
  indexWithoutConcurrently,
  dropIndexWithoutConcurrently,
  reindexWithoutConcurrently,
  foreignKeyWithoutNotValid,
  checkWithoutNotValid,
  validateInSameMigration,
  uniqueConstraintWithoutIndex,
  primaryKeyWithoutIndex,
  primaryKeyUsingNullableIndex,
  exclusionConstraint,
  alterDomainConstraint,
  setNotNull,
  dropNotNull,
  notNullColumnWithoutDefault,
  notNullDefaultDropped,
  volatileDefault,
  alterColumnType,
  detachPartitionWithoutConcurrently,
  vacuumFullOrCluster,
  dmlWhileTableLocked,
  renameColumn,
  renameTable,
  renameSchema,
  renameType,
  dropColumn,
  dropTable,
  dropDatabase,
  truncateTable,
  preferJsonb,
];
