export { writeFileAtomic, writeFilesAtomic, readFileChecked, pathExists, syncDir, type WriteFileAtomicOptions } from './files.js';
