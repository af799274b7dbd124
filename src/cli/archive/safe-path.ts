/** Rejects absolute paths, drive letters, backslashes, NULs and `..`: entries stay inside the package. */
export function safeRelative(path: string): string | null {
  if (path === '' || path.startsWith('/') || /^[A-Za-z]:/.test(path) || /[\\\0]/.test(path)) return null;
  const parts = path.replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '..' || p === '' || p === '.')) return null;
  return parts.join('/');
}
