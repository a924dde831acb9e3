// The playground's layout rule, checked in a page: the header, the three panes and the status
// bar each have a box of their own (no two overlap by more than a pixel), none is empty, and
// nothing is wider than the window. The browser test and the README's screenshots use it.

/** The boxes that must not overlap, by CSS selector. */
export const paneSelectors = ["header", "#editor-pane", "#view-pane", "#side-pane", "footer"];

/** Problems with the page's layout now, in words; [] when it holds. */
export async function layoutProblems(page) {
  return page.evaluate((selectors) => {
    const problems = [];
    const boxes = selectors.map((s) => {
      const el = document.querySelector(s);
      const r = el?.getBoundingClientRect();
      if (!r || r.width < 40 || r.height < 20)
        problems.push(`${s}: no room (${r?.width}x${r?.height})`);
      return { s, r };
    });
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r;
        const b = boxes[j].r;
        if (!a || !b) continue;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1)
          problems.push(
            `${boxes[i].s} and ${boxes[j].s} overlap by ${w.toFixed(0)}x${h.toFixed(0)} px`,
          );
      }
    const width = document.documentElement.scrollWidth;
    if (width > innerWidth + 1)
      problems.push(`the page is ${width} px wide in a ${innerWidth} px window`);
    const header = document.querySelector("header").getBoundingClientRect();
    if (header.height > 60) problems.push(`the header wraps (${header.height.toFixed(0)} px tall)`);
    return problems;
  }, paneSelectors);
}

/** The widths the layout is held to: a small laptop window, a desktop, a 1440p screen. */
export const layoutWidths = [800, 1400, 2560];
