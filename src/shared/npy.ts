import { AppError } from './errors';

/**
 * NumPy `.npy` (format 1.0) encoding for the project's numeric payloads: only
 * little-endian float32 (`<f4`), int32 (`<i4`) and uint32 (`<u4`, masked secure-aggregation
 * inputs), C order, 1-D or 2-D.
 *
 * Example: a 3 x 2 float32 matrix is the 10-byte magic+version+length prefix,
 * the header `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }`
 * padded with spaces to a multiple of 64 bytes and ending in '\n', then 24
 * bytes of data. `numpy.load('Global_V.npy')` reads it.
 */
export type NpyDtype = '<f4' | '<i4' | '<u4';

interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint32Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const PREFIX_BYTES = 10; // magic (6) + version (2) + header length (2)
const HEADER_ALIGN = 64;
/** Headers longer than this are hostile: real ones for our shapes are < 128 bytes. */
const MAX_HEADER_BYTES = 4096;

/** Encode a typed array as an .npy file. `shape` must multiply to `data.length`. */
export function encodeNpy(data: Float32Array | Int32Array | Uint32Array, shape: number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape ${shape.join('x')} needs ${count} values, got ${data.length}`);
  const descr: NpyDtype = data instanceof Float32Array ? '<f4' : data instanceof Uint32Array ? '<u4' : '<i4';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = PREFIX_BYTES + header.length + 1;
  header += ' '.repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN) + '\n';
  const out = Buffer.alloc(PREFIX_BYTES + header.length + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, PREFIX_BYTES, 'latin1');
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (isLittleEndian()) body.copy(out, PREFIX_BYTES + header.length);
  else swapInto(body, out, PREFIX_BYTES + header.length);
  return out;
}

interface DecodeExpect {
  dtype?: NpyDtype;
  /** Expected shape; -1 matches any size in that position. */
  shape?: number[];
}

/**
 * Decode an .npy buffer, checking every claim the header makes against the bytes
 * that are really there. `source` names the file in error messages.
 */
export function decodeNpy(buf: Uint8Array, source: string, expect: DecodeExpect = {}): NpyArray {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail = (what: string): never => {
    throw new AppError('ERR_NPY_FORMAT', `${source}: ${what}`, { file: source });
  };
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, 6).equals(MAGIC)) fail('not an .npy file (bad magic)');
  const major = bytes[6];
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes.readUInt16LE(8);
    headerStart = PREFIX_BYTES;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = bytes.readUInt32LE(8);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy version ${major}`);
  }
  if (headerLen > MAX_HEADER_BYTES) fail(`header of ${headerLen} bytes is implausibly long`);
  if (bytes.length < headerStart + headerLen) fail('truncated header');
  const header = bytes.subarray(headerStart, headerStart + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail('header lacks descr, fortran_order or shape');
  if (descr !== '<f4' && descr !== '<i4' && descr !== '<u4') fail(`dtype ${descr} is not little-endian float32 (<f4), int32 (<i4) or uint32 (<u4)`);
  if (fortran === 'True') fail('Fortran-ordered arrays are not accepted');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (shape.some((n) => !Number.isSafeInteger(n))) fail(`shape (${shapeText}) is not a tuple of integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const needed = count * 4;
  if (bytes.length - dataStart < needed) fail(`header claims ${count} values (${needed} bytes) but only ${bytes.length - dataStart} bytes follow`);
  if (bytes.length - dataStart > needed) fail(`${bytes.length - dataStart - needed} unexpected bytes after the data`);
  if (expect.dtype && descr !== expect.dtype) fail(`dtype ${descr}, expected ${expect.dtype}`);
  if (expect.shape) {
    const ok = expect.shape.length === shape.length && expect.shape.every((n, i) => n === -1 || n === shape[i]);
    if (!ok) fail(`shape (${shape.join(', ')}), expected (${expect.shape.map((n) => (n === -1 ? '*' : n)).join(', ')})`);
  }
  const copy = new ArrayBuffer(needed);
  const view = Buffer.from(copy);
  if (isLittleEndian()) bytes.copy(view, 0, dataStart, dataStart + needed);
  else swapInto(bytes.subarray(dataStart, dataStart + needed), view, 0);
  const data = descr === '<f4' ? new Float32Array(copy) : descr === '<u4' ? new Uint32Array(copy) : new Int32Array(copy);
  return { dtype: descr as NpyDtype, shape, data };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function swapInto(src: Buffer, dst: Buffer, offset: number): void {
  for (let i = 0; i < src.length; i += 4) {
    dst[offset + i] = src[i + 3];
    dst[offset + i + 1] = src[i + 2];
    dst[offset + i + 2] = src[i + 1];
    dst[offset + i + 3] = src[i];
  }
}
