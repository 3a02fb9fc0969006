/*
 * Progressive enhancements. Every page works without this file: the reply links, the
 * Preview button and the moderation buttons are ordinary links and forms. Loaded with
 * `defer` from base.html; the Content-Security-Policy forbids inline script.
 */
"use strict";

(() => {
  /* ---------- Comment reply: move the form under the comment being answered ---------- */

  function initCommentReply() {
    const respond = document.getElementById("respond");
    const parentInput = document.getElementById("comment_parent");
    const cancel = document.getElementById("cancel-comment-reply-link");
    const title = document.getElementById("reply-title");
    if (!respond || !parentInput || !cancel || !title) return;

    // Marks where the form lives so "Cancel reply" can put it back.
    const home = document.createElement("div");
    home.hidden = true;
    home.className = "respond-home";
    respond.before(home);

    const titleText = Array.from(title.childNodes).find(
      (node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim() !== "",
    );
    const setTitle = (text) => {
      if (titleText) titleText.textContent = `${text} `;
    };

    function authorOf(article) {
      const name = article.querySelector(".comment-author");
      return (name && name.textContent.trim()) || "Anonymous";
    }

    function replyTo(commentId, focus) {
      const article = document.getElementById(`comment-${commentId}`);
      if (!article) return false;
      article.after(respond);
      parentInput.value = String(commentId);
      setTitle(`Reply to ${authorOf(article)}`);
      cancel.hidden = false;
      if (focus) {
        const textarea = document.getElementById("comment");
        if (textarea) textarea.focus();
      }
      return true;
    }

    function cancelReply() {
      home.after(respond);
      parentInput.value = "0";
      setTitle("Leave a Reply");
      cancel.hidden = true;
    }

    document.addEventListener("click", (event) => {
      const link = event.target.closest(".comment-reply-link[data-comment-id]");
      if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey) {
        if (replyTo(link.dataset.commentId, true)) event.preventDefault();
        return;
      }
      if (event.target.closest("#cancel-comment-reply-link")) {
        event.preventDefault();
        cancelReply();
        respond.scrollIntoView({ block: "nearest" });
        document.getElementById("comment")?.focus({ preventScroll: true });
      }
    });

    // Opened as ?replytocom=ID (or sent back with errors): show the form where it answers.
    const current = Number.parseInt(parentInput.value, 10);
    if (current > 0) replyTo(current, false);
  }

  /* ---------- Editor: live preview from the same renderer as the public page ---------- */

  function initLivePreview() {
    const form = document.getElementById("post-editor");
    const preview = document.getElementById("preview");
    const url = form && form.dataset.previewUrl;
    if (!form || !preview || !url) return;
    const body = form.elements.namedItem("body");
    if (!body) return;
    const pane = preview.closest(".editor-preview") || preview;

    // Without this script the hint says to press "Preview"; with it, typing is enough.
    const hint = preview.querySelector(":scope > p.muted:only-child");
    if (hint) hint.textContent = "The preview follows as you type.";

    const DELAY_MS = 350;
    let timer = 0;
    let inFlight = null;
    let sequence = 0;

    async function refresh() {
      const data = new FormData(form);
      data.delete("action"); // the preview endpoint only renders; it never saves
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      const mine = ++sequence;
      pane.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(url, {
          method: "POST",
          body: data,
          credentials: "same-origin",
          headers: { Accept: "text/html" },
          signal: inFlight.signal,
        });
        if (!response.ok) {
          // 422: the server says why (a body too complex to render in time); plain text.
          const reason = response.status === 422 ? await response.text() : "";
          throw new Error(
            reason ||
              (response.status === 413
                ? "The post is too long to preview."
                : `The preview could not be updated (error ${response.status}).`),
          );
        }
        const html = await response.text();
        // The server answers with sanitized HTML from the public page's renderer.
        if (mine === sequence) preview.innerHTML = html;
      } catch (error) {
        if (error.name === "AbortError" || mine !== sequence) return;
        const note = document.createElement("p");
        note.className = "preview-error";
        note.setAttribute("role", "alert");
        note.textContent =
          error instanceof TypeError
            ? "The preview could not be updated: no connection. Your text is safe here."
            : error.message;
        preview.replaceChildren(note);
      } finally {
        if (mine === sequence) pane.removeAttribute("aria-busy");
      }
    }

    body.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    });
  }

  /* ---------- Editor: upload a file and put its Markdown at the cursor ---------------- */

  function initEditorUpload() {
    const upload = document.getElementById("editor-upload");
    const editor = document.getElementById("post-editor");
    if (!upload || !editor) return;
    const body = editor.elements.namedItem(upload.dataset.insertInto || "body");
    const input = document.getElementById("editor-upload-file");
    const status = document.getElementById("editor-upload-status");
    if (!body || !input) return;
    const button = document.querySelector('button[form="editor-upload"]');
    if (status) status.textContent = "The Markdown for the file goes where the cursor is.";

    function say(message, isError = false) {
      if (!status) return;
      status.classList.toggle("is-error", isError);
      status.textContent = message;
    }

    function insert(text) {
      // On a line of its own, where the cursor was (or at the end if the body never had it).
      const start = body.selectionStart ?? body.value.length;
      const end = body.selectionEnd ?? start;
      const before = body.value.slice(0, start);
      let lead = "\n\n";
      if (before === "" || before.endsWith("\n\n")) lead = "";
      else if (before.endsWith("\n")) lead = "\n";
      const after = body.value.slice(end);
      const tail = after.startsWith("\n") ? "" : "\n";
      body.focus();
      body.setRangeText(lead + text + tail, start, end, "end");
      // The live preview and the unsaved-work guard follow typing: this counts as typing.
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }

    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!input.files || input.files.length === 0) {
        say("Choose a file first.", true);
        return;
      }
      const data = new FormData(upload); // holds the file input too (form="editor-upload")
      if (button) button.disabled = true;
      say("Uploading…");
      try {
        const response = await fetch(upload.action, {
          method: "POST",
          body: data,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        let payload = null;
        try {
          payload = await response.json();
        } catch {
          payload = null;
        }
        if (!response.ok) {
          throw new Error(
            payload?.error?.message ||
              (response.status === 413
                ? "The file is larger than the upload limit."
                : `The upload failed (error ${response.status}).`),
          );
        }
        // A post imported from WordPress is written in HTML, not Markdown.
        const format = editor.elements.namedItem("body_format");
        insert(format && format.value === "html" ? payload.html_snippet : payload.snippet);
        input.value = "";
        say(`Uploaded ${payload.filename}; its Markdown is in the body.`);
      } catch (error) {
        say(
          error instanceof TypeError ? "Not uploaded: no connection." : error.message,
          true,
        );
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  /* ---------- Editor: a warning before losing unsaved work, and autosave ------------ */

  function initEditorSafety() {
    const form = document.getElementById("post-editor");
    if (!form) return;
    const status = document.getElementById("autosave-status");

    // What the form holds, to tell whether anything was typed since the page was loaded.
    function snapshot() {
      const data = new FormData(form);
      data.delete("csrf_token");
      data.delete("action");
      return new URLSearchParams(data).toString();
    }
    let saved = snapshot();
    let submitting = false;
    form.addEventListener("submit", () => {
      submitting = true;
    });
    window.addEventListener("beforeunload", (event) => {
      if (submitting || snapshot() === saved) return;
      // The browser shows its own words ("Leave site? Changes you made may not be saved.").
      event.preventDefault();
      event.returnValue = "";
    });

    // Autosave: every N seconds while there is something new, once the post has a title.
    const seconds = Number(form.dataset.autosaveSeconds || "30");
    if (!form.dataset.autosaveUrl || !(seconds > 0)) return;
    let lastSent = saved;
    let busy = false;

    function say(message, isError = false) {
      if (!status) return;
      status.classList.toggle("is-error", isError);
      status.textContent = message;
    }

    async function autosave() {
      const now = snapshot();
      if (busy || now === lastSent) return;
      const title = form.querySelector('[name="title"]');
      if (title && !title.value.trim()) {
        say("Autosave starts once the post has a title.");
        return;
      }
      busy = true;
      const data = new FormData(form);
      data.delete("action");
      try {
        const response = await fetch(form.dataset.autosaveUrl, {
          method: "POST",
          body: data,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const payload = await response.json();
        if (!response.ok) throw new Error(payload?.error?.message || "Autosave failed.");
        lastSent = now;
        if (payload.edit_url) {
          // A new post is a draft now: from here on the editor edits it.
          form.setAttribute("action", payload.edit_url);
          form.dataset.autosaveUrl = payload.autosave_url;
          window.history.replaceState(null, "", payload.edit_url);
          saved = now; // the draft holds what is typed
        }
        say(payload.message);
      } catch (error) {
        say(
          error instanceof TypeError
            ? "Not autosaved: no connection. Your text is safe here; save when you are back."
            : `Not autosaved: ${error.message}`,
          true,
        );
      } finally {
        busy = false;
      }
    }

    window.setInterval(autosave, seconds * 1000);
  }

  /* ---------- Moderation queue: in-place actions and WordPress's keyboard shortcuts ---- */

  function initQueue() {
    const queue = document.getElementById("queue");
    if (!queue) return;
    const tab = queue.dataset.status || "";

    let live = document.getElementById("queue-status");
    if (!live) {
      live = document.createElement("p");
      live.id = "queue-status";
      live.className = "queue-status";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      (document.getElementById("bulk-form") || queue).before(live);
    }

    function announce(message, isError = false) {
      live.classList.toggle("is-error", isError);
      live.textContent = message;
    }

    const rows = () => Array.from(queue.querySelectorAll(":scope > .queue-item"));
    let current = null;

    function setCurrent(row) {
      if (current && current !== row) current.classList.remove("is-current");
      current = row;
      if (!row) return;
      row.classList.add("is-current");
      row.scrollIntoView({ block: "nearest" });
      row.focus({ preventScroll: true });
    }

    function move(step) {
      const list = rows();
      if (!list.length) return;
      const index = current ? list.indexOf(current) : -1;
      let next;
      if (index === -1) next = step > 0 ? 0 : list.length - 1;
      else next = Math.min(list.length - 1, Math.max(0, index + step));
      setCurrent(list[next]);
    }

    function updateCounts(counts) {
      if (!counts) return;
      for (const [status, value] of Object.entries(counts)) {
        for (const badge of document.querySelectorAll(`.count[data-count="${status}"]`)) {
          badge.textContent = `(${value})`;
        }
      }
      const total = document.querySelector(".queue-total");
      if (total && tab in counts) {
        const n = counts[tab];
        total.textContent = `${n} comment${n === 1 ? "" : "s"}`;
      }
    }

    function removeRow(row) {
      const list = rows();
      const index = list.indexOf(row);
      const neighbour = list[index + 1] || list[index - 1] || null;
      const wasCurrent = row === current || row.contains(document.activeElement);
      row.remove();
      if (wasCurrent) {
        current = null;
        if (neighbour) setCurrent(neighbour);
      }
      if (!rows().length) {
        const empty = document.createElement("p");
        empty.className = "empty";
        empty.textContent = `No ${tab} comments.`;
        queue.replaceWith(empty);
      }
    }

    // Fallback: the plain form post, exactly as without JavaScript.
    function submitNormally(form) {
      if (!form.querySelector('input[type="hidden"][name="action"]')) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "action";
        input.value = form.dataset.action;
        form.append(input);
      }
      HTMLFormElement.prototype.submit.call(form);
    }

    async function act(form) {
      const row = form.closest(".queue-item");
      if (!row || row.getAttribute("aria-busy") === "true") return;
      const data = new FormData(form);
      data.set("action", form.dataset.action);
      row.setAttribute("aria-busy", "true");
      let response;
      let payload = null;
      try {
        // getAttribute: the form's `action` property is shadowed by its name="action" button.
        response = await fetch(form.getAttribute("action") || window.location.href, {
          method: "POST",
          body: data,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const type = response.headers.get("Content-Type") || "";
        if (type.includes("application/json")) payload = await response.json();
      } catch {
        submitNormally(form);
        return;
      }
      row.removeAttribute("aria-busy");
      if (!response.ok || !payload) {
        if (payload && payload.error) announce(payload.error.message, true);
        else submitNormally(form);
        return;
      }
      updateCounts(payload.counts);
      announce(payload.message || "Done.");
      if (payload.changed > 0 && form.dataset.action !== "delete" && row.dataset.undoUrl) {
        leaveUndo(row, payload.done || "moved");
      } else if (payload.changed > 0) removeRow(row);
      else row.classList.add("is-skipped");
    }

    // A moved comment leaves a one-line note where it was, with Undo, which puts the row
    // back as it was. The note is a row too, so j/k still walk over it.
    function leaveUndo(row, done) {
      const note = document.createElement("li");
      note.className = "queue-item moved";
      note.tabIndex = -1;
      note.dataset.commentId = row.dataset.commentId;
      const text = document.createElement("p");
      text.className = "moved-note";
      const who = document.createElement("strong");
      who.textContent = row.dataset.author || "Anonymous";
      const undo = document.createElement("button");
      undo.type = "button";
      undo.className = "link-button action-undo";
      undo.textContent = "Undo";
      text.append("Comment by ", who, ` ${done}. `, undo);
      note.append(text);
      const token = row.querySelector('input[name="csrf_token"]');
      undo.addEventListener("click", async () => {
        if (note.getAttribute("aria-busy") === "true") return;
        note.setAttribute("aria-busy", "true");
        const data = new FormData();
        if (token) data.set("csrf_token", token.value);
        let payload = null;
        try {
          const response = await fetch(row.dataset.undoUrl, {
            method: "POST",
            body: data,
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          payload = await response.json();
          if (!response.ok) throw new Error(payload?.error?.message || "Undo failed.");
        } catch (error) {
          note.removeAttribute("aria-busy");
          announce(error.message || "Undo failed; reload the page and try again.", true);
          return;
        }
        row.classList.remove("is-current");
        note.replaceWith(row);
        updateCounts(payload.counts);
        announce(payload.message);
        setCurrent(row);
      });
      const wasCurrent = row === current || row.contains(document.activeElement);
      row.replaceWith(note);
      if (wasCurrent) {
        current = null;
        setCurrent(note);
      }
    }


    function rowForm(row, ...actions) {
      for (const action of actions) {
        const form = row.querySelector(`form[data-action="${action}"]`);
        if (form) return form;
      }
      return null;
    }

    const ACTION_KEYS = {
      a: ["approve"],
      u: ["unapprove"],
      s: ["spam"],
      t: ["trash"],
      z: tab === "spam" ? ["unspam", "restore"] : ["restore", "unspam"],
    };

    function isTyping(target) {
      if (!(target instanceof Element)) return false;
      if (target.isContentEditable) return true;
      if (target.closest("textarea, select")) return true;
      const input = target.closest("input");
      return Boolean(input) && !["checkbox", "radio", "button", "submit"].includes(input.type);
    }

    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.shiftKey || isTyping(event.target) || !rows().length) return;
      const key = event.key;
      if (key === "j" || key === "k") {
        event.preventDefault();
        move(key === "j" ? 1 : -1);
        return;
      }
      if (key.length !== 1 || !"xaustzre".includes(key)) return;
      if (!current || !current.isConnected) {
        announce("Press j to pick a comment first.");
        return;
      }
      event.preventDefault();
      if (key === "x") {
        const box = current.querySelector('.queue-select input[type="checkbox"]');
        if (box) box.checked = !box.checked;
      } else if (key === "r") {
        const details = current.querySelector("details.queue-reply");
        if (details) {
          details.open = true;
          details.querySelector("textarea")?.focus();
        }
      } else if (key === "e") {
        const edit = current.querySelector("a.action-edit");
        if (edit) window.location.assign(edit.href);
      } else {
        const form = rowForm(current, ...ACTION_KEYS[key]);
        if (form) act(form);
        else announce("That action does not apply to comments on this tab.");
      }
    });

    // The row buttons act in place too; clicking a row makes it the current one.
    queue.addEventListener("submit", (event) => {
      const form = event.target.closest("form[data-action]");
      if (!form || !queue.contains(form)) return;
      event.preventDefault();
      act(form);
    });

    queue.addEventListener("click", (event) => {
      const row = event.target.closest(".queue-item");
      if (row && row !== current) {
        if (current) current.classList.remove("is-current");
        current = row;
        row.classList.add("is-current");
      }
    });
  }

  /* ---------- "Select all on this page" for a bulk form (hidden without JavaScript) --- */

  function initSelectAll() {
    for (const toggle of document.querySelectorAll("input[data-select-all]")) {
      const formId = toggle.dataset.selectAll;
      const boxes = () =>
        document.querySelectorAll(`input[type="checkbox"][name="ids"][form="${formId}"]`);
      const label = toggle.closest("label");
      if (label) label.hidden = false;
      toggle.addEventListener("change", () => {
        for (const box of boxes()) box.checked = toggle.checked;
      });
    }
  }

  /* ---------- Admin menu: on a phone it scrolls sideways; show the current entry ------- */

  function revealCurrentAdminTab() {
    for (const list of document.querySelectorAll(".admin-nav ul, .tabs")) {
      const item = list.querySelector('[aria-current="page"]');
      if (!item || list.scrollWidth <= list.clientWidth) continue;
      // Horizontal only: scrollIntoView could also move the page vertically.
      const itemBox = item.getBoundingClientRect();
      const listBox = list.getBoundingClientRect();
      list.scrollLeft += itemBox.left - listBox.left - (listBox.width - itemBox.width) / 2;
    }
  }

  function init() {
    revealCurrentAdminTab();
    initCommentReply();
    initLivePreview();
    initEditorSafety();
    initEditorUpload();
    initQueue();
    initSelectAll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
