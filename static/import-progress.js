// CSV import progress. Progressive enhancement: without it the page has a "Check progress"
// link; with it the bar and the status line follow the import, and the page turns into the
// summary when the import is done.
(function () {
  "use strict";
  var status = document.getElementById("import-status");
  var bar = document.getElementById("import-progress");
  if (!status || !bar || !window.fetch) {
    return;
  }
  var template = status.getAttribute("data-template");

  function poll() {
    fetch(status.getAttribute("data-endpoint"), { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (progress) {
        if (!progress) {
          return;
        }
        if (progress.state !== "running") {
          window.location.reload();
          return;
        }
        bar.value = progress.done;
        status.textContent = template
          .replace("{done}", progress.done)
          .replace("{total}", progress.total);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
