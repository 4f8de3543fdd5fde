// Cross-scan index arithmetic (VMamba cross-scan, as training/mmamba/mmamba.py `sequence_permutations`).
// Prepended (as text) to every shader that walks a direction's scan order; it declares no bindings.
// Sequence = [txt (Lt) ; img (HW, row-major)], L = Lt + HW, square grid G (HW = G*G).
// Direction slot k of K uses the image permutation dirOf(K, k): K = 1 → {P0}, K = 2 → {P0, P2}, K = 4 → {P0..P3}.
//   P0 row-major, P1 column-major, P2 = reverse(P0), P3 = reverse(P1);  P_d[i] = image index read at scan step i.
// Text position: textMiddle == 0 → s_k = [txt ; P(img)];  1 → [P(img)[:HW/2] ; txt ; P(img)[HW/2:]].
// seqToken(j) = original token index read at scan position j (torch's seq_perm[k][j]);
// seqPos(t)   = scan position of original token t (torch's seq_inv[k][t]).

struct ScanGeom { Lt: u32, G: u32, K: u32, textMiddle: u32 }

fn csDir(g: ScanGeom, k: u32) -> u32 {
  if (g.K == 2u) { return 2u * k; }
  return k;
}

// image permutation d at step i (0 ≤ i < HW)
fn csImgPerm(g: ScanGeom, d: u32, i: u32) -> u32 {
  let hw = g.G * g.G;
  let ii = select(i, hw - 1u - i, d >= 2u);            // P2, P3 read P0, P1 backwards
  if ((d & 1u) == 1u) { return (ii % g.G) * g.G + ii / g.G; } // column-major (transpose; an involution)
  return ii;
}

// inverse image permutation: step at which image index p is read
fn csImgInv(g: ScanGeom, d: u32, p: u32) -> u32 {
  let hw = g.G * g.G;
  var q = p;
  if ((d & 1u) == 1u) { q = (p % g.G) * g.G + p / g.G; }
  return select(q, hw - 1u - q, d >= 2u);
}

fn seqToken(g: ScanGeom, k: u32, j: u32) -> u32 {
  let d = csDir(g, k);
  let hw = g.G * g.G;
  if (g.textMiddle == 0u) {
    if (j < g.Lt) { return j; }
    return g.Lt + csImgPerm(g, d, j - g.Lt);
  }
  let half = hw / 2u;
  if (j < half) { return g.Lt + csImgPerm(g, d, j); }
  if (j < half + g.Lt) { return j - half; }
  return g.Lt + csImgPerm(g, d, j - g.Lt);
}

fn seqPos(g: ScanGeom, k: u32, t: u32) -> u32 {
  let d = csDir(g, k);
  let hw = g.G * g.G;
  if (t < g.Lt) { return select(t, t + hw / 2u, g.textMiddle != 0u); }
  let i = csImgInv(g, d, t - g.Lt);
  if (g.textMiddle == 0u) { return g.Lt + i; }
  return select(i + g.Lt, i, i < hw / 2u);
}
