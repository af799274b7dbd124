// picomatch ships no types; this is the one call the CLI makes (the matcher tinyglobby itself
// uses, so a restore accepts exactly what the packer's glob could have found).
declare module 'picomatch' {
  interface PicomatchOptions {
    dot?: boolean;
    ignore?: string | readonly string[];
  }
  function picomatch(glob: string | readonly string[], options?: PicomatchOptions): (path: string) => boolean;
  // eslint-disable-next-line no-restricted-syntax -- the shape of the CommonJS module, not ours
  export default picomatch;
}
