/* smsportal: the small amount of JavaScript the pages share.
 *
 *  - toasts: server-rendered flash messages and the ones htmx responses carry in HX-Trigger
 *    ("showMessages", set by smsportal.htmx.HtmxMessagesMiddleware);
 *  - htmx errors (4xx/5xx, network) become a toast instead of a silent no-op;
 *  - confirmations for destructive actions: `hx-confirm="…"` on htmx elements and `data-confirm="…"` on
 *    ordinary forms/buttons open one Bootstrap modal instead of window.confirm;
 *  - bulk selection in tables (`smsportal.tables.SelectionColumn`): select-all, a counter, and buttons that
 *    are enabled only while something is selected;
 *  - `data-refresh-tables` on any element: after its htmx request succeeds, every table refreshes.
 * Tables reload themselves on the `tableRefresh` client event (see templates/tables/htmx_table.html).
 */
(function () {
  "use strict";

  // ---- toasts ------------------------------------------------------------------------------------------
  const ICONS = {
    success: "bi-check-circle-fill",
    info: "bi-info-circle-fill",
    warning: "bi-exclamation-triangle-fill",
    error: "bi-x-octagon-fill",
    debug: "bi-bug-fill",
  };

  function toastContainer() {
    let box = document.getElementById("toast-container");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast-container";
      box.className = "toast-container position-fixed end-0 p-3";
      document.body.appendChild(box);
    }
    return box;
  }

  function initToast(el) {
    if (!window.bootstrap || el.dataset.toastReady) return;
    el.dataset.toastReady = "1";
    const sticky = el.dataset.level === "error" || el.dataset.level === "warning";
    const toast = bootstrap.Toast.getOrCreateInstance(el, { autohide: !sticky, delay: 6000 });
    el.addEventListener("hidden.bs.toast", () => el.remove());
    if (el.classList.contains("show")) {
      // rendered visible by the server (works without JavaScript): only schedule the auto-hide
      if (!sticky) setTimeout(() => toast.hide(), 6000);
    } else {
      toast.show();
    }
  }

  function showToast(level, text) {
    level = ICONS[level] ? level : "info";
    const el = document.createElement("div");
    el.className = "toast app-toast app-toast-" + level;
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.setAttribute("aria-live", level === "error" ? "assertive" : "polite");
    el.setAttribute("aria-atomic", "true");
    el.dataset.level = level;
    const body = document.createElement("div");
    body.className = "d-flex align-items-start gap-2 p-3";
    const icon = document.createElement("i");
    icon.className = "bi " + ICONS[level] + " app-toast-icon";
    icon.setAttribute("aria-hidden", "true");
    const msg = document.createElement("div");
    msg.className = "flex-grow-1";
    msg.textContent = text; // never innerHTML: messages may contain user input
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close btn-close-sm";
    close.setAttribute("data-bs-dismiss", "toast");
    close.setAttribute("aria-label", "Close");
    body.append(icon, msg, close);
    el.appendChild(body);
    toastContainer().appendChild(el);
    initToast(el);
    return el;
  }
  window.smsportal = Object.assign(window.smsportal || {}, { showToast: showToast });

  document.body.addEventListener("showMessages", function (event) {
    const items = (event.detail && event.detail.messages) || [];
    items.forEach((m) => showToast(m.level, m.message));
  });

  // ---- htmx errors -------------------------------------------------------------------------------------
  const STATUS_TEXT = {
    400: "The request was not valid. Check the form and try again.",
    403: "You do not have permission to do that.",
    404: "That item no longer exists. Reload the page.",
    409: "Someone else changed this in the meantime. Reload the page.",
    413: "The file is too large.",
    429: "Too many requests. Wait a moment and try again.",
  };
  document.body.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    const text = STATUS_TEXT[xhr.status] || "Something went wrong on our side (" + xhr.status + "). Try again.";
    showToast("error", text);
  });
  document.body.addEventListener("htmx:sendError", function () {
    showToast("error", "The server could not be reached. Check your connection and try again.");
  });

  // ---- confirmations -----------------------------------------------------------------------------------
  function askConfirm(question, onYes, opts) {
    const modalEl = document.getElementById("confirm-modal");
    if (!modalEl || !window.bootstrap) {
      if (window.confirm(question)) onYes();
      return;
    }
    opts = opts || {};
    modalEl.querySelector("[data-confirm-text]").textContent = question;
    const yes = modalEl.querySelector("[data-confirm-yes]");
    yes.textContent = opts.label || "Confirm";
    yes.className = "btn " + (opts.danger === false ? "btn-primary" : "btn-danger");
    const modal = bootstrap.Modal.getOrCreateInstance(modalEl);
    const handler = function () {
      yes.removeEventListener("click", handler);
      modal.hide();
      onYes();
    };
    modalEl.addEventListener("hidden.bs.modal", () => yes.removeEventListener("click", handler), { once: true });
    yes.addEventListener("click", handler);
    modal.show();
  }
  window.smsportal.confirm = askConfirm;

  // htmx: hx-confirm="…" (and optionally data-confirm-label="Delete", data-confirm-danger="false").
  document.body.addEventListener("htmx:confirm", function (event) {
    const question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    const elt = event.detail.elt;
    askConfirm(question, () => event.detail.issueRequest(true), {
      label: elt.dataset.confirmLabel,
      danger: elt.dataset.confirmDanger !== "false",
    });
  });

  // Ordinary forms: <form data-confirm="…"> or <button data-confirm="…"> inside a form.
  document.addEventListener(
    "submit",
    function (event) {
      const form = event.target;
      const submitter = event.submitter;
      const source = (submitter && submitter.dataset.confirm && submitter) || (form.dataset.confirm && form);
      if (!source || form.dataset.confirmed === "1") return;
      event.preventDefault();
      askConfirm(
        source.dataset.confirm,
        () => {
          form.dataset.confirmed = "1";
          if (submitter && submitter.name) {
            const hidden = document.createElement("input");
            hidden.type = "hidden";
            hidden.name = submitter.name;
            hidden.value = submitter.value;
            form.appendChild(hidden);
          }
          form.requestSubmit ? form.requestSubmit() : form.submit();
        },
        { label: source.dataset.confirmLabel, danger: source.dataset.confirmDanger !== "false" }
      );
    },
    true
  );

  // ---- table bulk selection ----------------------------------------------------------------------------
  function selectionScope(el) {
    return el.closest("[data-selection-scope]") || document;
  }

  function updateSelection(scope) {
    const boxes = scope.querySelectorAll("input[data-select-row]");
    const checked = Array.from(boxes).filter((b) => b.checked);
    scope.querySelectorAll("input[data-select-all]").forEach((all) => {
      all.checked = boxes.length > 0 && checked.length === boxes.length;
      all.indeterminate = checked.length > 0 && checked.length < boxes.length;
    });
    scope.querySelectorAll("[data-selection-count]").forEach((el) => (el.textContent = String(checked.length)));
    scope.querySelectorAll("[data-needs-selection]").forEach((el) => {
      el.disabled = checked.length === 0;
      el.classList.toggle("disabled", checked.length === 0);
    });
    scope.querySelectorAll("[data-selection-bar]").forEach((el) => el.classList.toggle("d-none", checked.length === 0));
    // "all matching the filter" is only meaningful while every row on the page is selected
    scope.querySelectorAll("input[data-select-matching]").forEach((el) => {
      if (checked.length !== boxes.length) el.checked = false;
    });
  }

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.matches("input[data-select-all]")) {
      const scope = selectionScope(el);
      scope.querySelectorAll("input[data-select-row]").forEach((b) => (b.checked = el.checked));
      updateSelection(scope);
    } else if (el.matches("input[data-select-row]")) {
      updateSelection(selectionScope(el));
    }
  });

  // The "all rows matching the filter" option must follow the filter the table now shows.
  function syncFilterQuery() {
    const qs = window.location.search.replace(/^\?/, "");
    document.querySelectorAll('input[name="filter_query"]').forEach((el) => (el.value = qs));
    // <a data-export-link href="?…&export=csv">: exports what the table shows now
    document.querySelectorAll("a[data-export-link]").forEach((a) => {
      const url = new URL(a.href, window.location.href);
      const params = new URLSearchParams(qs);
      const exportValue = url.searchParams.get("export") || "csv";
      params.delete("page");
      params.set("export", exportValue);
      a.href = window.location.pathname + "?" + params.toString();
    });
  }
  document.body.addEventListener("htmx:pushedIntoHistory", syncFilterQuery);
  document.body.addEventListener("htmx:replacedInHistory", syncFilterQuery);

  // ---- refresh tables after an action ------------------------------------------------------------------
  document.body.addEventListener("htmx:afterRequest", function (event) {
    const elt = event.detail.elt;
    if (event.detail.successful && elt && elt.closest && elt.closest("[data-refresh-tables]")) {
      htmx.trigger(document.body, "tableRefresh");
    }
  });

  // ---- per-content initialisation (first load and every htmx swap) ------------------------------------
  function init(root) {
    root.querySelectorAll(".toast[data-level]").forEach(initToast);
    if (root.querySelector && root.querySelector("input[data-select-row]")) {
      updateSelection(root === document.body || !root.closest ? document : selectionScope(root));
    }
    if (window.bootstrap) {
      root.querySelectorAll('[data-bs-toggle="tooltip"]').forEach((el) => bootstrap.Tooltip.getOrCreateInstance(el));
    }
  }

  if (window.htmx) {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", () => init(document));
  }
})();
