// Page script of the tests of gatepost's own Uppy plugin (gatepost-uppy.js,
// from gateway/web), bundled with Uppy 5 or Uppy 6: the few lines an
// application writes.
import Uppy, { BasePlugin } from "@uppy/core";
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
const make = (endpoint, token) =>
  new Uppy().use(gatepostUploader(BasePlugin), {
    endpoint,
    token: async () => token,
    profile: "uppy",
    multipartThreshold: 8 * 1024 * 1024,
    concurrency: 1,
  });

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
