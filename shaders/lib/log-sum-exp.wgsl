// The online log-sum-exp's one rule, shared by every stepping kernel whatever the layout of its
// sums (one lane per particle, of the including kernel's type `lanes`: f32, or vec4<f32> for four
// particles). A group's sums over its entries v_k = log w_k + log p_k are
//   max = max_k v_k,  sum = sum_k exp(v_k - max),  acc = sum_k exp(v_k - max) g_k
// (and any other weighted sum, e.g. the divergence pieces), its log-density max + log(sum) and
// its score acc / sum. Adding an entry at v rescales whichever side is smaller by
// exp(-|v - max|): the old sums where v is a new max, else the entry. One exp per entry,
// branch-free, and no overflow or underflow however far the particle is from the mixture.

// What adding an entry at v does to a group's sums:
//   sum' = sum * keep + add,  acc' = acc * keep + g * add,  max' = max(max, v).
struct LseScale {
  keep: lanes,
  add: lanes,
}

fn lse_scale(running_max: lanes, v: lanes) -> LseScale {
  let d = v - running_max;
  let e = exp(-abs(d));
  let up = d > lanes(0.0);
  return LseScale(select(lanes(1.0), e, up), select(e, lanes(1.0), up));
}
