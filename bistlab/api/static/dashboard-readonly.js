// bistlab's optuna-dashboard is a read-only view (bistlab.api.dashboard): the server refuses every change
// with 403. This script, added to the dashboard's page, says so in a banner and hides the buttons
// that would only be refused (new, rename, delete study; notes; trial and artifact changes).
"use strict";
(function () {
  var WRITE_TEXTS = ["New Study", "Create", "Rename", "Delete", "Delete study", "Delete artifact", "Edit", "Fail Trial",
                     "Upload", "Upload a New File", "Upload a New Image", "Remove"];
  var WRITE_ICONS = ["DeleteIcon", "EditIcon", "DriveFileRenameOutlineIcon", "UploadFileIcon"];
  var scheduled = false;

  function isWrite(el) {
    var text = (el.textContent || "").trim();
    var label = el.getAttribute("aria-label") || el.getAttribute("title") || "";
    if (WRITE_TEXTS.indexOf(text) >= 0 || WRITE_TEXTS.indexOf(label) >= 0) { return true; }
    return WRITE_ICONS.some(function (name) { return !!el.querySelector('svg[data-testid="' + name + '"]'); }) && text.length < 30;
  }

  function hide() {
    scheduled = false;
    var found = document.querySelectorAll('button, [role="menuitem"], a[role="button"]');
    Array.prototype.forEach.call(found, function (el) {
      if (el.dataset.bistlabReadOnly === undefined && isWrite(el)) {
        el.dataset.bistlabReadOnly = "hidden";
        el.style.display = "none";
      }
    });
  }

  function banner() {
    var div = document.createElement("div");
    div.id = "bistlab-read-only";
    div.textContent = "Read-only view of bistlab's studies (every cycle and hyperopt job): creating, renaming or deleting studies and editing notes are refused here.";
    div.style.cssText = "position:fixed;left:0;right:0;bottom:0;z-index:2000;padding:3px 12px;font:12px sans-serif;" +
      "background:#fff8c5;color:#6b4f00;border-top:1px solid #d4a72c;text-align:center;pointer-events:none";
    document.body.appendChild(div);
  }

  function start() {
    banner();
    hide();
    new MutationObserver(function () {
      if (!scheduled) { scheduled = true; window.requestAnimationFrame(hide); }
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
