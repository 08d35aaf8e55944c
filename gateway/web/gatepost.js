// gatepost.js: upload a file from the browser straight to S3 with a
// presigned POST from gatepost. A dependency-free ES module:
//
//   import { uploadFile } from "/gatepost.js";
//   const { key, bucket, location } = await uploadFile(file, {
//     profile: "default",          // optional
//     token: "...",                // optional bearer token (API key or JWT)
//     onProgress: (p) => bar.value = p.fraction,
//     signal: abortController.signal,
//   });
//
// It does the three steps: GET /v1/presign, build a FormData with every
// returned field and the file last, POST it to the returned URL with upload
// progress. On failure it rejects with an UploadError whose `source` says
// who refused ("gatepost", "s3", "network" or "abort"), with `code` (the
// gRPC code name or the S3 error code), `status` (HTTP) and a plain-words
// `message`.

/** An upload that failed, with who refused it and why. */
export class UploadError extends Error {
  constructor(message, { source, code, status, detail, retryAfter } = {}) {
    super(message);
    this.name = "UploadError";
    this.source = source;
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

const gatepostWords = {
  400: (d) => `The upload request was refused: ${d}`,
  401: () => "You are not signed in, or your token is invalid or has expired.",
  403: (d) => `You may not upload with this profile (${d}).`,
  429: (d, retry) => `Too many uploads; try again in ${retry || "a few"} seconds.`,
  503: () => "gatepost cannot sign uploads right now; try again later.",
};

const s3Words = {
  EntityTooLarge: "The file is larger than this upload allows.",
  EntityTooSmall: "The file is smaller than this upload requires (is it empty?).",
  AccessDenied: "The storage refused the upload (the upload permission does not match or has expired).",
  SignatureDoesNotMatch: "The storage refused the upload: its signature does not match.",
  ExpiredToken: "The upload permission has expired; try again.",
};

/**
 * Asks gatepost for a presigned POST for file.
 * @returns {Promise<{url: string, fields: Object<string,string>, key: string, bucket: string}>}
 */
export async function presign(file, { profile, token, endpoint = "", key, contentType, metadata, signal } = {}) {
  const q = new URLSearchParams({
    key: key || file.name,
    content_type: contentType || file.type || "application/octet-stream",
    content_length: String(file.size),
  });
  if (profile) q.set("profile", profile);
  for (const [name, value] of Object.entries(metadata || {})) q.set(`metadata[${name}]`, value);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let res;
  try {
    res = await fetch(`${endpoint}/v1/presign?${q}`, { headers, signal });
  } catch (err) {
    if (err.name === "AbortError") throw new UploadError("The upload was cancelled.", { source: "abort", code: "Aborted" });
    throw new UploadError("gatepost could not be reached (network or CORS).", { source: "network", code: "NetworkError", detail: String(err) });
  }
  let body = {};
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const retry = Number(res.headers.get("Retry-After")) || undefined;
    const words = gatepostWords[res.status];
    const detail = body.message || res.statusText;
    throw new UploadError(words ? words(detail, retry) : `gatepost answered ${res.status}: ${detail}`, {
      source: "gatepost", code: grpcCodeName(body.code), status: res.status, detail, retryAfter: retry,
    });
  }
  return body;
}

/**
 * Uploads file: presign, then POST every field and the file (last).
 * @returns {Promise<{key: string, bucket: string, location: string, size: number}>}
 */
export async function uploadFile(file, options = {}) {
  const p = await presign(file, options);
  const form = new FormData();
  Object.entries(p.fields).forEach(([k, v]) => form.append(k, v));
  form.append("file", file);
  await post(p.url, form, file.size, options);
  const location = `${p.url.replace(/\/$/, "")}/${p.key.split("/").map(encodeURIComponent).join("/")}`;
  return { key: p.key, bucket: p.bucket, location, size: file.size };
}

// post sends the form with XMLHttpRequest, the one browser API that
// reports upload progress.
function post(url, form, size, { onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.onprogress = (e) => {
      if (onProgress) {
        const total = e.lengthComputable ? e.total : size;
        onProgress({ loaded: e.loaded, total, fraction: total ? e.loaded / total : 0 });
      }
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress({ loaded: size, total: size, fraction: 1 });
        resolve();
        return;
      }
      const { code, message } = s3Error(xhr.responseText);
      reject(new UploadError(s3Words[code] || `The storage refused the upload: ${code || xhr.status} ${message || ""}`.trim(), {
        source: "s3", code: code || String(xhr.status), status: xhr.status, detail: message,
      }));
    };
    xhr.onerror = () => reject(new UploadError("The storage could not be reached (network or bucket CORS).", { source: "network", code: "NetworkError" }));
    xhr.onabort = () => reject(new UploadError("The upload was cancelled.", { source: "abort", code: "Aborted" }));
    if (signal) {
      if (signal.aborted) { xhr.abort(); return; }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

function s3Error(text) {
  try {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    return {
      code: doc.querySelector("Error > Code")?.textContent || "",
      message: doc.querySelector("Error > Message")?.textContent || "",
    };
  } catch {
    return { code: "", message: text };
  }
}

const grpcCodes = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
  "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
  "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

function grpcCodeName(code) {
  return grpcCodes[code] || "Unknown";
}
