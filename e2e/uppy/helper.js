// Page script of the tests of gatepost's own Uppy plugin (gatepost-uppy.js,
// from gateway/web), bundled with Uppy 5 or Uppy 6: the few lines an
// application writes.
import Uppy, { BasePlugin } from "@uppy/core";
import GoldenRetriever from "@uppy/golden-retriever";
import { gatepostUploader } from "./gatepost-web/gatepost-uppy.js";

// pattern makes n test bytes; the Go side makes the same to compare.
const pattern = (n, seed) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 20)) & 255;
  return b;
};
const blobOf = (f) => new Blob([f.body !== undefined ? f.body : pattern(f.size, f.seed)], { type: f.type });

// uploadWithHelper uploads files through gatepost's plugin and reports
// which succeeded (with gatepost's verdict) and why the others failed.
const make = (endpoint, token, { restore = false } = {}) => {
  const uppy = new Uppy().use(gatepostUploader(BasePlugin), {
    endpoint,
    token: async () => token,
    profile: "uppy",
    multipartThreshold: 8 * 1024 * 1024,
    concurrency: 1,
    resume: restore,
  });
  if (restore) {
    uppy.use(GoldenRetriever, { serviceWorker: false, indexedDB: { maxFileSize: 64 << 20, maxTotalSize: 128 << 20 } });
  }
  return uppy;
};

window.uploadWithHelper = async (endpoint, token, files) => {
  const uppy = make(endpoint, token);
  for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: blobOf(f) });
  const result = await uppy.upload();
  return {
    ok: result.successful.map((f) => f.name),
    failed: result.failed.map((f) => f.name + ": " + String((f.error && f.error.message) || f.error)),
    urls: result.successful.map((f) => f.uploadURL || ""),
    states: result.successful.map((f) => (f.response && f.response.body && f.response.body.state) || ""),
  };
};

// cancelWithHelper starts a multipart upload and cancels it, as a user
// pressing "cancel", once some of its bytes are stored.
window.cancelWithHelper = (endpoint, token, file) =>
  new Promise((resolve) => {
    const uppy = make(endpoint, token);
    uppy.on("upload-progress", (f, p) => {
      if (p.bytesUploaded >= 8 * 1024 * 1024) {
        uppy.cancelAll();
        resolve("cancelled");
      }
    });
    uppy.addFile({ name: file.name, type: file.type, data: blobOf(file) });
    uppy.upload();
  });

// kept reports whether Golden Retriever has committed the file's blob and
// Uppy's state (in localStorage for Uppy 5, IndexedDB for Uppy 6), as a new
// transaction sees them.
const kept = () =>
  new Promise((resolve) => {
    const inLocalStorage = Object.keys(localStorage).some((k) => k.startsWith("uppyState:"));
    const open = indexedDB.open("uppy-blobs");
    open.onerror = () => resolve(false);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains("files")) return resolve(false);
      const names = db.objectStoreNames.contains("metadata") ? ["files", "metadata"] : ["files"];
      const tx = db.transaction(names, "readonly");
      const blobs = tx.objectStore("files").count();
      const meta = names.length > 1 ? tx.objectStore("metadata").count() : null;
      tx.oncomplete = () => resolve(blobs.result > 0 && (inLocalStorage || (meta && meta.result > 0)));
      tx.onerror = () => resolve(false);
    };
  });

// startThenLeave starts a resumable upload through the plugin with Golden
// Retriever and, in its second part (the first stored and acknowledged),
// pauses it and
// resolves when Golden Retriever has kept the file and Uppy's state.
window.startThenLeave = (endpoint, token, file) =>
  new Promise((resolve) => {
    const uppy = make(endpoint, token, { restore: true });
    let paused = false;
    const poll = async () => ((await kept()) ? resolve("paused") : setTimeout(poll, 50));
    uppy.on("upload-progress", (f, p) => {
      if (!paused && p.bytesUploaded >= 12 * 1024 * 1024) {
        paused = true;
        uppy.pauseAll();
        poll();
      }
    });
    uppy.addFile({ name: file.name, type: file.type, data: blobOf(file) });
    uppy.upload();
  });

// resumeAfterReload is the reloaded page: Golden Retriever restores the
// file, the user confirms, and the plugin resumes its upload.
window.resumeAfterReload = (endpoint, token) =>
  new Promise((resolve) => {
    const uppy = make(endpoint, token, { restore: true });
    uppy.on("complete", (result) =>
      resolve({
        ok: result.successful.map((f) => f.name),
        failed: result.failed.map((f) => f.name + ": " + String((f.error && f.error.message) || f.error)),
        urls: [],
        states: result.successful.map((f) => (f.response && f.response.body && f.response.body.state) || ""),
      }),
    );
    uppy.on("restored", () => uppy.emit("restore-confirmed"));
  });
