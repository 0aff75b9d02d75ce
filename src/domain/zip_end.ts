/**
 * The end of a zip archive. The classic end-of-central-directory record counts files in 16 bits:
 * past 65,535 they would wrap and readers see too few. A larger archive gets the ZIP64 end record
 * and its locator before it, and the classic counts set to 0xFFFF, which tells readers to use the
 * ZIP64 record (PKWARE APPNOTE 6.3.10, sections 4.3.14–4.3.16 and 4.4.1.4). Offsets stay 32 bits:
 * an archive of more than 4 GiB is not made (the zip export stops before).
 */

const EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;

/**
 * The end records of a zip whose central directory holds `entries` files in `size` bytes starting
 * at `offset`: the classic end record alone for up to 65,534 files, else the ZIP64 end record and
 * its locator before a classic one whose counts say "see the ZIP64 record".
 */
export function zipEndRecords(entries: number, size: number, offset: number): Uint8Array {
  if (entries <= 0xfffe) return classicEnd(entries, size, offset);
  const out = new Uint8Array(56 + 20 + 22);
  const v = new DataView(out.buffer);
  // ZIP64 end of central directory record (4.3.14): its size excludes its first 12 bytes.
  v.setUint32(0, ZIP64_EOCD, true);
  v.setBigUint64(4, 44n, true);
  v.setUint16(12, 45, true); // made by: 4.5, the version that has ZIP64
  v.setUint16(14, 45, true); // needed to extract
  v.setUint32(16, 0, true); // this disk
  v.setUint32(20, 0, true); // the disk where the central directory starts
  v.setBigUint64(24, BigInt(entries), true);
  v.setBigUint64(32, BigInt(entries), true);
  v.setBigUint64(40, BigInt(size), true);
  v.setBigUint64(48, BigInt(offset), true);
  // Its locator (4.3.15): where the record starts, right after the central directory.
  v.setUint32(56, ZIP64_LOCATOR, true);
  v.setUint32(60, 0, true);
  v.setBigUint64(64, BigInt(offset + size), true);
  v.setUint32(72, 1, true); // disks in all
  out.set(classicEnd(0xffff, size, offset), 76);
  return out;
}

/** The classic end of central directory record (4.3.16), 22 bytes; counts of 16 bits. */
function classicEnd(entries: number, size: number, offset: number): Uint8Array {
  const out = new Uint8Array(22);
  const v = new DataView(out.buffer);
  v.setUint32(0, EOCD, true);
  v.setUint16(8, entries, true);
  v.setUint16(10, entries, true);
  v.setUint32(12, size, true);
  v.setUint32(16, offset, true);
  return out;
}
