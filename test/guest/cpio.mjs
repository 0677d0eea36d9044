// A minimal writer of the "newc" cpio format the kernel unpacks as an initramfs.
const pad4 = (n) => (4 - (n % 4)) % 4;

export class Cpio {
  #parts = [];
  #ino = 1;

  #entry(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [this.#ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
    this.#parts.push(header, nameBuf, Buffer.alloc(pad4(header.length + nameBuf.length)));
    this.#parts.push(data, Buffer.alloc(pad4(data.length)));
  }

  dir(name) {
    this.#entry(name, 0o040755);
  }

  file(name, data, perm = 0o644) {
    this.#entry(name, 0o100000 | perm, data);
  }

  symlink(name, target) {
    this.#entry(name, 0o120777, Buffer.from(target));
  }

  charDevice(name, major, minor) {
    this.#entry(name, 0o020600, undefined, [major, minor]);
  }

  toBuffer() {
    this.#entry('TRAILER!!!', 0);
    return Buffer.concat(this.#parts);
  }
}
