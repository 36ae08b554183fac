// The dashboard's column search: filters the column cards of one file by
// name or type as the visitor types. Without JavaScript the search stays
// hidden; the "Jump to a column" list and the per-file folds work anyway.
"use strict";

(function () {
  function setUp(input) {
    const report = document.getElementById(input.dataset.report);
    if (!report) return;
    const cards = Array.from(report.querySelectorAll(".column-card"));
    const count = report.querySelector(".column-search-count");
    const empty = report.querySelector(".column-search-empty");
    input.closest(".column-tools").hidden = false;

    function filter() {
      const words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const card of cards) {
        const name = (card.dataset.column || "").toLowerCase();
        const type = (card.querySelector(".type-badge")?.textContent || "").toLowerCase();
        const match = words.every((w) => name.includes(w) || type.includes(w));
        card.hidden = !match;
        if (match) shown += 1;
      }
      if (count) {
        count.textContent = words.length ? `${shown} of ${cards.length} columns` : "";
      }
      if (empty) empty.hidden = shown > 0;
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        input.value = "";
        filter();
      }
    });
  }

  // A jump to a column opens its file's fold first.
  function openTarget() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (!target) return;
    const fold = target.closest("details.report-fold");
    if (fold && !fold.open) {
      fold.open = true;
      target.scrollIntoView();
    }
    if (target.hidden) target.hidden = false;
  }

  document.querySelectorAll(".column-search").forEach(setUp);
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
