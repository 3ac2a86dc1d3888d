/**
 * Vector addition in Z_(2^32) by a WebAssembly SIMD loop (i32x4.add: four words per
 * instruction, wrapping mod 2^32). A plain JavaScript loop over Uint32Arrays does one
 * word per iteration through bounds checks, and runs in the interpreter for its first
 * ~100 ms of work until the JIT catches up; the aggregator's secure round is mostly
 * this addition (masked inputs summed, masks removed), so it was the round's slowest
 * part. WebAssembly is compiled at once, so the first call is as fast as the next.
 *
 * The module is 120-odd bytes, built below from its text form; it owns one page of
 * memory holding two scratch blocks. Each block of the operands is copied in
 * (`TypedArray.set`, a memcpy that stays in cache), added there, and copied back.
 * Any length works: the last block may be short, and its last one to three words,
 * which do not fill a SIMD lane, are added by `mod32Words`'s tail loop.
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "add") (param $acc i32) (param $x i32) (param $bytes i32)   ;; acc[i] += x[i]
 *     (local $end i32)
 *     (local.set $end (i32.add (local.get $acc) (local.get $bytes)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $acc) (local.get $end)))
 *       (v128.store (local.get $acc) (i32x4.add (v128.load (local.get $acc)) (v128.load (local.get $x))))
 *       (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
 *       (local.set $x (i32.add (local.get $x) (i32.const 16)))
 *       (br 0))))
 *   (func (export "sub") …the same with i32x4.sub…))
 * ```
 */

const WASM_PAGE_BYTES = 65536;
/** Words of one scratch block: two blocks (accumulator and operand) fill the module's one page. */
export const BLOCK_WORDS = WASM_PAGE_BYTES / 4 / 2;
const LANE_WORDS = 4;
const OPERAND_OFFSET_BYTES = BLOCK_WORDS * 4;

// The opcodes of the function bodies (WebAssembly core spec 1.0 and its SIMD proposal).
const I32 = 0x7f;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_GE_U = 0x4f;
const BLOCK = 0x02;
const LOOP = 0x03;
const EMPTY_TYPE = 0x40;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00, 0x04, 0x00]; // memarg: 16-byte alignment, offset 0
const V128_STORE = [SIMD, 0x0b, 0x04, 0x00];
const I32X4_ADD = [SIMD, 0xae, 0x01];
const I32X4_SUB = [SIMD, 0xb1, 0x01];

/** The body of `add` or `sub`: locals 0 ($acc), 1 ($x), 2 ($bytes), 3 ($end). */
function loopBody(op: number[]): number[] {
  const body = [
    ...[0x01, 0x01, I32], // one local: $end
    ...[LOCAL_GET, 0, LOCAL_GET, 2, I32_ADD, LOCAL_SET, 3],
    ...[BLOCK, EMPTY_TYPE, LOOP, EMPTY_TYPE],
    ...[LOCAL_GET, 0, LOCAL_GET, 3, I32_GE_U, BR_IF, 1],
    ...[LOCAL_GET, 0, LOCAL_GET, 0, ...V128_LOAD, LOCAL_GET, 1, ...V128_LOAD, ...op, ...V128_STORE],
    ...[LOCAL_GET, 0, I32_CONST, 16, I32_ADD, LOCAL_SET, 0],
    ...[LOCAL_GET, 1, I32_CONST, 16, I32_ADD, LOCAL_SET, 1],
    ...[BR, 0, END, END, END],
  ];
  return [...leb128(body.length), ...body];
}

/** An unsigned LEB128 number (how WebAssembly writes sizes). */
function leb128(value: number): number[] {
  const out: number[] = [];
  do {
    const low = value & 0x7f;
    value >>>= 7;
    out.push(value === 0 ? low : low | 0x80);
  } while (value !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb128(body.length), ...body];
}

function name(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'latin1')];
}

const MODULE_BYTES = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x03, I32, I32, I32, 0x00]), // one type: (i32, i32, i32) -> ()
  ...section(3, [0x02, 0x00, 0x00]), // two functions of type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory of one page, no maximum
  ...section(7, [0x03, ...name('add'), 0x00, 0x00, ...name('sub'), 0x00, 0x01, ...name('memory'), 0x02, 0x00]),
  ...section(10, [0x02, ...loopBody(I32X4_ADD), ...loopBody(I32X4_SUB)]),
]);

interface Kernel {
  add(acc: number, x: number, bytes: number): void;
  sub(acc: number, x: number, bytes: number): void;
  memory: WebAssembly.Memory;
}

const kernel = new WebAssembly.Instance(new WebAssembly.Module(MODULE_BYTES)).exports as unknown as Kernel;
const accBlock = new Uint32Array(kernel.memory.buffer, 0, BLOCK_WORDS);
const operandBlock = new Uint32Array(kernel.memory.buffer, OPERAND_OFFSET_BYTES, BLOCK_WORDS);

/** acc ← acc + sign·x (mod 2^32), in place; the lengths must be equal (the caller checks). */
export function mod32Words(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): void {
  const n = acc.length;
  const lanes = n - (n % LANE_WORDS);
  const op = sign === 1 ? kernel.add : kernel.sub;
  for (let offset = 0; offset < lanes; offset += BLOCK_WORDS) {
    const words = Math.min(BLOCK_WORDS, lanes - offset);
    accBlock.set(acc.subarray(offset, offset + words));
    operandBlock.set(x.subarray(offset, offset + words));
    op(0, OPERAND_OFFSET_BYTES, words * 4);
    acc.set(accBlock.subarray(0, words), offset);
  }
  for (let i = lanes; i < n; i++) acc[i] = sign === 1 ? acc[i] + x[i] : acc[i] - x[i];
}
