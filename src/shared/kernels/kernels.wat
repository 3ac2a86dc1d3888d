;; The aggregator's SIMD kernel, compiled by `npx tsx scripts/build-kernels.ts` into kernels-wasm.ts
;; (the bytes are committed; test/shared/kernels.test.ts checks they are this text's).
;;
;; addScaled(sum, values, n, w): sum[i] += w * f64(values[i]) for i < n, where sum points at n
;; float64s and values at n float32s in the imported memory. Four values a step: two f64x2 lanes
;; each. Every value's arithmetic is the scalar loop's (an exact float32-to-float64 promotion, one
;; IEEE multiply, one IEEE add), so the sums are bit-identical to JavaScript's `sum[i] += w * values[i]`.
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "addScaled") (param $sum i32) (param $values i32) (param $n i32) (param $w f64)
    (local $i i32) (local $end4 i32) (local $p i32) (local $v v128) (local $wv v128)
    (local.set $wv (f64x2.splat (local.get $w)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $v (v128.load (i32.add (local.get $values) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $p (i32.add (local.get $sum) (i32.shl (local.get $i) (i32.const 3))))
        (v128.store (local.get $p)
          (f64x2.add (v128.load (local.get $p)) (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (local.get $v)))))
        (v128.store offset=16 (local.get $p)
          (f64x2.add (v128.load offset=16 (local.get $p))
            (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $sum) (i32.shl (local.get $i) (i32.const 3))))
        (f64.store (local.get $p)
          (f64.add (f64.load (local.get $p)) (f64.mul (local.get $w) (f64.promote_f32 (f32.load (i32.add (local.get $values) (i32.shl (local.get $i) (i32.const 2))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  (func (export "addWords") (param $acc i32) (param $x i32) (param $n i32)
    (local $i i32) (local $end4 i32) (local $p i32) (local $q i32)
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $q (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (v128.store (local.get $p) (i32x4.add (v128.load (local.get $p)) (v128.load (local.get $q))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 2))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
  (func (export "subWords") (param $acc i32) (param $x i32) (param $n i32)
    (local $i i32) (local $end4 i32) (local $p i32) (local $q i32)
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $q (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (v128.store (local.get $p) (i32x4.sub (v128.load (local.get $p)) (v128.load (local.get $q))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 2))))
        (i32.store (local.get $p) (i32.sub (i32.load (local.get $p)) (i32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
)
