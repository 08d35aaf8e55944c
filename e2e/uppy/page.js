// What the Uppy test pages share: test files, Uppy's log, the outcome of
// an upload, and whether Golden Retriever has kept a file to resume.

// pattern makes n test bytes; the Go side makes the same to compare.
export const pattern = (n, seed) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 20)) & 255;
  return b;
};

// blobOf is a test file {name, type, body} or {name, type, size, seed}.
export const blobOf = (f) => new Blob([f.body !== undefined ? f.body : pattern(f.size, f.seed)], { type: f.type });

// logger keeps Uppy's log in window.uppyLogs, for a failing test to show.
const logs = (window.uppyLogs = []);
export const logger = {
  debug: (...a) => logs.push(a.join(" ")),
  warn: (...a) => logs.push(a.join(" ")),
  error: (...a) => logs.push(a.join(" ")),
};

// outcome reports which files an upload stored (with their URLs and, from
// gatepost's plugin, verdicts) and why the others failed.
export const outcome = (result) => ({
  ok: result.successful.map((f) => f.name),
  failed: result.failed.map((f) => f.name + ": " + String((f.error && f.error.message) || f.error)),
  urls: result.successful.map((f) => f.uploadURL || ""),
  states: result.successful.map((f) => (f.response && f.response.body && f.response.body.state) || ""),
});

// kept reports whether Golden Retriever has committed a file's blob and
// Uppy's state (localStorage for Uppy 5, IndexedDB for Uppy 6) and, when
// need is given, that the state holds it (an uploadId), as a new
// transaction sees them.
export const kept = (need) =>
  new Promise((resolve) => {
    const local = Object.keys(localStorage).filter((k) => k.startsWith("uppyState:")).map((k) => localStorage.getItem(k));
    const open = indexedDB.open("uppy-blobs");
    open.onerror = () => resolve(false);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains("files")) return resolve(false);
      const names = db.objectStoreNames.contains("metadata") ? ["files", "metadata"] : ["files"];
      const tx = db.transaction(names, "readonly");
      const blobs = tx.objectStore("files").count();
      const meta = names.length > 1 ? tx.objectStore("metadata").getAll() : null;
      tx.oncomplete = () => {
        const states = [...local, ...(meta ? meta.result.map((m) => JSON.stringify(m)) : [])];
        resolve(blobs.result > 0 && states.some((st) => !need || st.includes(need)));
      };
      tx.onerror = () => resolve(false);
    };
  });

// goldenRetriever is the Golden Retriever setup of every page: IndexedDB
// only, room for the test files.
export const goldenRetriever = { serviceWorker: false, indexedDB: { maxFileSize: 64 << 20, maxTotalSize: 128 << 20 } };
