// gatepost-uppy.js: gatepost as Uppy's uploader, for the strongest
// guarantees gatepost gives. Unlike Uppy's own AwsS3 plugin on gatepost's
// Companion routes, every upload declares its size: small files get a
// presigned POST whose policy holds the exact size, large ones a multipart
// upload whose part size gatepost chooses and whose every part URL pins its
// exact length (and the guard headers, on every store); parts that fail are
// sent again; and each upload ends with gatepost's verdict on what arrived
// (FinalizeUpload), which becomes Uppy's upload result or error. It works
// with Uppy 5 and Uppy 6: pass the BasePlugin of your own @uppy/core.
//
//   import Uppy, { BasePlugin } from "@uppy/core";
//   import { gatepostUploader } from "@gatepost/client/uppy"; // or "/gatepost-uppy.js"
//   const uppy = new Uppy().use(gatepostUploader(BasePlugin), {
//     endpoint: "https://uploads.example.com",  // gatepost ("" for the page's origin)
//     token: () => getAccessToken(),            // a string, or a function (may be async)
//     profile: "videos",                        // optional
//   });
//
// Options: endpoint, token, profile, key(file) (default: the file's name),
// metadata(file) (default: none), multipartThreshold (bytes; default 100
// MiB), concurrency (parts in flight; default 4), resume (as uploadLargeFile:
// true for localStorage). Removing a file or cancelling aborts its upload.
// Pausing stops it; with resume, resuming (or Golden Retriever after a
// reload) sends only the parts the store does not hold yet, and without it
// the upload starts again.
import { uploadFile, uploadLargeFile } from "./gatepost.js";

// paused is the abort reason of a pause (as opposed to a removal or cancel).
const paused = new Error("paused");

/**
 * Returns the Uppy uploader plugin class built on the given BasePlugin
 * (from @uppy/core 5 or 6).
 */
export function gatepostUploader(BasePlugin) {
  return class GatepostUploader extends BasePlugin {
    static VERSION = "0.1.0";

    constructor(uppy, opts) {
      super(uppy, { endpoint: "", multipartThreshold: 100 * 1024 * 1024, concurrency: 4, resume: false, ...opts });
      this.id = this.opts.id || "GatepostUploader";
      this.type = "uploader";
      this.controllers = new Map();
      this.paused = new Set();
      this.resumers = new Map();
      this.finishing = new Set();
    }

    upload = async (fileIDs) => {
      const files = fileIDs.map((id) => this.uppy.getFile(id)).filter((f) => f && !f.error);
      if (files.length === 0) return;
      this.uppy.emit("upload-start", files);
      await Promise.allSettled(files.map((f) => this.uploadOne(f)));
    };

    // uploadOne uploads one file; paused, it waits to be resumed and goes
    // on (so that Uppy's upload stays in progress meanwhile). Once every
    // byte is sent (gatepost completes and verifies), pausing is ignored.
    async uploadOne(file) {
      const o = this.opts;
      const started = Date.now();
      for (;;) {
        const stop = new AbortController();
        this.controllers.set(file.id, stop);
        try {
          // Asked on every attempt: a token may expire during a pause.
          const token = typeof o.token === "function" ? await o.token() : o.token;
          stop.signal.throwIfAborted();
          const options = {
            endpoint: o.endpoint,
            token,
            profile: o.profile,
            key: o.key ? o.key(file) : file.name,
            contentType: file.type || "application/octet-stream",
            metadata: o.metadata ? o.metadata(file) : undefined,
            concurrency: o.concurrency,
            resume: o.resume,
            signal: stop.signal,
            onProgress: (p) => {
              if (p.total > 0 && p.loaded >= p.total) this.finishing.add(file.id);
              const current = this.uppy.getFile(file.id);
              if (current) {
                this.uppy.emit("upload-progress", current, { uploader: this, uploadStarted: started, bytesUploaded: p.loaded, bytesTotal: p.total });
              }
            },
          };
          const done = file.size > o.multipartThreshold ? await uploadLargeFile(file.data, options) : await uploadFile(file.data, options);
          const current = this.uppy.getFile(file.id);
          if (current) this.uppy.emit("upload-success", current, { status: 200, body: done, uploadURL: done.location });
          return;
        } catch (err) {
          if (stop.signal.reason === paused) {
            // Resumed already (pause and resume in one tick), or wait:
            // true when resumed, false when removed or cancelled.
            if (!this.paused.has(file.id) || (await new Promise((settle) => this.resumers.set(file.id, settle)))) continue;
            return;
          }
          const current = this.uppy.getFile(file.id);
          if (current && !stop.signal.aborted) this.uppy.emit("upload-error", current, err);
          return;
        } finally {
          if (this.controllers.get(file.id) === stop) this.controllers.delete(file.id);
          this.finishing.delete(file.id);
        }
      }
    }

    #removed = (file) => {
      this.paused.delete(file.id);
      this.controllers.get(file.id)?.abort();
      this.resumers.get(file.id)?.(false);
      this.resumers.delete(file.id);
    };

    #cancelled = () => {
      this.paused.clear();
      this.resumers.forEach((settle) => settle(false));
      this.resumers.clear();
      this.controllers.forEach((c) => c.abort());
    };

    #pause = (ids) => {
      for (const id of ids) {
        const stop = this.controllers.get(id);
        if (!stop || this.finishing.has(id)) continue;
        this.paused.add(id);
        stop.abort(paused);
      }
    };

    #resume = (ids) => {
      for (const id of ids) {
        this.paused.delete(id);
        this.resumers.get(id)?.(true);
        this.resumers.delete(id);
      }
    };

    #pauseAll = () => this.#pause([...this.controllers.keys()]);

    #resumeAll = () => this.#resume([...this.paused]);

    #pauseOne = (file, isPaused) => {
      if (file) (isPaused ? this.#pause : this.#resume)([file.id]);
    };

    install() {
      this.uppy.addUploader(this.upload);
      this.uppy.on("file-removed", this.#removed);
      this.uppy.on("cancel-all", this.#cancelled);
      this.uppy.on("pause-all", this.#pauseAll);
      this.uppy.on("resume-all", this.#resumeAll);
      this.uppy.on("upload-pause", this.#pauseOne);
      this.uppy.setState({ capabilities: { ...this.uppy.getState().capabilities, resumableUploads: true } });
    }

    uninstall() {
      this.#cancelled();
      this.uppy.removeUploader(this.upload);
      this.uppy.off("file-removed", this.#removed);
      this.uppy.off("cancel-all", this.#cancelled);
      this.uppy.off("pause-all", this.#pauseAll);
      this.uppy.off("resume-all", this.#resumeAll);
      this.uppy.off("upload-pause", this.#pauseOne);
    }
  };
}
