;; The aggregator's SIMD kernel, compiled by `npx tsx scripts/build-kernels.ts` into kernels-wasm.ts
;; (the bytes are committed; test/shared/kernels.test.ts checks they are this text's).
;;
;; scanRows(values, n, rank) -> (total, worstSq, worstRow): the row scan of `scanRows` in delta.ts over the
;; n float32s at `values`, rows of `rank` (n a multiple of rank). Each row's squares go into four running
;; sums, lanes of two f64x2 (s0 s1 | s2 s3), the tail of a row into s0, and the row's square norm is
;; (s0 + s1) + (s2 + s3): the JavaScript loop's operations in its order, so the results are bit-identical.
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

  (func (export "scanRows") (param $values i32) (param $n i32) (param $rank i32) (result f64 f64 i32)
    (local $off i32) (local $row i32) (local $a i32) (local $whole i32) (local $p i32)
    (local $v v128) (local $s01 v128) (local $s23 v128) (local $lo v128) (local $hi v128)
    (local $s0 f64) (local $sq f64) (local $x f64) (local $total f64) (local $worstSq f64) (local $worstRow i32)
    (local.set $whole (i32.and (local.get $rank) (i32.const -4)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $off) (local.get $n)))
        (local.set $s01 (v128.const f64x2 0 0))
        (local.set $s23 (v128.const f64x2 0 0))
        (local.set $a (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $a) (local.get $whole)))
            (local.set $v (v128.load (i32.add (local.get $values) (i32.shl (i32.add (local.get $off) (local.get $a)) (i32.const 2)))))
            (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $lo) (local.get $lo))))
            (local.set $s23 (f64x2.add (local.get $s23) (f64x2.mul (local.get $hi) (local.get $hi))))
            (local.set $a (i32.add (local.get $a) (i32.const 4)))
            (br $vec)))
        (local.set $s0 (f64x2.extract_lane 0 (local.get $s01)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $a) (local.get $rank)))
            (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $values) (i32.shl (i32.add (local.get $off) (local.get $a)) (i32.const 2))))))
            (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x) (local.get $x))))
            (local.set $a (i32.add (local.get $a) (i32.const 1)))
            (br $tail)))
        (local.set $sq
          (f64.add
            (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $s01)))
            (f64.add (f64x2.extract_lane 0 (local.get $s23)) (f64x2.extract_lane 1 (local.get $s23)))))
        (local.set $total (f64.add (local.get $total) (local.get $sq)))
        (if (f64.gt (local.get $sq) (local.get $worstSq))
          (then
            (local.set $worstSq (local.get $sq))
            (local.set $worstRow (local.get $row))))
        (local.set $off (i32.add (local.get $off) (local.get $rank)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
    (local.get $total) (local.get $worstSq) (local.get $worstRow))

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
