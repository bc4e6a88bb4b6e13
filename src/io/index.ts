export {
  writeFileAtomic,
  writeFilesAtomic,
  readFileChecked,
  pathExists,
  assertCanWrite,
  syncDir,
  type WriteFileAtomicOptions,
} from './files.js';
export { checkOutDir, makeOutDir } from './out-dir.js';
