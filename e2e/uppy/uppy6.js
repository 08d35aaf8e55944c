// Page script of the Uppy 6 tests: @uppy/core, @uppy/aws-s3 and
// @uppy/golden-retriever as an application would set them up with gatepost
// as its Companion endpoint. Uppy 6 sends no custom headers, so the page
// (served from the same origin as gatepost's routes, as behind the
// application's reverse proxy) first exchanges its credential for
// gatepost's session cookie: the application's sign-in step.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
import GoldenRetriever from "@uppy/golden-retriever";

// pattern makes n test bytes; the Go side makes the same to compare.
const pattern = (n, seed) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 20)) & 255;
  return b;
};
const blobOf = (f) => new Blob([f.body !== undefined ? f.body : pattern(f.size, f.seed)], { type: f.type });

const logs = (window.uppyLogs = []);
const logger = {
  debug: (...a) => logs.push(a.join(" ")),
  warn: (...a) => logs.push(a.join(" ")),
  error: (...a) => logs.push(a.join(" ")),
};

// signIn exchanges the credential for gatepost's session cookie.
window.signIn = async (token) => {
  const r = await fetch("/v1/session", { method: "POST", headers: { Authorization: "Bearer " + token } });
  return r.status;
};

// make returns an Uppy as an application would configure it: files over
// 8 MiB go multipart (Uppy's own default is 100 MiB).
const make = ({ limit = 6, restore = false } = {}) => {
  const uppy = new Uppy({ logger });
  uppy.use(AwsS3, {
    companionEndpoint: location.origin,
    shouldUseMultipart: (file) => file.size > 8 * 1024 * 1024,
    limit,
  });
  if (restore) {
    uppy.use(GoldenRetriever, { serviceWorker: false, indexedDB: { maxFileSize: 64 << 20, maxTotalSize: 128 << 20 } });
  }
  return uppy;
};

const outcome = (result) => ({
  ok: result.successful.map((f) => f.name),
  failed: result.failed.map((f) => f.name + ": " + String((f.error && f.error.message) || f.error)),
  urls: result.successful.map((f) => f.uploadURL || ""),
});

// uploadWithUppy uploads files ({name, type, body} or {name, type, size,
// seed}) and reports which succeeded and why the others failed.
window.uploadWithUppy = async (files) => {
  const uppy = make();
  for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: blobOf(f) });
  return outcome(await uppy.upload());
};

// cancelAfterOnePart starts a multipart upload and cancels it, as a user
// pressing "cancel", once its first part is stored.
window.cancelAfterOnePart = (file) =>
  new Promise((resolve) => {
    const uppy = make({ limit: 1 });
    uppy.on("s3-multipart:part-uploaded", () => {
      uppy.cancelAll();
      resolve("cancelled");
    });
    uppy.addFile({ name: file.name, type: file.type, data: blobOf(file) });
    uppy.upload();
  });

// kept reports whether Golden Retriever 6 has committed the file's blob and
// the upload's state (uploadId) to IndexedDB, as a new transaction sees
// them (Golden Retriever 6 keeps its metadata there, not in localStorage).
const kept = () =>
  new Promise((resolve) => {
    const open = indexedDB.open("uppy-blobs");
    open.onerror = () => resolve(false);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains("files") || !db.objectStoreNames.contains("metadata")) return resolve(false);
      const tx = db.transaction(["files", "metadata"], "readonly");
      const blobs = tx.objectStore("files").count();
      const meta = tx.objectStore("metadata").getAll();
      tx.oncomplete = () => resolve(blobs.result > 0 && JSON.stringify(meta.result).includes("uploadId"));
      tx.onerror = () => resolve(false);
    };
  });

// startThenLeave starts a resumable upload (Golden Retriever) and, once two
// parts are stored, pauses it (so that the reload surely comes mid-upload,
// however fast the store) and resolves when Golden Retriever has kept the
// file and the upload's state.
window.startThenLeave = (file) =>
  new Promise((resolve) => {
    const uppy = make({ limit: 1, restore: true });
    let parts = 0;
    const ready = async () => parts >= 2 && (await kept());
    const poll = async () => ((await ready()) ? resolve(parts) : setTimeout(poll, 50));
    uppy.on("s3-multipart:part-uploaded", () => {
      if (++parts === 2) {
        uppy.pauseAll();
        poll();
      }
    });
    uppy.addFile({ name: file.name, type: file.type, data: blobOf(file) });
    uppy.upload();
  });

// resumeAfterReload is the reloaded page: Golden Retriever restores the
// file and its upload, the user confirms, and Uppy resumes it.
window.resumeAfterReload = () =>
  new Promise((resolve) => {
    const uppy = make({ limit: 1, restore: true });
    uppy.on("complete", (result) => resolve(outcome(result)));
    uppy.on("restored", () => uppy.emit("restore-confirmed"));
  });
