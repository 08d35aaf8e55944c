// Page script of the tests of gatepost's own Uppy plugin (gatepost-uppy.js,
// from gateway/web), bundled with Uppy 5 or Uppy 6: the few lines an
// application writes.
import Uppy, { BasePlugin } from "@uppy/core";
import GoldenRetriever from "@uppy/golden-retriever";
import { gatepostUploader } from "./gatepost-web/gatepost-uppy.js";
import { blobOf, goldenRetriever, kept, logger, outcome } from "./page.js";

const make = (endpoint, token, { restore = false } = {}) => {
  const uppy = new Uppy({ logger }).use(gatepostUploader(BasePlugin), {
    endpoint,
    token: async () => token,
    profile: "uppy",
    multipartThreshold: 8 * 1024 * 1024,
    concurrency: 1,
    resume: restore,
  });
  if (restore) uppy.use(GoldenRetriever, goldenRetriever);
  return uppy;
};

// uploadWithHelper uploads files through gatepost's plugin and reports
// which succeeded (with gatepost's verdict) and why the others failed.
window.uploadWithHelper = async (endpoint, token, files) => {
  const uppy = make(endpoint, token);
  for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: blobOf(f) });
  return outcome(await uppy.upload());
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

// startThenLeave starts a resumable upload through the plugin with Golden
// Retriever and, in its second part (the first stored and acknowledged),
// pauses it and resolves when Golden Retriever has kept the file and
// Uppy's state.
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
    uppy.on("complete", (result) => resolve(outcome(result)));
    uppy.on("restored", () => uppy.emit("restore-confirmed"));
  });
