// The flows the Uppy tests run through gatepost's Companion routes, the
// same for Uppy 5 and 6: make({limit, restore}) returns the page's Uppy,
// set up as an application would (its major's AwsS3 options).
import { blobOf, kept, outcome } from "./page.js";

export const installCompanionFlows = (make) => {
  // uploadWithUppy uploads files and reports the outcome.
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

  // startThenLeave starts a resumable upload (Golden Retriever) and, once
  // two parts are stored, pauses it (so that the reload surely comes
  // mid-upload, however fast the store) and resolves when Golden Retriever
  // has kept the file and the upload's state (its uploadId).
  window.startThenLeave = (file) =>
    new Promise((resolve) => {
      const uppy = make({ limit: 1, restore: true });
      let parts = 0;
      const poll = async () => ((await kept("uploadId")) ? resolve(parts) : setTimeout(poll, 50));
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
};
