// wxwatch as a dependent gets it: npm pack, then a fresh project installs the tarball as an
// ordinary user with no compiler step, imports it, and (as root) watches a W→X loader with it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, WXFIX } from '../helpers/fixtures';
import { isRoot } from '../helpers/sensor';

const NOBODY = 65534;
// By absolute path: the install below runs with a PATH that holds only node.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? 'setpriv';

describe('the npm package', function () {
  // npm pack builds the prebuild (cached static libraries after the first run) and dist.
  this.timeout(240000);
  let tmp: string;
  let project: string;
  let tarball: string;
  let installSeconds = 0;

  before(function () {
    // npm run test:asan points every load at its sanitizer build and preloads libasan: the
    // package's own binary is not what that run is about.
    if (process.env.WXWATCH_ADDON) this.skip();
    tmp = mkdtempSync(path.join(tmpdir(), 'wxwatch-pkg-'));
    chmodSync(tmp, 0o755);
    const packed = spawnSync('npm', ['pack', '--pack-destination', tmp], { cwd: REPO, encoding: 'utf8' });
    assert.equal(packed.status, 0, `npm pack failed:\n${packed.stderr.slice(-3000)}`);
    tarball = path.join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
  });

  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('holds dist/lib, the prebuilt addon and the sources for a fallback build, and no tests', () => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const f of ['dist/lib/index.js', 'dist/lib/cli.js', 'dist/lib/index.d.ts', 'binding.gyp', 'bpf/wxwatch.bpf.c',
      'native/addon.cc', 'scripts/build-bpf.sh', 'scripts/check-build-deps.js', 'README.md', 'deploy/wxwatch.service']) {
      assert.ok(list.includes(`package/${f}`), f);
    }
    assert.ok(list.some((f) => /^package\/prebuilds\/linux-x64\/[^/]+\.node$/.test(f)), 'a linux-x64 prebuild');
    assert.deepEqual(list.filter((f) => /dist\/(test|bench)|\.map$|\.tsbuildstamp|\/build\/|node_modules/.test(f)), []);
  });

  it('the prebuilt addon needs no libbpf, libelf or zlib on the target', () => {
    const dir = path.join(tmp, 'unpacked');
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', tarball, '-C', dir]);
    const prebuilds = path.join(dir, 'package', 'prebuilds', 'linux-x64');
    const node = path.join(prebuilds, readdirSync(prebuilds)[0]);
    const libs = execFileSync('ldd', [node], { encoding: 'utf8' });
    assert.doesNotMatch(libs, /libbpf|libelf|libz\b|not found/);
    const needed = [...libs.matchAll(/^\s*(\S+)/gm)].map((m) => m[1].replace(/\.so.*/, ''));
    for (const lib of needed) assert.match(lib, /^(linux-vdso|libstdc\+\+|libm|libgcc_s|libc|\/lib64\/ld-linux-x86-64)$/, lib);
  });

  describe('installed in a fresh project', function () {
    before(function () {
      project = path.join(tmp, 'project');
      const home = path.join(tmp, 'home');
      mkdirSync(project);
      mkdirSync(home);
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'dependent', version: '1.0.0', private: true }));
      // An ordinary user: nobody when we are root, else ourselves; its own HOME and npm cache,
      // and a PATH with node and sh (npm runs scripts with it) and nothing else: no compiler,
      // no apt-get.
      const bin = path.join(tmp, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, path.join(bin, 'node'));
      symlinkSync('/bin/sh', path.join(bin, 'sh'));
      if (isRoot) for (const d of [tmp, project, home, path.join(project, 'package.json')]) chownSync(d, NOBODY, NOBODY);
      const env = {
        PATH: bin,
        HOME: home,
        npm_config_cache: path.join(home, '.npm'),
        npm_config_update_notifier: 'false',
      };
      const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
      const args = [npmCli, 'install', '--no-audit', '--no-fund', '--foreground-scripts', tarball];
      const [cmd, argv] = isRoot
        ? [SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, ...args]]
        : [process.execPath, args];
      const started = Date.now();
      const res = spawnSync(cmd, argv, { cwd: project, env, encoding: 'utf8' });
      installSeconds = (Date.now() - started) / 1000;
      assert.equal(res.status, 0, `npm install failed: ${res.error ?? ''}\n${res.stdout}\n${res.stderr}`);
      assert.doesNotMatch(res.stdout + res.stderr, /gyp info|node-gyp rebuild/, 'no source build');
    });

    it('installed without building anything, as an ordinary user', () => {
      const pkg = path.join(project, 'node_modules', 'wxwatch');
      assert.ok(existsSync(path.join(pkg, 'dist', 'lib', 'index.js')));
      assert.equal(existsSync(path.join(pkg, 'build')), false, 'no build/ directory: no compiler step');
      assert.ok(existsSync(path.join(project, 'node_modules', 'prom-client')));
      console.log(`      (install took ${installSeconds.toFixed(1)} s)`);
    });

    it("require('wxwatch') works there as that user, with no addon loaded", () => {
      const script = `const w = require('wxwatch');
        console.log(JSON.stringify({ sensor: typeof w.Sensor, loaded: Object.keys(require.cache).filter((k) => k.endsWith('.node')) }));`;
      const [cmd, argv] = isRoot
        ? [SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script]]
        : [process.execPath, ['-e', script]];
      const res = spawnSync(cmd, argv, { cwd: project, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { sensor: 'function', loaded: [] });
    });

    it("as root, the installed package's Sensor (prebuilt addon) sees a W→X loader", function () {
      if (!isRoot) this.skip();
      const script = `
        const { execFileSync } = require('node:child_process');
        const { Sensor } = require('wxwatch');
        const sensor = new Sensor();
        const pids = new Set();
        sensor.on('finding', (f) => pids.add(f.Event.hostProcessId));
        sensor.start();
        const addon = Object.keys(require.cache).find((k) => k.endsWith('.node'));
        const fx = JSON.parse(execFileSync(${JSON.stringify(WXFIX)}, ['w2x'], { encoding: 'utf8' }).trim().split('\\n').pop());
        const deadline = Date.now() + 5000;
        const poll = () => {
          if (pids.has(fx.pid) || Date.now() > deadline) {
            sensor.close().then(() => console.log(JSON.stringify({ addon, seen: pids.has(fx.pid) })));
          } else setTimeout(poll, 20);
        };
        poll();`;
      const res = spawnSync(process.execPath, ['-e', script], { cwd: project, encoding: 'utf8', timeout: 30000 });
      assert.equal(res.status, 0, res.stderr);
      const out = JSON.parse(res.stdout);
      assert.match(out.addon, /node_modules\/wxwatch\/prebuilds\/linux-x64\//);
      assert.equal(out.seen, true);
    });
  });
});
