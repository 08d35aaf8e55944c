// Page script of the Uppy 5 tests: @uppy/core, @uppy/aws-s3 and
// @uppy/golden-retriever as an application would set them up with gatepost
// as its Companion endpoint (Uppy 5 sends the bearer token with `headers`).
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
import GoldenRetriever from "@uppy/golden-retriever";
import { goldenRetriever, logger } from "./page.js";
import { installCompanionFlows } from "./companion.js";

// connect gives the page gatepost's address and the caller's token (the
// application's sign-in), again after a reload.
let connection = {};
window.connect = (endpoint, token) => {
  connection = { endpoint, token };
};

// Files over 8 MiB go multipart (Uppy's own default is 100 MiB).
installCompanionFlows(({ limit = 6, restore = false } = {}) => {
  const uppy = new Uppy({ logger });
  uppy.use(AwsS3, {
    endpoint: connection.endpoint,
    headers: { Authorization: "Bearer " + connection.token },
    shouldUseMultipart: (file) => file.size > 8 * 1024 * 1024,
    limit,
  });
  if (restore) uppy.use(GoldenRetriever, goldenRetriever);
  return uppy;
});
