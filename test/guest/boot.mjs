// Boots one Debian kernel in a QEMU TCG guest whose root is this host's / (read-only, under a
// tmpfs overlay), runs one command there and returns what it left in the results share.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOGS, QEMU_ARGS } from './config.mjs';

const GUEST_INIT = fileURLToPath(new URL('./guest-init.sh', import.meta.url));

/**
 * Runs argv (cwd, extra env) in a guest of `kernel` with `initramfs`. Console lines starting
 * "wxguest:" go to onProgress; the whole console goes to LOGS/<label>.log. Resolves with
 * { resultsDir, exit, timedOut, panicked, seconds, log }; exit is null if the job never finished;
 * panicked is true if the console printed a kernel panic.
 */
export function bootGuest({ kernel, initramfs, argv, cwd, env = {}, timeoutMs, onProgress = () => {} }) {
  // The kernel command line and -virtfs options are split on spaces and commas.
  if (/[\s,]/.test(GUEST_INIT)) throw new Error(`the repository path must have no spaces or commas: ${GUEST_INIT}`);
  const resultsDir = mkdtempSync(join(tmpdir(), `wxwatch-guest-${kernel.label}-`));
  writeFileSync(join(resultsDir, 'job.json'), JSON.stringify({ argv, cwd, env }));
  mkdirSync(LOGS, { recursive: true });
  const log = join(LOGS, `${kernel.label}.log`);
  const logStream = createWriteStream(log);
  const args = [
    ...QEMU_ARGS,
    '-nic', 'none',
    '-kernel', kernel.vmlinuz,
    '-initrd', initramfs,
    '-append', ['console=ttyS0', 'quiet', 'panic=-1', ...(kernel.cmdline ?? []), `wxinit=${GUEST_INIT}`].join(' '),
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${resultsDir},mount_tag=results,security_model=none`,
  ];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    let partial = '';
    let panicked = false;
    const onData = (chunk) => {
      logStream.write(chunk);
      if (!panicked && chunk.includes('Kernel panic')) panicked = true;
      const lines = (partial + chunk.toString('utf8').replaceAll('\r', '')).split('\n');
      partial = lines.pop();
      for (const line of lines) if (line.startsWith('wxguest:')) onProgress(line);
    };
    qemu.stdout.on('data', onData);
    qemu.stderr.on('data', onData);
    qemu.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    qemu.on('close', () => {
      clearTimeout(timer);
      const exitFile = join(resultsDir, 'exit.json');
      const exit = existsSync(exitFile) ? JSON.parse(readFileSync(exitFile, 'utf8')) : null;
      const seconds = (Date.now() - started) / 1000;
      logStream.end(() => resolve({ resultsDir, exit, timedOut, panicked, seconds, log }));
    });
  });
}
