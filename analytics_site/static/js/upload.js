/* The upload page: choose or drop CSV files, upload each with a progress bar
 * (XMLHttpRequest: fetch has no upload progress), process, follow the status
 * and open the dashboard. Talks to the uploads API:
 *   POST /api/direct-uploads (+ /parts, /complete)  POST /api/process
 *   GET  /api/sessions/{id}                         DELETE /api/sessions/{id}
 * Files go straight to the storage (direct uploads): each part is hashed
 * (SHA-256, signed into its URL), sent to its signed URL with retries, and
 * the upload completed; a failed upload can be resumed. Without Web Crypto
 * (a page served over plain HTTP from another host) files stream through
 * POST /api/upload instead.
 * The session travels in the session cookie; unsafe requests carry the CSRF
 * token (from the csrftoken cookie) in X-CSRFToken. Errors are the API's
 * {code, message}. No inline script anywhere: the page's data-* attributes
 * carry the configuration.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-upload-page]");
  if (!root) return;
  var cfg = root.dataset;

  var el = {
    input: document.getElementById("file-input"),
    dropzone: document.getElementById("dropzone"),
    list: document.getElementById("file-list"),
    count: document.getElementById("file-count"),
    empty: document.getElementById("empty-note"),
    template: document.getElementById("file-row-template"),
    steps: document.getElementById("steps"),
    status: document.getElementById("status"),
    sessionError: document.getElementById("session-error"),
    pageAlert: document.getElementById("page-alert"),
    process: document.getElementById("process-button"),
    dashboard: document.getElementById("dashboard-link"),
    reset: document.getElementById("reset-button")
  };

  var state = {
    uploadId: cfg.uploadId || null, // the upload's public id (never the session key)
    status: cfg.status || "",
    fileCount: el.list.querySelectorAll(".file[data-file-id]").length,
    hopeless: root.dataset.hopeless === "true", // every file failed for what it is
    queue: [],
    uploading: false,
    current: "", // name of the file being uploaded
    uploadsDone: 0, // uploads finished in this batch
    processRequest: false, // POST /api/process in flight
    watching: false, // this page saw a run (queued or processing): open the dashboard when done
    statusMessage: el.status.textContent, // the server's words for the status
    pollTimer: null,
    polls: 0
  };

  var maxFileSize = parseInt(cfg.maxFileSize, 10) || 0;
  var maxFiles = parseInt(cfg.maxFiles, 10) || 0;
  var partSize = parseInt(cfg.partSize, 10) || 16 * 1024 * 1024;
  var canHash = !!(window.crypto && window.crypto.subtle && cfg.urlDirect);
  var PART_WORKERS = 3; // parts in flight per file
  var PART_ATTEMPTS = 4; // tries per part before the upload stops (resumable)
  var POLL_FAST = 400;
  var POLL_SLOW = 1500;

  // File errors that processing again would repeat (uploads.documents).
  var PERMANENT_ERRORS = (root.dataset.permanentErrors || "").split(" ");
  var TITLES = {
    file_too_large: "File too large",
    too_many_files: "Too many files",
    request_too_large: "Upload too large",
    empty_file: "Empty file",
    invalid: "Upload refused",
    malformed_request: "Upload refused",
    bad_request: "Upload refused",
    unsupported_media_type: "Upload refused",
    csrf_failed: "Security check failed",
    session_not_found: "Session expired",
    already_processing: "Already processing",
    nothing_to_process: "Nothing to process",
    conflict: "Busy",
    storage_unavailable: "Storage unavailable",
    processing_error: "Processing failed",
    internal_error: "Server error",
    all_files_failed: "Processing failed",
    not_csv: "Not a CSV file",
    undecodable: "Unreadable text encoding",
    too_many_columns: "Too many columns",
    parse_error: "Could not be read as CSV",
    out_of_memory: "Too large to profile",
    not_found: "File missing",
    network: "Network error",
    aborted: "Upload cancelled",
    checksum_mismatch: "Upload damaged",
    upload_incomplete: "Upload incomplete",
    direct_upload_not_found: "Upload expired",
    signed_url_expired: "Upload link expired",
    store_refused: "Storage refused the upload",
    store_unreachable: "Storage unreachable"
  };

  // ------------------------------------------------------------ helpers

  function url(template, id) {
    return template.replace("UPLOAD_ID", encodeURIComponent(id));
  }

  /* Django's filesizeformat, so sizes read the same as the server's. */
  function formatBytes(n) {
    if (n < 1024) return n + (n === 1 ? "\u00a0byte" : "\u00a0bytes");
    var units = ["KB", "MB", "GB", "TB", "PB"];
    var value = n / 1024;
    var i = 0;
    while (value >= 1024 && i < units.length - 1) {
      value /= 1024;
      i += 1;
    }
    return value.toFixed(1) + "\u00a0" + units[i];
  }

  /* A run holds the session: queued (queue mode, waiting for a worker) or
   * processing. The page follows it until it is completed or failed. */
  function isRunning(status) {
    return status === "queued" || status === "processing";
  }

  function csrfToken() {
    var name = (cfg.csrfCookie || "csrftoken") + "=";
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i += 1) {
      var part = parts[i].trim();
      if (part.indexOf(name) === 0) return decodeURIComponent(part.slice(name.length));
    }
    return "";
  }

  function toError(data, status) {
    if (data && typeof data.code === "string") {
      return { code: data.code, message: String(data.message || ""), status: status };
    }
    if (status === 413) {
      return { code: "file_too_large", message: "The server refused the upload as too large.", status: status };
    }
    if (status === 0) {
      return {
        code: "network",
        message: "The server could not be reached. Check your connection and try again.",
        status: 0
      };
    }
    return { code: "http_" + status, message: "The server answered with status " + status + ".", status: status };
  }

  function titleOf(error) {
    return TITLES[error.code] || "Error";
  }

  /* A JSON request to the API: resolves to {ok, status, data} or {ok: false, error}. */
  function api(method, target, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() }
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(target, init).then(
      function (response) {
        if (response.status === 204) return { ok: true, status: 204, data: null };
        return response.json().then(
          function (data) {
            return response.ok
              ? { ok: true, status: response.status, data: data }
              : { ok: false, status: response.status, error: toError(data, response.status) };
          },
          function () {
            return { ok: false, status: response.status, error: toError(null, response.status) };
          }
        );
      },
      function () {
        return { ok: false, status: 0, error: toError(null, 0) };
      }
    );
  }

  // ------------------------------------------------------------ alerts

  function showPageAlert(title, message, linkHome) {
    el.pageAlert.querySelector(".alert-title").textContent = title;
    el.pageAlert.querySelector(".alert-message").textContent = message;
    el.pageAlert.querySelector(".alert-link").hidden = !linkHome;
    el.pageAlert.className = "alert " + (linkHome ? "alert-warning" : "alert-error");
    el.pageAlert.hidden = false;
  }

  function hidePageAlert() {
    el.pageAlert.hidden = true;
  }

  function sessionExpired() {
    stopPolling();
    state.uploadId = null;
    state.watching = false;
    state.fileCount = 0;
    root.dataset.uploadId = "";
    // A fresh start: every row goes (the session's files, and uploads that
    // failed or were refused here), except uploads still waiting or running,
    // which will start the new session.
    var rows = el.list.querySelectorAll(".file");
    for (var i = 0; i < rows.length; i += 1) {
      var rowState = rows[i].dataset.state;
      if (rowState !== "queued" && rowState !== "uploading") rows[i].remove();
    }
    el.count.textContent = "0";
    el.sessionError.hidden = true;
    el.dashboard.hidden = true;
    setStatus("");
    showPageAlert(
      "Your session has expired.",
      "Its files and analytics are gone. Upload the files again to start a new session.",
      true
    );
    updateControls();
  }

  // ------------------------------------------------------------ file rows

  function newRow(file) {
    var row = el.template.content.firstElementChild.cloneNode(true);
    row.querySelector(".file-name").textContent = file.name;
    row.querySelector(".file-name").title = file.name;
    row.querySelector(".file-size").textContent = formatBytes(file.size);
    row.querySelector(".file-progress").setAttribute("aria-label", "Upload progress of " + file.name);
    row.querySelector(".file-bytes").textContent = formatBytes(0) + " of " + formatBytes(file.size);
    el.list.appendChild(row);
    el.empty.hidden = true;
    return row;
  }

  function setRowState(row, rowState, badge) {
    row.dataset.state = rowState;
    row.querySelector(".file-badge").textContent = badge;
  }

  function setRowError(row, error) {
    var message = row.querySelector(".file-message");
    if (!error) {
      message.hidden = true;
      message.textContent = "";
      return;
    }
    message.textContent = "";
    var title = document.createElement("strong");
    title.className = "file-message-title";
    title.textContent = titleOf(error) + ".";
    var text = document.createElement("span");
    text.className = "file-message-text";
    text.textContent = " " + error.message;
    message.appendChild(title);
    message.appendChild(text);
    message.dataset.code = error.code;
    message.hidden = false;
  }

  function setProgress(item, fraction) {
    var pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
    var loaded = fraction >= 1 ? item.file.size : Math.round(fraction * item.file.size);
    item.progress.value = pct;
    item.progress.textContent = pct + "%";
    item.bytes.textContent = formatBytes(loaded) + " of " + formatBytes(item.file.size);
    item.bytes.dataset.loaded = String(loaded);
    item.bytes.dataset.total = String(item.file.size);
    item.percent.textContent = pct + "%";
  }

  /* Rows of the session's files, from a session document of the API. */
  function syncFiles(doc) {
    state.fileCount = doc.files.length;
    // Processing again cannot help when every file failed for what it is.
    state.hopeless =
      doc.files.length > 0 &&
      doc.files.every(function (file) {
        return file.error && PERMANENT_ERRORS.indexOf(file.error.code) >= 0;
      });
    el.count.textContent = String(doc.files.length);
    var kept = {};
    doc.files.forEach(function (file, index) {
      kept[file.id] = true;
      var row = el.list.querySelector('.file[data-file-id="' + file.id + '"]');
      if (!row) {
        row = newRow({ name: file.name, size: file.size });
        row.dataset.fileId = file.id;
        row.querySelector(".file-progress-wrap").hidden = true;
      }
      row.querySelector(".file-remove").hidden = false;
      // The wording is the server's (file.badge), as on the rendered page.
      setRowState(row, file.badge.state, file.badge.label);
      setRowError(row, file.error || null);
    });
    Array.prototype.forEach.call(el.list.querySelectorAll(".file[data-file-id]"), function (row) {
      if (!kept[row.dataset.fileId]) row.remove();
    });
  }

  /* Remove one file of the session (its row's button). */
  function removeFile(row) {
    if (!state.uploadId || !row.dataset.fileId) return;
    var button = row.querySelector(".file-remove");
    button.disabled = true;
    var target = url(cfg.urlSession, state.uploadId) + "/files/" + encodeURIComponent(row.dataset.fileId);
    api("DELETE", target).then(function (result) {
      button.disabled = false;
      if (result.ok) {
        row.remove();
        applySession(result.data);
      } else {
        setRowError(row, result.error);
      }
    });
  }

  // ------------------------------------------------------------ status

  function statusText(status) {
    if (state.current) {
      var total = state.uploadsDone + state.queue.length + 1;
      return "Uploading " + state.current + " (" + (state.uploadsDone + 1) + " of " + total + ")…";
    }
    if (status === "completed" && state.watching) return "Completed. Opening the dashboard…";
    // Otherwise the server's words: statusMessage of the last session document.
    return status ? state.statusMessage : root.dataset.emptyStatus;
  }

  function setStatus(status) {
    state.status = status;
    el.steps.dataset.status = status;
    el.status.dataset.status = status;
    el.status.textContent = statusText(status);
    root.dataset.status = status;
  }

  function applySession(doc) {
    state.uploadId = doc.id;
    state.statusMessage = doc.statusMessage;
    root.dataset.uploadId = doc.id;
    syncFiles(doc);
    setStatus(doc.status);
    if (doc.status === "failed" && doc.error) {
      el.sessionError.querySelector(".alert-message").textContent = doc.error.message;
      el.sessionError.hidden = false;
    } else {
      el.sessionError.hidden = true;
    }
    el.dashboard.href = url(cfg.urlDashboard, doc.id);
    el.dashboard.hidden = !(doc.status === "completed" && doc.analyticsUrl);
    updateControls();
  }

  function updateControls() {
    var running = isRunning(state.status);
    var busy = state.uploading || state.queue.length > 0 || running || state.processRequest;
    var canProcess =
      state.uploadId && state.fileCount > 0 && (state.status === "uploaded" || (state.status === "failed" && !state.hopeless));
    el.process.disabled = !canProcess || busy;
    el.process.hidden = (state.status === "completed" || (state.status === "failed" && state.hopeless)) && !busy;
    el.process.classList.toggle("is-busy", running || state.processRequest);
    el.process.textContent = state.status === "failed" ? "Process again" : "Process files";
    el.input.disabled = running || state.processRequest;
    el.reset.hidden = !state.uploadId;
    el.reset.disabled = busy;
    el.empty.hidden = el.list.children.length > 0;
  }

  function finish(doc) {
    if (doc.status === "completed") {
      var target = url(cfg.urlDashboard, doc.id);
      if (state.watching) {
        setStatus("completed");
        window.setTimeout(function () {
          window.location.assign(target);
        }, 700);
      }
    } else if (doc.status === "failed") {
      state.watching = false;
      el.sessionError.focus();
    }
  }

  // ------------------------------------------------------------ polling

  function stopPolling() {
    if (state.pollTimer) window.clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function startPolling() {
    stopPolling();
    state.polls = 0;
    state.pollTimer = window.setTimeout(poll, POLL_FAST);
  }

  function poll() {
    state.polls += 1;
    api("GET", url(cfg.urlSession, state.uploadId)).then(function (result) {
      if (!state.pollTimer) return; // stopped meanwhile
      if (!result.ok) {
        if (result.error.code === "session_not_found") return sessionExpired();
        if (!state.processRequest) {
          stopPolling();
          showPageAlert(titleOf(result.error), result.error.message, false);
          updateControls();
          return;
        }
      } else if (state.processRequest) {
        // Our POST decides the outcome; meanwhile only show that it is running
        // (a poll can still see the previous run's "failed").
        if (isRunning(result.data.status)) applySession(result.data);
      } else {
        applySession(result.data);
        if (isRunning(result.data.status)) state.watching = true;
        if (result.data.status === "completed" || result.data.status === "failed") {
          stopPolling();
          finish(result.data);
          return;
        }
      }
      state.pollTimer = window.setTimeout(poll, state.polls < 25 ? POLL_FAST : POLL_SLOW);
    });
  }

  // ------------------------------------------------------------ process

  function processFiles() {
    if (!state.uploadId || el.process.disabled) return;
    hidePageAlert();
    el.sessionError.hidden = true;
    state.processRequest = true;
    state.watching = true;
    setStatus("processing"); // the server's first step; the polls confirm it
    syncRowsProcessing();
    updateControls();
    startPolling();
    api("POST", cfg.urlProcess, {}).then(function (result) {
      state.processRequest = false;
      if (result.ok) {
        applySession(result.data);
        if (isRunning(result.data.status)) {
          // Queue mode (202 "queued"): a worker runs it; follow it to the end.
          if (!state.pollTimer) startPolling();
          return;
        }
        stopPolling();
        finish(result.data);
        return;
      }
      var error = result.error;
      switch (error.code) {
        case "session_not_found":
          sessionExpired();
          return;
        case "already_processing": // another tab or client runs it: follow it
        case "network": // the request may have timed out in a proxy: keep polling
          updateControls();
          return;
        default:
          // processing_error, nothing_to_process, csrf_failed, storage_unavailable...
          stopPolling();
          if (error.code !== "processing_error") showPageAlert(titleOf(error), error.message, false);
          refresh().then(function () {
            if (error.code === "processing_error" && el.sessionError.hidden) {
              el.sessionError.querySelector(".alert-message").textContent = error.message;
              el.sessionError.hidden = false;
            }
          });
      }
    });
  }

  function syncRowsProcessing() {
    var rows = el.list.querySelectorAll(".file[data-file-id]");
    for (var i = 0; i < rows.length; i += 1) {
      setRowState(rows[i], "uploaded", "Processing");
      setRowError(rows[i], null);
    }
  }

  function refresh() {
    if (!state.uploadId) return Promise.resolve();
    return api("GET", url(cfg.urlSession, state.uploadId)).then(function (result) {
      if (result.ok) {
        applySession(result.data);
        if (result.data.status === "completed") {
          finish(result.data);
        } else if (isRunning(result.data.status) && !state.pollTimer) {
          state.watching = true; // e.g. queued meanwhile by another tab: follow it
          startPolling();
        }
      } else if (result.error.code === "session_not_found") {
        sessionExpired();
      } else {
        updateControls();
      }
    });
  }

  // ------------------------------------------------------------ upload

  /* The streamed upload: the whole file through POST /api/upload. */
  function uploadStreamed(item) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      var form = new FormData();
      form.append("files", item.file, item.file.name);
      xhr.open("POST", cfg.urlUpload);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && event.total > 0) setProgress(item, event.loaded / event.total);
      });
      xhr.upload.addEventListener("load", function () {
        setProgress(item, 1);
        setRowState(item.row, "uploading", "Saving…");
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 201 && xhr.response) resolve({ ok: true, data: xhr.response });
        else resolve({ ok: false, error: toError(xhr.response, xhr.status) });
      });
      xhr.addEventListener("error", function () {
        resolve({ ok: false, error: toError(null, 0) });
      });
      xhr.addEventListener("abort", function () {
        resolve({ ok: false, error: { code: "aborted", message: "The upload was cancelled." } });
      });
      setRowState(item.row, "uploading", "Uploading");
      xhr.send(form);
    });
  }

  // ------------------------------------------------------------ direct upload

  function toHex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i += 1) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  function sha256Hex(blob) {
    return blob.arrayBuffer().then(function (buffer) {
      return window.crypto.subtle.digest("SHA-256", buffer).then(toHex);
    });
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  /* S3 answers errors as XML (<Code>, <Message>); this site's own part URLs
   * as the API's JSON. */
  function storeError(xhr, number) {
    var where = "part " + number;
    if (xhr.status === 0) {
      return {
        code: "store_unreachable",
        message:
          "The storage could not be reached while sending " + where + " (the network, or the bucket's CORS " +
          "rules do not allow this site). Try again or resume.",
        status: 0
      };
    }
    var text = xhr.responseText || "";
    try {
      var data = JSON.parse(text);
      if (data && data.code) return { code: data.code, message: data.message, status: xhr.status };
    } catch (ignored) {
      /* not JSON: S3's XML */
    }
    var code = /<Code>([^<]*)<\/Code>/.exec(text);
    var message = /<Message>([^<]*)<\/Message>/.exec(text);
    return {
      code: "store_refused",
      message:
        "The storage refused " + where + " (" + xhr.status + (code ? " " + code[1] : "") + ")" +
        (message ? ": " + message[1] : "."),
      status: xhr.status
    };
  }

  function putPart(item, part, blob) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(part.method, part.url);
      Object.keys(part.headers).forEach(function (name) {
        xhr.setRequestHeader(name, part.headers[name]);
      });
      xhr.upload.addEventListener("progress", function (event) {
        item.direct.loaded[part.number] = event.loaded;
        showDirectProgress(item);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          item.direct.loaded[part.number] = blob.size;
          showDirectProgress(item);
          resolve({ ok: true });
        } else {
          resolve({ ok: false, error: storeError(xhr, part.number) });
        }
      });
      xhr.addEventListener("error", function () {
        resolve({ ok: false, error: storeError(xhr, part.number) });
      });
      xhr.send(blob);
    });
  }

  function showDirectProgress(item) {
    var loaded = 0;
    Object.keys(item.direct.loaded).forEach(function (n) {
      loaded += item.direct.loaded[n];
    });
    setProgress(item, item.file.size ? Math.min(1, loaded / item.file.size) : 1);
  }

  /* One part: hash it, get its signed URL, send it; retried with backoff
   * (a new URL each time: the last one may have expired). */
  function sendPart(item, number) {
    var begun = item.direct.begun;
    var start = (number - 1) * begun.partSize;
    var blob = item.file.slice(start, Math.min(start + begun.partSize, item.file.size));
    var attempt = 0;
    var signed = item.direct.signed[number];
    function tryOnce() {
      attempt += 1;
      var ready = signed
        ? Promise.resolve({ ok: true, part: signed })
        : sha256Hex(blob).then(function (hash) {
            return api("POST", begun.partsUrl, { parts: [{ number: number, sha256: hash }] }).then(function (r) {
              return r.ok ? { ok: true, part: r.data.parts[0] } : r;
            });
          });
      return ready.then(function (result) {
        if (!result.ok) return result;
        signed = null; // used once: a retry signs again
        return putPart(item, result.part, blob);
      }).then(function (result) {
        if (result.ok) return result;
        item.direct.loaded[number] = 0;
        var final = ["direct_upload_not_found", "session_not_found", "csrf_failed"].indexOf(result.error.code) >= 0;
        if (final || attempt >= PART_ATTEMPTS) return result;
        return sleep(400 * Math.pow(2, attempt - 1)).then(tryOnce);
      });
    }
    return tryOnce();
  }

  /* Send the parts not yet stored, a few at a time; the first failure that
   * survives its retries stops the others. */
  function sendParts(item, numbers) {
    var queue = numbers.slice();
    var failure = null;
    function worker() {
      var number = queue.shift();
      if (number === undefined || failure) return Promise.resolve();
      return sendPart(item, number).then(function (result) {
        if (!result.ok) {
          failure = failure || result.error;
          return;
        }
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < PART_WORKERS; i += 1) workers.push(worker());
    return Promise.all(workers).then(function () {
      return failure ? { ok: false, error: failure } : { ok: true };
    });
  }

  function completeDirect(item, retried) {
    setRowState(item.row, "uploading", "Saving…");
    return api("POST", item.direct.begun.completeUrl).then(function (result) {
      if (result.ok) return { ok: true, data: result.data };
      if (result.error.code === "upload_incomplete" && !retried) return resumeDirect(item, true);
      return result;
    });
  }

  /* Ask which parts the storage holds and send the rest, then complete. */
  function resumeDirect(item, retried) {
    setRowState(item.row, "uploading", "Resuming");
    return api("GET", item.direct.begun.url).then(function (result) {
      if (!result.ok) return result;
      var held = {};
      result.data.received.forEach(function (n) {
        held[n] = true;
      });
      var missing = [];
      item.direct.loaded = {};
      for (var n = 1; n <= item.direct.begun.partCount; n += 1) {
        if (held[n]) item.direct.loaded[n] = Math.min(item.direct.begun.partSize, item.file.size - (n - 1) * item.direct.begun.partSize);
        else missing.push(n);
      }
      showDirectProgress(item);
      setRowState(item.row, "uploading", "Uploading");
      return sendParts(item, missing).then(function (sent) {
        return sent.ok ? completeDirect(item, retried) : sent;
      });
    });
  }

  function uploadDirect(item) {
    setRowState(item.row, "uploading", "Preparing");
    var whole = item.file.size <= partSize ? sha256Hex(item.file) : Promise.resolve("");
    return whole
      .then(function (hash) {
        var declared = { name: item.file.name, size: item.file.size, contentType: item.file.type || "" };
        if (hash) declared.sha256 = hash;
        return api("POST", cfg.urlDirect, declared);
      })
      .then(function (result) {
        if (!result.ok) return result;
        var begun = result.data;
        item.direct = { begun: begun, signed: {}, loaded: {} };
        begun.parts.forEach(function (part) {
          item.direct.signed[part.number] = part;
        });
        var numbers = [];
        for (var n = 1; n <= begun.partCount; n += 1) numbers.push(n);
        setRowState(item.row, "uploading", "Uploading");
        return sendParts(item, numbers).then(function (sent) {
          return sent.ok ? completeDirect(item, false) : sent;
        });
      });
  }

  function uploadOne(item) {
    if (item.direct) return resumeDirect(item, false);
    return canHash ? uploadDirect(item) : uploadStreamed(item);
  }

  function knownIds() {
    var ids = {};
    var rows = el.list.querySelectorAll(".file[data-file-id]");
    for (var i = 0; i < rows.length; i += 1) ids[rows[i].dataset.fileId] = true;
    return ids;
  }

  /* Uploads run one after the other: the first creates the session (and its
   * cookie), the next ones add to it. */
  function pump() {
    if (state.uploading) return;
    var item = state.queue.shift();
    if (!item) {
      setStatus(state.status);
      updateControls();
      return;
    }
    state.uploading = true;
    state.current = item.file.name;
    setStatus(state.status);
    updateControls();
    var before = knownIds();
    uploadOne(item).then(function (result) {
      state.uploading = false;
      state.current = "";
      state.uploadsDone = state.queue.length ? state.uploadsDone + 1 : 0;
      item.resume.hidden = true;
      if (result.ok) {
        var added = result.data.files.filter(function (f) {
          return !before[f.id];
        })[0];
        if (added) item.row.dataset.fileId = added.id;
        item.row.querySelector(".file-progress-wrap").hidden = false;
        setRowError(item.row, null);
        applySession(result.data);
        setRowState(item.row, "uploaded", "Uploaded");
      } else {
        setRowState(item.row, "failed", "Failed");
        setRowError(item.row, result.error);
        // What was sent stays in the storage until the upload expires:
        // the rest can follow.
        var resumable = ["direct_upload_not_found", "session_not_found", "csrf_failed", "checksum_mismatch"];
        if (item.direct && resumable.indexOf(result.error.code) < 0) item.resume.hidden = false;
        if (result.error.code === "csrf_failed") {
          showPageAlert(titleOf(result.error), result.error.message + " Reload the page and try again.", false);
        }
      }
      pump();
    });
  }

  function addFiles(fileList) {
    if (el.input.disabled) return;
    hidePageAlert();
    var files = Array.prototype.slice.call(fileList || []);
    files.forEach(function (file) {
      var row = newRow(file);
      var item = {
        file: file,
        row: row,
        progress: row.querySelector(".file-progress"),
        bytes: row.querySelector(".file-bytes"),
        percent: row.querySelector(".file-percent"),
        resume: row.querySelector(".file-resume"),
        direct: null // the direct upload, once begun
      };
      item.resume.addEventListener("click", function () {
        if (el.input.disabled) return;
        item.resume.hidden = true;
        setRowError(row, null);
        setRowState(row, "queued", "Waiting");
        state.queue.push(item);
        updateControls();
        pump();
      });
      if (maxFileSize && file.size > maxFileSize) {
        // The API would answer 413 file_too_large, but only after the whole
        // file had crossed the network: say it now, in the API's words.
        setRowState(row, "failed", "Too large");
        row.querySelector(".file-progress-wrap").hidden = true;
        setRowError(row, {
          code: "file_too_large",
          message:
            "'" + file.name + "' is " + formatBytes(file.size) + "; the largest accepted file is " +
            formatBytes(maxFileSize) + " (UPLOADS_MAX_FILE_SIZE)."
        });
        return;
      }
      // The session's files, plus the uploads waiting or running (this
      // batch's included): one more over the limit would be a 413
      // too_many_files after the upload, so refuse it now.
      var planned = state.fileCount + state.queue.length + (state.uploading ? 1 : 0);
      if (maxFiles && planned >= maxFiles) {
        setRowState(row, "failed", "Too many");
        row.querySelector(".file-progress-wrap").hidden = true;
        setRowError(row, {
          code: "too_many_files",
          message:
            "'" + file.name + "' would be file " + (planned + 1) + " of the session; at most " +
            maxFiles + " are accepted (UPLOADS_MAX_FILES)."
        });
        return;
      }
      state.queue.push(item);
    });
    el.input.value = "";
    updateControls();
    pump();
  }

  // ------------------------------------------------------------ start over

  function startOver() {
    if (!state.uploadId) return;
    if (!window.confirm("Delete this session's files and analytics, and start over?")) return;
    api("DELETE", url(cfg.urlSession, state.uploadId)).then(function (result) {
      if (result.ok || result.error.code === "session_not_found") {
        window.location.assign(cfg.urlHome);
      } else {
        showPageAlert(titleOf(result.error), result.error.message, false);
      }
    });
  }

  // ------------------------------------------------------------ wiring

  el.input.addEventListener("change", function () {
    addFiles(el.input.files);
  });

  ["dragenter", "dragover"].forEach(function (type) {
    el.dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = el.input.disabled ? "none" : "copy";
      el.dropzone.classList.add("is-dragover");
    });
  });
  ["dragleave", "dragend"].forEach(function (type) {
    el.dropzone.addEventListener(type, function () {
      el.dropzone.classList.remove("is-dragover");
    });
  });
  el.dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    el.dropzone.classList.remove("is-dragover");
    if (event.dataTransfer) addFiles(event.dataTransfer.files);
  });
  // A file dropped next to the zone must not replace the page with the file.
  window.addEventListener("dragover", function (event) {
    event.preventDefault();
  });
  window.addEventListener("drop", function (event) {
    event.preventDefault();
  });

  el.process.addEventListener("click", processFiles);
  el.reset.addEventListener("click", startOver);
  el.list.addEventListener("click", function (event) {
    var button = event.target.closest(".file-remove");
    if (button) removeFile(button.closest(".file"));
  });

  updateControls();
  if (isRunning(state.status) && state.uploadId) {
    state.watching = true; // queued or processing in another tab or before a reload
    startPolling();
  }
})();
