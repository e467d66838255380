// Placed label rectangles [left, top, right, bottom], bucketed by 64-pixel cells: free(b) says whether
// b overlaps none placed yet, add(b) places it. Shared by the HTML export and the vocabulary map.
class Boxes {
  constructor() { this.cells = new Map(); }
  keys(b) {
    const out = [];
    for (let gx = Math.floor(b[0] / 64); gx <= Math.floor(b[2] / 64); gx++)
      for (let gy = Math.floor(b[1] / 64); gy <= Math.floor(b[3] / 64); gy++) out.push(gx + "," + gy);
    return out;
  }
  free(b) {
    for (const key of this.keys(b)) for (const o of this.cells.get(key) || [])
      if (b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]) return false;
    return true;
  }
  add(b) { for (const key of this.keys(b)) { if (!this.cells.has(key)) this.cells.set(key, []); this.cells.get(key).push(b); } }
}
