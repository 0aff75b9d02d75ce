/**
 * The end of a zip archive for more than 65,535 files. fflate (the zip writer) writes only the
 * classic end-of-central-directory record, whose file counts are 16 bits: past 65,535 files they
 * wrap and readers see too few. This puts the ZIP64 end record and its locator before it and
 * sets the classic counts to 0xFFFF, which tells readers to use the ZIP64 record (PKWARE
 * APPNOTE 6.3.10, sections 4.3.14–4.3.16 and 4.4.1.4). Offsets stay 32 bits: an archive of more
 * than 4 GiB is not made (the zip export stops before).
 */

const EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;

/**
 * `last` is the writer's final chunk: the central directory followed by the 22-byte end record.
 * Returns it unchanged for up to 65,535 files, else with the ZIP64 records added.
 */
export function zipEnd(last: Uint8Array, entries: number): Uint8Array[] {
  if (entries <= 0xfffe) return [last];
  const at = last.length - 22;
  const end = new DataView(last.buffer, last.byteOffset + at, 22);
  if (end.getUint32(0, true) !== EOCD) throw new Error("zip: no end record where expected");
  const cdSize = end.getUint32(12, true);
  const cdOffset = end.getUint32(16, true);
  const tail = new Uint8Array(56 + 20 + 22);
  const v = new DataView(tail.buffer);
  // ZIP64 end of central directory record (4.3.14): its size excludes its first 12 bytes.
  v.setUint32(0, ZIP64_EOCD, true);
  v.setBigUint64(4, 44n, true);
  v.setUint16(12, 45, true); // made by: 4.5, the version that has ZIP64
  v.setUint16(14, 45, true); // needed to extract
  v.setUint32(16, 0, true); // this disk
  v.setUint32(20, 0, true); // the disk where the central directory starts
  v.setBigUint64(24, BigInt(entries), true);
  v.setBigUint64(32, BigInt(entries), true);
  v.setBigUint64(40, BigInt(cdSize), true);
  v.setBigUint64(48, BigInt(cdOffset), true);
  // Its locator (4.3.15): where the record starts, right after the central directory.
  v.setUint32(56, ZIP64_LOCATOR, true);
  v.setUint32(60, 0, true);
  v.setBigUint64(64, BigInt(cdOffset + cdSize), true);
  v.setUint32(72, 1, true); // disks in all
  // The classic end record, its counts saying "see the ZIP64 record" (4.4.1.4).
  v.setUint32(76, EOCD, true);
  v.setUint16(80, 0, true);
  v.setUint16(82, 0, true);
  v.setUint16(84, 0xffff, true);
  v.setUint16(86, 0xffff, true);
  v.setUint32(88, cdSize, true);
  v.setUint32(92, cdOffset, true);
  v.setUint16(96, 0, true);
  return [last.subarray(0, at), tail];
}
