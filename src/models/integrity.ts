// What a file's bytes must hash to, and the incremental hashers that check it while the bytes
// stream in (WebCrypto has no streaming digest, so a multi-gigabyte file would otherwise have to
// sit in memory whole).

import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * `sha256`: the hub's lfs.oid, the hash of the file itself (LFS and Xet files).
 * `git-sha1`: the hub's oid of a plain git file, sha1 of "blob <size>\0" + the bytes.
 */
export interface Digest {
  algorithm: 'sha256' | 'git-sha1';
  hex: string;
}

export interface Hasher {
  update(bytes: Uint8Array): void;
  hex(): string;
}

export function createHasher(digest: Digest, size: number): Hasher {
  const hash = digest.algorithm === 'sha256' ? sha256.create() : sha1.create().update(utf8ToBytes(`blob ${size}\0`));
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => bytesToHex(hash.digest()),
  };
}

export const sameDigest = (a: Digest | null, b: Digest | null): boolean =>
  a === b || (a !== null && b !== null && a.algorithm === b.algorithm && a.hex === b.hex);
