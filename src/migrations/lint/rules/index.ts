import type { Rule } from '../types';
import { alterColumnType } from './alter-column-type';
import { checkWithoutNotValid } from './check-without-not-valid';
import { concurrentlyNotAlone } from './concurrently-not-alone';
import { dropColumn } from './drop-column';
import { dropIndexWithoutConcurrently } from './drop-index-without-concurrently';
import { dropNotNull } from './drop-not-null';
import { dropTable } from './drop-table';
import { foreignKeyWithoutNotValid } from './foreign-key-without-not-valid';
import { indexWithoutConcurrently } from './index-without-concurrently';
import { lintAllowInvalid } from './lint-allow-invalid';
import { missingPhase } from './missing-phase';
import { notNullColumnWithoutDefault } from './not-null-column-without-default';
import { preferJsonb } from './prefer-jsonb';
import { primaryKeyWithoutIndex } from './primary-key-without-index';
import { renameColumn } from './rename-column';
import { renameTable } from './rename-table';
import { setNotNull } from './set-not-null';
import { transactionControl } from './transaction-control';
import { truncateTable } from './truncate-table';
import { unterminatedToken } from './unterminated-token';
import { uniqueConstraintWithoutIndex } from './unique-constraint-without-index';
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
  foreignKeyWithoutNotValid,
  checkWithoutNotValid,
  validateInSameMigration,
  uniqueConstraintWithoutIndex,
  primaryKeyWithoutIndex,
  setNotNull,
  dropNotNull,
  notNullColumnWithoutDefault,
  volatileDefault,
  alterColumnType,
  renameColumn,
  renameTable,
  dropColumn,
  dropTable,
  truncateTable,
  preferJsonb,
];
