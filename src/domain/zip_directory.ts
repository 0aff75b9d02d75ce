/**
 * The central directory of a streamed zip, kept packed: one 46-byte record plus the file's name per
 * file (PKWARE APPNOTE 6.3.10, section 4.3.12), in 1 MB blocks, instead of one object per file
 * until the end. A zip of 100,000 messages then holds ~8 MB for its directory, not ~1.7 KB of heap a
 * file (bench/RESULTS.md). The records describe files written as fflate's `ZipPassThrough` writes
 * them: stored, sizes and CRC in a data descriptor after the data (flag bit 3).
 */
import { zipEndRecords } from "./zip_end.ts";

const CENTRAL_HEADER = 0x02014b50;
const BLOCK = 1 << 20;

/** One finished file of the archive. */
export interface ZipEntry {
  /** The file's name as written in its local header. */
  name: Uint8Array;
  /** Whether the name is UTF-8 beyond ASCII (general purpose flag bit 11). */
  utf8: boolean;
  crc: number;
  /** Bytes of data as stored (here equal to `size`: stored, not compressed). */
  storedSize: number;
  size: number;
  /** Modification time, ms since the epoch, written as an MS-DOS local date and time. */
  mtime: number;
  /** Where the file's local header starts in the archive. */
  offset: number;
}

/** The MS-DOS date and time of `ms` in the process's local time, as zip headers hold them. */
export function dosDateTime(ms: number): number {
  const d = new Date(ms);
  const year = d.getFullYear() - 1980;
  if (year < 0 || year > 119) throw new Error(`zip: a date of ${d.getFullYear()} can't be held`);
  return ((year << 25) | ((d.getMonth() + 1) << 21) | (d.getDate() << 16) |
    (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1)) >>> 0;
}

/** Gathers the central directory's records as files are written; `end` returns it. */
export class ZipDirectory {
  #blocks: Uint8Array[] = [];
  #block = new Uint8Array(BLOCK);
  #used = 0;
  #count = 0;
  #size = 0;

  add(e: ZipEntry): void {
    const length = 46 + e.name.length;
    if (this.#used + length > this.#block.length) {
      this.#blocks.push(this.#block.subarray(0, this.#used));
      this.#block = new Uint8Array(Math.max(BLOCK, length));
      this.#used = 0;
    }
    const at = this.#used;
    const v = new DataView(this.#block.buffer, this.#block.byteOffset + at, length);
    v.setUint32(0, CENTRAL_HEADER, true);
    v.setUint16(4, 20, true); // made by: version 2.0, MS-DOS attributes
    v.setUint16(6, 20, true); // needed to extract
    v.setUint16(8, 0x0008 | (e.utf8 ? 0x0800 : 0), true); // data descriptor; UTF-8 name
    v.setUint16(10, 0, true); // stored
    v.setUint32(12, dosDateTime(e.mtime), true);
    v.setUint32(16, e.crc >>> 0, true);
    v.setUint32(20, e.storedSize, true);
    v.setUint32(24, e.size, true);
    v.setUint16(28, e.name.length, true);
    // Extra field, comment, disk number, internal and external attributes: none (zero).
    v.setUint32(42, e.offset, true);
    this.#block.set(e.name, at + 46);
    this.#used += length;
    this.#count++;
    this.#size += length;
  }

  /**
   * The central directory and its end records, for an archive whose files take `offset` bytes
   * before it (more than 65,534 files get the ZIP64 end record too: src/domain/zip_end.ts).
   */
  end(offset: number): Uint8Array[] {
    const blocks = [...this.#blocks, this.#block.subarray(0, this.#used)];
    this.#blocks = [];
    this.#block = new Uint8Array(0);
    this.#used = 0;
    return [
      ...blocks.filter((b) => b.length > 0),
      zipEndRecords(this.#count, this.#size, offset),
    ];
  }
}
