// Page script of the Uppy 6 tests: @uppy/core, @uppy/aws-s3 and
// @uppy/golden-retriever as an application would set them up with gatepost
// as its Companion endpoint. Uppy 6 sends no custom headers, so the page
// (served from the same origin as gatepost's routes, as behind the
// application's reverse proxy) first exchanges its credential for
// gatepost's session cookie: the application's sign-in step.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
import GoldenRetriever from "@uppy/golden-retriever";
import { goldenRetriever, logger } from "./page.js";
import { installCompanionFlows } from "./companion.js";

// signIn exchanges the credential for gatepost's session cookie.
window.signIn = async (token) => {
  const r = await fetch("/v1/session", { method: "POST", headers: { Authorization: "Bearer " + token } });
  return r.status;
};

// Files over 8 MiB go multipart (Uppy's own default is 100 MiB).
installCompanionFlows(({ limit = 6, restore = false } = {}) => {
  const uppy = new Uppy({ logger });
  uppy.use(AwsS3, {
    companionEndpoint: location.origin,
    shouldUseMultipart: (file) => file.size > 8 * 1024 * 1024,
    limit,
  });
  if (restore) uppy.use(GoldenRetriever, goldenRetriever);
  return uppy;
});
