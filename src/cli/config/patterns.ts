/** The shapes of names in velocity.yml, shared by the zod schema and the quick check. */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]*$/;
export const DEPENDENCY = /^\^?[A-Za-z0-9][A-Za-z0-9:._-]*$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A variable name, or a prefix of names ending in `*` (pass-through lists only). */
export const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;
export const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
