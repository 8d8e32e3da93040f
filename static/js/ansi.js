// ANSI SGR colours to text segments with class names. Pure: the caller puts each
// segment's text into a span with `textContent`, never as HTML.

const BASIC = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

/** Parses a stream of terminal output, chunk by chunk (escapes may be split). */
export class AnsiParser {
  #fg = null;
  #bg = null;
  #bold = false;
  #dim = false;
  #italic = false;
  #underline = false;
  #pending = "";

  /** The segments `{ text, classes }` of the next chunk. */
  push(chunk) {
    const text = this.#pending + chunk;
    this.#pending = "";
    const out = [];
    let plain = "";
    let i = 0;
    const flush = () => {
      if (plain) out.push({ text: plain, classes: this.#classes() });
      plain = "";
    };
    while (i < text.length) {
      const ch = text[i];
      if (ch !== "\x1b") {
        // Other control characters (but tab, newline) are not shown.
        if (ch === "\r" && text[i + 1] !== "\n") plain += "\n";
        else if (ch >= " " || ch === "\n" || ch === "\t") plain += ch;
        i++;
        continue;
      }
      if (i + 1 >= text.length) {
        this.#pending = text.slice(i);
        break;
      }
      if (text[i + 1] === "[") {
        // CSI: parameters, then a final byte in @-~.
        let j = i + 2;
        while (j < text.length && !(text[j] >= "@" && text[j] <= "~")) j++;
        if (j >= text.length) {
          this.#pending = text.slice(i);
          break;
        }
        if (text[j] === "m") {
          flush();
          this.#sgr(text.slice(i + 2, j));
        }
        i = j + 1;
      } else if (text[i + 1] === "]") {
        // OSC: up to BEL or ST.
        const bel = text.indexOf("\x07", i);
        const st = text.indexOf("\x1b\\", i);
        const end = bel < 0 ? st : st < 0 ? bel : Math.min(bel, st);
        if (end < 0) {
          this.#pending = text.slice(i);
          break;
        }
        i = end + (end === st ? 2 : 1);
      } else {
        i += 2;
      }
    }
    flush();
    return out;
  }

  #sgr(params) {
    const codes = params === "" ? [0] : params.split(";").map((p) => Number(p) || 0);
    for (let k = 0; k < codes.length; k++) {
      const c = codes[k];
      if (c === 0) {
        this.#fg = this.#bg = null;
        this.#bold =
          this.#dim =
          this.#italic =
          this.#underline =
            false;
      } else if (c === 1) this.#bold = true;
      else if (c === 2) this.#dim = true;
      else if (c === 3) this.#italic = true;
      else if (c === 4) this.#underline = true;
      else if (c === 22) this.#bold = this.#dim = false;
      else if (c === 23) this.#italic = false;
      else if (c === 24) this.#underline = false;
      else if (c >= 30 && c <= 37) this.#fg = BASIC[c - 30];
      else if (c >= 90 && c <= 97) this.#fg = `bright-${BASIC[c - 90]}`;
      else if (c === 39) this.#fg = null;
      else if (c >= 40 && c <= 47) this.#bg = BASIC[c - 40];
      else if (c >= 100 && c <= 107) this.#bg = `bright-${BASIC[c - 100]}`;
      else if (c === 49) this.#bg = null;
      else if (c === 38 || c === 48) {
        // 256 colours (5;n): the first 16 map to the named ones; true colour (2;r;g;b) is skipped.
        const mode = codes[k + 1];
        if (mode === 5) {
          const n = codes[k + 2];
          const name = n < 8 ? BASIC[n] : n < 16 ? `bright-${BASIC[n - 8]}` : null;
          if (c === 38) this.#fg = name;
          else this.#bg = name;
          k += 2;
        } else if (mode === 2) k += 4;
      }
    }
  }

  #classes() {
    const out = [];
    if (this.#fg) out.push(`fg-${this.#fg}`);
    if (this.#bg) out.push(`bg-${this.#bg}`);
    if (this.#bold) out.push("bold");
    if (this.#dim) out.push("dim");
    if (this.#italic) out.push("italic");
    if (this.#underline) out.push("underline");
    return out.join(" ");
  }
}
