// Reads a zip archive from memory, as Go module zips are written (stored or deflated entries, found
// through the central directory). Enough for a Go toolchain module; a fresh machine has no unzip.
import { inflateRawSync } from "node:zlib";

export interface ZipEntry {
  name: string;
  /** The entry's bytes, inflated on demand. */
  read(): Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function zipEntries(zip: Buffer, what = "zip archive"): ZipEntry[] {
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes (a comment may follow it).
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${what}: not a zip archive (no end of central directory)`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw new Error(`${what}: zip64 archives are not supported`);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== CENTRAL) throw new Error(`${what}: corrupt central directory at entry ${n}`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLen);
    if (compressed === 0xffffffff || size === 0xffffffff || local === 0xffffffff) throw new Error(`${what}: ${name}: zip64 entries are not supported`);
    if (method !== 0 && method !== 8) throw new Error(`${what}: ${name}: unsupported compression method ${method}`);
    at += 46 + nameLen + extraLen + commentLen;
    entries.push({
      name,
      read() {
        if (zip.readUInt32LE(local) !== LOCAL) throw new Error(`${what}: ${name}: corrupt local header`);
        const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
        const raw = zip.subarray(start, start + compressed);
        let data: Buffer;
        try {
          data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
        } catch (err) {
          throw new Error(`${what}: ${name}: cannot inflate: ${(err as Error).message}`);
        }
        if (data.length !== size) throw new Error(`${what}: ${name}: ${data.length} bytes unpacked, the directory says ${size}`);
        return data;
      },
    });
  }
  return entries;
}
