// Generates the benchmark monorepo: N packages in layers, each depending (through
// `dependencies`) on two packages of the layer below, so `^build` forms chains. Every build is
// the same small Node script writing a few files into dist/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BUILD_SCRIPT = `import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
const src = readdirSync('src').sort().map((f) => readFileSync('src/' + f, 'utf8')).join('\\n');
mkdirSync('dist/chunks', { recursive: true });
writeFileSync('dist/index.js', '// built\\n' + src);
writeFileSync('dist/index.d.ts', 'export declare const value: string;\\n');
for (let i = 0; i < 3; i++) writeFileSync('dist/chunks/chunk-' + i + '.js', 'export const c' + i + ' = ' + JSON.stringify(src.slice(0, 2048)) + ';\\n');
console.log('built ' + process.cwd().split(/[\\\\/]/).pop());
`;

export const pkgName = (i) => `pkg-${String(i).padStart(3, '0')}`;

export async function generateMonorepo(dir, { packages = 100, width = 10 } = {}) {
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(join(dir, 'scripts', 'build.mjs'), BUILD_SCRIPT);
  await writeFile(join(dir, '.gitignore'), 'node_modules/\ndist/\n.turbo/\n.velocity/\n');
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'bench-root', private: true, packageManager: 'npm@10.9.2', workspaces: ['packages/*'] }, null, 2),
  );
  const lock = { name: 'bench-root', lockfileVersion: 3, requires: true, packages: { '': { name: 'bench-root', workspaces: ['packages/*'] } } };
  for (let i = 0; i < packages; i++) {
    const name = pkgName(i);
    const layer = Math.floor(i / width);
    const deps = {};
    if (layer > 0) {
      const below = (layer - 1) * width;
      deps[pkgName(below + (i % width))] = '*';
      deps[pkgName(below + ((i + 3) % width))] = '*';
    }
    const pkgDir = join(dir, 'packages', name);
    await mkdir(join(pkgDir, 'src'), { recursive: true });
    await writeFile(
      join(pkgDir, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', private: true, scripts: { build: 'node ../../scripts/build.mjs' }, dependencies: deps }, null, 2),
    );
    await writeFile(join(pkgDir, 'src', 'index.js'), `export const value = '${name}';\n${'// filler\n'.repeat(50)}`);
    lock.packages[`packages/${name}`] = { version: '1.0.0', dependencies: deps };
    lock.packages[`node_modules/${name}`] = { resolved: `packages/${name}`, link: true };
  }
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  await writeFile(
    join(dir, 'turbo.json'),
    JSON.stringify({ $schema: 'https://turborepo.com/schema.json', tasks: { build: { dependsOn: ['^build'], outputs: ['dist/**'] } } }, null, 2),
  );
  await writeFile(
    join(dir, 'velocity.yml'),
    [
      'version: 1',
      'remote:',
      '  url: ${BENCH_VELOCITY_URL}',
      '  token: ${BENCH_VELOCITY_TOKEN}',
      'pipeline:',
      '  build:',
      // The same command turbo runs for every task: the package's own script, through npm.
      '    command: npm run build',
      '    outputs: ["dist/**"]',
      '    depends_on: ["^build"]',
      '',
    ].join('\n'),
  );
}

/** Changes every package's sources so both tools see a tree they have never cached. */
export async function salt(dir, packages, value) {
  for (let i = 0; i < packages; i++) {
    await writeFile(join(dir, 'packages', pkgName(i), 'src', 'salt.js'), `export const salt = '${value}';\n`);
  }
}
